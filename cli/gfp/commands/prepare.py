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
        manifest = prepare_dataset(
            src, out, resolution, fractions, seed, class_list, "resize" if resize else "crop", reporter
        )
    summary = {
        "dataset": out,
        "classes": manifest["classes"],
        "resolution": resolution,
        "counts": manifest["counts"],
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
