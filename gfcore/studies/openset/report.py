"""``results.md`` of a leave-one-source-out evaluation: one row per held-out source, and their mean."""

from __future__ import annotations

import numpy as np

from gfcore.inference.openset import SCORES
from gfcore.terminal.formatting import fmt_pct


def markdown(results: dict) -> str:
    score, rate = results["score"], results["false_unknown_rate"]
    kept = results.get("keep") or []
    groups = results.get("groups") or {}
    lines = [
        f"# Open-set attribution, leaving one {'source or family' if groups else 'source'} out: {results['spec']}",
        "",
        f"Dataset `{results['dataset']['path']}`; seed {results['seed']}. AUROC: known test images against the "
        "held-out source's test images, by each score. At the threshold chosen on validation for a "
        f"{fmt_pct(rate)} false-unknown rate, with the `{score}` score: accuracy on the known sources (an "
        "image called unknown counts as wrong), share of them called unknown, share of the held-out "
        "source called unknown"
        + (f", and share of it attributed to {', '.join(kept)} (never left out)." if kept else "."),
        *(
            [
                f"Families left out together: {'; '.join(f'{g} = {chr(44).join(m)}' for g, m in groups.items())}."
            ]
            if groups
            else []
        ),
        "",
        "| held-out source | AUROC msp | AUROC max-logit | AUROC energy | closed-set accuracy | "
        "known accuracy at threshold | known called unknown | unseen source called unknown |"
        + (f" unseen called {', '.join(kept)} |" if kept else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if kept else ""),
    ]
    done = [r for r in results["held_out"] if "error" not in r]
    for r in [*results["held_out"], *([None] if done else [])]:
        if r is not None and "error" in r:
            lines.append(f"| {r['held_out']} | failed: {r['error']} |")
            continue
        scores = r["scores"] if r else results["mean"]
        closed = (
            fmt_pct(r["closed_set_accuracy"])
            if r
            else fmt_pct(np.mean([x["closed_set_accuracy"] for x in done]))
        )
        chosen = scores[score]
        lines.append(
            f"| {r['held_out'] if r else '**mean**'} | "
            + " | ".join(f"{scores[s]['auroc']:.4f}" for s in SCORES)
            + f" | {closed} | {fmt_pct(chosen['known_accuracy'])} | {fmt_pct(chosen['false_unknown_rate'])} | "
            f"{fmt_pct(chosen['unknown_detected'])} |"
            + (f" {fmt_pct(chosen['unknown_called_kept'])} |" if kept else "")
        )
    return "\n".join(lines) + "\n"
