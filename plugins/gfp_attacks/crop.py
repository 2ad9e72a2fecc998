"""Cropping: a random 5-20% of the side is cut away, then the rest is resized back (as in the paper's
robustness study).

The cut is split between the two sides at a random position (Frank et al. cut half per side; a random
split also moves the centre, which is what a cropped photograph does). The same fraction applies to width
and height, so the aspect ratio is kept; the resize is bicubic, as in the paper's tooling.

The fraction is already relative to the image: 10% of a 32-pixel side is the same share of the image as
10% of a 128-pixel one. Only the rounding to whole pixels differs: on 32x32 images the cut moves in
steps of 1/32 of the side (5% cuts 2 pixels, 6.25%), on 128x128 in steps of 1/128."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gfcore import Attack, bounded

from .draws import check_range, to_float, to_uint8, uniform


class Crop(Attack):
    name = "crop"
    description = "Crop away a random 5-20% of the side, resize back bicubically (the paper's)."
    severity = "fraction"  # the field robustness curves fix, over these values
    severity_values = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
    severity_label = "crop: fraction of the side cut away"

    @dataclass
    class Config:
        fraction: float | None = bounded(None, min=0, max=1, max_open=True)  # fixed fraction of the side
        fraction_min: float = bounded(0.05, min=0, max=1, max_open=True)
        fraction_max: float = bounded(0.20, min=0, max=1, max_open=True)

        def validate(self):
            check_range(self.fraction_min, self.fraction_max, "fraction")

    def scale_note(self) -> str:
        return "independent of the image size"

    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        n, _, h, w = images.shape
        fractions = uniform(generator, n, c.fraction_min, c.fraction_max, c.fraction)
        offsets = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        x = to_float(images)
        out = torch.empty_like(x)
        for i in range(n):
            ch = min(h - 1, round(float(fractions[i]) * h))  # pixels cut away (keep at least one row)
            cw = min(w - 1, round(float(fractions[i]) * w))
            top, left = round(float(offsets[i, 0]) * ch), round(float(offsets[i, 1]) * cw)
            kept = x[i : i + 1, :, top : top + h - ch, left : left + w - cw]
            if ch == 0 and cw == 0:
                out[i] = x[i]
            else:
                out[i] = F.interpolate(kept, size=(h, w), mode="bicubic", align_corners=False)[0]
        return to_uint8(out)
