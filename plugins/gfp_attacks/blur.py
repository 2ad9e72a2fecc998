"""Gaussian blur with a random odd kernel size (as in the paper's robustness study).

The sigma of a kernel of size k follows OpenCV's rule for ``sigma=0`` (what the paper's Python tooling
and Frank et al.'s code use): sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8, so k = 3, 5, 7, 9 give sigma 0.8,
1.1, 1.4, 1.7, and k = 1 leaves the image unchanged. Borders are reflected.

Relative to the image (the default, ``reference_size=128``): the kernel sizes and sigmas are those of the
paper's 128x128 images, and the whole truncated Gaussian is stretched to the image, so it covers the
same share of it. On an image of side s, with f = s / 128: sigma_px = f * sigma and the kernel's
half-width is ceil(f * (k - 1) / 2) pixels. On 32x32 images a "3x3" blur is sigma 0.2 on three taps
(almost nothing) and a "9x9" one sigma 0.425. ``reference_size=none``: kernel and sigma in the image's
own pixels (what gfp did before it scaled attacks)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gfcore import Attack, GfpError, bounded

from .draws import check_range, choice, to_float, to_uint8, uniform
from .scale import PAPER_SIZE, reference_size_field, scale_note, size_factor

MAX_KERNEL, MAX_SIGMA = 1001, 150.0  # the largest blur run, in the image's pixels (see Config)


def opencv_sigma(kernel: int) -> float:
    return 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8


def gaussian_kernel1d(kernel: int, sigma: float, device) -> torch.Tensor:
    x = torch.arange(kernel, dtype=torch.float64) - (kernel - 1) / 2
    w = torch.exp(-(x**2) / (2 * sigma**2))
    return (w / w.sum()).float().to(device)


def gaussian_blur(x: torch.Tensor, kernel: int, sigma: float | None = None) -> torch.Tensor:
    """Separable Gaussian blur of float [N,C,H,W] (reflect padding, clamped to what the image allows)."""
    if kernel <= 1:
        return x
    w = gaussian_kernel1d(kernel, sigma if sigma is not None else opencv_sigma(kernel), x.device)
    n, c, h, width = x.shape
    pad = kernel // 2
    y = x.reshape(n * c, 1, h, width)
    mode = "reflect" if pad < min(h, width) else "replicate"
    y = F.conv2d(F.pad(y, (pad, pad, 0, 0), mode=mode), w.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, pad, pad), mode=mode), w.view(1, 1, -1, 1))
    return y.reshape(n, c, h, width)


def scaled_kernel(kernel: int, sigma: float, factor: float) -> tuple[int, float]:
    """A kernel of ``kernel`` taps and ``sigma`` at the reference size -> (taps, sigma) in the image's
    pixels, ``factor`` image pixels per reference pixel.

    Both the sigma and the support are scaled, so the kernel is the paper's one stretched: at factor 1 it
    is exactly the paper's (OpenCV truncates a k-tap kernel at (k - 1) / 2 whatever its sigma; rebuilding
    the support as 2 * ceil(3 sigma) + 1 would turn the paper's 3x3 into 7 taps, and inverting OpenCV's
    rule has no kernel for sigma under 0.5, so every blur up to 9x9 would vanish on 32x32 images). The
    half-width is rounded up to whole pixels, so the truncation never cuts more of the Gaussian than the
    paper's kernel does."""
    # the 1e-9 keeps a product such as 4 * 0.25 from rounding up past a whole pixel
    radius = math.ceil(factor * (kernel - 1) / 2 - 1e-9)
    return 2 * radius + 1, sigma * factor


