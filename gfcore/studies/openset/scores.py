"""The numbers of one held-out source: a calibrated run scores the known sources' test images and the
unseen source's, by every open-set score (AUROC, and the rates at the threshold chosen on validation)."""

from __future__ import annotations

import numpy as np

from gfcore.data.dataset import PreparedDataset
from gfcore.inference.evaluation import predict_split
from gfcore.inference.openset import SCORES, auroc, known_score, pick_threshold, run_calibration
from gfcore.interfaces import Split
from gfcore.runs.attributor import load_run


def evaluate_held_out(
    run_dir, known_data: PreparedDataset, unknown_images: np.ndarray, device, reporter, kept=()
) -> dict:
    """The numbers of one held-out source for a calibrated run (see the module doc). ``kept``: the sources
    every run knows (the real class); the share of unseen images given to them is reported, since calling a
    generated image real is the costly error."""
    attributor, info = load_run(run_dir, device)
    calibration = run_calibration(info, run_dir)
    rate = calibration["open_set"]["false_unknown_rate"]
    temperature = calibration["temperature"]
    val, test = known_data.split("val"), known_data.split("test")
    val_logits, _ = predict_split(attributor, val, reporter)
    known_logits, _ = predict_split(attributor, test, reporter)
    unknown = Split(images=unknown_images, labels=np.zeros(len(unknown_images), np.int64))
    unknown_logits, _ = predict_split(attributor, unknown, reporter)
    predicted = known_logits.argmax(1)
    correct = predicted == test.labels
    to_kept = np.isin(unknown_logits.argmax(1), [known_data.classes.index(k) for k in kept])
    per_score = {}
    for score in SCORES:
        threshold = pick_threshold(known_score(val_logits, temperature, score), rate)
        known_s = known_score(known_logits, temperature, score)
        unknown_s = known_score(unknown_logits, temperature, score)
        per_score[score] = {
            "auroc": auroc(known_s, unknown_s),
            "threshold": threshold,
            "known_accuracy": float((correct & (known_s >= threshold)).mean()),
            "false_unknown_rate": float((known_s < threshold).mean()),
            "unknown_detected": float((unknown_s < threshold).mean()),
            "unknown_called_kept": float((to_kept & (unknown_s >= threshold)).mean()),
        }
    return {
        "temperature": temperature,
        "false_unknown_rate_target": rate,
        "score": calibration["open_set"]["score"],
        "n_known": int(len(test)),
        "n_unknown": int(len(unknown_images)),
        "closed_set_accuracy": float(correct.mean()),
        "unknown_to_kept_closed_set": float(to_kept.mean()),
        "scores": per_score,
    }
