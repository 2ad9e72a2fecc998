"""The persistence study (``gfp persistence``): every installed method with the ``persistence`` role
(:data:`gfcore.interfaces.ROLES`: a network that sees one frequency band, or small patches, at a
resolution R) trained over every R the dataset allows and evaluated on its test split, as
accuracy against R.

Runs are planned, reused (finished, same dataset, method, configuration and seed), resumed (unfinished) or
trained, and evaluated by the bench's own machinery (:func:`gfcore.studies.bench.plan_methods`,
:func:`gfcore.studies.bench.bench_one`), in ``OUT/runs/<spec>``; ``OUT/results.json`` holds the numbers and
``OUT/persistence.png`` the curves. A variant failing at one R is recorded in its point, not raised.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from gfcore.errors import GfpError
from gfcore.storage.atomic import write_text
from gfcore.storage.jsonio import read_document
from gfcore.storage.outfolder import check_study_folder
from gfcore.terminal.progress import NullReporter, Reporter

RESULTS_FORMAT = "gfp-persistence"
RESULTS_VERSION = 1
MIN_RESOLUTION = 4
OWN_FILES = ("results.json", "persistence.png")


def study_resolutions(resolution: int) -> list[int]:
    """The powers of two from 4 up to the dataset's resolution."""
    out, r = [], MIN_RESOLUTION
    while r <= resolution:
        out.append(r)
        r *= 2
    if not out:
        raise GfpError(f"the persistence study needs images of at least 4x4, the dataset has {resolution}")
    return out


def persistence_variants() -> dict:
    """name -> class of every installed method with the ``persistence`` role; none is one line."""
    from gfcore.plugins import get_registries

    registries = get_registries()
    names = registries.all_with_role("persistence")
    if not names:
        raise GfpError(
            "no installed method has the persistence role: the persistence plugin is not available"
        )
    return {name: registries.attributor(name) for name in names}


def check_folder(out: Path, runs_root: Path) -> None:
    """A study writes into a new or empty folder, one holding only its runs, or over an earlier study --
    never into a folder of other things."""
    runs_inside = runs_root.resolve().parent == out.resolve()
    check_study_folder(
        out,
        "gfp persistence",
        lambda path: read_document(path, RESULTS_FORMAT, ""),  # one line if it is not a study's
        leftovers={runs_root.name} if runs_inside else (),
        own=OWN_FILES,
    )


def persistence_study(
    dataset,
    out: str | Path,
    *,
    epochs: int = 10,
    width: float = 0.125,
    patience: int = 0,
    lr: float | None = None,
    seed: int = 0,
    device=None,
    runs_dir: str | Path | None = None,
    reporter: Reporter | None = None,
) -> dict:
    """Train (or reuse) every persistence variant at every R of :func:`study_resolutions`
    on ``dataset`` (a :class:`gfcore.data.dataset.PreparedDataset`) and write ``results.json`` and
    ``persistence.png`` to ``out``; returns the results document. Raises :class:`GfpError` before any
    training for a bad folder or dataset."""
    import torch

    from gfcore.studies.bench import plan_methods

    reporter = reporter or NullReporter()
    device = device or torch.device("cpu")
    out = Path(out)
    runs_root = Path(runs_dir) if runs_dir is not None else out / "runs"
    resolutions = study_resolutions(dataset.resolution)
    variants = persistence_variants()
    specs = [f"{v}:{cls.sweep_parameter}={r}" for v, cls in variants.items() for r in resolutions]
    common = {"epochs": epochs, "width": width, "patience": patience}
    if lr is not None:  # only when given, so that runs made without it keep their specs (and are reused)
        common["lr"] = lr
    plans = plan_methods(specs, runs_root, {v: common for v in variants})
    check_folder(out, runs_root)
    reporter.log(
        f"persistence: {len(plans)} runs ({', '.join(variants)} at R = "
        f"{', '.join(map(str, resolutions))}) on {dataset.path}; runs in {runs_root}"
    )
    curves = sweep_curves(variants, plans, specs, dataset, seed, device, reporter)
    settings = {**common, "seed": seed, "device": str(device)}
    results = study_document(dataset, resolutions, settings, runs_root, curves)
    write_study(results, out)
    return results


def sweep_curves(variants: dict, plans: list, specs: list[str], dataset, seed: int, device, reporter) -> dict:
    """variant -> its curve (labels from ``persistence_panel``, one point per R), each point a run of the
    bench's :func:`gfcore.studies.bench.bench_one` on the test split."""
    from gfcore.studies.bench import DEFAULT_MAX_FD_IMAGES, SPLIT, bench_one

    test = dataset.split(SPLIT)
    curves = {
        v: {
            "label": cls.persistence_panel[2],
            "panel": cls.persistence_panel[0],
            "axis": cls.persistence_panel[1],
            "parameter": cls.sweep_parameter,
            "points": [],
        }
        for v, cls in variants.items()
    }
    for i, (plan, spec) in enumerate(zip(plans, specs), 1):
        row = bench_one(
            plan,
            dataset,
            test,
            seed=seed,
            device=device,
            reporter=reporter,
            max_fd_images=DEFAULT_MAX_FD_IMAGES,
            position=f"[{i}/{len(plans)}] ",
        )
        point = {"resolution": int(spec.rsplit("=", 1)[1]), "spec": plan.spec, "run": row.run}
        point |= {k: getattr(row, k) for k in ("accuracy", "macro_f1", "fd_ratio", "train_seconds", "reused")}
        point |= {"n": row.n, "error": row.error}
        curves[plan.method]["points"].append(point)
    return curves


