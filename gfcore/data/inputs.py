"""Images handed over in Python (paths, PIL images, arrays, tensors) as the uint8 RGB arrays gfp works on.

Nothing is guessed: a uint8 array or tensor is taken as 0-255; a float one needs its ``value_range``
(``(0, 1)``, ``(-1, 1)``, ``(0, 255)``, ...), since the same numbers mean different pixels under different
conventions and a wrong guess gives wrong logits without any error. Arrays are height x width x channels
(numpy's and PIL's layout), tensors channels x height x width (torch's), a 4-d tensor a batch of them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from gfcore.data.images import load_rgb, to_rgb8
from gfcore.errors import GfpError


def _scaled(values: np.ndarray, value_range, what: str) -> np.ndarray:
    if values.dtype == np.uint8:
        return values
    if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
        raise GfpError(f"{what}: pixels of type {values.dtype} are not an image")
    if value_range is None:
        raise GfpError(
            f"{what}: {values.dtype} pixels need value_range=(low, high), e.g. (0, 1) or (0, 255); "
            "gfp never guesses it"
        )
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise GfpError(f"{what}: value_range must be (low, high) with high > low, got {value_range!r}")
    values = values.astype(np.float64)
    if not np.isfinite(values).all() or values.min() < low or values.max() > high:
        raise GfpError(f"{what}: values outside value_range {value_range!r} (or not finite)")
    return np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _from_hwc(values: np.ndarray, value_range, what: str) -> np.ndarray:
    if values.ndim == 2:
        values = values[..., None]
    if values.ndim != 3 or values.shape[2] not in (1, 3, 4):
        raise GfpError(f"{what}: expected height x width x channels (1, 3 or 4), got shape {values.shape}")
    values = _scaled(values, value_range, what)
    if values.shape[2] == 1:
        values = np.repeat(values, 3, axis=2)
    return np.ascontiguousarray(values[..., :3])


def as_rgb_images(images: Any, value_range=None) -> tuple[list[np.ndarray], list[str | None], bool]:
    """``images`` (one item or a list of them) -> (uint8 ``[H, W, 3]`` arrays, a name per image — the path
    for files, else None —, whether a single item was given). A bad item is one :class:`GfpError` line."""
    import torch
    from PIL import Image

    single = not isinstance(images, (list, tuple)) and not (
        isinstance(images, torch.Tensor) and images.ndim == 4
    )
    items = [images] if single else list(images)
    arrays, names = [], []
    for k, item in enumerate(items):
        what = f"image {k}"
        if isinstance(item, (str, os.PathLike)):
            arrays.append(load_rgb(item))
            names.append(str(Path(item)))
            continue
        if isinstance(item, Image.Image):
            arrays.append(to_rgb8(item))
        elif isinstance(item, torch.Tensor):
            if item.ndim == 4:
                raise GfpError(
                    f"{what}: a batch tensor inside a list; pass it on its own or as a list of images"
                )
            if item.ndim not in (2, 3):
                raise GfpError(
                    f"{what}: expected a channels x height x width tensor, got shape {tuple(item.shape)}"
                )
            values = item.detach().cpu().numpy()
            arrays.append(
                _from_hwc(values if values.ndim == 2 else values.transpose(1, 2, 0), value_range, what)
            )
        elif isinstance(item, np.ndarray):
            arrays.append(_from_hwc(item, value_range, what))
        else:
            raise GfpError(
                f"{what}: a {type(item).__name__} is not an image (path, PIL image, array or tensor)"
            )
        names.append(None)
    return arrays, names, single
