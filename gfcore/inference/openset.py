"""Open-set attribution: calling an image ``unknown`` when it matches none of a run's sources.

A run stores, in ``run.json`` under ``calibration``, a temperature fitted on its validation split
(:mod:`gfcore.inference.calibration`) and an open-set rule: a *known-ness score* of the logits and a threshold,
the ``false_unknown_rate`` quantile of that score over the validation images, all of which come from
known sources. An image scoring below the threshold is ``unknown``; about ``false_unknown_rate`` of the
images of the known sources are then refused too (the price of the rule, stated in the run).

The scores (higher: more like a known source), of the logits ``z`` and the temperature ``T``:

* ``msp``: the top calibrated probability ``p = max softmax(z / T)`` (Hendrycks & Gimpel 2017), stored
  and compared as its log-odds ``log(p / (1 - p))`` (the same order, but top probabilities that round to
  1.0 in floating point keep their order instead of tying);
* ``max-logit``: ``max z`` (Hendrycks et al. 2022): ignores how the other sources score;
* ``energy``: ``T logsumexp(z / T)`` (Liu et al. 2020): the free energy, which keeps the logits' scale
  that the softmax normalises away.

``gfp openset`` measures all three by leaving one source out of training at a time (README: "Calibrated
and open-set attribution"); :data:`DEFAULT_SCORE` is the one that did best there.
"""

from __future__ import annotations

import math

import numpy as np

from gfcore.errors import GfpError
from gfcore.inference.calibration import T_RANGE, calibration_summary, fit_temperature, log_softmax, softmax
from gfcore.inference.thresholds import auroc, class_thresholds, pick_threshold  # noqa: F401 (the API)
from gfcore.values import is_finite_number

SCORES = ("msp", "max-logit", "energy")
DEFAULT_SCORE = "msp"
DEFAULT_FALSE_UNKNOWN_RATE = 0.05
#: validation images a class needs for a threshold of its own; 20 puts the 5% quantile
#: on the first image below it, fewer leave the class with the one threshold
MIN_CLASS_IMAGES = 20
UNKNOWN = "unknown"
NO_TEMPERATURE = "the run stores no temperature (trained before calibration existed): T = 1, uncalibrated"


def known_score(logits: np.ndarray, temperature: float, score: str) -> np.ndarray:
    """float64 ``[N]``: how much each row of ``logits`` looks like a known source (see the module doc)."""
    z = np.asarray(logits, dtype=np.float64)
    if score == "msp":  # as the log-odds of the top probability: top probabilities that round to 1 still rank
        logp = log_softmax(z, temperature)
        top = logp.argmax(axis=1)
        rest = np.where(np.arange(z.shape[1])[None, :] == top[:, None], -np.inf, logp)
        return logp.max(axis=1) - _logsumexp(rest)
    if score == "max-logit":
        return z.max(axis=1)
    if score == "energy":
        return temperature * _logsumexp(z / temperature)
    raise GfpError(f"unknown open-set score {score!r}; use one of {', '.join(SCORES)}")


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=1)
    return top + np.log(np.exp(x - top[:, None]).sum(axis=1))


def fit_calibration(logits: np.ndarray, labels: np.ndarray, false_unknown_rate: float, score: str) -> dict:
    """The ``calibration`` record a run stores, fitted on its validation logits and labels."""
    if not 0 < false_unknown_rate < 1:
        raise GfpError(f"the false-unknown rate must be between 0 and 1, not {false_unknown_rate}")
    if score not in SCORES:
        raise GfpError(f"unknown open-set score {score!r}; use one of {', '.join(SCORES)}")
    temperature = fit_temperature(logits, labels)
    # at the lower bound the NLL had no minimum: every validation image is right with a margin, and a
    # colder softmax always looks better there; such a T says nothing about new images, so T = 1 is kept
    separated = temperature / T_RANGE[0] < 1.01
    temperature = 1.0 if separated else temperature
    scores = known_score(logits, temperature, score)
    threshold = pick_threshold(scores, false_unknown_rate)
    predicted = np.asarray(logits).argmax(axis=1)
    per_class = class_thresholds(
        scores, labels, predicted, logits.shape[1], false_unknown_rate, threshold, MIN_CLASS_IMAGES
    )
    return {
        "fitted_on": "val",
        **calibration_summary(logits, labels, temperature),
        "temperature_fit": "not identifiable (validation images separated): T = 1 kept"
        if separated
        else "NLL",
        "open_set": {
            "score": score,
            "threshold": threshold,
            "class_thresholds": per_class.tolist(),
            "false_unknown_rate": false_unknown_rate,
            "val_false_unknown_rate": float((scores < per_class[predicted]).mean()),
        },
    }


