"""Equalised-learning-rate layers (Karras et al., ProGAN), shared by the paper's attribution network and
the ProGAN generator/critic: weights are stored as N(0, 1) and scaled at run time by ``gain / sqrt(fan_in)``.
With Adam this is *not* the same as initialising with that scale, which is why the scale is applied in
``forward`` (a classic pitfall when reimplementing ProGAN)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


class EqualizedConv2d(nn.Module):
    """k x k convolution, stride 1, 'same' size, bias initialised to zero.

    ``padding_mode``: ``"zeros"`` (ProGAN) or ``"reflect"`` (the attribution network, as in the paper's official code).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        gain: float = SQRT2,
        padding_mode: str = "zeros",
    ):
        super().__init__()
        if padding_mode not in ("zeros", "reflect"):
            raise ValueError(f"padding_mode must be 'zeros' or 'reflect', got {padding_mode!r}")
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.pad = kernel_size // 2
        self.padding_mode = padding_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding_mode == "reflect" and self.pad:
            return F.conv2d(F.pad(x, (self.pad,) * 4, mode="reflect"), self.weight * self.scale, self.bias)
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.pad)


class EqualizedLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, gain: float = SQRT2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)

    def effective_weight(self) -> torch.Tensor:
        """The weight as the layer applies it."""
        return self.weight * self.scale
