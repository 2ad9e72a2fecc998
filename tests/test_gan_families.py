"""What makes each family faithful to the code the paper ran (docs/gan_families.md), and that the shipped
generators, trained before those choices, still sample exactly what they sampled."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from gfcore import GfpError, gradient_penalty
from gfcore.storage.tensorio import load_tensors
from gfp_gans.cramergan import CramerGan
from gfp_gans.losses import mix_rq_dot_kernel, mmd2_unbiased
from gfp_gans.mmdgan import MmdGan, l2_activation_penalty
from gfp_gans.progan import ProGan, growth_phase
from gfp_gans.progan_nets import ProGanGenerator
from gfp_gans.resnet_nets import DCGAN5Critic, GResNet5Generator, _GeneratorResBlock

# tiny tensors on a shared 2-core machine: one torch thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATA_DIR = Path(__file__).resolve().parent / "data"


def test_g_resnet5_has_four_upsampling_residual_blocks_and_a_sigmoid_output():
    for resolution, base in ((32, 1), (64, 2), (128, 4)):
        g = GResNet5Generator(resolution, z_dim=8, ch=2)
        blocks = [m for m in g.blocks if isinstance(m, _GeneratorResBlock)]
        assert len(blocks) == 4 and g.base == base
        assert [b.conv0.out_channels for b in blocks] == [16, 8, 4, 2]  # 8ch, 4ch, 2ch, ch with ch=2
        sizes, x = [], g.dense(torch.randn(3, 8)).view(3, -1, base, base)
        for block in blocks:
            x = block(x)
            sizes.append(x.shape[-1])
        assert sizes == [2 * base, 4 * base, 8 * base, 16 * base]
    with torch.no_grad():
        g.to_rgb.bias.fill_(50.0)  # 2 * sigmoid - 1 saturates at exactly 1, where a linear output is 50
        assert torch.allclose(g(torch.randn(2, 8)), torch.ones(2, 3, 128, 128))
    critic = DCGAN5Critic(32, ch=2, out_dim=5)
    out, layers = critic(torch.zeros(2, 3, 32, 32), return_layers=True)
    assert out.shape == (2, 5) and [layer.shape[-1] for layer in layers[:-1]] == [16, 8, 4, 2, 1]


def test_cramergan_and_mmdgan_share_generator_and_critic_and_differ_by_loss():
    c, m = CramerGan.Config(), MmdGan.Config()
    shared = ("generator", "critic", "latent", "iters", "ch", "critic_ch", "batch_size", "n_critic", "lr_g")
    assert all(getattr(c, k) == getattr(m, k) for k in shared)
    assert (c.generator, c.critic, c.latent) == ("g_resnet5", "dcgan5", "uniform")
    gc, gm = CramerGan(CramerGan.Config(ch=2, critic_ch=2)), MmdGan(MmdGan.Config(ch=2, critic_ch=2))
    assert type(gc.G) is type(gm.G) is GResNet5Generator
    assert type(gc.D) is type(gm.D) is DCGAN5Critic
    z = gc.draw_latents(1000, torch.Generator().manual_seed(0))
    assert z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.05  # U(-1, 1), as the MMD-GAN code draws


def test_progan_torgb_is_linear_unless_a_shipped_run_asks_for_tanh():
    for tanh in (False, True):
        g = ProGanGenerator(16, z_dim=8, width=0.02, tanh=tanh)
        with torch.no_grad():
            for layer in g.to_rgb:
                layer.bias.fill_(3.0)
        out = g(torch.randn(2, 8))
        assert bool(out.max() > 1.5) is (not tanh)
    assert ProGan.Config().output == "linear"
    assert not ProGan(ProGan.Config(resolution=16, width=0.02)).G.tanh


def test_progan_growth_phases_have_a_fixed_length_so_an_extended_run_stays_at_full_resolution():
    # 4 levels at 32x32, 200 iterations per phase: growth ends at 1,400 whatever the run's total
    assert growth_phase(250, 1600, 4, 200) == growth_phase(250, 8000, 4, 200) == (1, 0.25)
    assert growth_phase(1600, 8000, 4, 200) == (3, 1.0)
    assert growth_phase(250, 8000, 4, 0) == (0, 1.0)  # derived from iters: the shipped runs' schedule
    assert growth_phase(250, 800, 4, 200) == (1, 1.0)  # too short for 200-iteration phases: 100 each


def test_mix_rq_1dot_kernel_matches_a_hand_computation():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    y = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    alphas = (0.1, 1.0, 10.0)

    def rq(sq_dist):  # sum over alphas of (1 + d^2 / (2 alpha))^-alpha
        return 6**-0.1 + 1.5**-1 + 1.05**-10 if sq_dist == 1 else 11**-0.1 + 2**-1 + 1.1**-10

    # pairs: d^2 and dot -> (0,0)-(0,1): 1, 0; (0,0)-(2,0): 4, 0; (1,0)-(0,1): 2, 0; (1,0)-(2,0): 1, 2
    rq4 = 21**-0.1 + 3**-1 + 1.2**-10
    expected = torch.tensor([[rq(1), rq4], [rq(2), rq(1) + 2.0]])
    assert torch.allclose(mix_rq_dot_kernel(x, y, alphas), expected, atol=1e-6)
    assert abs(rq(1) - 2.11654) < 1e-4  # 0.83596 + 0.66667 + 0.61391


def test_unbiased_mmd_with_a_constant_diagonal_keeps_the_dot_terms_diagonal():
    torch.manual_seed(0)
    h_r, h_f = torch.randn(6, 4), torch.randn(5, 4) + 1
    exact = mmd2_unbiased(h_r, h_f, (0.1, 1.0, 10.0))
    official = mmd2_unbiased(h_r, h_f, (0.1, 1.0, 10.0), constant_diagonal=True)
    extra = h_r.pow(2).sum() / (6 * 5) + h_f.pow(2).sum() / (5 * 4)
    assert torch.allclose(official - exact, extra, atol=1e-5)


def test_gradient_penalty_norm_over_the_height_axis_as_the_mmd_gan_code_does():
    points = torch.zeros(1, 1, 4, 2, requires_grad=True)  # gradient of sum(x) is all ones
    assert math.isclose(
        gradient_penalty(lambda x: x.sum((1, 2, 3)), points, over="height").item(), 1.0, rel_tol=1e-4
    )
    assert math.isclose(
        gradient_penalty(lambda x: x.sum((1, 2, 3)), points).item(), (8**0.5 - 1) ** 2, rel_tol=1e-4
    )


def test_l2_penalty_sums_each_layers_mean_square_over_real_and_fake():
    real = [torch.full((2, 3, 2, 2), 2.0), torch.ones(2, 5)]
    fake = [torch.zeros(2, 3, 2, 2), torch.full((2, 5), 3.0)]
    assert l2_activation_penalty(real, fake).item() == pytest.approx(4 + 1 + 0 + 9)


def test_official_details_clip_every_gradient_tensor_to_norm_one():
    gan = MmdGan(MmdGan.Config(resolution=16, ch=2, critic_ch=2, batch_size=4))
    for p in gan.D.parameters():
        p.grad = torch.full_like(p, 10.0)
    gan.clip_gradients(gan.D)
    assert all(p.grad.norm().item() == pytest.approx(1.0, rel=1e-4) for p in gan.D.parameters())
    old = MmdGan(MmdGan.Config(resolution=16, ch=2, critic_ch=2, official_details=False))
    for p in old.D.parameters():
        p.grad = torch.full_like(p, 10.0)
    old.clip_gradients(old.D)
    assert all(p.grad.norm().item() > 1.5 for p in old.D.parameters())


def test_shipped_generators_sample_what_they_sampled_when_they_shipped():
    """tests/data/shipped_samples.safetensors: ``load_pretrained(name).sample(4, seed=0)`` recorded when the
    generators shipped. A wrong architecture or a changed default changes whole images; another CPU may
    round a few pixel values the other way (off by one), so those are allowed, rarely."""
    from gfp_gans.pretrained import load_pretrained, pretrained_names

    reference, _ = load_tensors(DATA_DIR / "shipped_samples.safetensors")
    assert sorted(reference) == pretrained_names()
    for name, before in reference.items():
        diff = (load_pretrained(name).sample(4, seed=0).int() - before.int()).abs()
        assert diff.max() <= 1 and (diff > 0).float().mean() < 0.01, name


def test_each_shipped_run_command_names_the_config_it_was_trained_with():
    """The defaults moved to the official choices, so each shipped command spells out its old ones."""
    import json
    import shlex

    from gfcore.config import config_from_dict, config_to_dict
    from gfcore.runs.gan import resolve_family
    from gfp_gans.pretrained import pretrained_dir, pretrained_names

    for name in pretrained_names():
        run = json.loads((pretrained_dir(name) / "run.json").read_text())
        argv = shlex.split(run["command"].split("&&")[-1])
        # a run trained longer with --resume: the last line's --iters is its length
        lines = [argv] + [shlex.split(line) for line in run.get("resumed_with", [])]
        iters = [int(a[a.index("--iters") + 1]) for a in lines if "--iters" in a]
        family = resolve_family(argv[argv.index("train") + 1], {"iters": iters[-1] if iters else None})
        saved = config_from_dict(family.cls.Config, run["config"])
        assert config_to_dict(family.config) == config_to_dict(saved), name
        assert run["iterations_done"] == saved.iters, name


@pytest.mark.parametrize(
    "family, before",
    [
        (
            "cramergan",
            {
                "generator": "resnet_4x4",
                "critic": "dcgan_4x4",
                "latent": "normal",
                "official_details": False,
                "penalty_toward_anchor": False,
            },
        ),
        (
            "mmdgan",
            {"generator": "resnet_4x4", "critic": "dcgan_4x4", "latent": "normal", "official_details": False},
        ),
        ("progan", {"output": "tanh", "phase_iters": 0}),
        ("sngan", {"init": "torch"}),
    ],
)
def test_a_run_saved_before_the_faithful_fields_loads_as_it_was_trained(family, before):
    """A run.json written by an earlier gfp lacks the new fields: it means the first choices, not the
    new defaults (which would build another architecture and fail to load its weights)."""
    from gfcore.config import config_from_dict
    from gfcore.plugins import get_registries

    cls = get_registries().gan_sources.get(family)
    old = config_from_dict(cls.Config, {"resolution": 16, "iters": 10}, "old run.json")
    assert {k: getattr(old, k) for k in before} == before
    new = cls.Config()
    assert any(getattr(new, k) != v for k, v in before.items())  # the defaults did change


def test_sngan_starts_from_the_official_glorot_initialisation():
    """chainer's GlorotUniform as SNGAN's code: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)),
    gain sqrt(2) on the residual 3x3 convolutions and 1 elsewhere; biases zero."""
    from gfp_gans.sngan import SnGan

    torch.manual_seed(0)
    gan = SnGan(SnGan.Config(resolution=16, ch=8))
    block = gan.G.blocks[0]
    fan = lambda w: w.shape[1] * w[0, 0].numel() + w.shape[0] * w[0, 0].numel()  # noqa: E731
    for conv, gain in ((block.conv0, math.sqrt(2)), (block.shortcut, 1.0)):
        bound = gain * math.sqrt(6 / fan(conv.weight))
        assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
        assert not conv.bias.any()
    critic_conv = gan.D.blocks[0].conv0.parametrizations.weight.original
    assert critic_conv.abs().max() <= math.sqrt(2) * math.sqrt(6 / fan(critic_conv))
    with pytest.raises(GfpError, match="init must be one of"):
        SnGan(SnGan.Config(resolution=16, ch=8, init="he"))
