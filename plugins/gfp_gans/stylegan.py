"""A small StyleGAN2 (Karras et al., CVPR 2020, "Analyzing and Improving the Image Quality of StyleGAN").

Generator: a mapping network (pixel-normalised z through ``mapping_layers`` equalised dense layers with the
learning-rate multiplier 0.01) gives the style w; the synthesis network starts from a learned constant 4x4
input and runs modulated/demodulated 3x3 convolutions (two per resolution, the first after a 2x bilinear
upsampling), each followed by a noise input with learned per-channel strengths, a bias and a leaky ReLU;
every resolution adds its toRGB (a modulated 1x1 convolution without demodulation) to the upsampled
image of the one below (the skip generator). Critic: the paper's residual discriminator with a
minibatch-stddev epilogue. Loss: the non-saturating logistic loss with R1 on the reals, lazily every
``r1_every`` critic steps (``gamma / 2 * ||grad D(x)||^2`` scaled by the interval, and Adam's rate and
betas adjusted by ``r1_every / (r1_every + 1)``, as the paper's lazy regularisation). Adam(0, 0.99) at
0.002; samples come from an EMA of the generator.

The per-layer noise maps are part of the latent: :meth:`StyleGan.draw_latents` draws z and every noise map
from one generator, so training and sampling draw their noise from the seeded streams as the other
families do their latents (``G(z)`` with only ``z_dim`` columns draws fresh noise from torch's global RNG).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gfcore import (
    SQRT2,
    EqualizedConv2d,
    EqualizedLinear,
    bounded,
    minibatch_stddev,
    non_negative,
    one_of,
    pixel_norm,
    positive,
)

from .base import AdversarialGan, GanConfig
from .dcgan import nonsaturating_critic_loss, nonsaturating_generator_loss

LEAK = 0.2


@dataclass
class StyleGanConfig(GanConfig):
    resolution: int = 32
    ch: int = bounded(
        32, min=1, max=4096
    )  # feature maps at full resolution, doubling per halving up to ch_max
    ch_max: int = bounded(128, min=1, max=4096)  # the paper: 512
    z_dim: int = 128  # the paper: 512
    w_dim: int = bounded(128, min=1, max=4096)  # the paper: 512
    mapping_layers: int = positive(8)
    mapping_lr_mul: float = positive(0.01)
    iters: int = 2000
    batch_size: int = 32
    lr_g: float = 0.002
    lr_d: float = 0.002
    beta1: float = 0.0
    beta2: float = 0.99
    n_critic: int = 1
    # R1 weight gamma. The paper's FFHQ value is 10; 0.01 is the official 32x32 setting (StyleGAN2-ADA's
    # CIFAR-10 configuration), R1 scaling with the number of pixels.
    r1_gamma: float = non_negative(0.01)
    r1_every: int = positive(16)  # lazy R1: every 16 critic steps, as the paper; 1 = every step
    mbstd_group: int = positive(4)  # minibatch-stddev group size; 1 turns the layer off
    ema_beta: float = 0.998  # the paper's 10k-image half-life at batch 32
    output: str = one_of("linear", ("linear", "tanh"))  # the paper's toRGB output is linear


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU 0.2 with StyleGAN's gain sqrt(2) (the layers' weights are scaled by 1/sqrt(fan_in))."""
    return F.leaky_relu(x, LEAK) * SQRT2


