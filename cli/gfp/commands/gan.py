"""``gfp gan train|sample|list``: train generator families on a folder of real images, sample from GAN
runs (or shipped generators), and list what is available."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from gfcore.errors import GfpError
from gfp.common import (
    MAX_BATCH,
    MAX_ITERS,
    METHOD_DEFAULT,
    count_option,
    device_option,
    emit_json,
    json_option,
    out_option,
    progress_option,
    seed_option,
)


@click.group("gan")
def gan():
    """Train and sample the GAN families (ProGAN, SNGAN, CramerGAN, MMDGAN, and plugins')."""


def _load_real_folder(folder: Path, resolution: int, reporter):
    """Every decodable image under ``folder`` centre-cropped to ``resolution``; bad files are skipped with a
    warning."""
    import numpy as np

    from gfcore.data.images import decode_each, expand_paths, fit_to_size

    files, _ = expand_paths([str(folder)])
    if not files:
        raise GfpError(f"no images found in {folder}")
    images, skipped = [], []
    task = reporter.task("read real images", total=len(files))
    for _, rgb in decode_each(files, skipped, reporter, on_file=task.advance):
        images.append(fit_to_size(rgb, resolution, policy="crop").transpose(2, 0, 1))
    task.done()
    if len(images) < 2:
        raise GfpError(f"{folder}: found {len(images)} readable image(s); at least 2 are needed to train")
    if skipped:
        reporter.warn(f"skipped {len(skipped)} of {len(files)} files in {folder}")
    return np.stack(images)


#: what `gfp gan sample` writes beside the images, last; hidden, so `gfp prepare` passes over it
SAMPLES_RECORD = ".gfp-samples.json"


#: what --help says for a gan-train option whose default (None) is the family's own Config value
FAMILY_DEFAULT = METHOD_DEFAULT.replace("method", "family").replace("NAME", "FAMILY")


@gan.command("train")
@click.argument("family")
@click.option(
    "--real",
    "real_dir",
    required=True,
    type=click.Path(path_type=Path),
    metavar="FOLDER",
    help="Folder of real images.",
)
@out_option("GAN-run folder to write.")
@click.option(
    "--resolution",
    type=click.IntRange(4, 4096),
    metavar="N",
    default=None,
    show_default=FAMILY_DEFAULT,
    help="Image size.",
)
@click.option(
    "--iters",
    type=click.IntRange(1, MAX_ITERS),
    metavar="N",
    default=None,
    show_default=FAMILY_DEFAULT,
    help="Generator updates.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(2, MAX_BATCH),
    metavar="N",
    default=None,
    show_default=FAMILY_DEFAULT,
    help="Images per batch.",
)
@seed_option
@device_option
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@json_option
@progress_option
def train_command(
    family, real_dir, out, resolution, iters, batch_size, seed, device, resume, as_json, progress
):
    """Train a GAN family on a folder of real images.

    FAMILY is a name from `gfp gan list`, optionally with parameters: `progan:width=0.25,iters=3000`.
    Images are centre-cropped to the resolution; unreadable files are skipped with a warning. The run
    folder gets run.json, generator.safetensors, last.safetensors (for --resume) and sample grids.

    On many processes: torchrun --nproc_per_node N -m gfp gan train ... (--batch-size is the global batch).
    """
    from gfcore.execution import distributed as dist
    from gfcore.runs.gan import read_run, resolve_family, train_gan

    overrides = {"resolution": resolution, "iters": iters, "batch_size": batch_size}
    spec = resolve_family(family, overrides)  # unknown names and bad parameters fail before any reading
    if not real_dir.is_dir():
        raise GfpError(f"--real {real_dir}: no such folder")
    torch_device = dist.resolve_and_join(device)
    with dist.progress_for_rank(progress) as reporter:
        real = _load_real_folder(real_dir, spec.config.resolution, reporter)
        reporter.log(
            f"{len(real)} real images from {real_dir}, {spec.config.resolution}x{spec.config.resolution}"
        )
        gan_source = train_gan(
            family,
            real,
            out,
            seed=seed,
            device=torch_device,
            resume=resume,
            reporter=reporter,
            overrides=overrides,
            command=_train_command_line(family, real_dir, out, overrides, seed, device, resume),
            real_source=str(real_dir),
        )
    if not dist.is_main():  # rank 0 reports for all
        return
    if as_json:
        run = read_run(out)
        emit_json(
            {
                "family": gan_source.name,
                "out": str(out),
                "iterations": run.get("iterations_done"),
                "resolution": gan_source.config.resolution,
                "seed": seed,
                "real_images": len(real),
                "train_seconds": run.get("train_seconds"),
                "command": run.get("command"),
            }
        )
        return
    click.echo(f"trained {gan_source.name} for {gan_source.config.iters} iterations -> {out}")


def _train_command_line(family, real_dir, out_dir, overrides, seed, device, resume) -> str:
    """The ``gfp gan train`` line that reproduces this run (recorded in run.json)."""
    argv = [
        "gfp",
        "gan",
        "train",
        family,
        "--real",
        str(real_dir),
        "--out",
        str(out_dir),
    ]
    if not resume:  # a resumed run keeps the seed it was started with, whatever --seed says
        argv += ["--seed", str(seed)]
    for key, value in overrides.items():
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    if device != "auto":
        argv += ["--device", device]
    if resume:
        argv.append("--resume")
    return shlex.join(argv)


@gan.command("sample")
@click.argument("ganrun")
@count_option("Number of images.")
@out_option("Folder for the PNGs (created if missing).")
@click.option(
    "--param",
    "params",
    default=None,
    metavar="KEY=VALUE,...",
    show_default="the run's own",
    help="Sampling parameters of the family (a diffusion model's sampler=ddim,sample_steps=50); "
    "`gfp plugins FAMILY` lists its fields.",
)
@seed_option
@device_option
@json_option
@progress_option
def sample_command(ganrun, n, out, params, seed, device, as_json, progress):
    """Write N samples of a GAN run as PNG files.

    GANRUN is a GAN-run folder or the name of a shipped generator (see `gfp gan list`). The same GANRUN,
    --param and --seed always give the same images; the same weights with other --param values (another
    sampler, fewer steps) are a source of their own.
    """
    from gfcore.config import parse_spec
    from gfcore.execution.device import resolve_device
    from gfcore.runs.gan import load_gan
    from gfcore.runs.sampling import SAMPLE_NAME, sample_to_folder
    from gfcore.runs.shipped_gans import resolve_gan_run
    from gfcore.storage.atomic import write_json
    from gfcore.storage.outfolder import claim_out_folder
    from gfcore.terminal.progress import progress_reporter

    try:
        sampling = parse_spec(f"param:{params}")[1] if params else None
    except GfpError:
        raise GfpError(f"--param {params!r}: write key=value,key=value") from None
    run_dir = resolve_gan_run(ganrun)
    gan_source = load_gan(run_dir, resolve_device(device), sampling)
    # a new or empty folder only (or one this command left unfinished): never a user's own files
    with claim_out_folder(
        out,
        tuple(SAMPLE_NAME.format(i) for i in range(n)),
        done=SAMPLES_RECORD,
        what="gfp gan sample",
        kind="generated samples",
    ):
        with progress_reporter(enabled=progress) as reporter:
            paths = sample_to_folder(gan_source, n, out, seed=seed, reporter=reporter)
        record = {
            "ganrun": str(run_dir),
            "family": gan_source.name,
            "out": str(out),
            "count": len(paths),
            "seed": seed,
            "sampling": {k: getattr(gan_source.config, k) for k in sampling or {}},
            "resolution": gan_source.config.resolution,
        }
        write_json(Path(out) / SAMPLES_RECORD, record)  # last: its presence means the folder is complete
    if as_json:
        emit_json({**record, "files": [p.name for p in paths]})
        return
    click.echo(f"wrote {len(paths)} {gan_source.name} samples to {out}")


@gan.command("list")
@json_option
def list_command(as_json):
    """The registered GAN families and the shipped generators."""
    from gfcore.plugins import get_registries
    from gfcore.runs.gan import read_run
    from gfcore.runs.shipped_gans import shipped_gans

    families = []
    for entry in get_registries().gan_sources.entries():
        config = entry.item.Config()
        families.append(
            {
                "name": entry.name,
                "plugin": entry.plugin,
                "resolution": config.resolution,
                "description": entry.description,
            }
        )
    shipped = []
    for name, (family, path) in sorted(shipped_gans().items()):
        try:
            run = read_run(path)
        except GfpError:
            continue
        weights = path / "generator.safetensors"
        shipped.append(
            {
                "name": name,
                "family": family,
                "resolution": run.get("resolution"),
                "seed": run.get("seed"),
                "iterations": run.get("iterations_done"),
                "size_bytes": weights.stat().st_size if weights.is_file() else None,
                "path": str(path),
                "command": run.get("command"),
            }
        )
    if as_json:
        emit_json({"families": families, "shipped": shipped})
        return
    click.echo("GAN families:")
    width = max((len(f["name"]) for f in families), default=4)
    for f in families:
        click.echo(f"  {f['name']:<{width}}  [{f['plugin']}] {f['description']}")
    click.echo("Shipped generators (use the name as GANRUN in `gfp gan sample`):")
    if not shipped:
        click.echo("  (none)")
    width = max((len(s["name"]) for s in shipped), default=4)
    for s in shipped:
        size = f"{s['size_bytes'] / 1e6:.2f} MB" if s["size_bytes"] else "missing weights"
        click.echo(
            f"  {s['name']:<{width}}  {s['family']}, {s['resolution']}x{s['resolution']}, seed {s['seed']}, "
            f"{s['iterations']} iterations, {size}"
        )
