"""Leave-one-source-out evaluation of open-set attribution (``gfp openset``).

For each source ``s`` of a K-source dataset: a (K-1)-source dataset without ``s`` is written (all three
splits, labels renumbered), a run is trained on it (or a finished one reused, an unfinished one resumed)
and calibrated on its validation split, and then the test images of the K-1 known sources and the test
images of ``s`` -- a source the run has never seen -- are scored. Reported per held-out source and score
(:data:`gfcore.inference.openset.SCORES`): the AUROC of known against unknown, and at the threshold chosen on
validation for the false-unknown rate: the accuracy on the known sources (an image called unknown counts
as wrong), the share of them called unknown, and the share of the unseen source's images called unknown.

    OUT/datasets/without-<source>/   the K-1-source datasets
    OUT/runs/without-<source>/       their runs
    OUT/results.json, results.md     the numbers
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gfcore.config import parse_spec
from gfcore.data.dataset import SPLITS, PreparedDataset, load_dataset, write_dataset
from gfcore.errors import GfpError
from gfcore.inference.evaluation import predict_split
from gfcore.inference.openset import (
    SCORES,
    auroc,
    calibrate_run,
    known_score,
    pick_threshold,
    run_calibration,
)
from gfcore.interfaces import Split
from gfcore.runs.attributor import build_attributor, load_run
from gfcore.runs.training import existing_run_state, train_run
from gfcore.storage.atomic import write_json, write_text
from gfcore.storage.jsonio import read_document
from gfcore.terminal.formatting import fmt_pct
from gfcore.terminal.progress import NullReporter

FORMAT, VERSION = "gfp-openset", 1


def slug(name: str) -> str:
    return "without-" + re.sub(r"[^A-Za-z0-9._-]", "_", name)


def check_out(out: Path) -> None:
    """A new or empty folder, one holding only an interrupted evaluation's datasets and runs, or an earlier
    ``gfp openset``'s results: never a folder of other things."""
    if out.exists() and not out.is_dir():
        raise GfpError(f"{out} exists and is not a folder")
    entries = {p.name for p in out.iterdir()} if out.is_dir() else set()
    if entries <= {"datasets", "runs"}:
        return
    if (out / "results.json").is_file():
        read_document(out / "results.json", FORMAT, f"{out}: no results.json")
        return
    raise GfpError(
        f"{out} is not empty and holds no gfp openset results; gfp does not write into folders it did not "
        "create: choose another --out"
    )


def without_source(data: PreparedDataset, held_out: int, folder: Path) -> PreparedDataset:
    """The dataset without class ``held_out`` (written once, then reused when its classes match)."""
    known = [c for i, c in enumerate(data.classes) if i != held_out]
    if (folder / "manifest.json").is_file():
        existing = load_dataset(folder)
        if (
            existing.classes == known
            and existing.manifest.get("provenance", {}).get("parent_hash") == data.hash
        ):
            return existing
        raise GfpError(f"{folder} holds another dataset; delete it or choose another --out")
    renumber = np.array([-1 if i == held_out else i - (i > held_out) for i in range(len(data.classes))])
    splits = {}
    for name in SPLITS:
        split = data.split(name)
        rows = np.flatnonzero(split.labels != held_out)
        splits[name] = (np.asarray(split.images[rows]), renumber[split.labels[rows]])
    provenance = {
        "parent": str(data.path.resolve()),
        "parent_hash": data.hash,
        "held_out": data.classes[held_out],
    }
    return write_dataset(folder, known, splits, provenance)


def evaluate_held_out(
    run_dir, known_data: PreparedDataset, unknown_images: np.ndarray, device, reporter
) -> dict:
    """The numbers of one held-out source for a calibrated run (see the module doc)."""
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
        }
    return {
        "temperature": temperature,
        "false_unknown_rate_target": rate,
        "score": calibration["open_set"]["score"],
        "n_known": int(len(test)),
        "n_unknown": int(len(unknown_images)),
        "closed_set_accuracy": float(correct.mean()),
        "scores": per_score,
    }


