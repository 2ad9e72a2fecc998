"""The accuracy-versus-severity figure of a bench (``severity.png``) and its data (``severity.json``)."""

from __future__ import annotations

from pathlib import Path

from gfcore.storage.atomic import write_text
from gfcore.studies.bench.render import to_json
from gfcore.studies.bench.rows import BenchResults


def axis_label(attack: str, parameter: str) -> str:
    """The attack's ``severity_label`` when it is installed and declares one, else the field's name."""
    from gfcore.plugins import get_registries

    attacks = get_registries().attacks
    return (attacks.get(attack).severity_label if attack in attacks else "") or parameter


def write_severity(results: BenchResults, out_dir: str | Path) -> dict[str, Path]:
    """severity.png (one panel per attack, one line per method; dashed: the immunized run) and
    severity.json; nothing when the bench has no curves."""
    import dataclasses

    if not results.curves:
        return {}
    out_dir = Path(out_dir)
    png, data = out_dir / "severity.png", out_dir / "severity.json"
    doc = {
        "format": "gfp-severity",
        "version": 1,
        "classes": results.classes,
        "seed": results.seed,
        "curves": [dataclasses.asdict(c) for c in results.curves],
    }
    write_text(data, to_json(doc) + "\n")
    _plot(results, png)
    return {"severity_png": png, "severity_json": data}


def _plot(results: BenchResults, path: Path) -> None:
    from gfcore.studies.figures import pyplot, save_figure

    plt = pyplot()
    attacks = list(dict.fromkeys(c.attack for c in results.curves))
    fig, axes = plt.subplots(1, len(attacks), figsize=(4.2 * len(attacks), 3.8), squeeze=False)
    specs = list(dict.fromkeys(c.spec for c in results.curves))
    colours = {spec: f"C{i % 10}" for i, spec in enumerate(specs)}
    chance = 100 / len(results.classes)
    for ax, attack in zip(axes[0], attacks):
        for c in (c for c in results.curves if c.attack == attack):
            ys = [None if a is None else 100 * a for a in c.accuracy]
            label = f"{c.spec} (immunized)" if c.run else c.spec
            ax.plot(
                c.values, ys, marker="o", ms=3, color=colours[c.spec], ls="--" if c.run else "-", label=label
            )
            ax.set_xlabel(axis_label(attack, c.parameter))
        if c.values and c.values[0] > c.values[-1]:  # swept from mild to severe: the axis runs that way too
            ax.invert_xaxis()
        ax.axhline(chance, color="grey", lw=0.8, ls=":")
        ax.set_title(attack)
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    legend = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    handles, labels = list(legend.values()), list(legend)
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.04 * (len(labels) // 5), 1, 1))
    save_figure(fig, path)
