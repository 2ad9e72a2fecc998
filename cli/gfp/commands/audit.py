import click

from gfp.common import device_option, emit_json, json_option, progress_option, seed_option


@click.command()
@click.argument("target", metavar="DATASET|SRC", type=click.Path(exists=False, file_okay=False))
@click.option(
    "--resolution",
    type=click.IntRange(4, 4096),
    metavar="N",
    default=32,
    show_default=True,
    help="For a folder SRC: the size the raw-pixel kNN sees (centre crop, as gfp prepare). "
    "A prepared DATASET keeps its own.",
)
@seed_option
@device_option
@json_option
@progress_option
def audit(target, resolution, seed, device, as_json, progress):
    """How well trivial cues separate the sources of a prepared DATASET or of a folder SRC (one sub-folder
    of images per source), each as held-out accuracy next to chance: the eight global colour and sharpness
    statistics, colour histograms and raw-pixel kNN; for a folder also the file format, size, dimensions,
    JPEG quantisation tables, EXIF presence and colour mode. A cue that reaches
    chance + 0.5 * (1 - chance) is reported on stderr as a shortcut.

    A DATASET is fitted on its train split and scored on its test split (val chooses kNN's k); a SRC folder
    is split per source with --seed (60% fit, 20% val, 20% evaluation)."""
    from pathlib import Path

    from rich.markup import escape

    from gfcore.data.dataset import MANIFEST, load_dataset
    from gfcore.errors import GfpError
    from gfcore.execution.device import resolve_device
    from gfcore.studies.audit import AuditRow, audit_dataset, audit_folder, shortcut_warning
    from gfcore.studies.bench.render import audit_table, to_rich
    from gfcore.terminal.progress import progress_reporter, stderr_console
    from gfp.common import stdout_console

    path = Path(target)
    if not path.is_dir():
        raise GfpError(f"{path}: not a folder (expected a prepared dataset or one sub-folder per source)")
    torch_device = resolve_device(device)
    with progress_reporter(progress) as reporter:
        if (path / MANIFEST).exists():
            doc = audit_dataset(load_dataset(path), seed=seed, device=torch_device, reporter=reporter)
        else:
            doc = audit_folder(path, resolution=resolution, seed=seed, device=torch_device, reporter=reporter)
    rows = [AuditRow.from_dict(c) for c in doc["cues"]]
    for row in rows:
        if row.far_above_chance:
            stderr_console.print(
                f"[bold red]WARNING {escape(shortcut_warning(row))}[/bold red]", highlight=False
            )
    if as_json:
        emit_json(doc)
        return
    t = doc["target"]
    title = f"gfp audit: {t['kind']} {t['path']} ({len(t['classes'])} sources, evaluated on {_evaluated(t)})"
    stdout_console().print(to_rich(audit_table(rows, title=title)))


def _evaluated(target: dict) -> str:
    n = target["counts"]["test"]
    return f"the test split, {n} images" if target["kind"] == "dataset" else f"{n} held-out files"
