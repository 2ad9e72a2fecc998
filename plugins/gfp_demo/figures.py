"""`gfp demo --all`: the demo's figures, after its tables.

Each figure step is a function ``step(out, datasets, settings, device, reporter) -> dict`` that writes its
files under ``out / "figures"`` and returns one section: ``{"title": ..., "files": [paths relative to
out], "lines": [Markdown lines for tables.md], ...numbers}``. :data:`FIGURE_STEPS` lists them by name;
:func:`run_figure_steps` runs them in order and :func:`add_figure_section` records one section in the
tables, so another experiment joins the demo with one line (for instance the persistence study:
``FIGURE_STEPS["persistence"] = persistence_figures``, or ``add_figure_section(tables, "persistence",
section)`` with a section it built itself).

The built-in step trains visNet on the five-source task (:func:`visnet_figures`) and draws, with
:mod:`gfcore.studies.visualize`, its model fingerprints, the response grid and the t-SNE of its test
fingerprints beside raw pixels.
"""

from __future__ import annotations

from pathlib import Path

from gfcore import fmt_pct

from .openset_step import openset_figures

VISNET_TASK = "existence"


def visnet_figures(out: Path, datasets: dict, settings, device, reporter) -> dict:
    """Train ``settings.visnet`` on the five-source task (a bench of one method: accuracy, confusion
    picture, reusable run) and draw its figures into ``out/figures/visnet``."""
    from gfcore import load_run
    from gfcore.studies import run_bench, write_results, write_visuals

    dataset = datasets[VISNET_TASK]
    bench_dir = out / "figures" / "visnet-bench"
    results = run_bench(
        dataset,
        bench_dir,
        [settings.visnet],
        seed=settings.seed,
        device=device,
        reporter=reporter,
        audit=False,
    )
    write_results(results, bench_dir)
    row = results.methods[0]
    section = {"title": f"visNet on the {VISNET_TASK} task", "method": row.spec, "accuracy": row.accuracy}
    if row.error:
        section.update(files=[], error=row.error, lines=[f"visNet failed: {row.error}", ""])
        return section
    attributor, info = load_run(bench_dir / "runs" / row.slug, device)
    figures = out / "figures" / "visnet"
    figures.mkdir(parents=True, exist_ok=True)
    visuals = write_visuals(
        attributor,
        info["method"],
        figures,
        _no_images(attributor),
        [],
        dataset.split("test"),
        per_source=settings.visnet_tsne_per_source,
        seed=settings.seed,
        reporter=reporter,
    )
    for note in visuals.notes:
        reporter.warn(note)
    files = [str(Path(p).relative_to(out)) for p in visuals.files]
    grid, tsne = visuals.numbers.get("response_grid", {}), visuals.numbers.get("tsne", {})
    section.update(
        files=files, response_grid=grid, tsne=tsne, lines=_visnet_lines(section, grid, tsne, files)
    )
    return section


def _no_images(attributor):
    import numpy as np

    r = attributor.resolution
    return np.zeros((0, 3, r, r), np.uint8)


def _visnet_lines(section: dict, grid: dict, tsne: dict, files: list[str]) -> list[str]:
    def num(x):
        return "n/a" if x is None else f"{x:.2f}"

    lines = [
        f"`{section['method']}`: test accuracy **{fmt_pct(section['accuracy'])}**; response grid diagonal "
        f"dominance {num(grid.get('diagonal_dominance'))} (over {grid.get('test_images', 0)} test images: "
        f"{num(grid.get('test_diagonal_dominance'))})."
    ]
    if tsne:
        lines.append(
            f"t-SNE of {tsne['images']} test images, 5-NN agreement in the plane: fingerprints "
            f"{fmt_pct(tsne['fingerprints_neighbour_agreement'])}, raw pixels {fmt_pct(tsne['pixels_neighbour_agreement'])}."
        )
    return [*lines, "", *(f"![{Path(f).stem}]({f})" for f in files), ""]


def persistence_figures(out: Path, datasets: dict, settings, device, reporter) -> dict:
    """The persistence study (the paper's frequency and patch analysis) on the five-source task: every
    variant with the persistence role at every R, drawn into ``out/figures/persistence`` by the
    persistence plugin."""
    title = f"Where fingerprints live: the {VISNET_TASK} task"
    from gfcore import GfpError
    from gfcore.studies import persistence_study, persistence_variants

    try:  # the variants are another plugin's: without it (disabled, uninstalled) the demo goes on
        persistence_variants()
    except GfpError as exc:
        line = f"persistence study skipped: {exc}"
        reporter.warn(line)
        return {"title": title, "files": [], "error": line, "lines": [line, ""]}
    folder = out / "figures" / "persistence"
    study = persistence_study(
        datasets[VISNET_TASK],
        folder,
        epochs=settings.persistence_epochs,
        width=settings.persistence_width,
        lr=settings.persistence_lr,
        seed=settings.seed,
        device=device,
        reporter=reporter,
    )
    figure = str((folder / "persistence.png").relative_to(out))
    header = "| R | " + " | ".join(str(r) for r in study["resolutions"]) + " |"
    lines = [
        f"Test accuracy of each band or patch size (chance {fmt_pct(study['chance'])}; width "
        f"{settings.persistence_width}, lr {settings.persistence_lr:g}, {settings.persistence_epochs} epochs, "
        f"seed {settings.seed}):",
        "",
        header,
        "|---|" + "---:|" * len(study["resolutions"]),
    ]
    for curve in study["curves"].values():
        by_r = {p["resolution"]: p["accuracy"] for p in curve["points"]}
        cells = [fmt_pct(by_r.get(r)) if by_r.get(r) is not None else "-" for r in study["resolutions"]]
        lines.append(f"| {curve['label']} | " + " | ".join(cells) + " |")
    lines += ["", f"![persistence]({figure})", ""]
    return {"title": title, "files": [figure], "curves": study["curves"], "lines": lines}


FIGURE_STEPS = {"visnet": visnet_figures, "persistence": persistence_figures, "openset": openset_figures}


def add_figure_section(tables: dict, name: str, section: dict) -> None:
    """Record one figure section (see the module docstring) in the demo's tables under ``figures``."""
    tables.setdefault("figures", {})[name] = section


def run_figure_steps(tables: dict, out: Path, datasets: dict, settings, device, reporter) -> None:
    """Every step of :data:`FIGURE_STEPS`, each recorded with :func:`add_figure_section`."""
    for name, step in FIGURE_STEPS.items():
        reporter.log(f"== figures: {name}")
        add_figure_section(tables, name, step(out, datasets, settings, device, reporter))


def figures_lines(tables: dict) -> list[str]:
    """The figure sections of tables.md."""
    lines = []
    for section in (tables.get("figures") or {}).values():
        lines += [f"## {section.get('title', 'figures')}", "", *section.get("lines", [])]
    return lines
