"""Building blocks of the ProGAN networks (Karras et al. 2018): pixel norm, minibatch standard deviation
and resampling (the equalised-learning-rate layers are shared, in gfcore.nn.equalized)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
