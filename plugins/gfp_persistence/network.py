"""The persistence networks: the paper's attribution network (``gfcore.AttributionNet``, reused, not copied) fed with one
frequency band at resolution R, or pooled over the image (the paper's persistence study):

* :class:`LogitPoolNet` -- figure (d) of the paper: the network's convolutions down to resolution r, a
  per-location head (the dense layers as 1x1 convolutions) and the logits averaged over all locations,
  whose receptive fields overlap;
* :class:`FeaturePoolNet` -- the official code's ``mode='postpool'``: the convolutions down to r, the
  feature maps average-pooled to 4x4, then the 4x4 convolution and the dense layers;
* :class:`PatchPoolNet` -- non-overlapping R x R tiles, each through the whole network, logits averaged.

Each exposes what :class:`gfcore.AttributionNetAttributor` reads: ``image_fingerprint(x)`` and ``dense2``
(whose weight rows are the model fingerprints). Pooling the logits equals ``dense2`` of the pooled
fingerprints, since ``dense2`` is linear, so the image fingerprint of a pooled network is the mean one."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gfcore import (
    AttributionNet,
    EqualizedConv2d,
    EqualizedLinear,
    GfpError,
    down_blocks,
    reflect_conv,
    stage_channels,
)

from .pyramid import laplacian_band, low_band

#: the smallest R: the network is then its 4x4 convolution and the two dense layers
MIN_RESOLUTION = 4


class BandNet(nn.Module):
    """The attribution network from R, reading the low band G_R (``predown``) or the Laplacian band
    G_R - Up(G_{R/2}) (``residual``) of an image of any power-of-two multiple of R."""

    def __init__(self, resolution: int, num_classes: int, width: float, residual: bool):
        super().__init__()
        self.resolution, self.residual = resolution, residual
        self.net = AttributionNet(resolution, num_classes, width, min_resolution=MIN_RESOLUTION)

    @property
    def dense2(self):
        return self.net.dense2

    def band(self, x: torch.Tensor) -> torch.Tensor:
        return (laplacian_band if self.residual else low_band)(x, self.resolution)

    def image_fingerprint(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.image_fingerprint(self.band(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.band(x))


def patch_starts(size: int, patch: int) -> list[int]:
    """Top-left offsets of the patches along one axis: a grid of step ``patch``, plus one patch flush with
    the far edge when ``patch`` does not divide ``size`` (so every pixel is seen)."""
    starts = list(range(0, size - patch + 1, patch))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


class PatchPoolNet(nn.Module):
    """A per-patch classifier (the attribution network at R = the patch size) whose logits are averaged over
    the patches of the image, Fig. (d): any image at least R x R is attributed.

    Since the last layer is linear, the mean of the patch logits is the last layer applied to the mean of
    the patch fingerprints: that mean is the image fingerprint, and the model fingerprints are unchanged."""

    def __init__(self, patch: int, num_classes: int, width: float):
        super().__init__()
        self.patch = patch
        self.net = AttributionNet(patch, num_classes, width, min_resolution=MIN_RESOLUTION)

    @property
    def dense2(self):
        return self.net.dense2

    def patches(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """[N,C,H,W] -> ([N*K, C, R, R], K) with K patches per image."""
        n, c, h, w = x.shape
        p = self.patch
        if h < p or w < p:
            raise ValueError(f"a {h}x{w} image is smaller than the {p}x{p} patch")
        if h % p == 0 and w % p == 0:  # the usual case: a view, no copies of pixels
            grid = x.unfold(2, p, p).unfold(3, p, p)  # [N, C, H/p, W/p, p, p]
            k = grid.shape[2] * grid.shape[3]
            return grid.permute(0, 2, 3, 1, 4, 5).reshape(n * k, c, p, p), k
        tiles = [x[:, :, i : i + p, j : j + p] for i in patch_starts(h, p) for j in patch_starts(w, p)]
        return torch.stack(tiles, 1).reshape(n * len(tiles), c, p, p), len(tiles)

    def image_fingerprint(self, x: torch.Tensor) -> torch.Tensor:
        tiles, k = self.patches(x)
        return self.net.image_fingerprint(tiles).reshape(len(x), k, -1).mean(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.dense2(self.image_fingerprint(x))


def blocks_down_to(resolution: int, r: int, width: float) -> tuple[nn.Sequential, int]:
    """The attribution network's blocks from ``resolution`` down to ``r`` (none when r = resolution) and
    the channels they end with: the same layers as the whole network's first blocks."""
    halvings = math.log2(resolution / r) if resolution >= r else -1.0
    if halvings != int(halvings) or 2 ** int(math.log2(resolution)) != resolution:
        raise GfpError(f"a {resolution}x{resolution} image cannot be halved down to {r}x{r}")
    blocks, _ = down_blocks(int(math.log2(resolution)), width)
    kept = 5 * int(math.log2(resolution // r))  # conv, act, conv, act, pool per halving
    channels = [m.weight.shape[0] for m in blocks[:kept] if isinstance(m, EqualizedConv2d)]
    return nn.Sequential(*blocks[:kept]), channels[-1] if channels else 3


def receptive_field(resolution: int, r: int) -> int:
    """Pixels each location at resolution ``r`` sees: per halving two 3x3 convolutions (2 steps each) and a
    2x2 pool (1 step), at the stride reached so far."""
    field, stride = 1, 1
    while resolution > r:
        field, stride, resolution = field + 5 * stride, stride * 2, resolution // 2
    return field


class LogitPoolNet(nn.Module):
    """Figure (d): a classifier per location of the resolution-``r`` feature map (overlapping receptive
    fields of :func:`receptive_field` pixels) whose logits are averaged over the image: fully
    convolutional, so any image at least the run's resolution is attributed from all of its pixels."""

    def __init__(self, resolution: int, r: int, num_classes: int, width: float):
        super().__init__()
        self.features, channels = blocks_down_to(resolution, r, width)
        self.fingerprint_dim = max(stage_channels(0, width), num_classes)
        self.dense1 = EqualizedConv2d(channels, self.fingerprint_dim, 1)  # Dense1 at every location
        self.dense2 = EqualizedLinear(self.fingerprint_dim, num_classes, gain=1.0)

    def image_fingerprint(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.dense1(self.features(x)), 0.2).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense2(self.image_fingerprint(x))


class FeaturePoolNet(nn.Module):
    """The official ``postpool``: convolutions down to ``r``, the feature maps average-pooled to 4x4 (a
    factor r/4 at the run's resolution; adaptively for larger images), then the 4x4 convolution and the
    dense layers of the attribution network."""

    def __init__(self, resolution: int, r: int, num_classes: int, width: float):
        super().__init__()
        self.features, channels = blocks_down_to(resolution, r, width)
        final = stage_channels(1, width)
        self.conv4 = reflect_conv(channels, final)
        self.fingerprint_dim = max(stage_channels(0, width), num_classes)
        self.dense1 = EqualizedLinear(final * 16, self.fingerprint_dim)
        self.dense2 = EqualizedLinear(self.fingerprint_dim, num_classes, gain=1.0)

    def image_fingerprint(self, x: torch.Tensor) -> torch.Tensor:
        h = F.adaptive_avg_pool2d(self.features(x), 4)
        h = F.leaky_relu(self.conv4(h), 0.2)
        return F.leaky_relu(self.dense1(h.flatten(1)), 0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense2(self.image_fingerprint(x))
