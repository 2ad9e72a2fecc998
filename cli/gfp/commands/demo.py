import click

from gfp.common import device_option, emit_json, json_option, progress_option, seed_option


@click.command()
@click.option("--out", type=click.Path(file_okay=False), default="gfp-demo", show_default=True,
              help="Folder for datasets, runs and the tables (JSON + Markdown).")
@device_option
@click.option("--train-per-source", type=click.IntRange(10), default=None, help="Training images per source.")
@click.option("--test-per-source", type=click.IntRange(10), default=None, help="Test images per source.")
@click.option("--val-per-source", type=click.IntRange(5), default=None, help="Validation images per source.")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Epochs of the learned network.")
@click.option("--baselines", default=None,
              help="Comma-separated baselines for the superiority table ('' for none). "
                   "Default: knn,eigenface,prnu,dct (add cnn for the Wang et al. CNN; slow on a CPU: "
                   "cnn:epochs=3 took 222 s per task on 2 cores).")
@seed_option
@json_option
@progress_option
def demo(out, device, train_per_source, test_per_source, val_per_source, epochs, baselines, seed, as_json,
         progress):
    """The paper in miniature: existence, uniqueness and superiority tables from the bundled photographs
    and the shipped generators (about 5 minutes on 2 CPU cores)."""
    from pathlib import Path

    from gfcore.device import resolve_device
    from gfcore.errors import GfpError
    from gfcore.progress import progress_reporter
    from gfp.demo_tasks import DemoSettings, run_demo

    settings = DemoSettings(seed=seed)
    for name, value in (("train_per_source", train_per_source), ("test_per_source", test_per_source),
                        ("val_per_source", val_per_source), ("epochs", epochs)):
        if value is not None:
            setattr(settings, name, value)
    if baselines is not None:
        from gfcore.bench import split_method_list

        # the same rule as `gfp bench --methods`: "knn,cnn:epochs=3,arch=resnet10t" is two methods
        settings.baselines = split_method_list(baselines) if baselines.strip() else []
    out = Path(out)
    if (out / "datasets").exists():
        raise GfpError(f"{out} already holds a demo; choose another --out or delete it")
    with progress_reporter(progress) as reporter:
        tables = run_demo(out, settings, resolve_device(device), reporter)
    if as_json:
        emit_json(tables)
    else:
        click.echo((out / "tables.md").read_text())
        click.echo(f"wrote {out / 'tables.json'} and {out / 'tables.md'}")
