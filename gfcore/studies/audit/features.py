"""Per-image features of the pixel cues: eight global statistics and a colour histogram.

Both work on uint8 ``[N, 3, H, W]`` numpy arrays (a chunk of a memory-mapped split, or one decoded file of
any size) and return float64 ``[N, D]``.
"""

from __future__ import annotations

import numpy as np

GLOBAL_STATS = (
    "mean R",
    "mean G",
    "mean B",
    "std R",
    "std G",
    "std B",
    "mean |horizontal difference|",
    "mean |vertical difference|",
)
HISTOGRAM_BINS = 8  # per channel: 24 numbers per image


def global_stats(images: np.ndarray) -> np.ndarray:
    """``[N, 8]``: the mean and standard deviation of each RGB channel (0-255 scale) and the mean absolute
    difference between horizontal and between vertical neighbours (over all three channels)."""
    x = np.asarray(images, dtype=np.float64)
    n = len(x)
    flat = x.reshape(n, 3, -1)
    horizontal = np.abs(np.diff(x, axis=3)).reshape(n, -1).mean(1) if x.shape[3] > 1 else np.zeros(n)
    vertical = np.abs(np.diff(x, axis=2)).reshape(n, -1).mean(1) if x.shape[2] > 1 else np.zeros(n)
    return np.concatenate([flat.mean(2), flat.std(2), horizontal[:, None], vertical[:, None]], axis=1)


def colour_histograms(images: np.ndarray, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """``[N, 3 * bins]``: per channel, the share of pixels in each of ``bins`` equal intensity ranges."""
    x = np.asarray(images)
    n = len(x)
    binned = (x.reshape(n, 3, -1).astype(np.int64) * bins) >> 8  # 0..bins-1
    offsets = (np.arange(3) * bins)[None, :, None]
    index = (binned + offsets).reshape(n, -1) + (np.arange(n) * 3 * bins)[:, None]
    counts = np.bincount(index.ravel(), minlength=n * 3 * bins).reshape(n, 3 * bins)
    return counts / (x.shape[2] * x.shape[3])


def split_features(images: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """``(global stats [N, 8], histograms [N, 24])`` of a (memory-mapped) split, read in chunks."""
    stats, hists = [], []
    for start in range(0, len(images), chunk):
        part = np.asarray(images[start : start + chunk])
        stats.append(global_stats(part))
        hists.append(colour_histograms(part))
    if not stats:
        return np.empty((0, len(GLOBAL_STATS))), np.empty((0, 3 * HISTOGRAM_BINS))
    return np.concatenate(stats), np.concatenate(hists)
