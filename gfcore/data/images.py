"""Image decoding and the size policy.

Every decoded image becomes 8-bit RGB: grey, palette, RGBA/LA (alpha dropped by compositing on black is
*not* done -- alpha is simply discarded, as in the paper's code), CMYK, and 16-bit or float images.
Images of another size than the model's go through one recorded policy:

* ``crop`` (default): centre crop to a square on the shorter side, then a centre crop to the target size
  if the square is larger, or an antialiased resize if it is smaller. Pixel-level fingerprints survive a
  crop; they do not survive resampling.
* ``resize``: centre crop to a square, then an antialiased resize to the target size. This destroys
  high-frequency fingerprints; use it only when the images are of many sizes.

Untrusted files: only the formats in :data:`READ_FORMATS` are ever opened (``Image.open(formats=...)``), so
no other Pillow decoder (EPS, which runs Ghostscript, or DDS, FITS, ...) runs on a file whatever its name
or content; and an image over :data:`MAX_PIXELS` is refused from its header, before any pixel is decoded.
That limit is below Pillow's own decompression-bomb band (which stays on), so memory stays bounded
(about 10 bytes per pixel at the peak: a 50-megapixel image needs about 500 MB).
"""

from __future__ import annotations

import glob
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from gfcore.errors import GfpError
from gfcore.storage.atomic import atomic_path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm"}
# The Pillow formats gfp decodes (JPEG includes camera MPO files; PPM includes PGM and PBM). A file of any
# other format is "not a supported image", whatever its suffix.
READ_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF", "PPM")
MAX_PIXELS = 50_000_000  # width x height; Pillow warns from ~89 million and refuses from ~179 million
SIZE_POLICIES = ("crop", "resize")


class BadImageError(GfpError):
    """A file that is not a decodable image."""


def to_rgb8(img: Image.Image) -> np.ndarray:
    """Any Pillow image -> uint8 ``[H, W, 3]``."""
    if img.mode.startswith("I;16"):
        # 16-bit -> 8-bit, 65535 -> 255: (v + 128) // 257 is exactly rint(v / 257) for integers (v / 257 is
        # never k + 0.5), in 4 bytes per pixel instead of float64's 8
        grey = ((np.asarray(img).astype(np.uint32) + 128) // 257).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if img.mode == "I":
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


def load_rgb(source, *, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode one file (a path, or an open binary file such as an upload's ``BytesIO``, named ``name`` in
    messages) to uint8 ``[H, W, 3]``; raises :class:`BadImageError` with the reason. ``max_pixels`` may
    only lower gfp's limit.

    Any failure of the decoder is the file's fault, so every exception becomes a :class:`BadImageError`
    (a batch skips the file and counts it); only interrupts and exits pass through."""
    max_pixels = min(int(max_pixels), MAX_PIXELS)
    if name is None:
        name = str(source)
    # a FIFO would block the decoder's first read forever, and /dev/zero never end it
    if isinstance(source, (str, os.PathLike)) and os.path.exists(source) and not os.path.isfile(source):
        raise BadImageError(
            f"{name}: not a regular file (a FIFO, a device or a folder); gfp decodes only files"
        )
    try:
        with warnings.catch_warnings():
            # Pillow's bomb warning as an error: the file is refused in one line, never a raw warning
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=READ_FORMATS) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise BadImageError(
                        f"{name}: refused, {width}x{height} pixels is over gfp's limit of {max_pixels:,}"
                        + (" (gfcore.data.images.MAX_PIXELS)" if max_pixels == MAX_PIXELS else "")
                    )
                img.load()
                return to_rgb8(img)
    except BadImageError:
        raise
    except UnidentifiedImageError:
        raise BadImageError(
            f"{name}: not an image or corrupt (formats read: {', '.join(READ_FORMATS)})"
        ) from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise BadImageError(
            f"{name}: refused, over gfp's limit of {MAX_PIXELS:,} pixels (gfcore.data.images.MAX_PIXELS)"
        ) from None
    except FileNotFoundError:
        raise BadImageError(f"{name}: no such file") from None
    except OSError as exc:
        raise BadImageError(f"{name}: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 -- a decoder's bug or a crafted file: skip it, never crash
        first = (str(exc).strip().splitlines() or [""])[0]
        raise BadImageError(
            f"{name}: cannot be decoded ({type(exc).__name__}{': ' + first if first else ''})"
        ) from None


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
        elif p.exists():  # a named FIFO or device too: load_rgb refuses it in one line, never reads it
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


def decode_each(
    files, skipped: list[dict], reporter=None, *, name=str, on_file=None, image_names_only: bool = False
):
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