def channels(side: int, resolution: int, ch: int, ch_max: int) -> int:
    return min(ch * resolution // side, ch_max)


def sides(resolution: int) -> list[int]:
    return [2**i for i in range(2, int(math.log2(resolution)) + 1)]  # 4 .. resolution


def noise_shapes(resolution: int) -> list[int]:
    """The side of each noise input: one at 4x4, two at each larger resolution."""
    return [4] + [s for s in sides(resolution)[1:] for _ in range(2)]


class MappingLinear(EqualizedLinear):
    """An equalised dense layer with a learning-rate multiplier: weights stored as N(0, 1/lr_mul^2) and
    scaled by ``lr_mul / sqrt(fan_in)`` at run time, the bias by ``lr_mul``."""

    def __init__(self, in_features: int, out_features: int, lr_mul: float):
        super().__init__(in_features, out_features, gain=1.0)
        with torch.no_grad():
            self.weight.div_(lr_mul)
        self.scale *= lr_mul
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class ModulatedConv2d(nn.Module):
    """StyleGAN2's weight modulation and demodulation: the style ``s = A(w)`` scales the input channels of
    the weight, and demodulation rescales each output channel's weights to unit norm, so that the output
    has (for unit-variance inputs) unit variance. Runs as one grouped convolution over the batch."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, w_dim: int, demodulate: bool = True, up: bool = False
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.scale = 1 / math.sqrt(c_in * kernel * kernel)
        self.affine = EqualizedLinear(w_dim, c_in, gain=1.0)
        with torch.no_grad():
            self.affine.bias.fill_(1.0)  # styles start at 1: the unmodulated layer
        self.demodulate, self.up, self.pad = demodulate, up, kernel // 2

    def modulated_weight(self, w: torch.Tensor) -> torch.Tensor:
        """``[N, c_out, c_in, k, k]``: the weight each sample is convolved with."""
        styles = self.affine(w)
        weight = self.scale * self.weight[None] * styles[:, None, :, None, None]
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        return weight

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        n, c_in, h, width = x.shape
        weight = self.modulated_weight(w)
        out = F.conv2d(
            x.reshape(1, n * c_in, h, width),
            weight.reshape(-1, c_in, *weight.shape[3:]),
            padding=self.pad,
            groups=n,
        )
        return out.reshape(n, -1, h, width)


class StyledLayer(nn.Module):
    """Modulated 3x3 conv, then noise times a learned per-channel strength, a bias and the leaky ReLU."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, c_out, 3, w_dim, up=up)
        self.noise_strength = nn.Parameter(torch.zeros(c_out))
        self.bias = nn.Parameter(torch.zeros(c_out))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = self.conv(x, w) + noise * self.noise_strength[None, :, None, None]
        return lrelu(x + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    def __init__(self, c_in: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, 3, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class StyleGanGenerator(nn.Module):
    """Latents ``[N, z_dim + noise_numel]`` (or ``[N, z_dim]``: fresh global-RNG noise) -> images."""

    def __init__(self, cfg: StyleGanConfig):
        super().__init__()
        r, wd = cfg.resolution, cfg.w_dim
        c = {s: channels(s, r, cfg.ch, cfg.ch_max) for s in sides(r)}
        dims = [cfg.z_dim] + [wd] * cfg.mapping_layers
        self.mapping = nn.ModuleList(MappingLinear(a, b, cfg.mapping_lr_mul) for a, b in zip(dims, dims[1:]))
        self.const = nn.Parameter(torch.randn(1, c[4], 4, 4))
        self.layers = nn.ModuleList([StyledLayer(c[4], c[4], wd)])
        self.to_rgb = nn.ModuleList([ToRGB(c[4], wd)])
        for side in sides(r)[1:]:
            self.layers.append(StyledLayer(c[side // 2], c[side], wd, up=True))
            self.layers.append(StyledLayer(c[side], c[side], wd))
            self.to_rgb.append(ToRGB(c[side], wd))
        self.z_dim = cfg.z_dim
        self.noise_sides = noise_shapes(r)
        self.noise_numel = sum(s * s for s in self.noise_sides)
        self.tanh = cfg.output == "tanh"

    def style(self, z: torch.Tensor) -> torch.Tensor:
        w = pixel_norm(z)
        for layer in self.mapping:
            w = lrelu(layer(w))
        return w

    def split_noise(self, latents: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        z, flat = latents[:, : self.z_dim], latents[:, self.z_dim :]
        if flat.shape[1] == 0:
            flat = torch.randn(len(z), self.noise_numel, device=z.device, dtype=z.dtype)
        maps, start = [], 0
        for side in self.noise_sides:
            maps.append(flat[:, start : start + side * side].reshape(-1, 1, side, side))
            start += side * side
        return z, maps

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        z, noise = self.split_noise(latents)
        w = self.style(z)
        x = self.const.expand(len(z), -1, -1, -1)
        x = self.layers[0](x, w, noise[0])
        rgb = self.to_rgb[0](x, w)
        for i, to_rgb in enumerate(self.to_rgb[1:]):
            x = self.layers[1 + 2 * i](x, w, noise[1 + 2 * i])
            x = self.layers[2 + 2 * i](x, w, noise[2 + 2 * i])
            rgb = F.interpolate(rgb, scale_factor=2.0, mode="bilinear", align_corners=False) + to_rgb(x, w)
        return torch.tanh(rgb) if self.tanh else rgb


class _CriticBlock(nn.Module):
    """Residual: conv 3x3, conv 3x3, 2x2 average pool; skip: pool, 1x1 conv; the sum over sqrt(2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv0 = EqualizedConv2d(c_in, c_in, 3, gain=1.0)
        self.conv1 = EqualizedConv2d(c_in, c_out, 3, gain=1.0)
        self.skip = EqualizedConv2d(c_in, c_out, 1, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(lrelu(self.conv1(lrelu(self.conv0(x)))), 2)
        return (h + self.skip(F.avg_pool2d(x, 2))) / SQRT2


class StyleGanCritic(nn.Module):
    """fromRGB (1x1), one residual block per halving down to 4x4, then minibatch stddev, a 3x3 conv and two
    dense layers to one logit."""

    def __init__(self, cfg: StyleGanConfig):
        super().__init__()
        r = cfg.resolution
        c = {s: channels(s, r, cfg.ch, cfg.ch_max) for s in sides(r)}
        self.from_rgb = EqualizedConv2d(3, c[r], 1, gain=1.0)
        self.blocks = nn.Sequential(*(_CriticBlock(c[s], c[s // 2]) for s in reversed(sides(r)[1:])))
        self.mbstd_group = cfg.mbstd_group
        extra = 1 if cfg.mbstd_group > 1 else 0
        self.conv = EqualizedConv2d(c[4] + extra, c[4], 3, gain=1.0)
        self.dense = EqualizedLinear(c[4] * 16, c[4], gain=1.0)
        self.out = EqualizedLinear(c[4], 1, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(lrelu(self.from_rgb(x)))
        if self.mbstd_group > 1:
            x = minibatch_stddev(x, self.mbstd_group)
        x = lrelu(self.conv(x))
        return self.out(lrelu(self.dense(x.flatten(1)))).squeeze(1)


def r1_penalty(critic: nn.Module, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(D(real), mean ||grad_x D(x)||^2)`` with the graph kept, so the penalty trains the critic."""
    real = real.detach().requires_grad_(True)
    d_real = critic(real)
    (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
    return d_real, grad.pow(2).sum(dim=(1, 2, 3)).mean()


class StyleGan(AdversarialGan):
    name = "stylegan"
    description = "StyleGAN2: mapping network, modulated/demodulated convs, noise inputs, skip toRGB, R1"
    Config = StyleGanConfig
    shipped = ("stylegan",)
    conformance_overrides = {
        **AdversarialGan.conformance_overrides,
        "ch": 4,
        "ch_max": 8,
        "z_dim": 8,
        "w_dim": 8,
        "mapping_layers": 2,
        "r1_every": 2,
    }

    def build_generator(self):
        return StyleGanGenerator(self.config)

    def build_critic(self):
        return StyleGanCritic(self.config)

    def draw_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """z ~ N(0, I) followed by every per-layer noise map, flattened: ``[n, z_dim + noise_numel]``."""
        numel = sum(s * s for s in noise_shapes(self.config.resolution))
        return torch.randn(n, self.config.z_dim + numel, generator=generator)

    def _make_optimizers(self) -> None:
        """Adam(0, 0.99); with lazy R1 the critic's rate and betas as the paper adjusts them (c = k/(k+1))."""
        cfg = self.config
        c = cfg.r1_every / (cfg.r1_every + 1) if cfg.r1_gamma > 0 and cfg.r1_every > 1 else 1.0
        self.opt_g = torch.optim.Adam(
            self.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2), eps=1e-8
        )
        self.opt_d = torch.optim.Adam(
            self.D.parameters(), lr=cfg.lr_d * c, betas=(cfg.beta1**c, cfg.beta2**c), eps=1e-8
        )

    def critic_loss(self, real):
        cfg = self.config
        d_fake = self.D(self.fake_batch(len(real)))
        if cfg.r1_gamma > 0 and self.step % cfg.r1_every == 0:
            d_real, r1 = r1_penalty(self.D, real)
            loss = nonsaturating_critic_loss(d_real, d_fake)
            logs = {"d": loss.item(), "r1": r1.item()}
            return loss + cfg.r1_gamma / 2 * r1 * cfg.r1_every, logs
        loss = nonsaturating_critic_loss(self.D(real), d_fake)
        return loss, {"d": loss.item()}

    def generator_loss(self, real):
        loss = nonsaturating_generator_loss(self.D(self.fake_batch(len(real), grad=True)))
        return loss, {"g": loss.item()}
