"""The paper's attribution network (``C_patch`` in the official code), a building block for every method
built on it (the learned extractor, the persistence variants, visNet's encoder).

A ProGAN discriminator without fromRGB, minibatch-stddev or any normalisation: per resolution 2^r, two
3x3 convolutions (reflect padding, LeakyReLU 0.2) then 2x2 average pooling, with ``nf(r-1)`` and
``nf(r-2)`` channels where ``nf(s) = min(1024 / 2**s, 512)``; at 4x4 one more 3x3 convolution; then a dense
layer to the 512-d image fingerprint and a dense layer (gain 1) whose weight rows are the model
fingerprints. At 128x128 with 5 classes: 8,913,797 parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gfcore.errors import GfpError
from gfcore.nn.equalized import EqualizedConv2d, EqualizedLinear


def stage_channels(stage: int, width: float = 1.0, fmap_base: int = 1024, fmap_max: int = 512) -> int:
    """``nf(s)`` scaled by the width multiplier (at least 1 channel)."""
    return max(1, int(round(min(fmap_base / 2**stage, fmap_max) * width)))


def reflect_conv(in_channels: int, out_channels: int) -> EqualizedConv2d:
    """The network's convolution: 3x3 with REFLECT padding (a change from ProGAN's zeros)."""
    return EqualizedConv2d(in_channels, out_channels, 3, padding_mode="reflect")


def check_resolution(resolution: int, minimum: int = 16) -> int:
    """log2 of ``resolution``; a power of two from ``minimum`` to 256, else one line. The persistence
    variants (the paper's persistence study) run the network from as low as 4x4 (the 4x4 convolution and the dense layers)."""
    log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
    if 2**log2 != resolution or not minimum <= resolution <= 256:
        raise GfpError(
            f"the learned network needs a resolution that is a power of two from {minimum} to 256, "
            f"got {resolution}"
        )
    return log2


def down_blocks(log2: int, width: float) -> tuple[list[nn.Module], int]:
    """The network's blocks from 2^log2 down to 4x4 (two reflect 3x3 convolutions with LeakyReLU 0.2, then
    2x2 average pooling, per resolution) and the channels they end with. No fromRGB: the first convolution
    reads the RGB image directly."""
    act = nn.LeakyReLU(0.2)
    blocks: list[nn.Module] = []
    in_ch = 3
    for r in range(log2, 2, -1):  # resolutions 2^log2 ... 8
        mid, out = stage_channels(r - 1, width), stage_channels(r - 2, width)
        blocks += [reflect_conv(in_ch, mid), act, reflect_conv(mid, out), act, nn.AvgPool2d(2)]
        in_ch = out
    return blocks, in_ch


class AttributionNet(nn.Module):
    def __init__(self, resolution: int, num_classes: int, width: float = 1.0, min_resolution: int = 16):
        super().__init__()
        log2 = check_resolution(resolution, min_resolution)
        act = nn.LeakyReLU(0.2)
        blocks, in_ch = down_blocks(log2, width)
        final_ch = stage_channels(1, width)
        blocks += [reflect_conv(in_ch, final_ch), act]  # the 3x3 convolution at 4x4
        self.features = nn.Sequential(*blocks)
        self.fingerprint_dim = max(stage_channels(0, width), num_classes)
        self.dense1 = EqualizedLinear(final_ch * 16, self.fingerprint_dim)
        self.dense2 = EqualizedLinear(self.fingerprint_dim, num_classes, gain=1.0)

    def image_fingerprint(self, x: torch.Tensor) -> torch.Tensor:
        """[N,3,R,R] in [-1,1] -> [N, D]: the penultimate (Dense1) activations."""
        return F.leaky_relu(self.dense1(self.features(x).flatten(1)), 0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense2(self.image_fingerprint(x))
