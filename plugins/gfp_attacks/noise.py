"""Additive i.i.d. Gaussian noise (as in the paper's robustness study).

The std is per pixel, on the 0-255 scale, and does not depend on the image size: each pixel of a 32x32
image gets the same noise as each pixel of a 128x128 one, so the paper's range applies as it stands.
(Noise added at 128 px and then downsampled to 32 px would be about 4x weaker, because averaging 16
pixels averages their noise: that is the resampling's doing, not a size in the noise.)"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gfcore import Attack, bounded

from .draws import check_range, to_float, to_uint8, uniform


class Noise(Attack):
    name = "noise"
    description = "i.i.d. Gaussian noise, std ~ U[5, 20] on the 0-255 scale, then clipped (the paper's)."
    severity = "std"  # the field robustness curves fix, over these values
    severity_values = (0, 5, 10, 15, 20, 30)
    severity_label = "noise std (0-255 scale)"

    # Upper bound 1000: from a std of a few hundred almost every pixel is clipped to black or white
    # already; beyond, only the float arithmetic changes (1e30 once "worked" and wrote black images).
    @dataclass
    class Config:
        std: float | None = bounded(
            None, min=0, max=1000
        )  # fixed std (a severity sweep); None: drawn per image
        std_min: float = bounded(5.0, min=0, max=1000)
        std_max: float = bounded(20.0, min=0, max=1000)

        def validate(self):
            check_range(self.std_min, self.std_max, "std")

    def scale_note(self) -> str:
        return "independent of the image size"

    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        n = len(images)
        std = uniform(generator, n, c.std_min, c.std_max, c.std).float()
        # the noise is drawn on the CPU (the generator's device) and moved: identical on every device
        noise = torch.randn(tuple(images.shape), generator=generator) * std[:, None, None, None]
        return to_uint8(to_float(images) + noise.to(images.device))
