"""Equalised-learning-rate layers (Karras et al., ProGAN): weights are stored as N(0, 1) and scaled at run
time by ``gain / sqrt(fan_in)``. With Adam this is *not* the same as initialising with that scale, which
is why the scale is applied in ``forward`` (paper-notes §7, pitfall 1)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


class EqualizedConv2d(nn.Module):
    """k x k convolution, stride 1, 'same' size with reflect padding, bias initialised to zero."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.pad = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, mode="reflect")
        return F.conv2d(x, self.weight * self.scale, self.bias)


class EqualizedLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)

    def effective_weight(self) -> torch.Tensor:
        """The weight as the layer applies it (what the paper calls the model fingerprints for Dense2)."""
        return self.weight * self.scale
