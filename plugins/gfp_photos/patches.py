"""Real image patches cut from the bundled photographs.

Each patch is a square crop of side ``s`` at a random place in a random photo, downsampled to the target
resolution ``R`` with an antialiasing filter. ``s`` is drawn log-uniformly from ``[R, min(region, 8R)]``, so
there are as many crops near native scale (full sensor-level detail) as heavily downsampled ones (scene
content); a crop of side ``R`` is copied pixel for pixel, without resampling. ``scales=(a, b)`` narrows the
draw to ``[aR, min(region, bR)]`` (``(1, 1)``: native-scale texture only; ``(4, 8)``: scene content only),
so the real set itself can be varied; the default ``(1, 8)`` draws exactly the patches it always did.

Splits never share a pixel. Every photo is cut into three disjoint rectangles along its longer side:

    +----------------------------+-------+
    |                            |  val  |
    |           train            +-------+      80 % / 10 % / 10 % of the area
    |                            | test  |
    +----------------------------+-------+

The held-out strip is cut in two across the short side (rather than into two thinner strips) so that the
val and test rectangles stay as wide as possible: on the smallest photos (384 x 303, 400 x 300) they are
77-80 pixels on their short side, enough for 64-pixel patches (:func:`max_resolution` gives the limit).
``"all"`` uses the whole photo. Crops are cut out of their rectangle *before* resampling, so the
resampling filter never reads a pixel from another split.

Every function takes ``photos``: ``None`` for the bundled set, or a list of photo files, for example a
user's own from :func:`folder_photos`; a :class:`CropBox`'s ``photo`` is an index into that list.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from gfcore import BadImageError, GfpError, expand_paths, load_rgb

IMAGES_DIR = Path(__file__).resolve().parent / "images"
SOURCES_FILE = IMAGES_DIR / "sources.json"

SPLITS = ("train", "val", "test", "all")
#: Fraction of each photo's longer side given to the training rectangle; the rest is the val/test strip.
TRAIN_FRACTION = 0.8
MIN_RESOLUTION = 8
#: Decoded photos kept per process: the whole bundled set (~19 MB), a bounded number of anyone else's.
DECODED_CACHE = 32
#: Largest crop side as a multiple of the resolution: beyond ~8x the patch shows scene layout, not texture.
MAX_SCALE = 8
DEFAULT_SCALES = (1.0, float(MAX_SCALE))

# Seeds are mixed with the split so that, say, seed 0 of "train" and seed 0 of "test" are unrelated streams.
_SPLIT_STREAM = {name: i for i, name in enumerate(SPLITS)}
#: Mixed into the windowed sequence's seeds, so that it shares no stream with the classic draw.
_WINDOW_STREAM = 7
#: Patches per seeded block of the windowed sequence.
WINDOW_BLOCK = 1024


@dataclass(frozen=True)
class CropBox:
    """A square crop: index into the photo list (:func:`photo_paths` by default) and pixel box
    ``[left, right) x [top, bottom)``."""

    photo: int
    left: int
    top: int
    right: int
    bottom: int

    @property
    def side(self) -> int:
        return self.right - self.left

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.right, self.bottom)


# ---------------------------------------------------------------------------------------------- manifest


@lru_cache(maxsize=1)
def _manifest() -> tuple[dict, ...]:
    try:
        entries = json.loads(SOURCES_FILE.read_text(encoding="utf-8"))["photos"]
    except (OSError, ValueError, KeyError) as exc:
        raise GfpError(f"bundled photo manifest {SOURCES_FILE} is unreadable: {exc}") from None
    return tuple(entries)


def licences() -> list[dict]:
    """One dict per bundled photo: file, title, source_package, original_path, credit, licence, ...

    Read from ``images/sources.json`` (``images/NOTICE.md`` is its human-readable mirror)."""
    return [dict(entry) for entry in _manifest()]


def photo_paths() -> list[Path]:
    """The bundled photographs, in manifest order (a photo's index in a :class:`CropBox`)."""
    paths = [IMAGES_DIR / entry["file"] for entry in _manifest()]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise GfpError(f"bundled photos missing from {IMAGES_DIR}: {', '.join(missing)}")
    return paths


Photos = Sequence[Path] | None


def resolve_photos(photos: Photos) -> list[Path]:
    """The photo files a sampler cuts from: ``photos`` as given, or the bundled set for ``None``."""
    return list(photo_paths() if photos is None else photos)


@lru_cache(maxsize=DECODED_CACHE)
def decoded_photo(path: Path) -> Image.Image:
    """One photo decoded to RGB; the most recent ones are kept for the life of the process."""
    return Image.fromarray(load_rgb(path))


@cache
def photo_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of a photo that decodes (sizes are kept for every photo ever asked about)."""
    return decoded_photo(path).size


def photo_sizes(photos: Photos = None) -> list[tuple[int, int]]:
    """``(width, height)`` of every photo (the bundled ones by default)."""
    return [photo_size(path) for path in resolve_photos(photos)]


def folder_photos(
    folders: Sequence[str | Path], resolution: int, split: str, warn: Callable[[str], None] = print
) -> list[Path]:
    """The photographs under ``folders`` (recursively, image file names, sorted) that decode and whose
    ``split`` region holds a ``resolution``-pixel patch; each one left out is reported through ``warn``,
    and none at all is an error. The order is stable, so the same folders and seed give the same patches.
    """
    files, missing = expand_paths([str(f) for f in folders])
    if missing:
        raise GfpError(f"no such photo folder: {', '.join(missing)}")
    usable = []
    for path in files:
        try:
            width, height = photo_size(path)
        except BadImageError as exc:
            warn(f"skipped {exc}")
            continue
        left, top, right, bottom = split_region(width, height, split)
        if min(right - left, bottom - top) < resolution:
            warn(
                f"skipped {path}: {width}x{height} is too small for {resolution}-pixel patches in its "
                f"{split!r} region"
            )
            continue
        usable.append(path)
    if not usable:
        shown = ", ".join(str(f) for f in folders)
        raise GfpError(f"no usable photographs in {shown} (readable images large enough for the patches)")
    return usable


# ------------------------------------------------------------------------------------------------ splits


def split_region(width: int, height: int, split: str) -> tuple[int, int, int, int]:
    """The rectangle ``(left, top, right, bottom)`` of a ``width x height`` photo that ``split`` draws from."""
    if split not in SPLITS:
        raise GfpError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if split == "all":
        return (0, 0, width, height)
    landscape = width >= height
    long_side, short_side = (width, height) if landscape else (height, width)
    cut = int(round(long_side * TRAIN_FRACTION))
    half = short_side // 2
    # (long_start, long_end, short_start, short_end) in the photo's own orientation
    along, across = {
        "train": ((0, cut), (0, short_side)),
        "val": ((cut, long_side), (0, half)),
        "test": ((cut, long_side), (half, short_side)),
    }[split]
    if landscape:
        return (along[0], across[0], along[1], across[1])
    return (across[0], along[0], across[1], along[1])


def max_resolution(split: str, photos: Photos = None) -> int:
    """The largest patch side every photo can provide in ``split`` (the smallest region's short side)."""
    sides = []
    for width, height in photo_sizes(photos):
        left, top, right, bottom = split_region(width, height, split)
        sides.append(min(right - left, bottom - top))
    return min(sides)


def _check_request(
    n: int, resolution: int, seed: int, split: str, scales: tuple[float, float], photos: Photos
) -> None:
    if seed < 0:
        raise GfpError(f"seed must be a non-negative integer, got {seed}")
    if split not in SPLITS:
        raise GfpError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if n <= 0:
        raise GfpError(f"number of patches must be positive, got {n}")
    if resolution < MIN_RESOLUTION:
        raise GfpError(f"resolution must be at least {MIN_RESOLUTION}, got {resolution}")
    low, high = scales
    if not (1 <= low <= high <= MAX_SCALE):
        raise GfpError(
            f"crop scales must satisfy 1 <= min <= max <= {MAX_SCALE} (multiples of the resolution), "
            f"got {low:g}-{high:g}"
        )
    largest = max_resolution(split, photos)
    if resolution > largest:
        which = "bundled photos" if photos is None else "photos given"
        raise GfpError(
            f"resolution {resolution} is larger than the smallest {split!r} region of the {which} "
            f"({largest} pixels); use --resolution {largest} or less"
        )


# -------------------------------------------------------------------------------------------- sampling


def sample_boxes(
    n: int,
    resolution: int = 32,
    seed: int = 0,
    split: str = "train",
    scales: tuple[float, float] = DEFAULT_SCALES,
    photos: Photos = None,
    window: int | None = None,
) -> list[CropBox]:
    """The crops :func:`sample_patches` would cut for the same arguments (photo, box), without cutting.

    ``window``: patches ``window .. window + n - 1`` of one fixed, unbounded sequence per seed and split, so
    that two windows share exactly their overlap (training sets that differ by a known number of images);
    ``None``: the classic draw of ``n`` patches (another sequence)."""
    _check_request(n, resolution, seed, split, scales, photos)
    sizes = photo_sizes(photos)
    regions = [split_region(w, h, split) for w, h in sizes]
    if window is None:
        # Every random number up front, vectorised; the per-crop work below is integer arithmetic.
        rng = np.random.default_rng([seed, _SPLIT_STREAM[split]])
        photo_of = rng.integers(0, len(sizes), size=n)
        scale_u, x_u, y_u = rng.random(n), rng.random(n), rng.random(n)
    else:
        photo_u, scale_u, x_u, y_u = _window_draws(window, n, seed, split)
        photo_of = np.minimum((photo_u * len(sizes)).astype(np.int64), len(sizes) - 1)

    boxes = []
    for i in range(n):
        left, top, right, bottom = regions[photo_of[i]]
        largest = min(right - left, bottom - top, int(scales[1] * resolution))
        smallest = min(max(resolution, math.ceil(scales[0] * resolution)), largest)
        # log-uniform side in [smallest, largest], rounded down so it never exceeds the region
        side = int(math.exp(math.log(smallest) + scale_u[i] * (math.log(largest) - math.log(smallest))))
        side = min(max(side, smallest), largest)
        x0 = left + int(x_u[i] * (right - left - side + 1))
        y0 = top + int(y_u[i] * (bottom - top - side + 1))
        boxes.append(CropBox(int(photo_of[i]), x0, y0, x0 + side, y0 + side))
    return boxes


def _window_draws(start: int, n: int, seed: int, split: str) -> np.ndarray:
    """Four uniform numbers (photo, scale, x, y) for each of patches ``start .. start + n - 1`` of the
    windowed sequence: block ``b`` of :data:`WINDOW_BLOCK` patches comes from its own seeded stream, so a
    patch's numbers depend only on its index."""
    if start < 0:
        raise GfpError(f"window must be a non-negative patch index, got {start}")
    first, last = start // WINDOW_BLOCK, (start + n - 1) // WINDOW_BLOCK
    draws = np.concatenate(
        [
            np.random.default_rng([seed, _SPLIT_STREAM[split], _WINDOW_STREAM, block]).random(
                (WINDOW_BLOCK, 4)
            )
            for block in range(first, last + 1)
        ]
    )
    offset = start - first * WINDOW_BLOCK
    return draws[offset : offset + n].T


def render_patch(box: CropBox, resolution: int, photos: Photos = None) -> np.ndarray:
    """Cut one crop and downsample it to uint8 ``[3, resolution, resolution]``."""
    # crop() first: resize(box=...) would let the filter read pixels outside the box, i.e. from another split
    crop = decoded_photo(resolve_photos(photos)[box.photo]).crop(box.as_tuple())
    if box.side != resolution:
        # reducing_gap: an exact box-filter reduction by an integer factor, then Lanczos for the remainder;
        # antialiased, and several times faster than Lanczos over the whole crop
        crop = crop.resize((resolution, resolution), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(crop, dtype=np.uint8).transpose(2, 0, 1)


def iter_patches(boxes: list[CropBox], resolution: int, photos: Photos = None):
    """Yield ``(index, patch)`` for every box, for callers that write or report progress as they go.

    The boxes are visited photo by photo, so each photo is decoded once however many there are (the
    decoded cache is bounded); ``index`` is the box's place in ``boxes``."""
    paths = resolve_photos(photos)
    for index in sorted(range(len(boxes)), key=lambda i: boxes[i].photo):
        yield index, render_patch(boxes[index], resolution, paths)


def sample_patches(
    n: int,
    resolution: int = 32,
    seed: int = 0,
    split: str = "train",
    scales: tuple[float, float] = DEFAULT_SCALES,
    photos: Photos = None,
    window: int | None = None,
) -> np.ndarray:
    """``n`` real patches as uint8 ``[n, 3, resolution, resolution]``; the same arguments give the same
    patches. ``split`` is ``"train"``, ``"val"`` or ``"test"`` (disjoint parts of every photo) or ``"all"``;
    ``scales`` bounds the crop side as multiples of the resolution (see the module docstring); ``photos``
    are the photo files to cut from (the bundled set by default); ``window`` takes patches ``window ..
    window + n - 1`` of a fixed sequence (:func:`sample_boxes`).
    """
    boxes = sample_boxes(n, resolution, seed, split, scales, photos, window)
    out = np.empty((n, 3, resolution, resolution), dtype=np.uint8)
    for i, patch in iter_patches(boxes, resolution, photos):
        out[i] = patch
    return out
