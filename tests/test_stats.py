"""The one Wilson score interval gfp reports (the bench's one-run interval and the realistic subset's),
checked against the closed formula, at the ends (0/n, n/n) and in the middle."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from gfcore.studies import realistic
from gfcore.studies.stats import wilson_interval

Z = NormalDist().inv_cdf(0.975)


def formula(k: int, n: int) -> tuple[float, float]:
    """Wilson (1927): (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)."""
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("k, n", [(0, 10), (10, 10), (7, 20), (0, 1), (1, 1), (250, 1000)])
def test_wilson_interval_is_the_formula(k, n):
    low, high = wilson_interval(k, n)
    assert (low, high) == pytest.approx(formula(k, n), abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_interval_ends_are_exact():
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    low, high = wilson_interval(7, 20)  # the textbook 95% interval for 7 of 20: (0.1812, 0.5671)
    assert low == pytest.approx(0.1812, abs=1e-4) and high == pytest.approx(0.5671, abs=1e-4)


def test_no_images_have_no_interval_and_impossible_counts_are_refused():
    assert wilson_interval(0, 0) is None and realistic.accuracy_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        wilson_interval(-1, 10)


def test_the_realistic_subset_reports_the_same_interval():
    assert realistic.accuracy_interval(7, 20) == list(wilson_interval(7, 20))
