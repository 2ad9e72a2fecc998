"""Gaussian blur with a random odd kernel size (as in the paper's robustness study).

The sigma of a kernel of size k follows OpenCV's rule for ``sigma=0`` (what the paper's Python tooling
and Frank et al.'s code use): sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8, so k = 3, 5, 7, 9 give sigma 0.8,
1.1, 1.4, 1.7, and k = 1 leaves the image unchanged. Borders are reflected."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gfcore import Attack, bounded

from .draws import check_range, choice, to_float, to_uint8, uniform


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


class Blur(Attack):
    name = "blur"
    description = "Gaussian blur, kernel size from {1, 3, 5, 7, 9}, OpenCV's sigma rule (the paper's)."
    severity = "kernel"  # the field robustness curves fix, over these values
    severity_values = (1, 3, 5, 7, 9)
    severity_label = "blur kernel size"

    # Upper bounds: a kernel of 1001 (OpenCV's sigma 150) turns even a 4096-pixel image into a smear, and
    # the cost grows with kernel x pixels (a kernel of 20 million once asked for 9 GB); sigma 150 is the
    # same blur in Wang et al.'s form (a kernel of 901).
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

        def validate(self):
            sizes = list(self.kernels) + ([self.kernel] if self.kernel is not None else [])
            if not self.kernels:
                raise ValueError("kernels must name at least one size")
            if any(k < 1 or k % 2 == 0 for k in sizes):
                raise ValueError(f"kernel sizes must be odd and >= 1, got {sizes}")
            if self.sigma_max is not None:
                check_range(self.sigma_min, self.sigma_max, "sigma")

    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        if c.sigma_max is not None:
            return self._apply_sigma_range(images, generator)
        sizes = torch.tensor(choice(generator, len(images), tuple(c.kernels), c.kernel))
        x = to_float(images)
        out = x.clone()
        for k in sizes.unique().tolist():
            rows = (sizes == k).nonzero().flatten().to(images.device)
            out[rows] = gaussian_blur(x[rows], int(k), c.sigma)
        return to_uint8(out)

    def _apply_sigma_range(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        sigmas = uniform(generator, len(images), c.sigma_min, c.sigma_max, None)
        x = to_float(images)
        out = x.clone()
        for i, sigma in enumerate(sigmas.tolist()):
            if sigma >= 0.1:  # below, the kernel's side weights are under 1e-21: the image is unchanged
                out[i : i + 1] = gaussian_blur(x[i : i + 1], 2 * math.ceil(3 * sigma) + 1, sigma)
        return to_uint8(out)
