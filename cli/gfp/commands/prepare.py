import click

from gfp.common import emit_json, json_option, out_option, progress_option, seed_option


class SplitFractions(click.ParamType):
    """``0.8,0.1,0.1`` -> three finite fractions summing to 1; anything else is a usage error (exit 2)."""

    name = "TRAIN,VAL,TEST"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        from gfcore.config import parse_split_fractions
        from gfcore.errors import GfpError

        try:
            return parse_split_fractions(value)
        except GfpError as exc:
            self.fail(str(exc).removeprefix(f"--split {value!r}: "), param, ctx)


@click.command()
@click.argument("src", type=click.Path(file_okay=False))
@out_option("Folder for the prepared dataset.")
@click.option(
    "--resolution",
    type=click.IntRange(4, 4096),
    metavar="N",
    default=32,
    show_default=True,
    help="Side of the square images the dataset holds.",
)
@click.option(
    "--split",
    "fractions",
    type=SplitFractions(),
    default="0.8,0.1,0.1",
    show_default=True,
    help="Train,val,test fractions, per source.",
)
@seed_option
@click.option(
    "--classes",
    metavar="CLASS,CLASS,...",
    default=None,
    show_default="the sub-folder names, sorted",
    help="Class order.",
)
@click.option(
    "--resize",
    is_flag=True,
    help="Resample every image to the resolution instead of centre-cropping it. Resampling "
    "destroys pixel-level fingerprints; use it only for images of many sizes.",
)
@json_option
@progress_option
def prepare(src, out, resolution, fractions, seed, classes, resize, as_json, progress):
    """Turn SRC (one sub-folder of images per source) into a dataset that training memory-maps.

    Images of another size are centre-cropped (default) or resampled (--resize); grey, palette, RGBA,
    CMYK and 16-bit images become 8-bit RGB; undecodable files, files of other formats and images over
    gfp's pixel limit are skipped with a warning. --out must be new, empty, or an interrupted preparation's
    folder, and outside SRC: gfp never deletes what it did not create.
    """
    from gfcore.data.dataset import prepare_dataset
    from gfcore.terminal.progress import progress_reporter

    class_list = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
    with progress_reporter(progress) as reporter:
        _check_resolution(resolution, reporter)
        manifest = prepare_dataset(
            src, out, resolution, fractions, seed, class_list, "resize" if resize else "crop", reporter
        )
    sizes = size_counts(manifest["files"], resolution)
    summary = {
        "dataset": out,
        "classes": manifest["classes"],
        "resolution": resolution,
        "counts": manifest["counts"],
        "sizes": sizes,
        "skipped": manifest["skipped"],
        "hash": manifest["hash"],
    }
    if as_json:
        emit_json(summary)
        return
    totals = {s: sum(c.values()) for s, c in manifest["counts"].items()}
    click.echo(
        f"prepared {out}: {len(manifest['classes'])} classes ({', '.join(manifest['classes'])}), "
        f"{resolution}x{resolution}, train {totals['train']} / val {totals['val']} / test {totals['test']}"
        + (f", {len(manifest['skipped'])} file(s) skipped" if manifest["skipped"] else "")
    )
    click.echo(describe_sizes(sizes, resolution, resize))


def _check_resolution(resolution: int, reporter) -> None:
    """Refuse a resolution no installed method can train on; name the methods that cannot, and why."""
    from gfcore.errors import GfpError
    from gfcore.runs.attributor import methods_for_resolution

    able, problems = methods_for_resolution(resolution)
    size = f"{resolution}x{resolution}"
    reasons = "; ".join(dict.fromkeys(problems.values()))
    if not able:
        raise GfpError(f"no installed method can train on {size} images ({reasons})")
    if problems:
        reporter.warn(
            f"{', '.join(problems)} cannot train on {size} images ({reasons}); {', '.join(able)} can"
        )


def size_counts(files: list[dict], resolution: int) -> dict[str, int]:
    """How many source images were already ``exact`` (R x R), larger (``cropped``, or resampled down with
    --resize) and smaller on their shorter side (``upsampled``)."""
    counts = {"exact": 0, "larger": 0, "upsampled": 0}
    for record in files:
        width, height = record["size"]
        kind = (
            "exact"
            if width == height == resolution
            else "upsampled"
            if min(width, height) < resolution
            else "larger"
        )
        counts[kind] += 1
    return counts


def describe_sizes(sizes: dict[str, int], resolution: int, resize: bool) -> str:
    larger = "resampled down" if resize else "centre-cropped"
    line = f"image sizes: {sizes['exact']} already {resolution}x{resolution}, {sizes['larger']} {larger}"
    if sizes["upsampled"]:
        line += f", {sizes['upsampled']} smaller and upsampled (resampling destroys pixel-level fingerprints)"
    return line
