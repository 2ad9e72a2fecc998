"""The ``gfp demo`` command (registered by :mod:`gfp_demo` through ``gfp_register_commands``)."""

import click
from click.core import ParameterSource

from gfcore import (
    MAX_EPOCHS,
    MAX_IMAGES,
    device_option,
    emit_json,
    json_option,
    progress_option,
    repeats_option,
    seed_option,
)


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    metavar="FOLDER",
    default="gfp-demo",
    show_default=True,
    help="Folder for datasets, runs and the tables (JSON + Markdown).",
)
@device_option
@click.option(
    "--train-per-source",
    type=click.IntRange(10, MAX_IMAGES),
    metavar="N",
    default=3000,
    help="Training images per source.",
)
@click.option(
    "--test-per-source",
    type=click.IntRange(10, MAX_IMAGES),
    metavar="N",
    default=500,
    help="Test images per source.",
)
@click.option(
    "--val-per-source",
    type=click.IntRange(5, MAX_IMAGES),
    metavar="N",
    default=200,
    help="Validation images per source.",
)
@click.option(
    "--epochs",
    type=click.IntRange(1, MAX_EPOCHS),
    metavar="N",
    default=11,
    show_default="11; 20 on the modern task",
    help="Epochs of the learned network; given, on every task.",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    metavar="SPEC",
    show_default="knn, eigenface, prnu and dct",
    help="A baseline for the superiority table, with optional parameters; repeat the option for "
    "each (--baseline knn --baseline cnn:epochs=3). cnn, the Wang et al. CNN, is slow on a CPU: "
    "cnn:epochs=3 took 222 s per task on 2 cores.",
)
@click.option("--no-baselines", is_flag=True, help="Only the learned network: no baselines.")
@click.option(
    "--warm-start/--no-warm-start",
    default=True,
    show_default=True,
    help="Start the learned network of every other task (uniqueness by seed and by training data, "
    "modern) from the existence task's weights (gfp train --init-from) instead of a random initialisation.",
)
@click.option(
    "--modern",
    is_flag=True,
    help="Also the modern-sources task: real, DCGAN, StyleGAN2 and one DDPM sampled two ways (its "
    "ancestral sampler with 20 of its 1,000 steps, and DDIM with 10), about 10 more minutes on 2 CPU cores.",
)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Also the robustness table of the five-source task: every method under the paper's six attacks "
    "(Atk), the learned network immunized against each (Dfs), and accuracy-versus-severity curves; "
    "and visNet trained on the five-source task with its model fingerprints, response grid and t-SNE "
    "(gfp visualize), and the persistence study (gfp persistence: accuracy of the low and high frequency "
    "bands and of small patches) (about 30 + 60 + 30 more minutes on 2 CPU cores); and the standard "
    "degradation table (gfp bench --degradations) of the five-source task; implies --modern.",
)
@repeats_option
@seed_option
@json_option
@progress_option
def demo(
    out,
    device,
    train_per_source,
    test_per_source,
    val_per_source,
    epochs,
    baselines,
    no_baselines,
    warm_start,
    modern,
    everything,
    repeats,
    seed,
    as_json,
    progress,
):
    """The paper in miniature: existence, uniqueness (by seed and by training data) and superiority tables
    from the bundled photographs and the shipped generators (about 5 minutes on 2 CPU cores; --repeats K:
    about K times that)."""
    from pathlib import Path

    from gfcore import GfpError, progress_reporter, resolve_device

    from .tasks import DemoSettings, run_demo

    settings = DemoSettings(seed=seed, repeats=repeats, warm_start=warm_start)
    for name, value in (
        ("train_per_source", train_per_source),
        ("test_per_source", test_per_source),
        ("val_per_source", val_per_source),
        ("epochs", epochs),
    ):
        if value is not None:
            setattr(settings, name, value)
    if click.get_current_context().get_parameter_source("epochs") != ParameterSource.DEFAULT:
        settings.task_epochs = {}  # the user's count is every task's
    if baselines and no_baselines:
        raise click.UsageError("--baseline and --no-baselines contradict each other")
    if baselines or no_baselines:
        settings.baselines = list(baselines)
    settings.robustness = settings.degradations = everything
    if modern or everything:
        settings.tasks.append("modern")
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