def calibrate_attributor(
    attributor, val, false_unknown_rate: float, score: str, reporter=None
) -> dict | None:
    """:func:`fit_calibration` on ``attributor``'s logits of the split ``val``; None (with a warning) when
    the split holds no image."""
    from gfcore.inference.evaluation import predict_split

    if len(val) == 0:
        if reporter is not None:
            reporter.warn("no validation images: no temperature or open-set threshold stored (T = 1)")
        return None
    logits, _ = predict_split(attributor, val, reporter)
    return fit_calibration(logits, val.labels, false_unknown_rate, score)


def calibrate_run(run_dir, dataset, device=None, false_unknown_rate=None, score=None, reporter=None) -> dict:
    """Fit the temperature and open-set threshold of a run's best weights on ``dataset``'s validation split
    and store them in its run.json (``calibration``; see :mod:`gfcore.inference.openset`). Returns the run.json."""
    from gfcore.execution import distributed as dist
    from gfcore.runs.attributor import check_compatible, load_run, run_dir_of

    with run_dir_of(run_dir).lock("gfp calibrate"):  # re-entrant: a training calibrates its locked run
        attributor, info = load_run(run_dir, device)
        check_compatible(info, dataset, run_dir)
        old = (info.get("calibration") or {}).get("open_set")
        old = old if isinstance(old, dict) else {}  # a damaged record is simply refitted
        rate = false_unknown_rate or old.get("false_unknown_rate") or DEFAULT_FALSE_UNKNOWN_RATE
        score = score or old.get("score") or DEFAULT_SCORE
        info["calibration"] = calibrate_attributor(attributor, dataset.split("val"), rate, score, reporter)
        with dist.main_writes_first() as main:  # under torchrun every rank fitted the same numbers
            if main:
                run_dir_of(run_dir).write(info)
    return info


def run_calibration(info: dict, where) -> dict:
    """A run's calibration as ``{"temperature", "open_set" (None or {"score", "threshold", ...}), "note"}``,
    checked field by field (run.json may be edited by hand); a run without one has T = 1 and no rule."""
    record = info.get("calibration")
    if record is None:
        note = NO_TEMPERATURE if "calibration" not in info else "no validation images to calibrate on: T = 1"
        return {"temperature": 1.0, "open_set": None, "note": note, "stored": False}
    temperature = record.get("temperature")
    if not _positive(temperature):
        raise GfpError(
            f"{where}: field 'calibration.temperature' must be a positive number, not {temperature!r}"
        )
    rule = record.get("open_set")
    if rule is not None:
        if (
            not isinstance(rule, dict)
            or rule.get("score") not in SCORES
            or not is_finite_number(rule.get("threshold"))
        ):
            raise GfpError(
                f"{where}: field 'calibration.open_set' must hold a score ({', '.join(SCORES)}) and a "
                "finite threshold"
            )
        per_class = rule.get("class_thresholds")
        if per_class is not None and (
            not isinstance(per_class, list)
            or len(per_class) != len(info["classes"])
            or not all(is_finite_number(t) for t in per_class)
        ):
            raise GfpError(
                f"{where}: field 'calibration.open_set.class_thresholds' must hold one finite number per class"
            )
    note = f"temperature T = {temperature:.4g} fitted on the validation split"
    if record.get("temperature_fit", "NLL") != "NLL":
        note = f"temperature {record['temperature_fit']}"
    return {"temperature": float(temperature), "open_set": rule, "note": note, "stored": True}


def _positive(v) -> bool:
    return is_finite_number(v) and v > 0


