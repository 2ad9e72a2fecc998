"""``gfp persistence``: the persistence study (:func:`gfcore.studies.persistence_study`) on a prepared
dataset, registered by this plugin."""

import click

from gfcore import (
    MAX_EPOCHS,
    MAX_WIDTH,
    FiniteFloatRange,
    device_option,
    emit_json,
    json_option,
    out_option,
    progress_option,
    runs_dir_option,
    seed_option,
)


@click.command(
    help="Where fingerprints live (the paper's persistence study): train (or reuse) the predown (low "
    "band), residual (high band) and postpool (patches) variants of the learned network at every R = 4, 8, "
    "... up to the resolution of the prepared DATASET, and evaluate each on its test split. Writes "
    "results.json and persistence.png (accuracy against R) to --out; runs live in OUT/runs, and a "
    "finished one is reused by the next call. Exits 1 when any run failed (the others are still reported)."
)
@click.argument("dataset", type=click.Path(file_okay=False))
@out_option("Folder for results.json, persistence.png and (by default) the runs.")
@click.option(
    "--epochs",
    type=click.IntRange(1, MAX_EPOCHS),
    metavar="N",
    default=10,
    show_default=True,
    help="Training epochs of every run.",
)
@click.option(
    "--width",
    type=FiniteFloatRange(0, MAX_WIDTH, min_open=True),
    metavar="X",
    default=0.125,
    show_default=True,
    help="Channel multiplier of every network (1 = the paper's).",
)
@click.option(
    "--patience",
    type=click.IntRange(0, MAX_EPOCHS),
    metavar="N",
    default=0,
    show_default=True,
    help="Stop a run after this many epochs without a better validation accuracy (0: never).",
)
@click.option(
    "--lr",
    type=FiniteFloatRange(0, 1e6, min_open=True),
    metavar="RATE",
    default=None,
    show_default="the variants' own, the paper's 1e-3; see `gfp plugins predown`",
    help="Learning rate of every network.",
)
@runs_dir_option
@seed_option
@device_option
@json_option
@progress_option
def persistence(dataset, out, epochs, width, patience, lr, runs_dir, seed, device, as_json, progress):
    import sys

    from gfcore import fmt_pct, load_dataset, progress_reporter, resolve_device
    from gfcore.studies import persistence_study

    data = load_dataset(dataset)
    with progress_reporter(progress) as reporter:
        results = persistence_study(
            data,
            out,
            epochs=epochs,
            width=width,
            patience=patience,
            lr=lr,
            seed=seed,
            device=resolve_device(device),
            runs_dir=runs_dir,
            reporter=reporter,
        )
    if as_json:
        emit_json(results)
    else:
        header = "R     " + "  ".join(f"{v:>9}" for v in results["curves"])
        lines = [f"test accuracy (chance {fmt_pct(results['chance'])})", header]
        for i, r in enumerate(results["resolutions"]):
            cells = [fmt_pct(c["points"][i]["accuracy"]) for c in results["curves"].values()]
            lines.append(f"{r:<5} " + "  ".join(f"{c:>9}" for c in cells))
        lines.append(f"wrote {out}/results.json and {out}/persistence.png")
        click.echo("\n".join(lines))
    if results["failed"]:
        points = [p for c in results["curves"].values() for p in c["points"]]
        first = next(p for p in points if p["error"])
        many = "all" if len(results["failed"]) == len(points) else f"{len(results['failed'])} of"
        click.echo(
            f"Error: {many} {len(points)} runs failed ({', '.join(results['failed'])}; first: "
            f"{first['error']}); {out}/results.json records each",
            err=True,
        )
        sys.exit(1)
