"""The persistence networks: the paper's attribution network (``gfcore.AttributionNet``, reused, not copied) fed with one
frequency band at resolution R, or applied to every R x R patch with its logits averaged (the paper's persistence study).

Both expose what :class:`gfcore.AttributionNetAttributor` reads: ``image_fingerprint(x)`` and
``dense2`` (whose weight rows are the model fingerprints)."""

from __future__ import annotations

import torch
from torch import nn

from gfcore import AttributionNet

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
