"""Calibrated probabilities: temperature scaling (Guo et al., "On Calibration of Modern Neural Networks",
ICML 2017) and the expected calibration error.

Every attributor gives logits (``Attributor.logits``: scores whose softmax is its probability), so one
scalar temperature ``T`` is fitted for any method: ``softmax(logits / T)`` with the ``T`` that minimises the
negative log-likelihood of the validation labels. Dividing by ``T`` never changes the arg-max, so accuracy
is untouched; only the confidence moves. The NLL is convex in ``1 / T`` (a log-sum-exp of linear functions
of it minus a linear term), so a golden-section search over ``log(1 / T)`` finds the one minimum without
gradients, randomness or a torch dependency: the same logits give the same ``T`` on every machine up to
the last digits of floating-point summation. The reliability diagram that draws these numbers is
:func:`gfcore.studies.figures.save_reliability_png`.
"""

from __future__ import annotations

import math

import numpy as np

ECE_BINS = 15  # equal-width confidence bins, as in Guo et al. 2017
T_RANGE = (1e-2, 1e2)  # searched range of the temperature (a wider one only admits degenerate fits)
_GOLDEN = (math.sqrt(5) - 1) / 2


def log_softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return np.exp(log_softmax(logits, temperature))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return float("nan")
    return float(-log_softmax(logits, temperature)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, iterations: int = 80) -> float:
    """The temperature in :data:`T_RANGE` minimising :func:`nll` (golden-section search on log 1/T).

    80 steps shrink the bracket (width ln 1e4) by 0.618^80, far below float precision. With no images, or
    logits that are all equal per image, there is nothing to fit and the answer is 1."""
    logits = np.asarray(logits, dtype=np.float64)
    if len(logits) == 0 or not np.ptp(logits, axis=1).any():
        return 1.0

    def loss(log_beta: float) -> float:
        return nll(logits, labels, math.exp(-log_beta))

    lo, hi = -math.log(T_RANGE[1]), -math.log(T_RANGE[0])
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - _GOLDEN * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + _GOLDEN * (hi - lo)
            fb = loss(b)
    return float(math.exp(-(lo + hi) / 2))


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width confidence bin ``(lo, hi]`` (the first also holds 0): the number of images, their
    mean confidence (top probability) and their accuracy (None for an empty bin)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1) if len(probabilities) else np.zeros(0)
    correct = probabilities.argmax(axis=1) == np.asarray(labels) if len(probabilities) else np.zeros(0, bool)
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        members = index == b
        n = int(members.sum())
        rows.append(
            {
                "lo": b / bins,
                "hi": (b + 1) / bins,
                "n": n,
                "confidence": float(confidence[members].mean()) if n else None,
                "accuracy": float(correct[members].mean()) if n else None,
            }
        )
    return rows


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: the image-weighted mean over :func:`reliability_bins` of |accuracy - confidence| (NaN for no
    images). 0 for a perfectly calibrated model, up to the sampling noise of each bin."""
    rows = reliability_bins(probabilities, labels, bins)
    total = sum(r["n"] for r in rows)
    if total == 0:
        return float("nan")
    return float(sum(r["n"] * abs(r["accuracy"] - r["confidence"]) for r in rows if r["n"]) / total)


def calibration_summary(logits: np.ndarray, labels: np.ndarray, temperature: float) -> dict:
    """NLL and ECE (:data:`ECE_BINS` bins) before (T = 1) and after dividing the logits by ``temperature``."""
    return {
        "temperature": temperature,
        "ece_bins": ECE_BINS,
        "ece_before": expected_calibration_error(softmax(logits), labels),
        "ece_after": expected_calibration_error(softmax(logits, temperature), labels),
        "nll_before": nll(logits, labels),
        "nll_after": nll(logits, labels, temperature),
        "n": int(len(labels)),
    }
