import click

from gfp.common import device_option, emit_json, json_option, out_option, progress_option


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("paths", nargs=-1)
@out_option("Folder for the fingerprints.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["npy", "safetensors"]),
    default="npy",
    show_default=True,
    help="File format of the fingerprints.",
)
@device_option
@json_option
@progress_option
def fingerprints(run, paths, out, fmt, device, as_json, progress):
    """Write RUN's model fingerprints, and the image fingerprints of PATHS, with the class order."""
    from pathlib import Path

    from gfcore.errors import GfpError
    from gfcore.execution.device import resolve_device
    from gfcore.runs.attributor import load_run
    from gfcore.storage.outfolder import claim_out_folder

    attributor, info = load_run(run, resolve_device(device))
    if not attributor.has_fingerprints:
        raise GfpError(f"method {info['method']!r} has no fingerprints")
    out = Path(out)
    # a new or empty --out (or an interrupted run's): never overwrite files gfp did not write
    names = ("model_fingerprints.npy", "image_fingerprints.npy", "fingerprints.safetensors")
    with claim_out_folder(out, names, done="fingerprints.json", what="gfp fingerprints", kind="fingerprints"):
        index = _write(run, paths, out, fmt, attributor, info, progress)
    if as_json:
        emit_json(index)
    else:
        click.echo(
            f"wrote {', '.join(index['files'])} and {out / 'fingerprints.json'} "
            f"({len(info['classes'])} model fingerprints, {len(index['images'])} image fingerprints)"
        )


def _write(run, paths, out, fmt, attributor, info, progress) -> dict:
    import numpy as np
    import torch

    from gfcore.data.images import expand_paths
    from gfcore.errors import GfpError
    from gfcore.inference.evaluation import decode_files
    from gfcore.storage.atomic import atomic_path, write_json
    from gfcore.storage.tensorio import save_tensors
    from gfcore.terminal.progress import progress_reporter

    arrays = {"model_fingerprints": attributor.model_fingerprints().numpy()}
    files: list = []
    skipped: list = []
    with progress_reporter(progress) as reporter:
        if paths:
            found, missing = expand_paths(list(paths))
            for m in missing:
                reporter.warn(f"{m}: no such file, folder or matching glob")
            size_policy = info.get("preprocessing", {}).get("size_policy", "crop")
            images, files, skipped = decode_files(found, attributor.resolution, size_policy, reporter)
            if len(images) == 0:
                raise GfpError("no decodable images among " + ", ".join(paths))
            arrays["image_fingerprints"] = attributor.image_fingerprints(torch.from_numpy(images)).numpy()
    written = []
    if fmt == "npy":
        for name, arr in arrays.items():
            with atomic_path(out / f"{name}.npy") as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, arr)
            written.append(str(out / f"{name}.npy"))
    else:
        save_tensors(out / "fingerprints.safetensors", {k: torch.from_numpy(v) for k, v in arrays.items()})
        written.append(str(out / "fingerprints.safetensors"))
    index = {
        "run": str(run),
        "method": info["method"],
        "classes": info["classes"],
        "model_fingerprints_shape": list(arrays["model_fingerprints"].shape),
        "images": [str(f) for f in files],
        "skipped": skipped,
        "files": written,
    }
    write_json(out / "fingerprints.json", index)
    return index
