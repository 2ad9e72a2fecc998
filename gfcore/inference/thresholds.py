"""The statistics of a known-ness score: the threshold for a false-unknown rate (one for all classes, or one
per class) and the AUROC of known against unknown images."""

from __future__ import annotations

import math

import numpy as np

from gfcore.errors import GfpError


def pick_threshold(scores: np.ndarray, false_unknown_rate: float) -> float:
    """The threshold below which an image is unknown: the ``floor(rate * n)``-th smallest known score, so
    that at most ``rate`` of these scores fall below it (exactly that fraction when they have no ties)."""
    scores = np.sort(np.asarray(scores, dtype=np.float64))
    if len(scores) == 0:
        raise GfpError("no validation images to choose an open-set threshold on")
    return float(scores[min(int(math.floor(false_unknown_rate * len(scores))), len(scores) - 1)])


def class_thresholds(
    scores: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    rate: float,
    fallback: float,
    min_images: int = 1,
) -> np.ndarray:
    """One threshold per class, each the ``rate`` quantile of the scores of that class's (validation)
    images, to be compared with the score of an image attributed to the class: so that each class loses
    about ``rate`` of its images to ``unknown``, where one threshold for all loses far more of a class the
    network is less sure of, and less of the others. ``fallback`` (the one threshold) for a class with
    fewer than ``min_images`` images."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels)
    return np.array(
        [
            pick_threshold(scores[labels == c], rate) if np.sum(labels == c) >= min_images else fallback
            for c in range(num_classes)
        ]
    )


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """The area under the ROC curve of telling known from unknown images by the score (known scoring
    higher is right): the Mann-Whitney probability that a random known image outscores a random unknown
    one, ties counted one half. NaN when either side is empty."""
    known, unknown = np.asarray(known, np.float64), np.asarray(unknown, np.float64)
    if len(known) == 0 or len(unknown) == 0:
        return float("nan")
    both = np.concatenate([known, unknown])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(len(both))
    sorted_scores = both[order]
    # average ranks of ties (1-based)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(both)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2
    u = ranks[: len(known)].sum() - len(known) * (len(known) + 1) / 2
    return float(u / (len(known) * len(unknown)))
