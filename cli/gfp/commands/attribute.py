import click

from gfp.common import (
    compile_option,
    device_option,
    emit_json,
    json_option,
    precision_option,
    progress_option,
    stdout_console,
)


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--open-set/--closed-set",
    "open_set",
    default=None,
    show_default="open set when the run stores a threshold, else closed set",
    help="Open set: answer `unknown` for an image that scores below the run's threshold (see `gfp "
    "calibrate`). Closed set: always name one of the run's sources.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    metavar="N",
    default=64,
    show_default=True,
    help="Images per forward pass.",
)
@click.option(
    "--workers",
    type=click.IntRange(0),
    metavar="N",
    default=None,
    show_default="0 for a few files, else one per spare core, at most 8",
    help="Decoding processes (0: decode in this one).",
)
@device_option
@precision_option
@compile_option
@json_option
@progress_option
def attribute(
    run, paths, open_set, batch_size, workers, device, precision, compile_network, as_json, progress
):
    """Say which source made each image in PATHS (files, folders, globs), with probabilities calibrated by
    the run's temperature, or `unknown` when it matches none of the run's sources (open set).

    Images are decoded by --workers processes while the model runs on batches of --batch-size; the output
    keeps the order of the files. Under torchrun each process attributes a block of the files.
    """
    from gfcore.data.images import expand_paths
    from gfcore.errors import GfpError
    from gfcore.execution import distributed as dist
    from gfcore.execution.accel import configure
    from gfcore.inference.attribution import attribute_stream
    from gfcore.inference.openset import (
        UNKNOWN,
        apply_to_batch,
        describe_rule,
        open_set_choice,
        run_calibration,
    )
    from gfcore.runs.attributor import load_run

    device = dist.resolve_and_join(device)
    files, missing = expand_paths(list(paths))
    attributor, info = load_run(run, device)
    open_set_choice(run_calibration(info, run), open_set, run)  # refused before any work
    configure(attributor, precision, compile_network)
    with dist.progress_for_rank(progress) as reporter:
        for m in missing if dist.is_main() else ():
            reporter.warn(f"{m}: no such file, folder or matching glob")
        if not files:
            raise GfpError("no image files found in " + ", ".join(paths))
        size_policy = info.get("preprocessing", {}).get("size_policy", "crop")
        batch = attribute_stream(
            attributor, files, size_policy, reporter, batch_size=batch_size, workers=workers
        )
        if dist.is_main():  # rank 0 holds every rank's results
            applied = apply_to_batch(batch, info, open_set, run)  # calibrated probabilities, `unknown`
            if not applied["calibrated"]:
                reporter.warn(applied["note"])
    if not dist.is_main():  # rank 0 reports for all
        return
    classes = info["classes"]
    labels = classes + [UNKNOWN] if applied["open_set"] else classes
    skipped = batch.skipped + [{"path": m, "reason": "not found"} for m in missing]
    if as_json:
        emit_json(
            {
                "run": str(run),
                "method": info["method"],
                "classes": classes,
                "images": [vars(r) for r in batch.results],
                "shares": batch.shares(labels),
                "calibration": applied,
                "skipped": skipped,
            }
        )
    else:
        from rich.table import Table

        console = stdout_console()
        table = Table(title=f"attribution by {info['method']} ({run})")
        table.add_column("image", overflow="fold")
        table.add_column("source")
        for c in classes:
            table.add_column(c, justify="right")
        for r in batch.results:
            table.add_row(r.path, r.predicted, *(f"{r.probabilities[c]:.3f}" for c in classes))
        console.print(table)
        rule = applied["open_set"]
        console.print(
            f"probabilities calibrated: {applied['note']}"
            + (f"; open set: {describe_rule(rule)}" if rule else "; closed set"),
            highlight=False,
            markup=False,
        )
        shares = batch.shares(labels)
        console.print(
            "share of images per source: " + ", ".join(f"{c} {100 * s:.1f}%" for c, s in shares.items()),
            highlight=False,
        )
        if skipped:
            console.print(f"{len(skipped)} file(s) skipped (see warnings above)", highlight=False)
    if not batch.results:
        raise GfpError("none of the given files could be attributed")
