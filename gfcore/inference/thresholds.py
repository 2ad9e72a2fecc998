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
    predicted: np.ndarray,
    num_classes: int,
    rate: float,
    fallback: float,
    min_images: int = 1,
    rounds: int = 20,
) -> np.ndarray:
    """One threshold per class, compared with the score of an image attributed to that class, chosen so
    that each class loses ``rate`` of its (validation) images to ``unknown``: one threshold for all loses
    far more of a class the network is less sure of, and less of the others.

    An image of class c attributed to another class d is refused by d's threshold, and counts towards c's
    rate (misattributed images score low, and most are refused); c's own threshold then refuses only what
    is left of c's share among the images attributed right. Those two depend on each other through the
    thresholds, so they are found together, a few rounds to a fixed point. ``fallback`` (the one threshold)
    for a class with fewer than ``min_images`` images."""
    scores, labels, predicted = (np.asarray(a) for a in (scores, labels, predicted))
    scores = scores.astype(np.float64)
    thresholds = np.full(num_classes, float(fallback))
    for _ in range(rounds):
        previous = thresholds.copy()
        for c in range(num_classes):
            mine = labels == c
            right = np.sort(scores[mine & (predicted == c)])
            if mine.sum() < min_images or len(right) == 0:
                continue
            wrong = mine & (predicted != c)
            refused_elsewhere = int(np.sum(scores[wrong] < previous[predicted[wrong]]))
            allowed = max(int(math.floor(rate * mine.sum())) - refused_elsewhere, 0)
            thresholds[c] = right[min(allowed, len(right) - 1)]
        if np.array_equal(thresholds, previous):
            break
    return thresholds


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
