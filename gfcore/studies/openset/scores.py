"""The numbers of one held-out source: a calibrated run scores the known sources' test images and the
unseen source's by every open-set score -- the logit scores, and for a method with fingerprints the
feature scores fitted on its training fingerprints (:mod:`gfcore.inference.feature_scores`) -- each with
its AUROC, OSCR and the rates at the threshold chosen on validation (:mod:`.metrics`)."""

from __future__ import annotations

import numpy as np

from gfcore.data.dataset import PreparedDataset
from gfcore.inference.evaluation import map_split, predict_split
from gfcore.inference.feature_scores import FEATURE_SCORES, FIT_SAMPLE, feature_score, fit_feature_scores
from gfcore.inference.openset import SCORES, known_score, run_calibration
from gfcore.interfaces import Split
from gfcore.runs.attributor import load_run
from gfcore.studies.openset.metrics import score_report


def _fingerprints(attributor, split, rows=None) -> np.ndarray:
    return (
        map_split(attributor.image_fingerprints, split, indices=rows)[0].flatten(1).numpy().astype(np.float64)
    )


def _feature_scores(attributor, known_data, splits: dict[str, Split], seed: int = 0) -> dict[str, dict]:
    """``{score: {split name: [N] scores}}`` of the feature scores, fitted on a seeded sample of the known
    training split (empty for a method without fingerprints)."""
    if not getattr(attributor, "has_fingerprints", False):
        return {}
    train = known_data.split("train")
    rows = np.sort(np.random.default_rng(seed).choice(len(train), min(FIT_SAMPLE, len(train)), replace=False))
    fitted = fit_feature_scores(
        _fingerprints(attributor, train, rows), train.labels[rows], len(known_data.classes)
    )
    fingerprints = {name: _fingerprints(attributor, split) for name, split in splits.items()}
    return {
        s: {name: feature_score(f, fitted, s) for name, f in fingerprints.items()} for s in FEATURE_SCORES
    }


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
    unknown = Split(images=unknown_images, labels=np.zeros(len(unknown_images), np.int64))
    splits = {"val": known_data.split("val"), "test": known_data.split("test"), "unknown": unknown}
    logits = {name: predict_split(attributor, split, reporter)[0] for name, split in splits.items()}
    predicted = {name: z.argmax(1) for name, z in logits.items()}
    labels = {"val": splits["val"].labels, "test": splits["test"].labels, "unknown": unknown.labels}
    scores = {s: {name: known_score(z, temperature, s) for name, z in logits.items()} for s in SCORES}
    scores |= _feature_scores(attributor, known_data, splits)
    kept_ids = [known_data.classes.index(k) for k in kept]
    per_score = {
        s: score_report(
            *(
                {"scores": by_split[n], "predicted": predicted[n], "labels": labels[n]}
                for n in ("val", "test", "unknown")
            ),
            known_data.classes,
            kept_ids,
            rate,
        )
        for s, by_split in scores.items()
    }
    return {
        "temperature": temperature,
        "false_unknown_rate_target": rate,
        "score": calibration["open_set"]["score"],
        "n_known": int(len(splits["test"])),
        "n_unknown": int(len(unknown_images)),
        "closed_set_accuracy": float((predicted["test"] == labels["test"]).mean()),
        "unknown_to_kept_closed_set": float(np.isin(predicted["unknown"], kept_ids).mean()),
        "scores": per_score,
    }
