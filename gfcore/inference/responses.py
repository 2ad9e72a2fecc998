"""The numbers behind visNet's pictures (the paper's visNet figures), on numpy arrays ``[..., 3, H, W]``.

The response of an image fingerprint ``F`` to a model fingerprint ``W_y`` is their product ``F * W_y``
with the pixels whose minimum over RGB is below 0 set to zero, as the official code draws it "for
cleaner visualization": what is left are the pixels where the two agree in sign on every channel. Its
strength is that map's mean over pixels (summed over channels), never negative, so that the paper's
response grid (rows: images of each source, columns: model fingerprints) reduces to one number: the mean
diagonal strength over the mean off-diagonal strength (1 when the fingerprints respond to no source in
particular). The logits themselves are the unmasked sums ``<F, W_y>`` (scaled), which can be negative.
"""

from __future__ import annotations

import numpy as np


def is_image_shaped(fingerprints: np.ndarray, resolution: int) -> bool:
    """True for image-sized fingerprints ``[n, 3, R, R]`` (visNet's), false for feature vectors."""
    return fingerprints.ndim == 4 and tuple(fingerprints.shape[1:]) == (3, resolution, resolution)


def joint_unit_range(fingerprints: np.ndarray) -> np.ndarray:
    """Min-max normalised to [0, 1] over all of them together, so one scale holds for every source."""
    x = np.asarray(fingerprints, dtype=np.float64)
    low, high = x.min(), x.max()
    return np.zeros_like(x) + 0.5 if high <= low else (x - low) / (high - low)


def response_maps(image_fps: np.ndarray, model_fps: np.ndarray) -> np.ndarray:
    """``[N, 3, H, W]`` image and ``[L, 3, H, W]`` model fingerprints -> ``[N, L, 3, H, W]`` responses."""
    product = np.asarray(image_fps, np.float64)[:, None] * np.asarray(model_fps, np.float64)[None]
    agree = product.min(axis=2, keepdims=True) >= 0
    return product * agree


def response_strengths(image_fps: np.ndarray, model_fps: np.ndarray, chunk: int = 64) -> np.ndarray:
    """``[N, L]``: the mean over pixels of each response map (summed over channels), in chunks."""
    out = []
    for start in range(0, len(image_fps), chunk):
        maps = response_maps(image_fps[start : start + chunk], model_fps)
        out.append(maps.sum(axis=2).mean(axis=(2, 3)))
    return np.concatenate(out) if out else np.zeros((0, len(model_fps)))


def mean_by_source(strengths: np.ndarray, labels: np.ndarray, num_sources: int) -> np.ndarray:
    """``[L, L]``: row ``s`` is the mean strength of the images of source ``s`` (NaN for a missing one)."""
    labels = np.asarray(labels)
    rows = [
        strengths[labels == s].mean(axis=0) if np.any(labels == s) else np.full(strengths.shape[1], np.nan)
        for s in range(num_sources)
    ]
    return np.stack(rows)


def diagonal_dominance(matrix: np.ndarray) -> float | None:
    """Mean diagonal over mean off-diagonal of a square matrix of non-negative strengths (None when the
    off-diagonal is all zero or the matrix is smaller than 2x2)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or len(m) < 2:
        return None
    off = m[~np.eye(len(m), dtype=bool)]
    off_mean = np.nanmean(off)
    if not np.isfinite(off_mean) or off_mean <= 0:
        return None
    return float(np.nanmean(np.diag(m)) / off_mean)


def signed_display(x: np.ndarray, scale: float) -> np.ndarray:
    """Signed values -> [0, 1] for display: 0 is mid-grey and +-``scale`` the ends (clipped)."""
    return np.clip(0.5 + np.asarray(x, np.float64) / (2 * scale), 0, 1) if scale > 0 else np.full_like(x, 0.5)


def robust_scale(x: np.ndarray, percentile: float = 99.5) -> float:
    """A display scale: the ``percentile`` of |x| (so that a few extreme pixels do not grey out the rest)."""
    values = np.abs(np.asarray(x, np.float64)).ravel()
    values = values[values > 0]
    return float(np.percentile(values, percentile)) if len(values) else 0.0


def hwc(chw: np.ndarray) -> np.ndarray:
    """``[3, H, W]`` -> ``[H, W, 3]`` for matplotlib."""
    return np.moveaxis(np.asarray(chw), 0, -1)
