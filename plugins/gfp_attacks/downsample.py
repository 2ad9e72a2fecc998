"""Downsampling and back: the image is shrunk by ``factor`` and brought back up to its own size, so that a
method sees the detail a smaller copy kept (the "downsample x0.5 / x0.25" levels of the field's
degradation tables, e.g. ImageAttributionBench's).

Both ways are bilinear (``torch.nn.functional.interpolate``, ``align_corners=False``); the way down is
antialiased (a triangle filter as wide as the reduction, what Pillow's ``resize(..., BILINEAR)`` does), so
the frequencies above the small copy's Nyquist limit are removed instead of folding back as aliases. The
small side is ``round(side * factor)``, at least one pixel. Nothing is drawn at random."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gfcore import Attack, bounded

from .draws import to_float, to_uint8


def down_and_up(images: torch.Tensor, factor: float) -> torch.Tensor:
    """uint8 ``[N, 3, H, W]`` -> the same shape after shrinking by ``factor`` and enlarging back."""
    h, w = images.shape[-2:]
    small = (max(1, round(h * factor)), max(1, round(w * factor)))
    if small == (h, w):  # factor 1 (or one close enough to keep every pixel): nothing to resample
        return images.clone()
    x = to_float(images)
    x = F.interpolate(x, size=small, mode="bilinear", align_corners=False, antialias=True)
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    return to_uint8(x)


class Downsample(Attack):
    name = "downsample"
    description = "Shrink by a factor (bilinear, antialiased) and enlarge back to the original size."
    severity = "factor"  # the field robustness curves fix, over these values (1: unchanged)
    severity_values = (1.0, 0.75, 0.5, 0.25)
    severity_label = "downsampling factor (lower is harsher)"

    @dataclass
    class Config:
        # the side of the small copy as a fraction of the image's; 1 leaves the image as it is
        factor: float = bounded(0.5, min=0, max=1, min_open=True)

    def scale_note(self) -> str:
        return "independent of the image size"  # a fraction of the side, whatever the side

    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return down_and_up(images, self.config.factor)
