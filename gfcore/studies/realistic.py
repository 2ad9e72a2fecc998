"""The paper's "not biased by GAN artifacts" check (its section on realistic images): accuracy on the most
realistic test images only -- of every source, real included, as the official configuration -- ranked
by the distance to the nearest real training image.

The paper ranks by a VGG-19 perceptual distance; no pretrained network is available offline, so the
feature space here is **raw pixels after area-downsampling to at most 8x8** (each 32x32 image becomes
192 numbers in [0, 1]). Why this space:

* it is independent of every attributor under test. The trained network's own features would make the
  check circular: they are trained to *separate* sources, so "close to a real image" there means "hard
  for this network", and the subset would be chosen by the model being examined;
* averaging 4x4 blocks keeps colour, layout and coarse shape -- what a person judges realism by at this
  size -- and removes most of the high-frequency energy in which GAN fingerprints live (Durall et al.
  2020; the DCT baseline's features), so an image is not "unrealistic" merely for carrying its
  generator's fingerprint, which would hand the attributor its easiest images;
* it is cheap and exact: a brute-force nearest neighbour over a few thousand 192-d vectors.

What it cannot do is see semantic realism (a face with three eyes at the right colours ranks as
realistic); the paper's perceptual distance would. The subset is therefore "the generated images whose
coarse appearance is closest to a real photo", stated as such in every report.
"""

from __future__ import annotations

import numpy as np

from gfcore.errors import GfpError
from gfcore.studies.stats import wilson_interval

FRACTION = 0.1
FEATURE_SIDE = 8
FEATURE_SPACE = f"raw RGB pixels area-downsampled to at most {FEATURE_SIDE}x{FEATURE_SIDE}, in [0, 1]"


def realism_features(images: np.ndarray, side: int = FEATURE_SIDE) -> np.ndarray:
    """float32 ``[N, 3 * s * s]``: uint8 ``[N, 3, R, R]`` images averaged over blocks to ``s = R / f`` pixels
    a side, with ``f`` the smallest divisor of ``R`` giving at most ``side`` (R itself when none does)."""
    images = np.asarray(images)
    r = images.shape[-1]
    factor = next((f for f in range(1, r + 1) if r % f == 0 and r // f <= side), r)
    s = r // factor
    pooled = images.reshape(len(images), 3, s, factor, s, factor).astype(np.float32).mean(axis=(3, 5))
    return pooled.reshape(len(images), -1) / 255.0


def nearest_distances(queries: np.ndarray, references: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """float64 ``[Q]``: the Euclidean distance from each query row to its nearest reference row."""
    if len(references) == 0:
        raise GfpError("no real training images to measure realism against")
    refs = references.astype(np.float64)
    ref_sq = (refs**2).sum(axis=1)
    out = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk].astype(np.float64)
        d2 = (q**2).sum(axis=1)[:, None] - 2 * q @ refs.T + ref_sq[None, :]
        out[start : start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def realistic_subset(
    test_images: np.ndarray,
    test_labels: np.ndarray,
    real_images: np.ndarray,
    real_label: int,
    fraction: float = FRACTION,
) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the ``ceil(fraction * n)`` test images of each source nearest to a real training
    image, the distances of all test images). The real class is filtered too, as the official
    configuration's ``CelebA_more_realistic``: its test images nearest a real training one, so that the
    subset does not pit the most photo-like generated images against every real one. ``real_label``
    names the class whose training images are the reference."""
    del real_label  # every class is ranked the same way; the caller passes the real class's images
    labels = np.asarray(test_labels)
    real_features = _features_in_chunks(real_images)
    distances = np.full(len(labels), np.nan)
    chosen = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        distances[rows] = nearest_distances(_features_in_chunks(test_images, rows), real_features)
        keep = int(np.ceil(fraction * len(rows)))
        chosen.append(rows[np.argsort(distances[rows], kind="stable")[:keep]])
    return (np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)), distances


def _features_in_chunks(images, rows=None, chunk: int = 2048) -> np.ndarray:
    """:func:`realism_features` of a (memory-mapped) array, or of its ``rows``, a chunk at a time."""
    rows = np.arange(len(images)) if rows is None else rows
    parts = [realism_features(np.asarray(images[rows[s : s + chunk]])) for s in range(0, len(rows), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, 3 * FEATURE_SIDE**2), np.float32)


def accuracy_interval(correct: int, n: int) -> list[float] | None:
    """The 95% Wilson interval of ``correct / n`` as results.json holds it (None for no images)."""
    interval = wilson_interval(correct, n)
    return None if interval is None else list(interval)


def realistic_report(split, train, classes: list[str], predicted: np.ndarray, real_class: str) -> dict:
    """Accuracy on the realistic subset of ``split`` next to the accuracy on all its generated images."""
    if real_class not in classes:
        raise GfpError(
            f"no class named {real_class!r} to measure realism against (classes: {', '.join(classes)})"
        )
    real = classes.index(real_class)
    real_rows = np.flatnonzero(np.asarray(train.labels) == real)
    subset, distances = realistic_subset(split.images, split.labels, train.images[real_rows], real)
    labels = np.asarray(split.labels)
    generated = np.flatnonzero(labels != real)
    per_source = {}
    for label in np.unique(labels[subset]):
        rows = subset[labels[subset] == label]
        every = np.flatnonzero(labels == label)
        per_source[classes[int(label)]] = {
            "n": int(len(rows)),
            "accuracy": float((predicted[rows] == label).mean()),
            "accuracy_all": float((predicted[every] == label).mean()),
            "max_distance": float(distances[rows].max()),
            "median_distance_all": float(np.median(distances[every])),
        }
    return {
        "fraction": FRACTION,
        "feature_space": FEATURE_SPACE,
        "real_class": real_class,
        "real_training_images": int(len(real_rows)),
        "n": int(len(subset)),
        "accuracy": float((predicted[subset] == labels[subset]).mean()) if len(subset) else float("nan"),
        "accuracy_interval_95": accuracy_interval(
            int((predicted[subset] == labels[subset]).sum()), len(subset)
        ),
        "n_all": int(len(labels)),
        "accuracy_all": float((predicted == labels).mean()) if len(labels) else float("nan"),
        "accuracy_all_interval_95": accuracy_interval(int((predicted == labels).sum()), len(labels)),
        "n_generated": int(len(generated)),
        "accuracy_generated": float((predicted[generated] == labels[generated]).mean())
        if len(generated)
        else float("nan"),
        "accuracy_generated_interval_95": accuracy_interval(
            int((predicted[generated] == labels[generated]).sum()), len(generated)
        ),
        "per_source": per_source,
    }
