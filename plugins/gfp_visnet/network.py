"""visNet's networks (``EG`` and ``D_patch`` in the official ``classifier_visNet`` code),
for any power-of-two resolution and channel width.

* :class:`VisNetAE` (EG): the attribution network's convolutions down to a spatial 4x4 bottleneck of
  ``nf(1)`` channels (512 at width 1) with two 3x3 convolutions at 4x4, a mirrored decoder (two 3x3
  convolutions per resolution after nearest x2 upsampling) ending in a 3x3 convolution to RGB (the
  equalised-LR gain sqrt(2) of every convolution, as the official ``EG``) and tanh.
  The image fingerprint is ``x - R(x)``; the model fingerprints are a free ``[L, 3, R, R]`` parameter
  (equalised-LR scale ``1/sqrt(3 R^2)``, gain 1, no bias) and the logits are scaled inner products.
* :class:`RecCritic` (D_rec): the same convolutions down to 4x4, minibatch stddev (group 4), a 3x3
  convolution, a dense layer and a dense output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gfcore import (
    EqualizedConv2d,
    EqualizedLinear,
    GfpError,
    down_blocks,
    minibatch_stddev,
    reflect_conv,
    stage_channels,
)


def check_resolution(resolution: int) -> int:
    log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
    if 2**log2 != resolution or not 16 <= resolution <= 256:
        raise GfpError(f"visnet needs a resolution that is a power of two from 16 to 256, got {resolution}")
    return log2


class VisNetAE(nn.Module):
    def __init__(self, resolution: int, num_classes: int, width: float = 1.0):
        super().__init__()
        log2 = check_resolution(resolution)
        act = nn.LeakyReLU(0.2)
        blocks, in_ch = down_blocks(log2, width)
        latent = stage_channels(1, width)
        blocks += [reflect_conv(in_ch, latent), act, reflect_conv(latent, latent), act]
        self.encoder = nn.Sequential(*blocks)
        up: list[nn.Module] = [reflect_conv(latent, latent), act, reflect_conv(latent, latent), act]
        in_ch = latent
        for r in range(3, log2 + 1):  # 8 ... 2^log2: channels nf(r-1) (256 at 8x8, 16 at 128x128)
            out = stage_channels(r - 1, width)
            up += [nn.Upsample(scale_factor=2, mode="nearest"), reflect_conv(in_ch, out), act]
            up += [reflect_conv(out, out), act]
            in_ch = out
        up += [EqualizedConv2d(in_ch, 3, 3, padding_mode="reflect"), nn.Tanh()]
        self.decoder = nn.Sequential(*up)
        # the model fingerprints, stored N(0, 1) and scaled at run time (a VALID conv with an RxR kernel)
        self.fingerprints = nn.Parameter(torch.randn(num_classes, 3, resolution, resolution))
        self.scale = 1.0 / math.sqrt(3 * resolution * resolution)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def image_fingerprint(self, x: torch.Tensor) -> torch.Tensor:
        """``x - R(x)``: [N, 3, R, R], in [-2, 2]."""
        return x - self.reconstruct(x)

    def classify(self, fingerprint: torch.Tensor) -> torch.Tensor:
        """Scaled inner products of image fingerprints with each model fingerprint -> [N, L]."""
        return fingerprint.flatten(1) @ (self.fingerprints * self.scale).flatten(1).T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.image_fingerprint(x))


class RecCritic(nn.Module):
    """The realism critic on reconstructions (WGAN-GP)."""

    def __init__(self, resolution: int, width: float = 1.0, mbstd_group: int = 4):
        super().__init__()
        log2 = check_resolution(resolution)
        blocks, in_ch = down_blocks(log2, width)
        self.features = nn.Sequential(*blocks)
        self.mbstd_group = mbstd_group
        ch = stage_channels(1, width)
        self.conv = reflect_conv(in_ch + (1 if mbstd_group > 1 else 0), ch)
        self.dense1 = EqualizedLinear(ch * 16, ch)
        self.dense2 = EqualizedLinear(ch, 1, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        if self.mbstd_group > 1:
            h = minibatch_stddev(h, self.mbstd_group)
        h = F.leaky_relu(self.conv(h), 0.2)
        return self.dense2(F.leaky_relu(self.dense1(h.flatten(1)), 0.2)).squeeze(1)


class VisNet(nn.Module):
    """What a visNet run trains and saves: the auto-encoder, its moving average (used for inference) and
    the critic, with the number of averaging steps taken."""

    def __init__(self, resolution: int, num_classes: int, width: float = 1.0):
        super().__init__()
        self.ae = VisNetAE(resolution, num_classes, width)
        self.ema = VisNetAE(resolution, num_classes, width)
        self.ema.load_state_dict(self.ae.state_dict())
        self.ema.requires_grad_(False)
        self.critic = RecCritic(resolution, width)
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The training auto-encoder's logits (the loop's divergence probe)."""
        return self.ae(x)

    @torch.no_grad()
    def update_ema(self, beta: float) -> None:
        """``ema <- b*ema + (1-b)*ae`` with ``b = min(beta, (1+t)/(10+t))`` after ``t`` updates: the warm-up
        keeps a short run's average from sitting on the initial weights (the paper's runs are long enough
        that b is 0.999 almost throughout)."""
        t = float(self.ema_steps)
        b = min(beta, (1.0 + t) / (10.0 + t))
        for avg, cur in zip(self.ema.parameters(), self.ae.parameters(), strict=True):
            avg.lerp_(cur, 1.0 - b)
        self.ema_steps += 1
