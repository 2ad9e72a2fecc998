"""DCGAN (Radford, Metz, Chintala, ICLR 2016): an all-convolutional generator of fractionally-strided
(transposed) convolutions and a strided-convolution critic, without pooling or dense hidden layers.

As in the paper: batch norm in the generator except at its output and in the critic except at its input;
ReLU in the generator with a tanh output; LeakyReLU 0.2 in the critic; weights drawn from N(0, 0.02);
z ~ U(-1, 1) of 100 dimensions; Adam at 2e-4 with beta1 0.5; mini-batches of 128; the non-saturating loss
(the critic's binary cross-entropy, the generator maximising log D(G(z))).

Widths follow the paper's LSUN network in the form of the reference PyTorch example: ``ch`` feature maps
before the output layer, doubling at each halving of the resolution (the paper: 128 at 64x64, so 1024 at
4x4; here 32 at 32x32 by default, 128 at 4x4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gfcore import bounded

from .base import AdversarialGan, GanConfig

INIT_STD = 0.02  # "All weights were initialized from a zero-centered Normal distribution with std 0.02"
LEAK = 0.2


@dataclass
class DcGanConfig(GanConfig):
    resolution: int = 32
    ch: int = bounded(
        32, min=1, max=4096
    )  # feature maps before the output layer (G) and after the input layer (D)
    z_dim: int = 100  # the paper's 100-dimensional uniform z
    iters: int = 2000
    batch_size: int = 128
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1


def widths(resolution: int, ch: int) -> list[tuple[int, int]]:
    """``(side, feature maps)`` of each hidden layer from 4x4 up to ``resolution / 2``: ``ch`` at the
    largest, doubling as the side halves (the generator's order; the critic runs it backwards)."""
    levels = int(math.log2(resolution))
    sides = [2**i for i in range(2, levels)]
    return [(side, ch * resolution // (2 * side)) for side in sides]


def init_dcgan_weights(module: nn.Module) -> None:
    """The paper's initialisation: conv weights ~ N(0, 0.02); batch-norm scales ~ N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, INIT_STD)
            nn.init.zeros_(m.bias)


class DcGanGenerator(nn.Module):
    """z -> 4x4 (a 4x4 transposed convolution of the 1x1 latent: the paper's "project and reshape") ->
    one 4x4 stride-2 transposed convolution per doubling, each with BN and ReLU -> the last one to RGB,
    tanh, with no BN."""

    def __init__(self, resolution: int, z_dim: int, ch: int):
        super().__init__()
        plan = widths(resolution, ch)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, plan[0][1], 4, 1, 0, bias=False)]
        layers += [nn.BatchNorm2d(plan[0][1]), nn.ReLU(True)]
        for (_, c_in), (_, c_out) in zip(plan, plan[1:]):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(plan[-1][1], 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DcGanCritic(nn.Module):
    """RGB -> one 4x4 stride-2 convolution per halving with LeakyReLU 0.2 (BN on all but the first) ->
    a 4x4 valid convolution to one logit per image."""

    def __init__(self, resolution: int, ch: int):
        super().__init__()
        plan = list(reversed(widths(resolution, ch)))
        layers: list[nn.Module] = [nn.Conv2d(3, plan[0][1], 4, 2, 1, bias=False), nn.LeakyReLU(LEAK, True)]
        for (_, c_in), (_, c_out) in zip(plan, plan[1:]):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(LEAK, True),
            ]
        layers.append(nn.Conv2d(plan[-1][1], 1, 4, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def nonsaturating_critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the critic's logits: ``-log D(x) - log(1 - D(G(z)))``."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def nonsaturating_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """``-log D(G(z))``: the generator maximises the critic's belief, not minimises its disbelief."""
    return F.softplus(-d_fake).mean()


class DcGan(AdversarialGan):
    name = "dcgan"
    description = (
        "DCGAN: transposed-conv generator and strided-conv critic with batch norm, non-saturating loss"
    )
    Config = DcGanConfig
    shipped = ("dcgan",)
    conformance_overrides = {**AdversarialGan.conformance_overrides, "ch": 4}

    def build_generator(self):
        return DcGanGenerator(self.config.resolution, self.config.z_dim, self.config.ch)

    def build_critic(self):
        return DcGanCritic(self.config.resolution, self.config.ch)

    def draw_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """z ~ U(-1, 1), as the paper draws it."""
        return torch.rand(n, self.config.z_dim, generator=generator) * 2 - 1

    def critic_loss(self, real):
        fake = self.fake_batch(len(real))
        loss = nonsaturating_critic_loss(self.D(real), self.D(fake))
        return loss, {"d": loss.item()}

    def generator_loss(self, real):
        loss = nonsaturating_generator_loss(self.D(self.fake_batch(len(real), grad=True)))
        return loss, {"g": loss.item()}
