"""How separable a method's image fingerprints are: the FD ratio of paper §7, measured on a deterministic,
class-stratified subsample so that a huge test split stays affordable."""

from __future__ import annotations

import numpy as np

from ..evaluation import map_split
from ..interfaces import Attributor, Split
from ..progress import Reporter

#: the FD ratio is computed on at most this many test images (a deterministic, class-stratified subsample)
DEFAULT_MAX_FD_IMAGES = 4000
FINGERPRINT_CHUNK = 256


def fd_sample_indices(labels: np.ndarray, num_classes: int, max_images: int, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_images`` images, the same number from every class where possible
    (each class's share drawn at random with ``seed``), so the FD ratio of a huge split stays affordable."""
    labels = np.asarray(labels)
    if len(labels) <= max_images:
        return np.arange(len(labels))
    per_class = max(max_images // max(num_classes, 1), 4)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        chosen.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)


def image_fingerprints_of(attributor: Attributor, split: Split, indices: np.ndarray, reporter: Reporter):
    """Image fingerprints ``[n, D]`` (flattened, float, on the CPU) of ``split.images[indices]``."""
    import torch

    def flat_fingerprints(images):
        return attributor.image_fingerprints(images).float().reshape(len(images), -1)

    features, _ = map_split(
        flat_fingerprints,
        split,
        reporter,
        indices=indices,
        chunk=FINGERPRINT_CHUNK,
        label="image fingerprints",
    )
    return features if features is not None else torch.zeros(0, 0)


def fingerprint_separability(
    attributor: Attributor, split: Split, seed: int, max_images: int, reporter: Reporter
) -> dict:
    """The FD ratio of ``attributor``'s image fingerprints on ``split`` and how it was measured."""
    from ..fd import fd_ratio

    indices = fd_sample_indices(split.labels, len(attributor.classes), max_images, seed)
    features = image_fingerprints_of(attributor, split, indices, reporter)
    result = fd_ratio(features, split.labels[indices], len(attributor.classes), seed=seed)
    return {
        "fd_ratio": result["fd_ratio"],
        "images": int(len(indices)),
        "subsampled": bool(len(indices) < len(split)),
        "max_images": int(max_images),
        "feature_dims": int(features.shape[1]),
        "dims": result["dims"],
        "projected": result["projected"],
        "mean_inter_fd": result["mean_inter_fd"],
        "mean_intra_fd": result["mean_intra_fd"],
        "half_sizes": result["half_sizes"],
    }
