import click

from gfp.common import device_option, emit_json, json_option, out_option, progress_option, seed_option


@click.command()
@click.argument("spec", metavar="SPEC")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@out_option("Folder for the perturbed images (one PNG per input, named after it) and attack.json.")
@seed_option
@device_option
@json_option
@progress_option
def attack(spec, src, out, seed, device, as_json, progress):
    """Perturb every image under SRC with the attack SPEC: a NAME (noise, blur, crop, jpeg, relight, combo;
    `gfp plugins` lists them), fixed parameters optional: `jpeg:quality=30`, `blur:kernel=5` (`gfp plugins
    NAME` lists an attack's parameters).

    Each output keeps its input's name as a PNG (`a/b.jpg` under SRC becomes `a__b.png`), so pairs line
    up; undecodable files are skipped and counted. The same seed gives the same images."""
    from pathlib import Path

    from gfcore.data.images import expand_paths
    from gfcore.errors import GfpError
    from gfcore.inference.attacks import build_attack, describe_attack
    from gfcore.storage.atomic import write_json
    from gfcore.storage.outfolder import claim_out_folder, is_within
    from gfcore.terminal.progress import progress_reporter

    chosen = build_attack(spec)  # a bad name or parameter: one line, before anything is written
    src, out = Path(src), Path(out)
    if is_within(out, src):
        raise GfpError(f"--out {out} lies inside SRC {src}; choose a folder outside it")
    files, _ = expand_paths([str(src)])
    if not files:
        raise GfpError(f"no image files found in {src}")
    names = {f: "__".join(f.relative_to(src).with_suffix(".png").parts) for f in files}
    clash = _first_clash(names)
    if clash:
        raise GfpError(f"{clash[0]} and {clash[1]} would both be written as {names[clash[0]]}; rename one")
    with claim_out_folder(
        out, tuple(names.values()), done="attack.json", what="gfp attack", kind="attacked images"
    ):
        with progress_reporter(progress) as reporter:
            written, skipped = _perturb(chosen, files, names, out, seed, device, reporter)
        report = {
            "attack": describe_attack(chosen, spec),
            "seed": seed,
            "src": str(src),
            "out": str(out),
            "written": written,
            "skipped": skipped,
        }
        write_json(out / "attack.json", report)
    if as_json:
        emit_json(report)
    else:
        scale = report["attack"].get("scale")
        click.echo(
            f"wrote {len(written)} perturbed image(s) ({spec}{f', {scale}' if scale else ''}, seed {seed}) "
            f"to {out}"
        )
        if skipped:
            click.echo(f"{len(skipped)} file(s) skipped (see warnings above)")
    if not written:
        raise GfpError(f"none of the files in {src} could be decoded")


def _first_clash(names: dict):
    seen = {}
    for path, name in names.items():
        if name in seen:
            return seen[name], path
        seen[name] = path
    return None


def _perturb(chosen, files, names, out, seed, device, reporter):
    """One image at a time (sizes may differ), all from one generator in file order: deterministic."""
    import torch

    from gfcore.data.images import decode_each, save_png
    from gfcore.execution.device import resolve_device
    from gfcore.inference.attacks import attack_generator

    device = resolve_device(device)
    generator = attack_generator(seed)
    written, skipped = [], []
    task = reporter.task("perturbing", total=len(files))
    for path, rgb in decode_each(files, skipped, reporter, on_file=task.advance):
        image = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None].to(device)
        perturbed = chosen.apply(image, generator)[0].cpu().numpy().transpose(1, 2, 0)
        save_png(out / names[path], perturbed)
        written.append({"input": str(path), "output": names[path]})
    task.done()
    return written, skipped