def run_loso(
    data: PreparedDataset,
    out: Path,
    spec: str,
    *,
    seed: int,
    device,
    overrides: dict,
    false_unknown_rate: float,
    score: str,
    reporter=None,
) -> dict:
    reporter = reporter or NullReporter()
    out = Path(out)
    check_out(out)
    if len(data.classes) < 3:
        raise GfpError(f"{data.path} has {len(data.classes)} sources; leaving one out needs at least 3")
    name, _ = parse_spec(spec)
    _, method, config = build_attributor(spec, data.classes[:-1], data.resolution, device, overrides)
    test = data.split("test")
    rows = []
    for held_out, source in enumerate(data.classes):
        known_data = without_source(data, held_out, out / "datasets" / slug(source))
        run_dir = out / "runs" / slug(source)
        state = existing_run_state(run_dir, known_data, method=method, config=config, seed=seed)
        reporter.log(
            f"without {source}: "
            + {"new": "training", "complete": "reusing", "unfinished": "resuming"}[state]
            + f" {run_dir}"
        )
        if state != "complete":
            train_run(
                known_data,
                run_dir,
                spec,
                seed=seed,
                device=device,
                resume=state == "unfinished",
                overrides=overrides,
                reporter=reporter,
                false_unknown_rate=false_unknown_rate,
            )
        calibrate_run(run_dir, known_data, device, false_unknown_rate, score, reporter)
        unknown_images = np.asarray(test.images[np.flatnonzero(test.labels == held_out)])
        row = evaluate_held_out(run_dir, known_data, unknown_images, device, reporter)
        rows.append({"held_out": source, "run": str(run_dir), "reused": state == "complete", **row})
    results = {
        "format": FORMAT,
        "version": VERSION,
        "dataset": {"path": str(data.path), "hash": data.hash, "classes": data.classes},
        "method": name,
        "spec": spec,
        "overrides": overrides,
        "seed": seed,
        "score": score,
        "false_unknown_rate": false_unknown_rate,
        "held_out": rows,
        "mean": {
            s: {k: float(np.mean([r["scores"][s][k] for r in rows])) for k in rows[0]["scores"][s]}
            for s in SCORES
        },
    }
    write_json(out / "results.json", results)
    write_text(out / "results.md", markdown(results))
    return results


def markdown(results: dict) -> str:
    score, rate = results["score"], results["false_unknown_rate"]
    lines = [
        f"# Open-set attribution, leaving one source out: {results['spec']}",
        "",
        f"Dataset `{results['dataset']['path']}`; seed {results['seed']}. AUROC: known test images against the "
        "held-out source's test images, by each score. At the threshold chosen on validation for a "
        f"{fmt_pct(rate)} false-unknown rate, with the `{score}` score: accuracy on the known sources (an "
        "image called unknown counts as wrong), share of them called unknown, share of the held-out "
        "source called unknown.",
        "",
        "| held-out source | AUROC msp | AUROC max-logit | AUROC energy | closed-set accuracy | "
        "known accuracy at threshold | known called unknown | unseen source called unknown |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in [*results["held_out"], None]:
        scores = r["scores"] if r else results["mean"]
        closed = (
            fmt_pct(r["closed_set_accuracy"])
            if r
            else fmt_pct(np.mean([x["closed_set_accuracy"] for x in results["held_out"]]))
        )
        chosen = scores[score]
        lines.append(
            f"| {r['held_out'] if r else '**mean**'} | "
            + " | ".join(f"{scores[s]['auroc']:.4f}" for s in SCORES)
            + f" | {closed} | {fmt_pct(chosen['known_accuracy'])} | {fmt_pct(chosen['false_unknown_rate'])} | "
            f"{fmt_pct(chosen['unknown_detected'])} |"
        )
    return "\n".join(lines) + "\n"