def study_document(dataset, resolutions: list[int], settings: dict, runs_root: Path, curves: dict) -> dict:
    """The results document: what was swept, how, where the runs are, and the curves."""
    from gfcore.runs.folder import package_versions
    from gfcore.studies.bench import SPLIT

    return {
        "format": RESULTS_FORMAT,
        "version": RESULTS_VERSION,
        "dataset": {
            "path": str(Path(dataset.path).resolve()),
            "hash": dataset.hash,
            "classes": dataset.classes,
            "resolution": dataset.resolution,
        },
        "split": SPLIT,
        "chance": 1 / len(dataset.classes),
        "resolutions": resolutions,
        "settings": settings,
        "runs": str(runs_root.resolve()),
        "curves": curves,
        "failed": [p["spec"] for c in curves.values() for p in c["points"] if p["error"]],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
    }


def write_study(results: dict, out: Path) -> None:
    """``persistence.png``, then ``results.json`` (written last: its presence means a finished study)."""
    from gfcore.studies.bench.render import to_json

    out.mkdir(parents=True, exist_ok=True)
    plot_study(results, out / "persistence.png")
    write_text(out / "results.json", to_json(results) + "\n")


def _resolution_axis(ax, resolutions: list[int], empty: bool) -> None:
    """A log2 axis over the swept R, its range from them rather than from the points: a panel whose runs
    all failed (``empty``) has none, and matplotlib cannot draw a log axis over no data."""
    ax.set_xlim(min(resolutions) / 1.4, max(resolutions) * 1.4)
    if empty:
        ax.text(0.5, 0.5, "no run finished\n(results.json says why)", transform=ax.transAxes, ha="center")
    ax.set_xscale("log", base=2)
    ax.set_xticks(resolutions, [str(r) for r in resolutions])


def plot_study(results: dict, path: Path) -> None:
    """Two panels: accuracy against R for the two frequency bands, and against patch size."""
    from gfcore.studies.figures import pyplot, save_figure  # the one look every gfp figure shares

    plt = pyplot()
    curves, chance = results["curves"], 100 * results["chance"]
    grouped: dict[tuple[str, str], list[str]] = {}
    for name, curve in curves.items():  # one panel per title, in the variants' order
        grouped.setdefault((curve["panel"], curve["axis"]), []).append(name)
    fig, axes = plt.subplots(1, len(grouped), figsize=(4.75 * len(grouped), 4.0), sharey=True, squeeze=False)
    axes = list(axes[0])
    panels = [(ax, names, axis, title) for ax, ((title, axis), names) in zip(axes, grouped.items())]
    for ax, variants, xlabel, title in panels:
        series = {}
        for variant in variants:
            points = curves[variant]["points"]
            series[variant] = {
                p["resolution"]: None if p["accuracy"] is None else 100 * p["accuracy"] for p in points
            }
        for i, variant in enumerate(variants):
            xs, ys = list(series[variant]), list(series[variant].values())
            colour = f"C{list(curves).index(variant)}"
            ax.plot(xs, ys, marker="o", color=colour, label=curves[variant]["label"])
            for x, y in zip(xs, ys):
                if y is None:
                    continue
                # the higher of two points at one R is labelled above, the lower below: both stay legible
                others = [s[x] for v, s in series.items() if v != variant and s.get(x) is not None]
                below = any(o > y or (o == y and i > 0) for o in others)
                ax.annotate(
                    f"{y:.1f}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(0, -13 if below else 6),
                    ha="center",
                    fontsize=8,
                )
        ax.axhline(chance, color="grey", lw=0.8, ls=":", label=f"chance ({chance:.0f}%)")
        _resolution_axis(
            ax, results["resolutions"], all(y is None for s in series.values() for y in s.values())
        )
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    axes[0].set_ylabel(f"{results['split']} accuracy (%)")
    s = results["settings"]
    fig.suptitle(
        f"Where fingerprints live: {len(results['dataset']['classes'])} sources at "
        f"{results['dataset']['resolution']}x{results['dataset']['resolution']} "
        f"(width {s['width']}, {s['epochs']} epoch{'' if s['epochs'] == 1 else 's'}"
        + (f", lr {s['lr']:g}" if "lr" in s else "")
        + f", seed {s['seed']})",
        fontsize=10,
    )
    fig.tight_layout()
    save_figure(fig, path)
