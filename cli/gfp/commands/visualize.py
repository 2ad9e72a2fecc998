import click

from gfp.common import (
    MAX_IMAGES,
    device_option,
    emit_json,
    json_option,
    out_option,
    progress_option,
    seed_option,
)


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("paths", nargs=-1)
@out_option("Folder for the figures (new, empty, or one gfp visualize wrote).")
@click.option(
    "--dataset",
    type=click.Path(file_okay=False),
    metavar="DATASET",
    default=None,
    show_default="the one the run was trained on, when it is still there",
    help="Prepared dataset whose test split gives the response grid and the t-SNE.",
)
@click.option(
    "--per-source",
    type=click.IntRange(1, MAX_IMAGES),
    metavar="N",
    default=200,
    show_default=True,
    help="Test images per source for the t-SNE and the test-set response strengths.",
)
@seed_option
@device_option
@json_option
@progress_option
def visualize(run, paths, out, dataset, per_source, seed, device, as_json, progress):
    """Figures of RUN's fingerprints, listed at the end: the model fingerprints, one figure per image in
    PATHS (its fingerprint, its response to each model fingerprint, and the response strength per source),
    the response grid with its diagonal dominance, and a t-SNE of test fingerprints beside raw pixels.
    What a method does not allow is skipped with one line."""
    from pathlib import Path

    from gfcore.errors import GfpError
    from gfcore.execution.device import resolve_device
    from gfcore.runs.attributor import load_run
    from gfcore.storage.outfolder import claim_out_folder
    from gfcore.studies.visualize.report import GRID_PNG, MODEL_PNG, TSNE_PNG, image_png_name, write_visuals
    from gfcore.terminal.progress import progress_reporter

    attributor, info = load_run(run, resolve_device(device))
    if not attributor.has_fingerprints:
        raise GfpError(f"method {info['method']!r} has no fingerprints: nothing to visualize")
    test_split, dataset_note = _test_split(dataset, info, run)
    out = Path(out)
    with progress_reporter(progress) as reporter:
        images, files, skipped = _decode(paths, attributor.resolution, info, reporter)
        names = (MODEL_PNG, GRID_PNG, TSNE_PNG, *(image_png_name(k, f) for k, f in enumerate(files)))
        with claim_out_folder(out, names, done="visualize.json", what="gfp visualize", kind="figures"):
            visuals = write_visuals(
                attributor, info["method"], out, images, files, test_split, per_source, seed, reporter
            )
            notes = ([dataset_note] if dataset_note else []) + visuals.notes
            doc = _document(run, info, out, visuals, notes, skipped)
            from gfcore.storage.atomic import write_json

            write_json(out / "visualize.json", doc)
        for line in notes:
            reporter.warn(line)
    if as_json:
        emit_json(doc)
        return
    grid = visuals.numbers.get("response_grid")
    if grid:
        click.echo(_dominance_line(grid))
    tsne = visuals.numbers.get("tsne")
    if tsne:
        click.echo(
            f"t-SNE of {tsne['images']} test images, 5-NN agreement in the plane: fingerprints "
            f"{100 * tsne['fingerprints_neighbour_agreement']:.1f}%, raw pixels "
            f"{100 * tsne['pixels_neighbour_agreement']:.1f}%"
        )
    for path in [*visuals.files, out / "visualize.json"]:
        click.echo(f"wrote {path}")


def _dominance_line(grid: dict) -> str:
    def show(x):
        return "n/a" if x is None else f"{x:.2f}"

    return (
        f"response grid: diagonal dominance {show(grid['diagonal_dominance'])} "
        f"(over {grid['test_images']} test images: {show(grid['test_diagonal_dominance'])})"
    )


def _test_split(dataset, info, run):
    """The test split of --dataset (an error when it does not fit the run), or of the run's own dataset
    (a note, not an error, when that one is gone or no longer fits)."""
    from gfcore.data.dataset import load_dataset
    from gfcore.errors import GfpError
    from gfcore.runs.attributor import check_compatible

    if dataset is not None:
        ds = load_dataset(dataset)
        check_compatible(info, ds, run)
        return ds.split("test"), None
    recorded = (info.get("dataset") or {}).get("path")
    if not recorded:
        return None, None
    try:
        ds = load_dataset(recorded)
        check_compatible(info, ds, run)
        return ds.split("test"), None
    except GfpError as exc:
        return None, f"the run's dataset is not usable ({exc}); give --dataset"


def _decode(paths, resolution, info, reporter):
    import numpy as np

    from gfcore.data.images import expand_paths
    from gfcore.inference.evaluation import decode_files

    if not paths:
        return np.zeros((0, 3, resolution, resolution), np.uint8), [], []
    found, missing = expand_paths(list(paths))
    for m in missing:
        reporter.warn(f"{m}: no such file, folder or matching glob")
    size_policy = info.get("preprocessing", {}).get("size_policy", "crop")
    images, files, skipped = decode_files(found, resolution, size_policy, reporter)
    return (
        images,
        files,
        skipped + [{"path": m, "reason": "no such file, folder or matching glob"} for m in missing],
    )


def _document(run, info, out, visuals, notes, skipped) -> dict:
    return {
        "format": "gfp-visualize",
        "version": 1,
        "run": str(run),
        "method": info["method"],
        "classes": info["classes"],
        "files": [str(p) for p in visuals.files],
        "images": visuals.images,
        "skipped": skipped,
        **visuals.numbers,
        "notes": notes,
        "out": str(out),
    }
