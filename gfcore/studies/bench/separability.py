"""How separable a method's image fingerprints are: the FD ratio of paper §7, measured on a deterministic,
class-stratified subsample so that a huge test split stays affordable, after a PCA to one common
dimension fitted on training features (:func:`gfcore.studies.fd.pca_fd_ratio`: ratios of different feature
dimensions are not comparable), next to the same ratio of the raw pixels as a reference."""

from __future__ import annotations

import numpy as np

from gfcore.inference.evaluation import map_split
from gfcore.interfaces import Attributor, Split
from gfcore.terminal.progress import Reporter

#: the FD ratio is computed on at most this many test images (a deterministic, class-stratified subsample)
DEFAULT_MAX_FD_IMAGES = 4000
#: every method's features are reduced to this many principal components before the FD ratio
DEFAULT_FD_DIM = 32
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


def features_of(fn, split: Split, indices: np.ndarray, reporter: Reporter, label: str):
    """``fn(uint8 images)`` flattened to float ``[n, D]`` on the CPU, for ``split.images[indices]``."""
    import torch

    def flat(images):
        return fn(images).float().reshape(len(images), -1)

    features, _ = map_split(flat, split, reporter, indices=indices, chunk=FINGERPRINT_CHUNK, label=label)
    return features if features is not None else torch.zeros(0, 0)


def raw_pixels(images):
    """The reference feature space: the pixels themselves, in [0, 1]."""
    return images.float() / 255.0


def common_dim(test_labels, num_classes: int, max_images: int, seed: int, dim: int) -> int:
    """The one PCA dimension of every method on this split: ``dim``, but never above a quarter of the
    smallest half-class of the FD subsample, so each half holds at least 4 samples per dimension (the
    same for every method, since all are measured on the same images)."""
    labels = np.asarray(test_labels)[fd_sample_indices(test_labels, num_classes, max_images, seed)]
    smallest = min((int((labels == c).sum()) for c in range(num_classes)), default=0)
    return max(min(dim, smallest // 2 // 4), 1)


def separability(
    fn,
    train: Split,
    test: Split,
    num_classes: int,
    *,
    seed: int,
    max_images: int,
    dim: int,
    reporter: Reporter,
    label: str = "image fingerprints",
) -> dict:
    """The FD ratio of the features ``fn`` gives (paper §7), at one dimension for every method: PCA to
    :func:`common_dim` fitted on a class-stratified subsample of the training split, applied to one of the
    test split (both at most ``max_images``), then :func:`gfcore.studies.fd.fd_ratio` on the test features."""
    from gfcore.studies.fd import pca_fd_ratio

    indices = fd_sample_indices(test.labels, num_classes, max_images, seed)
    fit_indices = fd_sample_indices(train.labels, num_classes, max_images, seed)
    fit = features_of(fn, train, fit_indices, reporter, f"{label} (train, for the PCA)")
    features = features_of(fn, test, indices, reporter, label)
    d = common_dim(test.labels, num_classes, max_images, seed, dim)
    result = pca_fd_ratio(fit, features, test.labels[indices], num_classes, d, seed=seed)
    return {
        "fd_ratio": result["fd_ratio"],
        "images": int(len(indices)),
        "subsampled": bool(len(indices) < len(test)),
        "max_images": int(max_images),
        "feature_dims": int(result["feature_dims"]),
        "dims": result["dims"],
        "requested_dims": int(dim),
        "pca_fit_images": result["fit_images"],
        "projected": True,
        "mean_inter_fd": result["mean_inter_fd"],
        "mean_intra_fd": result["mean_intra_fd"],
        "half_sizes": result["half_sizes"],
    }


def fingerprint_separability(
    attributor: Attributor,
    train: Split,
    test: Split,
    seed: int,
    max_images: int,
    reporter: Reporter,
    dim: int = DEFAULT_FD_DIM,
) -> dict:
    """The FD ratio of ``attributor``'s image fingerprints (see :func:`separability`)."""
    return separability(
        attributor.image_fingerprints,
        train,
        test,
        len(attributor.classes),
        seed=seed,
        max_images=max_images,
        dim=dim,
        reporter=reporter,
    )


def pixel_separability(
    train: Split, test: Split, num_classes: int, seed: int, max_images: int, reporter: Reporter, dim: int
) -> dict:
    """The reference row: the FD ratio of the raw pixels, reduced the same way. (The paper's reference is
    Inception features; their pretrained weights cannot be downloaded offline.)"""
    return separability(
        raw_pixels,
        train,
        test,
        num_classes,
        seed=seed,
        max_images=max_images,
        dim=dim,
        reporter=reporter,
        label="raw pixels",
    )
