"""The fixed degradations of the field's benchmark tables as one attack: downsampling by ``factor`` (and
back up), Gaussian blur of ``sigma``, then a JPEG round trip at ``quality``, each skipped at its neutral
value, always in that order (resizing, then blur, then compression last, as an image shared online is
treated). Every step is the registered attack of that name (``downsample``, ``blur``, ``jpeg``), so a
plugin that replaces one changes this attack too. Nothing is drawn at random: a level is the same images
on every run.

``sigma`` is in pixels of an image whose side is ``reference_size`` (128, the paper's, by default) and
the ``blur`` attack scales it to the image (``sigma * side / 128``, :mod:`.scale`), so a level means the
same loss of detail at every resolution: ``sigma=4`` is a blur of sigma 1 on 32-pixel images. The blur is
the Gaussian of the scaled sigma over ``2 * ceil(3 sigma) + 1`` of the image's pixels (the ``blur`` attack's
``sigma_min``/``sigma_max`` form with both ends equal). ``factor`` is a fraction of the image's side, the
same at every resolution.

:attr:`Degrade.degradation_levels` is the standard table ``gfp bench --degradations`` evaluates: the levels
of ImageAttributionBench (downsampling x0.5 and x0.25, JPEG 65 and 30, blur) and their chain."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gfcore import Attack, bounded, build_attack

from .scale import PAPER_SIZE, reference_size_field, scale_note


class Degrade(Attack):
    name = "degrade"
    description = (
        "Fixed downsampling (factor), blur (sigma at 128 px, scaled) and JPEG (quality), in that order."
    )
    degradation_levels = (
        ("down x0.5", "factor=0.5"),
        ("down x0.25", "factor=0.25"),
        ("JPEG 65", "quality=65"),
        ("JPEG 30", "quality=30"),
        ("blur sigma 4 at 128 px", "sigma=4"),
        ("blur sigma 8 at 128 px", "sigma=8"),
        ("chain: x0.5, blur 4, JPEG 65", "factor=0.5,sigma=4,quality=65"),
    )

    @dataclass
    class Config:
        factor: float = bounded(1.0, min=0, max=1, min_open=True)  # downsampling factor; 1: none
        sigma: float = bounded(0.0, min=0, max=150)  # blur sigma at reference_size; 0: none
        quality: int | None = bounded(None, min=1, max=95)  # JPEG quality; None: no JPEG
        # the side at which sigma is given (scaled to the image by the blur); none: the image's pixels
        reference_size: int | None = reference_size_field(PAPER_SIZE)

    def __init__(self, config):
        super().__init__(config)
        c = self.config
        # the steps are built now, so a bad parameter or a missing attack is an error before any images;
        # repr() writes a float back exactly, so the step gets the very value of this config
        size = "none" if c.reference_size is None else c.reference_size
        blur = f"blur:sigma_min={c.sigma!r},sigma_max={c.sigma!r},reference_size={size}"
        self.steps = [
            build_attack(f"downsample:factor={c.factor!r}") if c.factor < 1 else None,
            build_attack(blur) if c.sigma > 0 else None,
            build_attack(f"jpeg:quality={c.quality}") if c.quality is not None else None,
        ]

    def scale_note(self) -> str:
        return (
            scale_note(self.config.reference_size)
            if self.config.sigma > 0
            else "independent of the image size"
        )

    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = images.clone()
        for step in self.steps:
            if step is not None and len(out):
                out = step.apply(out, generator)
        return out
