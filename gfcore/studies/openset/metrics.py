"""The numbers of an open-set evaluation for one known-ness score: AUROC with its interval, OSCR, and the
rates at a threshold -- one for all classes, or one per class (compared with an image's score by the class it is attributed to) -- with Wilson intervals."""

from __future__ import annotations

import math

import numpy as np

from gfcore.inference.openset import MIN_CLASS_IMAGES, auroc, class_thresholds, pick_threshold
from gfcore.studies.stats import wilson_interval


def auroc_interval(area: float, n_known: int, n_unknown: int, z: float = 1.96) -> list[float] | None:
    """The Hanley-McNeil (1982) 95% interval of an AUROC from ``n_known`` and ``n_unknown`` test images
    (the test images' share of the uncertainty; the training seed's is not in it)."""
    if not (n_known and n_unknown) or math.isnan(area):
        return None
    q1, q2 = area / (2 - area), 2 * area**2 / (1 + area)
    variance = (area * (1 - area) + (n_known - 1) * (q1 - area**2) + (n_unknown - 1) * (q2 - area**2)) / (
        n_known * n_unknown
    )
    half = z * math.sqrt(max(variance, 0.0))
    return [max(0.0, area - half), min(1.0, area + half)]


def oscr(known_scores: np.ndarray, known_correct: np.ndarray, unknown_scores: np.ndarray) -> float:
    """The open-set classification rate (Dhamija et al. 2018): the area under the curve of the share of known
    images both accepted and correctly attributed against the share of unknown images accepted, as the
    threshold falls; 1 only when every known image is right and outscores every unknown one."""
    known_scores, unknown_scores = np.asarray(known_scores, float), np.asarray(unknown_scores, float)
    if len(known_scores) == 0 or len(unknown_scores) == 0:
        return float("nan")
    thresholds = np.unique(np.concatenate([known_scores, unknown_scores]))[::-1]
    ccr = np.array([(known_correct & (known_scores >= t)).mean() for t in thresholds])
    fpr = np.array([(unknown_scores >= t).mean() for t in thresholds])
    ccr, fpr = np.r_[0.0, ccr, ccr[-1]], np.r_[0.0, fpr, 1.0]
    return float(np.sum((fpr[1:] - fpr[:-1]) * (ccr[1:] + ccr[:-1]) / 2))


def _rate(flags: np.ndarray) -> dict:
    flags = np.asarray(flags, bool)
    return {
        "rate": float(flags.mean()) if len(flags) else float("nan"),
        "ci95": wilson_interval(int(flags.sum()), len(flags)),
    }


def at_threshold(known, unknown, classes: list[str], kept: list[int]) -> dict:
    """The rates at per-image thresholds: ``known`` and ``unknown`` are dicts of ``scores``, ``threshold``
    (one per image) and ``predicted``; ``known`` also ``labels``."""
    refused = known["scores"] < known["threshold"]
    unseen_refused = unknown["scores"] < unknown["threshold"]
    correct = known["predicted"] == known["labels"]
    return {
        "known_accuracy": float((correct & ~refused).mean()),
        "false_unknown_rate": _rate(refused),
        "false_unknown_rate_per_class": {
            c: _rate(refused[known["labels"] == k])["rate"] for k, c in enumerate(classes)
        },
        "unknown_detected": _rate(unseen_refused),
        "unknown_called_kept": _rate(np.isin(unknown["predicted"], kept) & ~unseen_refused),
    }


def score_report(val, known, unknown, classes: list[str], kept: list[int], rate: float) -> dict:
    """Every number of one score: ``val``, ``known`` (test) and ``unknown`` are dicts of ``scores`` and
    ``predicted`` (and ``labels`` for the first two)."""
    threshold = pick_threshold(val["scores"], rate)
    area = auroc(known["scores"], unknown["scores"])
    per_class = class_thresholds(
        val["scores"], val["labels"], val["predicted"], len(classes), rate, threshold, MIN_CLASS_IMAGES
    )
    one = at_threshold(
        {**known, "threshold": np.full(len(known["scores"]), threshold)},
        {**unknown, "threshold": np.full(len(unknown["scores"]), threshold)},
        classes,
        kept,
    )
    each = at_threshold(
        {**known, "threshold": per_class[known["predicted"]]},
        {**unknown, "threshold": per_class[unknown["predicted"]]},
        classes,
        kept,
    )
    return {
        "auroc": area,
        "auroc_ci95": auroc_interval(area, len(known["scores"]), len(unknown["scores"])),
        "oscr": oscr(known["scores"], known["predicted"] == known["labels"], unknown["scores"]),
        "threshold": threshold,
        **one,
        "per_class_threshold": {"thresholds": dict(zip(classes, per_class.tolist())), **each},
    }
