"""The Gaussian pyramid of the paper's official code (its persistence study): ``downscale2d_rgb_Gaussian`` and
``upscale2d_rgb_Gaussian``, per channel, with the 5x5 binomial kernel ``[1,4,6,4,1]^T [1,4,6,4,1] / 256``
and reflect padding 2.

The kernel's frequency response is ``cos^4(w/2)`` per axis: exactly zero at the Nyquist frequency, so a
one-pixel checkerboard vanishes in one step down, and exactly one at zero frequency (the kernel sums to 1;
up-sampling multiplies it by 4 because three quarters of its inputs are inserted zeros), so a constant
survives the way down and back up unchanged and is absent from every Laplacian band.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gfcore import GfpError

_TAPS = (1.0, 4.0, 6.0, 4.0, 1.0)


def _kernel(x: torch.Tensor, scale: float) -> torch.Tensor:
    taps = torch.tensor(_TAPS, dtype=x.dtype, device=x.device)
    k = torch.outer(taps, taps) / 256.0 * scale
    return k.expand(x.shape[1], 1, 5, 5)  # depthwise: one copy per channel


def gaussian_down(x: torch.Tensor) -> torch.Tensor:
    """[N,C,H,W] -> [N,C,H/2,W/2]: binomial blur then every second pixel (H, W even, at least 4)."""
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), _kernel(x, 1.0), stride=2, groups=x.shape[1])


def gaussian_up(x: torch.Tensor) -> torch.Tensor:
    """[N,C,H,W] -> [N,C,2H,2W]: zeros inserted between pixels, then the binomial kernel times 4."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return F.conv2d(F.pad(up, (2, 2, 2, 2), mode="reflect"), _kernel(x, 4.0), groups=c)


def pyramid_steps(size: int, resolution: int) -> int:
    """How many halvings take a ``size`` x ``size`` image to ``resolution`` (a power of two times it)."""
    steps = int(round(math.log2(size / resolution))) if size >= resolution > 0 else -1
    if steps < 0 or resolution * 2**steps != size:
        raise GfpError(f"a {size}x{size} image cannot be halved down to {resolution}x{resolution}")
    return steps


def low_band(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """G_R: the image Gaussian-downsampled to ``resolution`` (the pre-downsampling input, Fig. (b))."""
    for _ in range(pyramid_steps(x.shape[-1], resolution)):
        x = gaussian_down(x)
    return x


def laplacian_band(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """G_R - Up(G_{R/2}): the Laplacian band at ``resolution`` (the residual input, Fig. (c)); at the
    image's own resolution that is I - Up(Down(I))."""
    g = low_band(x, resolution)
    return g - gaussian_up(gaussian_down(g))
