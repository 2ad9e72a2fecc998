"""ResNet generator (SNGAN, and the ``g_resnet5`` generator CramerGAN and MMDGAN share), SNGAN's
spectrally normalised ResNet discriminator, and the DCGAN-style critic of the MMD-GAN code.

Channel widths follow SNGAN's 128x128 networks (``ch`` at full resolution, doubling as the resolution
halves, capped at 8 * ch), so one ``ch`` scales every network to CPU size.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _channels(res: int, resolution: int, ch: int) -> int:
    """Feature maps at ``res`` for a network working at ``resolution``."""
    return ch * min(8, max(1, resolution // (2 * res)))


def _check_resolution(resolution: int) -> int:
    levels = math.log2(resolution)
    if resolution < 8 or levels != int(levels):
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return int(levels)


class _GeneratorResBlock(nn.Module):
    """BN, ReLU, nearest upscale, 3x3 conv, BN, ReLU, 3x3 conv; shortcut: upscale, 1x1 conv."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(in_ch)
        self.conv0 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv1 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn0(x)), scale_factor=2.0, mode="nearest")
        h = self.conv1(F.relu(self.bn1(self.conv0(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ResNetGenerator(nn.Module):
    """z -> dense 4x4 -> one up-sampling residual block per doubling -> BN, ReLU, 3x3 conv to RGB, tanh."""

    def __init__(self, resolution: int, z_dim: int, ch: int):
        super().__init__()
        levels = _check_resolution(resolution)
        resolutions = [2**i for i in range(2, levels + 1)]  # 4 .. resolution
        widths = [_channels(r, resolution, ch) for r in resolutions]
        self.base_ch = widths[0]
        self.dense = nn.Linear(z_dim, 16 * widths[0])
        self.blocks = nn.Sequential(*(_GeneratorResBlock(a, b) for a, b in itertools.pairwise(widths)))
        self.bn = nn.BatchNorm2d(widths[-1])
        self.to_rgb = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(z).view(-1, self.base_ch, 4, 4)
        x = self.blocks(x)
        return torch.tanh(self.to_rgb(F.relu(self.bn(x))))


class _OptimizedDiscBlock(nn.Module):
    """SNGAN's first block: conv, ReLU, conv, pool; shortcut: pool, 1x1 conv (no ReLU on the image)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = spectral_norm(nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.conv1 = spectral_norm(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.shortcut = spectral_norm(nn.Conv2d(in_ch, out_ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv1(F.relu(self.conv0(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class _DiscResBlock(nn.Module):
    """ReLU, conv, ReLU, conv, (pool); shortcut: 1x1 conv, (pool)."""

    def __init__(self, in_ch: int, out_ch: int, downsample: bool):
        super().__init__()
        self.conv0 = spectral_norm(nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.conv1 = spectral_norm(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.shortcut = spectral_norm(nn.Conv2d(in_ch, out_ch, 1)) if in_ch != out_ch or downsample else None
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(self.conv0(F.relu(x))))
        s = self.shortcut(x) if self.shortcut is not None else x
        if self.downsample:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class SNResNetDiscriminator(nn.Module):
    """SNGAN's discriminator: residual blocks down to 4x4, one more at 4x4, ReLU, global sum pool and a
    spectrally normalised linear output (unconditional, so without the projection term)."""

    def __init__(self, resolution: int, ch: int):
        super().__init__()
        levels = _check_resolution(resolution)
        resolutions = [2**i for i in range(levels - 1, 1, -1)]  # resolution/2 .. 4
        widths = [_channels(r, resolution, ch) for r in resolutions]
        blocks: list[nn.Module] = [_OptimizedDiscBlock(3, widths[0])]
        blocks += [_DiscResBlock(a, b, downsample=True) for a, b in itertools.pairwise(widths)]
        blocks.append(_DiscResBlock(widths[-1], widths[-1], downsample=False))
        self.blocks = nn.Sequential(*blocks)
        self.linear = spectral_norm(nn.Linear(widths[-1], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.linear(h).squeeze(1)


class DCGANCritic(nn.Module):
    """The MMD-GAN code's ``dcgan5`` critic: 5x5 stride-2 convs with leaky ReLU down to 4x4, then a linear
    map to ``out_dim`` features (the kernel's input). No normalisation, since a gradient penalty is used."""

    def __init__(self, resolution: int, ch: int, out_dim: int):
        super().__init__()
        levels = _check_resolution(resolution)
        resolutions = [2**i for i in range(levels - 1, 1, -1)]  # output size of each conv
        widths = [_channels(r, resolution, ch) for r in resolutions]
        layers: list[nn.Module] = []
        in_ch = 3
        for w in widths:
            layers += [nn.Conv2d(in_ch, w, 5, stride=2, padding=2), nn.LeakyReLU(0.2)]
            in_ch = w
        self.convs = nn.Sequential(*layers)
        self.linear = nn.Linear(in_ch * 16, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(x).flatten(1))
