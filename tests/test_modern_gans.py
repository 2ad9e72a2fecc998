"""What makes DCGAN a DCGAN and StyleGAN a StyleGAN2. (Both are also in tests/test_gans.py's shared family
tests, and in tests/test_conformance.py.)"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gfcore.interfaces import FitContext
from gfcore.terminal.progress import NullReporter
from gfp_gans.dcgan import DcGan, DcGanCritic, DcGanGenerator
from gfp_gans.stylegan import MappingLinear, ModulatedConv2d, StyleGan, StyleGanGenerator, r1_penalty

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(cls, **extra):
    return cls.Config(**{**cls.conformance_overrides, **extra})


def real(n=8, resolution=16):
    return torch.randint(
        0, 256, (n, 3, resolution, resolution), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )


def ctx():
    return FitContext(device=torch.device("cpu"), progress=NullReporter(), seed=0)


# --- DCGAN ---------------------------------------------------------------------------------------------


def test_dcgan_layers_are_the_papers():
    g, d = DcGanGenerator(32, z_dim=100, ch=8), DcGanCritic(32, ch=8)
    g_layers, d_layers = list(g.net), list(d.net)
    # G: transposed convolutions only, BN + ReLU after each but the last, which ends in tanh
    convs = [m for m in g_layers if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == [
        (100, 32, 1),
        (32, 16, 2),
        (16, 8, 2),
        (8, 3, 2),
    ]
    assert [type(m).__name__ for m in g_layers[-2:]] == ["ConvTranspose2d", "Tanh"]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g_layers) == len(convs) - 1
    assert all(isinstance(m, nn.ReLU) for m in g_layers if isinstance(m, (nn.ReLU, nn.LeakyReLU)))
    # D: strided convolutions, LeakyReLU 0.2, BN on all but the first, no pooling and no dense layer
    assert isinstance(d_layers[1], nn.LeakyReLU) and d_layers[1].negative_slope == 0.2
    strided = [m for m in d_layers if isinstance(m, nn.Conv2d) and m.stride[0] == 2]
    assert len(strided) == 3 and not isinstance(d_layers[1], nn.BatchNorm2d)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d_layers) == 2
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in d.modules())
    # N(0, 0.02) weights
    weights = torch.cat([c.weight.flatten() for c in convs[1:]])
    assert abs(weights.std().item() - 0.02) < 0.002
    assert g(torch.rand(2, 100) * 2 - 1).shape == (2, 3, 32, 32)


def test_dcgan_trains_with_adam_2e4_beta_half_uniform_z_and_the_nonsaturating_loss():
    gan = DcGan(tiny(DcGan))
    gan.train(real(), ctx())
    for opt in (gan.opt_g, gan.opt_d):
        assert opt.param_groups[0]["lr"] == 2e-4 and opt.param_groups[0]["betas"] == (0.5, 0.999)
    z = gan.draw_latents(1000, torch.Generator().manual_seed(0))
    assert z.shape == (1000, 100) and z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.05
    gan.D.eval()
    # the generator's loss is -log D(G(z)), not log(1 - D(G(z))): it grows without bound as D rejects fakes
    from gfp_gans.dcgan import nonsaturating_generator_loss

    assert nonsaturating_generator_loss(torch.tensor([-20.0])).item() == pytest.approx(20.0, rel=1e-6)


# --- StyleGAN2 -----------------------------------------------------------------------------------------


def test_demodulation_normalises_each_output_channels_weights():
    conv = ModulatedConv2d(6, 5, 3, w_dim=4)
    w = torch.randn(3, 4) * 10
    weight = conv.modulated_weight(w)  # [N, out, in, k, k]
    assert weight.shape == (3, 5, 6, 3, 3)
    assert torch.allclose(weight.pow(2).sum(dim=(2, 3, 4)), torch.ones(3, 5), atol=1e-5)
    # so the layer's output does not depend on the styles' overall scale ...
    x = torch.randn(3, 6, 8, 8)
    with torch.no_grad():
        conv.affine.bias.zero_()  # styles = A(w), linear in w
        assert torch.allclose(conv(x, w), conv(x, 3 * w), atol=1e-4)
        # ... and keeps unit-variance inputs near unit variance (the point of demodulation)
        assert 0.7 < conv(torch.randn(3, 6, 32, 32), w).std().item() < 1.3
    # toRGB does not demodulate
    rgb = ModulatedConv2d(6, 3, 1, w_dim=4, demodulate=False)
    assert not torch.allclose(rgb.modulated_weight(w).pow(2).sum(dim=(2, 3, 4)), torch.ones(3, 3))


def test_stylegan_generator_has_mapping_constant_noise_and_skip_outputs():
    cfg = tiny(StyleGan, resolution=32, mapping_layers=3)
    g = StyleGanGenerator(cfg)
    assert len(g.mapping) == 3 and all(isinstance(m, MappingLinear) and m.lr_mul == 0.01 for m in g.mapping)
    assert isinstance(g.const, nn.Parameter) and g.const.shape[-2:] == (4, 4)
    assert len(g.to_rgb) == 4  # one toRGB per resolution 4, 8, 16, 32, summed through upsampling
    assert [layer.noise_strength.shape for layer in g.layers] == [
        (layer.bias.shape[0],) for layer in g.layers
    ]
    z = torch.randn(2, cfg.z_dim)
    noise = torch.randn(2, g.noise_numel)
    with torch.no_grad():
        same = g(torch.cat([z, noise], 1))
        assert torch.equal(same, g(torch.cat([z, noise], 1)))  # the noise maps come from the latent
        assert torch.equal(same, g(torch.cat([z, torch.randn(2, g.noise_numel)], 1)))  # strengths start at 0
        for layer in g.layers:
            layer.noise_strength.fill_(0.5)
        assert not torch.equal(same, g(torch.cat([z, torch.randn(2, g.noise_numel)], 1)))
    # skip generator: the image is the sum of every resolution's toRGB output, each upsampled to the top
    outputs = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for m in g.to_rgb]
    with torch.no_grad():
        image = g(torch.cat([z, noise], 1))
    for hook in hooks:
        hook.remove()
    total = outputs[0]
    for out in outputs[1:]:
        total = nn.functional.interpolate(total, scale_factor=2.0, mode="bilinear", align_corners=False) + out
    assert [o.shape[-1] for o in outputs] == [4, 8, 16, 32] and torch.allclose(image, total, atol=1e-6)


def test_r1_is_the_squared_input_gradient_and_lazy():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(12, 1, bias=False))
    x = torch.randn(5, 3, 2, 2)
    _, r1 = r1_penalty(critic, x)
    assert r1.item() == pytest.approx(critic[1].weight.pow(2).sum().item(), rel=1e-5)
    gan = StyleGan(tiny(StyleGan, r1_every=4, r1_gamma=1.0, iters=8, log_every=1))
    c = ctx()
    gan.train(real(), c)
    with_r1 = [h["step"] for h in c.history if "r1" in h]
    assert with_r1 == [1, 5]  # R1 at critic steps 0, 4 (reported as iterations 1, 5)
    k = 4 / 5  # lazy regularisation's correction of the critic's Adam
    group = gan.opt_d.param_groups[0]
    assert group["lr"] == pytest.approx(0.002 * k) and group["betas"][1] == pytest.approx(0.99**k)
    assert gan.opt_g.param_groups[0]["lr"] == 0.002
    assert math.isfinite(c.history[-1]["d"])
