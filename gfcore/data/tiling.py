"""How a whole image of any size becomes the R x R inputs of a run: tiles at the run's own scale.

A network trained on R x R images sees fingerprints at their native pixel scale; resampling an image to
R x R smooths or aliases exactly the fine structure that tells generators apart. So a loose image is cut,
without resampling, into R x R tiles that cover every pixel: a grid of step R, plus one row and one column
of tiles flush with the far edges when R does not divide the size (those overlap their neighbours). The
tiles' logits are then averaged (:mod:`gfcore.inference.attribution`).

Policies (``ATTRIBUTION_POLICIES``):

* ``tiles`` (the default): every pixel, through as many tiles as it takes; an image smaller than R x R is
  refused unless ``upsample_small`` is set, when it is upsampled to R x R (one tile, said so);
* ``crop``: the central R x R only (one tile), the policy of prepared datasets;
* ``resize``: the central square resampled to R x R (one tile, at the scale it states).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from gfcore.data.images import fit_to_size
from gfcore.errors import GfpError

ATTRIBUTION_POLICIES = ("tiles", "crop", "resize")


class TooSmallError(GfpError):
    """An image smaller than the run's R x R under the ``tiles`` policy, with no upsampling allowed."""


@dataclass
class View:
    """What part of an image a result comes from: every result carries one."""

    policy: str  # the policy applied (``tiles``, ``crop``, ``resize``; ``upsampled`` for a small image)
    tiles: int  # how many R x R inputs were averaged
    tile_size: int  # R
    scale: float  # input pixels per image pixel (1.0: no resampling)
    image_size: tuple[int, int]  # (height, width) of the decoded image
    coverage: float  # share of the image's pixels that some tile covers

    def as_dict(self) -> dict:
        return {**asdict(self), "image_size": list(self.image_size)}


def tile_starts(size: int, tile: int) -> list[int]:
    """Offsets of the tiles along one axis of ``size`` pixels: a grid of step ``tile``, and one flush with the
    far edge when ``tile`` does not divide ``size``, so every pixel is in some tile."""
    if size < tile:
        raise ValueError(f"a side of {size} pixels is smaller than the {tile}-pixel tile")
    starts = list(range(0, size - tile + 1, tile))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


def tiles_of(rgb: np.ndarray, tile: int) -> np.ndarray:
    """uint8 ``[H, W, 3]`` (both sides at least ``tile``) -> uint8 ``[K, 3, tile, tile]`` covering it."""
    h, w = rgb.shape[:2]
    chw = rgb.transpose(2, 0, 1)
    return np.stack(
        [chw[:, y : y + tile, x : x + tile] for y in tile_starts(h, tile) for x in tile_starts(w, tile)]
    )


def attribution_inputs(
    rgb: np.ndarray, resolution: int, policy: str = "tiles", upsample_small: bool = False
) -> tuple[np.ndarray, View]:
    """A decoded image -> (uint8 ``[K, 3, R, R]`` inputs, the :class:`View` they give)."""
    if policy not in ATTRIBUTION_POLICIES:
        raise GfpError(f"unknown attribution policy {policy!r}; use one of {', '.join(ATTRIBUTION_POLICIES)}")
    h, w = rgb.shape[:2]
    side, size = min(h, w), (h, w)
    if policy == "tiles" and side >= resolution:
        tiles = tiles_of(rgb, resolution)
        return tiles, View("tiles", len(tiles), resolution, 1.0, size, 1.0)
    if policy == "tiles" and not upsample_small:
        raise TooSmallError(
            f"{h}x{w} is smaller than the run's {resolution}x{resolution}; gfp does not upsample by default "
            "(resampling destroys fingerprints): pass --upsample-small to allow it"
        )
    resampled = policy == "resize" or side < resolution
    one = fit_to_size(rgb, resolution, "resize" if resampled else "crop").transpose(2, 0, 1)[None]
    scale = resolution / side if resampled else 1.0
    covered = (side * side if resampled else resolution * resolution) / (h * w)
    name = "upsampled" if policy == "tiles" else policy
    return np.ascontiguousarray(one), View(name, 1, resolution, round(scale, 6), size, covered)
