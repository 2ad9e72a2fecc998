"""Image decoding and the size policy.

Every decoded image becomes 8-bit RGB: grey, palette, RGBA/LA (alpha dropped by compositing on black is
*not* done -- alpha is simply discarded, as in the paper's code), CMYK, and 16-bit or float images.
Images of another size than the model's go through one recorded policy:

* ``crop`` (default): centre crop to a square on the shorter side, then a centre crop to the target size
  if the square is larger, or an antialiased resize if it is smaller. Pixel-level fingerprints survive a
  crop; they do not survive resampling.
* ``resize``: centre crop to a square, then an antialiased resize to the target size. This destroys
  high-frequency fingerprints; use it only when the images are of many sizes.

Pillow's decompression-bomb guard stays on.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .atomic import atomic_path
from .errors import GfpError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm"}
SIZE_POLICIES = ("crop", "resize")


class BadImageError(GfpError):
    """A file that is not a decodable image."""


def to_rgb8(img: Image.Image) -> np.ndarray:
    """Any Pillow image -> uint8 ``[H, W, 3]``."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if img.mode.startswith("I;16"):
            arr = arr / 257.0  # 16-bit -> 8-bit, 65535 -> 255
        elif img.mode == "I":
            arr = arr / 257.0 if arr.max(initial=0) > 255 else arr
        else:  # float images are taken to be in [0, 1]
            arr = arr * 255.0 if arr.max(initial=0) <= 1.0 else arr
        grey = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode != "RGB":
        img = img.convert("RGB")  # handles L, LA, P, RGBA (alpha dropped), CMYK, YCbCr, 1
    return np.asarray(img, dtype=np.uint8).copy()


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode one file to uint8 ``[H, W, 3]``; raises :class:`BadImageError` with the reason."""
    try:
        with Image.open(path) as img:
            img.load()
            return to_rgb8(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = "not an image or corrupt" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise BadImageError(f"{path}: {reason}") from None
    except Image.DecompressionBombError as exc:
        raise BadImageError(f"{path}: refused, {exc}") from None


def fit_to_size(rgb: np.ndarray, size: int, policy: str = "crop") -> np.ndarray:
    """uint8 ``[H, W, 3]`` -> uint8 ``[size, size, 3]`` by the size policy (see module docstring)."""
    if policy not in SIZE_POLICIES:
        raise GfpError(f"unknown size policy {policy!r}; use one of {', '.join(SIZE_POLICIES)}")
    h, w = rgb.shape[:2]
    if h == w == size:
        return rgb
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = rgb[top : top + side, left : left + side]
    if policy == "crop" and side >= size:
        off = (side - size) // 2
        return np.ascontiguousarray(square[off : off + size, off : off + size])
    resized = Image.fromarray(square).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8).copy()


def save_png(path: str | os.PathLike, chw_or_hwc: np.ndarray) -> None:
    """Write a uint8 image (``[3, H, W]`` or ``[H, W, 3]``) as PNG, atomically."""
    arr = np.asarray(chw_or_hwc)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[2] not in (1, 3):
        arr = arr.transpose(1, 2, 0)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    with atomic_path(path) as tmp:
        Image.fromarray(arr.astype(np.uint8)).save(tmp, format="PNG")


def image_grid(images: np.ndarray, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 ``[N, 3, H, W]`` -> one uint8 ``[H', W', 3]`` grid picture."""
    n, c, h, w = images.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = images[i].transpose(1, 2, 0)
    return grid


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def expand_paths(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (recursively, image suffixes only) and globs -> (files in order, paths that matched
    nothing). Explicitly named files are kept whatever their suffix, so a bad one is reported, not hidden."""
    files: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and is_image_name(f)))
        elif p.is_file():
            files.append(p)
        else:
            matches = sorted(Path(m) for m in glob.glob(raw, recursive=True))
            matched_files = [m for m in matches if m.is_file()]
            for m in matches:
                if m.is_dir():
                    matched_files.extend(sorted(f for f in m.rglob("*") if f.is_file() and is_image_name(f)))
            if matched_files:
                files.extend(matched_files)
            else:
                missing.append(raw)
    seen: set[Path] = set()
    unique = [f for f in files if not (f in seen or seen.add(f))]
    return unique, missing


def decode_each(files, skipped: list[dict], reporter=None, *, name=str, on_file=None,
                image_names_only: bool = False):
    """Each file of ``files`` that decodes, as ``(path, uint8 [H, W, 3])``, in order.

    A file that does not decode is skipped and counted, never fatal: ``{"path": name(path), "reason": ...}``
    is appended to ``skipped``, ``reporter`` (if any) warns once, and the rest go on. ``on_file`` is called
    once per file, decoded or not (a progress bar's ``advance``). With ``image_names_only`` a file without an
    image suffix is skipped unread."""
    for path in files:
        if on_file is not None:
            on_file()
        if image_names_only and not is_image_name(Path(path)):
            reason = "not an image file name"
        else:
            try:
                yield path, load_rgb(path)
                continue
            except BadImageError as exc:
                message, prefix = str(exc), f"{path}: "
                reason = message[len(prefix) :] if message.startswith(prefix) else message
        skipped.append({"path": name(path), "reason": reason})
        if reporter is not None:
            reporter.warn(f"skipped {path}: {reason}")
