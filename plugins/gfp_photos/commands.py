"""``gfp data photos`` and ``gfp data licences``. numpy and Pillow are imported inside the commands."""

from __future__ import annotations

from pathlib import Path

import click

from gfcore import (
    MAX_IMAGES,
    GfpError,
    count_option,
    emit_json,
    json_option,
    out_option,
    progress_option,
    seed_option,
)

#: what `gfp data photos` writes beside the patches, last; hidden, so `gfp prepare` passes over it
PATCHES_RECORD = ".gfp-photos.json"


def parse_scales(text: str) -> tuple[float, float]:
    """``"1-8"`` -> ``(1.0, 8.0)``; ``"2"`` -> ``(2.0, 2.0)``. Range checks are the sampler's."""
    parts = text.split("-")
    try:
        low, high = (float(parts[0]), float(parts[-1])) if len(parts) <= 2 else (None, None)
    except ValueError:
        low = high = None
    if low is None:
        raise click.BadParameter(f"{text!r} is not MIN-MAX (for example 1-8) or one number")
    return low, high


@click.group("data")
def data_group():
    """Bundled data: real photo patches and their licences."""


@click.command("photos")
@out_option("Folder for the PNG patches (created if missing).")
@count_option("Number of patches.")
@click.option(
    "--resolution",
    default=32,
    show_default=True,
    type=click.IntRange(8, 4096),
    metavar="N",
    help="Patch side in pixels.",
)
@seed_option
@click.option(
    "--split",
    default="train",
    show_default=True,
    type=click.Choice(["train", "val", "test", "all"]),  # patches.SPLITS; not imported here (numpy)
    help="Disjoint regions of every photo: train / val / test; all = whole photos.",
)
@click.option(
    "--scales",
    metavar="MIN-MAX",
    default="1-8",
    show_default=True,
    callback=lambda ctx, param, value: parse_scales(value),
    help="Crop side as multiples of the resolution, drawn log-uniformly in MIN-MAX (1-1: native-scale "
    "texture only; 4-8: downsampled scenes only).",
)
@click.option(
    "--photos",
    "photo_folders",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FOLDER",
    show_default="the bundled photographs",
    help="Cut from the photographs in this folder (searched recursively; repeat for more) instead of the "
    "bundled ones. Each photo is split into train / val / test regions like the bundled ones; files that "
    "do not decode or are too small are skipped with a message.",
)
@click.option(
    "--with-bundled",
    is_flag=True,
    help="With --photos: cut from the bundled photographs too (the folders' photos come after them).",
)
@click.option(
    "--window",
    type=click.IntRange(0, MAX_IMAGES),
    metavar="START",
    default=None,
    show_default="off: a draw of N patches of their own",
    help="Take patches START .. START+N-1 of one fixed sequence per seed and split: two windows share exactly "
    "their overlap, so training sets can differ by a known number of images (START 0 and 2000 with -n "
    "20000 share 18,000).",
)
@json_option
@progress_option
def photos(
    out: Path,
    n: int,
    resolution: int,
    seed: int,
    split: str,
    scales: tuple[float, float],
    photo_folders: tuple[Path, ...],
    with_bundled: bool,
    window: int | None,
    as_json: bool,
    progress: bool,
):
    """Write N real patches, cut at random scales from the bundled photographs (or your own, --photos),
    as PNG files."""
    from gfcore import claim_out_folder, progress_reporter, save_png, write_json

    from .patches import folder_photos, iter_patches, photo_paths, sample_boxes

    if with_bundled and not photo_folders:
        raise click.UsageError(
            "--with-bundled adds the bundled photographs to --photos FOLDER; give a folder"
        )
    skipped: list[str] = []
    chosen = None  # the bundled set
    if photo_folders:
        chosen = folder_photos(photo_folders, resolution, split, warn=lambda line: _warn(line, skipped))
        chosen = photo_paths() + chosen if with_bundled else chosen
    boxes = sample_boxes(
        n, resolution, seed, split, scales, chosen, window
    )  # validates before anything is written
    digits = max(6, len(str(n - 1)))
    names = [f"photo_{i:0{digits}d}.png" for i in range(n)]
    # a new or empty folder only (or one this command left unfinished): never a user's own files
    with claim_out_folder(
        out, tuple(names), done=PATCHES_RECORD, what="gfp data photos", kind="photo patches"
    ):
        with progress_reporter(enabled=progress) as reporter:
            task = reporter.task(f"photo patches ({split})", total=n)
            for index, patch in iter_patches(boxes, resolution, chosen):
                save_png(out / names[index], patch)
                task.advance()
        summary = {
            "out": str(out),
            "count": n,
            "first": names[0],
            "resolution": resolution,
            "seed": seed,
            "split": split,
            "scales": list(scales),
            "window": window,
            "photos": len(photo_paths()) if chosen is None else len(chosen),
            "photo_folders": [str(f) for f in photo_folders],
            "with_bundled": with_bundled or not photo_folders,
            "skipped": skipped,
        }
        write_json(out / PATCHES_RECORD, summary)  # last: its presence means the folder is complete
    if as_json:
        emit_json(summary)
    else:
        window_note = "" if window is None else f", patches {window}-{window + n - 1} of the sequence"
        source = "the bundled photographs" if chosen is None else f"{len(chosen)} photographs"
        click.echo(
            f"wrote {n} real patches of {resolution}x{resolution} (split {split}, seed {seed}, "
            f"crop scales {scales[0]:g}-{scales[1]:g}{window_note}) from {source} to {out}"
        )


def _warn(line: str, skipped: list[str]) -> None:
    """A photo left out: said on stderr at once, and kept for the JSON summary."""
    skipped.append(line)
    click.echo(line, err=True)


@click.command("licences")
@json_option
def licences(as_json: bool):
    """List the bundled photographs with their source and licence."""
    from .patches import licences as photo_licences
    from .patches import photo_paths, photo_sizes

    entries = photo_licences()
    for entry, path, (width, height) in zip(entries, photo_paths(), photo_sizes(), strict=True):
        entry.update(path=str(path), width=width, height=height)
    if as_json:
        emit_json({"photos": entries})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{len(entries)} bundled photographs (details: {Path(entries[0]['path']).parent}/NOTICE.md)"
    )
    table.add_column("file", no_wrap=True)
    table.add_column("size", no_wrap=True)
    for column in ("licence", "credit", "source"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(
            e["file"], f"{e['width']}x{e['height']}", e["licence"], e["credit"], e["source_package"]
        )
    Console().print(table)


data_group.add_command(photos)
data_group.add_command(licences)


def add_data_commands(cli: click.Group) -> None:
    """Add ``photos`` and ``licences`` under ``gfp data``, reusing a ``data`` group another plugin made."""
    existing = cli.commands.get("data")
    if existing is None:
        cli.add_command(data_group)
    elif isinstance(existing, click.Group):
        existing.add_command(photos)
        existing.add_command(licences)
    else:
        raise GfpError(
            "another plugin registered a 'data' command that is not a group; cannot add 'data photos'"
        )
