"""How sure a bench's numbers are: 95% intervals of an accuracy and the exact McNemar test of two methods
on the same test images.

* :func:`t_interval` -- K >= 2 repeated runs (different training seeds): mean accuracy +- t(0.975, K-1)
  s / sqrt(K). It measures how much the accuracy moves when only the training seed changes (two seeds
  of one method can differ by nearly a point); it says nothing about the finite test set, which every repeat shares.
* :func:`wilson_interval` -- one run: the Wilson score interval of a binomial proportion, i.e. the spread
  from sampling the test images (closed form and deterministic, unlike a bootstrap, and it stays inside
  [0, 1] and is not degenerate at 100%, unlike the normal interval).
* :func:`mcnemar_exact` -- two methods' per-image correctness on the same images: only discordant images
  (one right, the other wrong) carry information; under "equally accurate" each is a fair coin flip, so
  the two-sided p-value is the exact binomial tail ``min(1, 2 P[Bin(b + c, 1/2) <= min(b, c)])``.
"""

from __future__ import annotations

import math

import numpy as np

CONFIDENCE = 0.95


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval of the mean of ``values`` (at least two); zero width when they are all equal."""
    from scipy.stats import t  # scipy comes with scikit-learn, a dependency

    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        raise ValueError("a t-interval needs at least two values")
    mean = float(x.mean())
    half = float(t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean - half, mean + half


def wilson_interval(correct: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Wilson score interval of ``correct / n``: how far an accuracy on ``n`` images may be from the
    accuracy on unlimited images of the same kind; None for no images (there is nothing to bound)."""
    from statistics import NormalDist

    if n == 0:
        return None
    if n < 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n > 0, got {correct} of {n}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if correct == 0 else max(centre - half, 0.0)  # exact ends: round-off must not move them
    high = 1.0 if correct == n else min(centre + half, 1.0)
    return low, high


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` images only the first method got right and ``c`` only the
    second did (exact in integers: ``math.comb``, no normal approximation)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)


def discordant(correct_a, correct_b) -> tuple[int, int]:
    """``(b, c)``: images only ``a`` got right, and images only ``b`` got right (boolean arrays, same images)."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired correctness of different lengths: {a.shape} and {b.shape}")
    return int((a & ~b).sum()), int((~a & b).sum())
