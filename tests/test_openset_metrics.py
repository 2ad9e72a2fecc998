"""The open-set numbers on cases whose answers are known: OSCR, the AUROC interval, per-class thresholds, and
the fingerprint scores on clusters that only they can separate."""

from __future__ import annotations

import numpy as np
import pytest

from gfcore.inference.feature_scores import feature_score, fit_feature_scores
from gfcore.inference.openset import auroc, class_thresholds
from gfcore.studies.openset.metrics import auroc_interval, oscr, score_report


def test_oscr_known_answers():
    known = np.array([5.0, 4.0, 3.0, 2.0])
    unknown = np.array([1.0, 0.0])
    assert oscr(known, np.ones(4, bool), unknown) == pytest.approx(1.0)  # all right, all above the unknowns
    assert oscr(known, np.array([1, 1, 0, 0], bool), unknown) == pytest.approx(0.5)  # half wrong: at most 1/2
    assert oscr(np.array([0.0, 1.0]), np.ones(2, bool), np.array([5.0, 6.0])) == pytest.approx(0.0)
    rng = np.random.default_rng(0)  # scores that say nothing: OSCR = accuracy x AUROC ~ 0.8 x 0.5
    k, u = rng.normal(size=4000), rng.normal(size=4000)
    assert oscr(k, rng.random(4000) < 0.8, u) == pytest.approx(0.4, abs=0.03)


def test_auroc_interval_narrows_with_images_and_holds_the_truth():
    rng = np.random.default_rng(1)
    wide, narrow = auroc_interval(0.8, 50, 50), auroc_interval(0.8, 5000, 5000)
    assert wide[0] < narrow[0] < 0.8 < narrow[1] < wide[1]
    covered = 0
    for _ in range(200):  # true AUROC of N(1, 1) against N(0, 1): Phi(1 / sqrt 2) = 0.760
        a = auroc(rng.normal(1, 1, 200), rng.normal(0, 1, 100))
        lo, hi = auroc_interval(a, 200, 100)
        covered += lo <= 0.7602 <= hi
    assert covered >= 180  # a 95% interval: about 190 of 200
    assert auroc_interval(float("nan"), 10, 0) is None


def test_per_class_thresholds_give_each_class_its_rate():
    rng = np.random.default_rng(2)
    # class 0 scores high, class 1 low: one threshold refuses mostly class 1, per-class ones 10% of each
    # 4,000 per class: a rate measured on test after a quantile chosen on validation moves by about
    # sqrt(2 x 0.1 x 0.9 / 4000) = 0.0067 (one sd); the tolerance is 3.7 of them
    predicted = np.repeat([0, 1], 4000)
    val = np.r_[rng.normal(5, 1, 4000), rng.normal(0, 1, 4000)]
    test = np.r_[rng.normal(5, 1, 4000), rng.normal(0, 1, 4000)]
    report = score_report(
        {"scores": val, "predicted": predicted, "labels": predicted},
        {"scores": test, "predicted": predicted, "labels": predicted},
        {"scores": rng.normal(-3, 1, 500), "predicted": np.zeros(500, int), "labels": np.zeros(500, int)},
        ["a", "b"],
        [0],
        0.1,
    )
    one = report["false_unknown_rate_per_class"]
    each = report["per_class_threshold"]["false_unknown_rate_per_class"]
    assert one["a"] < 0.01 and one["b"] > 0.15  # the stated 10% is an average, not any class's rate
    assert each["a"] == pytest.approx(0.1, abs=0.025) and each["b"] == pytest.approx(0.1, abs=0.025)
    assert report["unknown_called_kept"]["rate"] < 0.05 and report["unknown_called_kept"]["ci95"] is not None
    fallback = class_thresholds(val, predicted, predicted, 3, 0.1, fallback=-7.0)
    assert fallback[2] == -7.0  # no validation image predicted as class 2


def test_fingerprint_scores_separate_what_the_logits_cannot():
    """Two known classes on either side of a plane, and unknowns far out along another axis: a linear head
    sees them as confidently one class, the fingerprint scores as far from every class."""
    rng = np.random.default_rng(3)
    centres = np.array([[-3.0, 0, 0, 0], [3.0, 0, 0, 0]])
    labels = rng.integers(0, 2, 2000)
    train = centres[labels] + rng.normal(size=(2000, 4))
    known = centres[rng.integers(0, 2, 500)] + rng.normal(size=(500, 4))
    unknown = np.array([3.0, 8, 0, 0]) + rng.normal(size=(500, 4))
    fitted = fit_feature_scores(train, labels, 2)
    for score in ("mahalanobis", "neighbour"):
        assert auroc(feature_score(known, fitted, score), feature_score(unknown, fitted, score)) > 0.95, score
    with pytest.raises(ValueError, match="unknown feature score"):
        feature_score(known, fitted, "cosine")


def test_the_stored_rule_has_a_threshold_per_class_and_decide_uses_it():
    """Class 0's images come out confident, class 1's not, and 2% of class 1 is attributed to class 0: one
    threshold would refuse mostly class 1; the stored per-class thresholds refuse about 5% of each class,
    its misattributed images included, on fresh images too."""
    from gfcore.errors import GfpError
    from gfcore.inference.openset import decide, describe_rule, fit_calibration, run_calibration

    rng = np.random.default_rng(5)

    def draw(n):
        labels = np.repeat([0, 1], n)
        margin = np.where(labels == 0, rng.normal(6, 1.5, 2 * n), rng.normal(3, 1.5, 2 * n))
        logits = np.zeros((2 * n, 2))
        logits[np.arange(2 * n), labels] = margin
        return logits, labels

    record = fit_calibration(*draw(4000), 0.05, "msp")
    rule = record["open_set"]
    assert len(rule["class_thresholds"]) == 2 and rule["class_thresholds"][0] > rule["class_thresholds"][1]
    info = {"classes": ["a", "b"], "calibration": record}
    calibration = run_calibration(info, "run")
    logits, labels = draw(4000)
    _, predicted, _ = decide(logits, calibration, True)
    one = {**calibration, "open_set": {k: v for k, v in rule.items() if k != "class_thresholds"}}
    _, predicted_one, _ = decide(logits, one, True)
    assert (predicted_one[labels == 1] < 0).mean() > 0.08 > (predicted_one[labels == 0] < 0).mean()
    # 4,000 validation and 4,000 test images per class: the measured rate moves by ~0.005 (one sd)
    for c in (0, 1):
        assert (predicted[labels == c] < 0).mean() == pytest.approx(0.05, abs=0.02)
    assert "predicted class's threshold" in describe_rule(rule)
    bad = {**record, "open_set": {**rule, "class_thresholds": [1.0]}}
    with pytest.raises(GfpError, match="one finite number per class"):
        run_calibration({"classes": ["a", "b"], "calibration": bad}, "run")