def decide(
    logits: np.ndarray, calibration: dict, open_set: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(calibrated probabilities ``[N, L]``, predicted class index ``[N]`` with -1 for unknown, score ``[N]``
    or NaN without a rule) for logits under a :func:`run_calibration`."""
    logits = np.asarray(logits, dtype=np.float64)
    probs = softmax(logits, calibration["temperature"]) if len(logits) else np.zeros(logits.shape)
    predicted = probs.argmax(axis=1) if len(logits) else np.zeros(0, np.int64)
    rule = calibration["open_set"]
    if not open_set or rule is None:
        return probs, predicted, np.full(len(logits), np.nan)
    scores = known_score(logits, calibration["temperature"], rule["score"])
    per_class = rule.get("class_thresholds")
    threshold = np.asarray(per_class)[predicted] if per_class is not None else rule["threshold"]
    return probs, np.where(scores < threshold, -1, predicted), scores


def open_set_choice(calibration: dict, asked: bool | None, run) -> bool:
    """Open-set when asked, or by default when the run stores a threshold; asked without one: one line."""
    if asked is None:
        return calibration["open_set"] is not None
    if asked and calibration["open_set"] is None:
        raise GfpError(
            f"{run} stores no open-set threshold; fit one with `gfp calibrate {run} DATASET`, or pass --closed-set"
        )
    return asked


def apply_to_batch(batch, info: dict, open_set: bool | None, run) -> dict:
    """Replace the softmax probabilities of ``batch`` (a :class:`gfcore.inference.evaluation.AttributionBatch` whose
    results carry ``logits``) by calibrated ones and, open-set, name ``unknown`` the images below the
    threshold. Returns what was applied: temperature, open-set rule (or None) and a note."""
    calibration = run_calibration(info, run)
    use_open_set = open_set_choice(calibration, open_set, run)
    classes = list(info["classes"])
    if batch.results:
        logits = np.array([r.logits for r in batch.results], dtype=np.float64)
        probs, predicted, scores = decide(logits, calibration, use_open_set)
        for r, p, k, s in zip(batch.results, probs, predicted, scores):
            r.probabilities = {c: float(v) for c, v in zip(classes, p)}
            r.predicted = UNKNOWN if k < 0 else classes[int(k)]
            r.score = None if math.isnan(s) else float(s)
    return {
        "temperature": calibration["temperature"],
        "calibrated": calibration["stored"],
        "open_set": calibration["open_set"] if use_open_set else None,
        "note": calibration["note"],
    }


def split_report(logits: np.ndarray, labels: np.ndarray, info: dict, run) -> tuple[dict, dict | None]:
    """What ``gfp evaluate`` adds for a split of known sources: ``calibration`` (the run's temperature, NLL
    and ECE before and after it) and, when the run stores a rule, ``open_set`` (the share of these images
    called unknown, against the rate the threshold was chosen for, and the accuracy counting those wrong)."""
    calibration = run_calibration(info, run)
    labels = np.asarray(labels)
    section = {**calibration_summary(logits, labels, calibration["temperature"]), "note": calibration["note"]}
    section["stored"] = calibration["stored"]
    rule = calibration["open_set"]
    if rule is None or len(labels) == 0:
        return section, None
    _, predicted, _ = decide(logits, calibration, True)
    classes = list(info["classes"])
    return section, {
        **rule,
        "false_unknown_rate_measured": float((predicted < 0).mean()),
        "false_unknown_rate_per_class": {
            c: float((predicted[labels == k] < 0).mean())
            for k, c in enumerate(classes)
            if np.any(labels == k)
        },
        "accuracy_open_set": float((predicted == labels).mean()),
    }


def describe_rule(rule: dict) -> str:
    """``"top probability below 0.572 is unknown"`` (msp thresholds are stored as log-odds),
    ``"energy below 3.2 is unknown"``, or with per-class thresholds ``"... below a threshold of the
    predicted class (0.91 to 0.98) ..."``."""
    per_class = rule.get("class_thresholds")
    if per_class is not None:
        low, high = _shown(rule["score"], min(per_class)), _shown(rule["score"], max(per_class))
        what = "top calibrated probability" if rule["score"] == "msp" else rule["score"]
        return f"{what} below the predicted class's threshold ({low} to {high}) is {UNKNOWN}"
    if rule["score"] == "msp":
        return f"top calibrated probability below {_shown('msp', rule['threshold'])} is {UNKNOWN}"
    return f"{rule['score']} below {_shown(rule['score'], rule['threshold'])} is {UNKNOWN}"


def _shown(score: str, t: float) -> str:
    if score != "msp":
        return f"{t:.4g}"
    return (
        f"1 - {math.exp(-t):.2g}" if t > 7 else f"{1 / (1 + math.exp(-t)):.4g}"
    )  # near 1: its distance to 1
