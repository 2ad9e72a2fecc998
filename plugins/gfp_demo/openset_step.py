"""``gfp demo --all``: open-set attribution by the protocol of POSE (Yang et al. 2023) on the demo's own
datasets -- leave one out by training seed (the seed task), by architecture family (the modern task; the
diffusion model's two samplers leave together), and by training data (the training-data task) -- each a
``gfp openset`` in which every run knows the real class, so that an unseen generator's images given to
``real`` show as their own rate."""

from __future__ import annotations

from gfcore import fmt_pct
from gfcore.studies import run_loso

#: protocol -> (the demo task whose dataset it runs on, the families left out together)
PROTOCOLS = {
    "seed": ("uniqueness", {}),
    "architecture family": ("modern", {"DDPM": ["DDPM", "DDIM"]}),
    "training data": ("training_data", {}),
}
REAL = "real"


def openset_figures(out, datasets, settings, device, reporter) -> dict:
    title = "Open set: leaving one out by seed, by family, by training data"
    lines = [
        f"Each protocol trains the demo's network ({settings.openset_epochs} epochs, seed {settings.seed}) once "
        "per held-out source or family, knowing real and the rest; means over the held-out ones. AUROC and "
        "OSCR of the rule's score (msp) and of the best score; at the per-class thresholds for 5% "
        "false unknowns: known images called unknown, and unseen images called unknown and called real.",
        "",
        "| left out by | held out | AUROC msp | best score: AUROC | OSCR (best) | closed-set accuracy | "
        "known called unknown | unseen called unknown | unseen called real |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    protocols = {}
    for name, (task, groups) in PROTOCOLS.items():
        if task not in datasets:
            lines.append(f"| {name} | skipped: the demo ran without the {task} task |")
            continue
        results = run_loso(
            datasets[task],
            out / "openset" / task,
            settings.learned,
            seed=settings.seed,
            device=device,
            overrides={"epochs": settings.openset_epochs},
            false_unknown_rate=0.05,
            score="msp",
            groups=groups,
            keep=[REAL],
            reporter=reporter,
        )
        protocols[name] = str((out / "openset" / task / "results.json").relative_to(out))
        mean = results["mean"]
        if mean is None:
            lines.append(f"| {name} | every held-out run failed: see {protocols[name]} |")
            continue
        best = max(mean, key=lambda s: mean[s]["auroc"])
        done = [r for r in results["held_out"] if "error" not in r]
        closed = sum(r["closed_set_accuracy"] for r in done) / len(done)
        m = mean["msp"]
        lines.append(
            f"| {name} | {len(done)} | {m['auroc']:.3f} | {best}: {mean[best]['auroc']:.3f} | "
            f"{mean[best]['oscr']:.3f} | {fmt_pct(closed)} | {fmt_pct(m['per_class_false_unknown_rate'])} | "
            f"{fmt_pct(m['per_class_unknown_detected'])} | {fmt_pct(m['per_class_unknown_called_kept'])} |"
        )
    lines.append("")
    return {"title": title, "files": list(protocols.values()), "protocols": protocols, "lines": lines}