class Blur(Attack):
    name = "blur"
    description = (
        "Gaussian blur, kernel size from {1, 3, 5, 7, 9}, OpenCV's sigma rule (the paper's), "
        "at 128 px scaled to the image."
    )
    severity = "kernel"  # the field robustness curves fix, over these values
    severity_values = (1, 3, 5, 7, 9)
    severity_label = f"blur kernel size (at {PAPER_SIZE} px, scaled to the image)"

    # Upper bounds: a kernel of 1001 (OpenCV's sigma 150) turns even a 4096-pixel image into a smear, and
    # the cost grows with kernel x pixels (a kernel of 20 million once asked for 9 GB); sigma 150 is the
    # same blur in Wang et al.'s form (a kernel of 901). The same bounds hold for the scaled kernel.
    @dataclass
    class Config:
        kernel: int | None = bounded(None, min=1, max=1001)  # a fixed odd kernel size (a severity sweep)
        # drawn uniformly per image when kernel is None
        kernels: tuple[int, ...] = bounded((1, 3, 5, 7, 9), min=1, max=1001)
        # None: OpenCV's rule from the size
        sigma: float | None = bounded(None, min=0, max=150, min_open=True)
        # Wang et al. 2020's form: sigma ~ U[sigma_min, sigma_max] per image, kernel 2 * ceil(3 sigma) + 1
        # (used when sigma_max is given; kernel/kernels/sigma are then ignored)
        sigma_min: float = bounded(0.0, min=0, max=150)
        sigma_max: float | None = bounded(None, min=0, max=150)
        # kernel sizes and sigmas are in pixels of an image of this side, scaled to the image (the
        # paper's: 128); none: in the image's own pixels
        reference_size: int | None = reference_size_field(PAPER_SIZE)

        def validate(self):
            sizes = list(self.kernels) + ([self.kernel] if self.kernel is not None else [])
            if not self.kernels:
                raise ValueError("kernels must name at least one size")
            if any(k < 1 or k % 2 == 0 for k in sizes):
                raise ValueError(f"kernel sizes must be odd and >= 1, got {sizes}")
            if self.sigma_max is not None:
                check_range(self.sigma_min, self.sigma_max, "sigma")

    def scale_note(self) -> str:
        return scale_note(self.config.reference_size)

    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        factor = size_factor(images.shape[-2], images.shape[-1], c.reference_size)
        if c.sigma_max is not None:
            return self._apply_sigma_range(images, generator, factor)
        sizes = torch.tensor(choice(generator, len(images), tuple(c.kernels), c.kernel))
        x = to_float(images)
        out = x.clone()
        for k in sizes.unique().tolist():
            sigma = c.sigma if c.sigma is not None else opencv_sigma(int(k))
            taps, sigma = scaled_kernel(int(k), sigma, factor)
            self._check(taps, sigma, images.shape)
            rows = (sizes == k).nonzero().flatten().to(images.device)
            out[rows] = gaussian_blur(x[rows], taps, sigma)
        return to_uint8(out)

    def _apply_sigma_range(self, images, generator, factor: float) -> torch.Tensor:
        c = self.config
        sigmas = uniform(generator, len(images), c.sigma_min, c.sigma_max, None) * factor
        x = to_float(images)
        out = x.clone()
        for i, sigma in enumerate(sigmas.tolist()):
            if sigma >= 0.1:  # below, the kernel's side weights are under 1e-21: the image is unchanged
                taps = 2 * math.ceil(3 * sigma) + 1
                self._check(taps, sigma, images.shape)
                out[i : i + 1] = gaussian_blur(x[i : i + 1], taps, sigma)
        return to_uint8(out)

    def _check(self, taps: int, sigma: float, shape) -> None:
        """The scaled kernel keeps the absolute form's bounds: a small reference_size on a large image
        would otherwise ask for a kernel of any size (and its memory and time)."""
        if taps > MAX_KERNEL or sigma > MAX_SIGMA:
            raise GfpError(
                f"attack 'blur': on {shape[-2]}x{shape[-1]} images at reference_size="
                f"{self.config.reference_size} the kernel is {taps} pixels (sigma {sigma:.3g}), over "
                f"the limit of {MAX_KERNEL} (sigma {MAX_SIGMA:g}); use a smaller kernel or a larger "
                "reference_size"
            )
