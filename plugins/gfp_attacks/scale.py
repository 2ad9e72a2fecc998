"""Attack strengths relative to the image size.

The paper's ranges are in pixels of its 128x128 images. The same pixel values on a 32x32 image are four
times as strong relative to the image (a 3x3 blur covers four times as much of it), so an attack whose
effect depends on the pixel size takes ``reference_size``: its pixel parameters are read as pixels of an
image whose side is ``reference_size`` and scaled by ``side / reference_size`` to the image it perturbs.
``reference_size=None`` reads them as pixels of the image itself (the absolute form)."""

from __future__ import annotations

import dataclasses

from gfcore import bounded, changed_default

#: the side of the paper's images, to which its pixel ranges belong
PAPER_SIZE = 128


def reference_size_field(default: int | None = PAPER_SIZE):
    """The ``reference_size`` Config field (an int side in pixels, or None: absolute pixels). A record
    written before the field existed meant absolute pixels (``saved_before=None``)."""
    # Up to 16384: a side beyond any image gfp opens; below 1 a side means nothing. The cost of a very
    # small reference is bounded where the scaled parameter is used (see blur's kernel limit).
    ranged = bounded(default, min=1, max=16384)
    recorded = changed_default(default, saved_before=None)
    return dataclasses.field(default=default, metadata={**ranged.metadata, **recorded.metadata})


def image_side(height: int, width: int) -> int:
    """The side an image's size is measured by: the shorter one (the paper's images are square crops,
    and the shorter side is what a square crop of the image keeps)."""
    return min(height, width)


def size_factor(height: int, width: int, reference_size: int | None) -> float:
    """How many of the image's pixels one reference pixel spans (1.0 for the absolute form)."""
    return 1.0 if reference_size is None else image_side(height, width) / reference_size


def scale_note(reference_size: int | None) -> str:
    """What reports print for the form an attack used."""
    return "absolute pixels" if reference_size is None else f"relative to {reference_size} px"
