"""``results.md`` of a leave-one-out evaluation: per held-out source or family, how well each score tells
unseen images from known ones (AUROC with its interval, OSCR), and what the rule does at the threshold
chosen on validation -- one threshold for all classes, and one per class."""

from __future__ import annotations

import numpy as np

from gfcore.terminal.formatting import fmt_pct

#: the numbers of a score that are averaged over held-out sources (results.json ``mean``)
HEADLINE = (
    "auroc",
    "oscr",
    "known_accuracy",
    "false_unknown_rate",
    "false_unknown_rate_spread",
    "unknown_detected",
    "unknown_called_kept",
    "per_class_false_unknown_rate",
    "per_class_false_unknown_rate_spread",
    "per_class_unknown_detected",
    "per_class_unknown_called_kept",
)


def _spread(per_class: dict) -> float:
    values = [v for v in per_class.values() if v == v]  # NaN: a class with no test image
    return float(max(values) - min(values)) if values else float("nan")


def headline(score: dict) -> dict:
    """The :data:`HEADLINE` numbers of one score's report (:func:`.metrics.score_report`)."""
    each = score["per_class_threshold"]
    return {
        "auroc": score["auroc"],
        "oscr": score["oscr"],
        "known_accuracy": score["known_accuracy"],
        "false_unknown_rate": score["false_unknown_rate"]["rate"],
        "false_unknown_rate_spread": _spread(score["false_unknown_rate_per_class"]),
        "unknown_detected": score["unknown_detected"]["rate"],
        "unknown_called_kept": score["unknown_called_kept"]["rate"],
        "per_class_false_unknown_rate": each["false_unknown_rate"]["rate"],
        "per_class_false_unknown_rate_spread": _spread(each["false_unknown_rate_per_class"]),
        "per_class_unknown_detected": each["unknown_detected"]["rate"],
        "per_class_unknown_called_kept": each["unknown_called_kept"]["rate"],
    }


def _both(h: dict, key: str) -> str:
    """The rate at the one threshold / at the per-class thresholds."""
    return f"{fmt_pct(h[key])} / {fmt_pct(h['per_class_' + key])}"


def _interval(ci) -> str:
    return f" ({ci[0]:.2f}-{ci[1]:.2f})" if ci else ""


def _auroc_rows(results: dict, scores: list[str]) -> list[str]:
    """The AUROC/OSCR table's rows: one per held-out source (a failed one says why), then the mean."""
    rows = []
    for r in results["held_out"]:
        if "error" in r:
            rows.append(f"| {r['held_out']} | failed: {r['error']} |")
            continue
        cells = [
            f"{r['scores'][s]['auroc']:.3f}{_interval(r['scores'][s]['auroc_ci95'])} | {r['scores'][s]['oscr']:.3f}"
            for s in scores
        ]
        rows.append(f"| {r['held_out']} | " + " | ".join(cells) + " |")
    if results["mean"] is not None:
        mean = results["mean"]
        rows.append(
            "| **mean** | "
            + " | ".join(f"{mean[s]['auroc']:.3f} | {mean[s]['oscr']:.3f}" for s in scores)
            + " |"
        )
    return rows


def markdown(results: dict) -> str:
    score, rate = results["score"], results["false_unknown_rate"]
    kept = results.get("keep") or []
    groups = results.get("groups") or {}
    done = [r for r in results["held_out"] if "error" not in r]
    scores = list(done[0]["scores"]) if done else []
    lines = [
        f"# Open-set attribution, leaving one {'source or family' if groups else 'source'} out: {results['spec']}",
        "",
        f"Dataset `{results['dataset']['path']}`; seed {results['seed']}"
        + (f"; every run starts from `{results['init_from']['path']}`" if results.get("init_from") else "")
        + ". AUROC (95% interval from the test "
        "images) and OSCR: known test images against the held-out source's test images, by each score.",
        *(
            [
                f"Families left out together: {'; '.join(f'{g} = {chr(44).join(m)}' for g, m in groups.items())}."
            ]
            if groups
            else []
        ),
        "",
        "| held-out | " + " | ".join(f"AUROC {s} | OSCR {s}" for s in scores) + " |",
        "|---|" + "---|---|" * len(scores),
    ]
    lines += _auroc_rows(results, scores)
    real = f"unseen called {', '.join(kept)}" if kept else None
    lines += [
        "",
        f"At the rule's score (`{score}`) and a {fmt_pct(rate)} false-unknown rate chosen on validation, one "
        "threshold for all classes / one per class (by the class an image is attributed to): accuracy on the known sources (an image called "
        "unknown counts as wrong), known images called unknown (and the spread between the classes' rates), "
        "unseen images called unknown"
        + (
            f", and unseen images attributed to {', '.join(kept)} (never left out; the costly error)."
            if kept
            else "."
        ),
        "",
        "| held-out | closed-set accuracy | known accuracy at threshold | known called unknown (spread) | "
        "unseen called unknown |" + (f" {real} |" if real else ""),
        "|---|---|---|---|---|" + ("---|" if real else ""),
    ]
    for r in done + ([None] if done else []):
        h = headline(r["scores"][score]) if r else results["mean"][score]
        closed = r["closed_set_accuracy"] if r else np.mean([x["closed_set_accuracy"] for x in done])
        lines.append(
            f"| {r['held_out'] if r else '**mean**'} | {fmt_pct(closed)} | "
            f"{fmt_pct(h['known_accuracy'])} | "
            f"{fmt_pct(h['false_unknown_rate'])} ({fmt_pct(h['false_unknown_rate_spread'])}) / "
            f"{fmt_pct(h['per_class_false_unknown_rate'])} ({fmt_pct(h['per_class_false_unknown_rate_spread'])}) | "
            f"{_both(h, 'unknown_detected')} |" + (f" {_both(h, 'unknown_called_kept')} |" if real else "")
        )
    return "\n".join(lines) + "\n"
