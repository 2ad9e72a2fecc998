"""Building blocks of the ProGAN networks (Karras et al. 2018): equalised learning rate, pixel norm and
minibatch standard deviation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


class EqualConv2d(nn.Module):
    """A conv whose weight is stored as N(0, 1) and scaled at run time by ``gain / sqrt(fan_in)``.

    The scale must be applied in the forward pass, not folded into the initialisation: with Adam the two
    are not equivalent, and the run-time scale is what equalises the effective learning rate per layer."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.scale = gain / math.sqrt(in_ch * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualLinear(nn.Module):
    """A dense layer with the same run-time weight scale as :class:`EqualConv2d`."""

    def __init__(self, in_features: int, out_features: int, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each pixel's feature vector to unit average square (ProGAN's replacement for BN in G)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one feature map: the standard deviation of each feature over a group of samples, averaged
    over features and pixels. It lets the critic see variety in a batch, which discourages mode collapse."""
    n, c, h, w = x.shape
    group = min(group_size, n)
    while n % group:  # the original requires divisibility; use the largest group that divides the batch
        group -= 1
    y = x.reshape(group, n // group, c, h, w)
    y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt()  # [n/group, c, h, w]
    y = y.mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1).repeat(group, 1, h, w)  # sample i -> group stat i % (n/g)
    return torch.cat([x, y], dim=1)


def upscale2x(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def downscale2x(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)
