import click

from gfp.common import (
    MAX_BATCH,
    MAX_WORKERS,
    compile_option,
    device_option,
    emit_json,
    json_option,
    precision_option,
    progress_option,
    stdout_console,
)


def describe_policy(policy: str, resolution: int) -> str:
    r = f"{resolution}x{resolution}"
    return {
        "tiles": f"whole images: tiles of {r} at the image's own scale, their logits averaged",
        "crop": f"the central {r} of each image only",
        "resize": f"the central square of each image resampled to {r}",
    }[policy]


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
    "--policy",
    type=click.Choice(["tiles", "crop", "resize"]),
    default="tiles",
    show_default=True,
    help="Which pixels are looked at: tiles: the whole image, cut into tiles of the run's resolution at "
    "the image's own scale (no resampling), their logits averaged; crop: the central square of the run's "
    "resolution; resize: the central square resampled to it (resampling destroys fingerprints).",
)
@click.option(
    "--upsample-small",
    is_flag=True,
    help="With --policy tiles, upsample an image smaller than the run's resolution instead of skipping it.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_BATCH),
    metavar="N",
    default=64,
    show_default=True,
    help="Inputs (tiles) per forward pass.",
)
@click.option(
    "--workers",
    type=click.IntRange(0, MAX_WORKERS),
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
    run,
    paths,
    open_set,
    policy,
    upsample_small,
    batch_size,
    workers,
    device,
    precision,
    compile_network,
    as_json,
    progress,
):
    """Say which source made each image in PATHS (files, folders, globs), with probabilities calibrated by
    the run's temperature, or `unknown` when it matches none of the run's sources (open set).

    By default every pixel counts: an image is cut into tiles of the run's resolution at its own scale and
    judged by the mean of their logits; the output says how many tiles each result comes from.

    Images are decoded by --workers processes while the model runs on batches of --batch-size; the output
    keeps the order of the files. Under torchrun each process attributes a block of the files.
    """
    from gfcore.data.images import expand_paths
    from gfcore.errors import GfpError
    from gfcore.execution import distributed as dist
    from gfcore.execution.accel import configure
    from gfcore.inference.model import Model
    from gfcore.inference.openset import UNKNOWN, describe_rule, open_set_choice
    from gfcore.runs.attributor import load_run

    device = dist.resolve_and_join(device)
    files, missing = expand_paths(list(paths))
    model = Model(*load_run(run, device), str(run))
    open_set_choice(model.calibration, open_set, run)  # a refused --open-set is one line before any work
    configure(model.attributor, precision, compile_network)
    info = model.info
    with dist.progress_for_rank(progress) as reporter:
        for m in missing if dist.is_main() else ():
            reporter.warn(f"{m}: no such file, folder or matching glob")
        if not files:
            raise GfpError("no image files found in " + ", ".join(paths))
        batch, applied = model.predict_files(
            files,
            open_set=open_set,
            policy=policy,
            upsample_small=upsample_small,
            reporter=reporter,
            batch_size=batch_size,
            workers=workers,
        )
        if dist.is_main() and not applied["calibrated"]:
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
                "policy": {"name": policy, "upsample_small": upsample_small, "tile_size": info["resolution"]},
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
        table.add_column("tiles", justify="right")
        for r in batch.results:
            tiles = f"{r.view['tiles']}" + ("" if r.view["scale"] == 1.0 else f" (x{r.view['scale']:.3g})")
            table.add_row(r.path, r.predicted, *(f"{r.probabilities[c]:.3f}" for c in classes), tiles)
        console.print(table)
        console.print(describe_policy(policy, info["resolution"]), highlight=False, markup=False)
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
