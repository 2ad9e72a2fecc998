"""ProGAN's G_paper / D_paper (Karras et al. 2018), grown progressively from 4x4 to the target resolution.

Both networks hold every level from the start; ``level`` (0 = 4x4) says how far the current phase of the
growth schedule reaches and ``alpha`` fades the newest level in over the lower one's upscaled output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gfcore import SQRT2, downscale2x, minibatch_stddev, pixel_norm, upscale2x
from gfcore import EqualizedConv2d as EqualConv2d
from gfcore import EqualizedLinear as EqualLinear


def progan_channels(res: int, width: float) -> int:
    """``min(8192 / res, 512)`` feature maps, times ``width`` so a small network fits a CPU. The official
    code's maps are ``min(16384 / res, 512)`` (its ``nf(log2(res) - 1)``): the same up to 16x16, twice
    these from 32x32 on; the shipped generators keep this rule, so their weights load."""
    return max(4, round(min(8192 // res, 512) * width))


def level_resolutions(resolution: int) -> list[int]:
    """4, 8, ..., resolution."""
    return [4 * 2**i for i in range(int(math.log2(resolution)) - 1)]


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class _GeneratorBlock(nn.Module):
    """Upscale, then two 3x3 convs, each followed by leaky ReLU and pixel norm."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_ch, out_ch, 3)
        self.conv1 = EqualConv2d(out_ch, out_ch, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(_lrelu(self.conv0(upscale2x(x))))
        return pixel_norm(_lrelu(self.conv1(x)))


class ProGanGenerator(nn.Module):
    """G_paper. Its toRGB layers are linear (the official output); ``tanh=True`` squashes the picture into
    [-1, 1] instead, the architecture of the generators shipped before the official output was restored."""

    def __init__(self, resolution: int, z_dim: int, width: float, tanh: bool = False):
        super().__init__()
        self.tanh = tanh
        self.resolutions = level_resolutions(resolution)
        self.max_level = len(self.resolutions) - 1
        ch = [progan_channels(r, width) for r in self.resolutions]
        self.base_ch = ch[0]
        # The 4x4 "dense" layer uses gain sqrt(2)/4, as in the original (it is a 4x4 conv on a 1x1 input).
        self.dense = EqualLinear(z_dim, ch[0] * 16, gain=SQRT2 / 4)
        self.conv4 = EqualConv2d(ch[0], ch[0], 3)
        self.blocks = nn.ModuleList(_GeneratorBlock(ch[i - 1], ch[i]) for i in range(1, len(ch)))
        self.to_rgb = nn.ModuleList(EqualConv2d(c, 3, 1, gain=1.0) for c in ch)

    def forward(self, z: torch.Tensor, level: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        level = self.max_level if level is None else level
        x = self.dense(pixel_norm(z)).view(-1, self.base_ch, 4, 4)
        x = pixel_norm(_lrelu(x))
        x = pixel_norm(_lrelu(self.conv4(x)))
        previous = x
        for block in self.blocks[:level]:
            previous, x = x, block(x)
        rgb = self.to_rgb[level](x)
        if level > 0 and alpha < 1.0:  # fade-in: blend with the lower level's picture, upscaled
            rgb = torch.lerp(upscale2x(self.to_rgb[level - 1](previous)), rgb, alpha)
        return torch.tanh(rgb) if self.tanh else rgb


class _DiscriminatorBlock(nn.Module):
    """Two 3x3 convs (the second changes to the lower level's width), then a 2x2 average pool."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_ch, in_ch, 3)
        self.conv1 = EqualConv2d(in_ch, out_ch, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return downscale2x(_lrelu(self.conv1(_lrelu(self.conv0(x)))))


class ProGanDiscriminator(nn.Module):
    def __init__(self, resolution: int, width: float, mbstd_group: int = 4):
        super().__init__()
        self.resolutions = level_resolutions(resolution)
        self.max_level = len(self.resolutions) - 1
        self.mbstd_group = mbstd_group
        ch = [progan_channels(r, width) for r in self.resolutions]
        self.from_rgb = nn.ModuleList(EqualConv2d(3, c, 1) for c in ch)
        # blocks[i - 1] takes level i down to level i - 1
        self.blocks = nn.ModuleList(_DiscriminatorBlock(ch[i], ch[i - 1]) for i in range(1, len(ch)))
        extra = 1 if mbstd_group > 1 else 0
        self.conv4 = EqualConv2d(ch[0] + extra, ch[0], 3)
        self.dense0 = EqualLinear(ch[0] * 16, ch[0])
        self.dense1 = EqualLinear(ch[0], 1, gain=1.0)

    def forward(self, img: torch.Tensor, level: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        level = self.max_level if level is None else level
        x = _lrelu(self.from_rgb[level](img))
        if level > 0:
            x = self.blocks[level - 1](x)
            if alpha < 1.0:  # fade-in: blend with the lower level's path on the downscaled picture
                x = torch.lerp(_lrelu(self.from_rgb[level - 1](downscale2x(img))), x, alpha)
            for block in reversed(self.blocks[: level - 1]):
                x = block(x)
        if self.mbstd_group > 1:
            x = minibatch_stddev(x, self.mbstd_group)
        x = _lrelu(self.conv4(x))
        x = _lrelu(self.dense0(x.flatten(1)))
        return self.dense1(x).squeeze(1)
