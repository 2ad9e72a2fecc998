"""Reading splits in chunks and scoring predictions: what every baseline's ``fit`` needs.

Splits are usually memory-mapped uint8 arrays far larger than memory, so nothing here reads a whole split
at once; each chunk is copied to a contiguous tensor and moved to the method's device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from gfcore import Split

#: images read from a split per step; small enough for 128x128 on any device, large enough to keep it busy
CHUNK = 512


def iter_chunks(
    images: np.ndarray | torch.Tensor, chunk: int = CHUNK, indices: np.ndarray | None = None
) -> Iterator[tuple[int, torch.Tensor]]:
    """``(start, uint8 tensor [n, 3, H, W])`` for consecutive slices of a numpy array or tensor, or of the
    rows ``indices`` of it (then ``start`` counts positions in ``indices``)."""
    total = len(images) if indices is None else len(indices)
    for start in range(0, total, chunk):
        part = images[start : start + chunk] if indices is None else images[indices[start : start + chunk]]
        if isinstance(part, np.ndarray):
            part = torch.from_numpy(np.array(part))  # a writable copy of a (read-only, memory-mapped) slice
        yield start, part


def map_chunks(
    images: np.ndarray | torch.Tensor,
    fn: Callable[[torch.Tensor], torch.Tensor],
    chunk: int = CHUNK,
    indices: np.ndarray | None = None,
) -> torch.Tensor:
    """``fn`` applied to each chunk of uint8 images, results concatenated (on the device ``fn`` returns)."""
    outs = [fn(part) for _, part in iter_chunks(images, chunk, indices)]
    if not outs:
        raise ValueError("no images to process")
    return torch.cat(outs)


def labels_tensor(split: Split, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(split.labels), dtype=torch.long, device=device)


def accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of ``[N, L]`` scores against ``[N]`` labels (NaN when there are none)."""
    if len(labels) == 0:
        return float("nan")
    return float((scores.argmax(1) == labels.to(scores.device)).sum()) / len(labels)


def subset_indices(n: int, limit: int, seed: int) -> np.ndarray:
    """Up to ``limit`` sorted random indices of ``n`` (all of them when ``limit`` covers ``n``).

    Sorted, so reading them from a memory-mapped array walks the file forwards.
    """
    if limit <= 0 or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def check_split(split: Split, resolution: int, what: str) -> None:
    from gfcore import GfpError

    shape = tuple(split.images.shape[1:])
    if len(split) and shape != (3, resolution, resolution):
        raise GfpError(f"{what} images are {shape}, expected (3, {resolution}, {resolution})")
