import click

from gfp.common import (
    MAX_EPOCHS,
    MAX_IMAGES,
    device_option,
    emit_json,
    json_option,
    out_option,
    progress_option,
    repeats_option,
    runs_dir_option,
    seed_option,
)

METHOD_HELP = (
    "A method to compare: a registered extractor or baseline with optional parameters, "
    "e.g. --method learned:width=0.25,epochs=3 --method knn. Repeat the option for each method."
)


class ImmunizeEpochs(click.ParamType):
    """``N`` (every attack) or ``ATTACK=N`` (that attack), N in 1..MAX_EPOCHS."""

    name = "epochs"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        attack, _, count = str(value).rpartition("=")
        try:
            n = int(count)
        except ValueError:
            self.fail(f"{value!r} is not N or ATTACK=N (e.g. 8, or combo=40)", param, ctx)
        if not 1 <= n <= MAX_EPOCHS:
            self.fail(f"{value!r}: N must be in 1..{MAX_EPOCHS}", param, ctx)
        return attack.strip(), n


def immunize_epochs_of(values: tuple, attacks: list[str] | None) -> dict[str, int]:
    """The --immunize-epochs values as gfcore takes them (attack -> count, "" for the attacks not named);
    an attack named that is not in --attacks is a usage error (a typo would otherwise change nothing)."""
    counts = dict(values)
    stray = sorted(set(counts) - {""} - set(attacks or ()))
    if stray:
        raise click.UsageError(f"--immunize-epochs names {stray[0]!r}, which is not one of --attacks")
    return counts


@click.command(
    help="Train (or reuse) several methods on a prepared DATASET and compare them on its test "
    "split: accuracy with a 95% interval, McNemar p-values against the learned network, macro-F1, FD ratio of the image fingerprints, training time and "
    "attribution speed. Writes results.json, results.md and one confusion_<method>.png per "
    "method to --out. Exits 1 when any method failed (the others are still reported)."
)
@click.argument("dataset", type=click.Path(file_okay=False))
@out_option("Folder for the results.")
@click.option(
    "--method",
    "methods",
    multiple=True,
    metavar="SPEC",
    show_default="every registered one",
    help=METHOD_HELP,
)
@runs_dir_option
@click.option(
    "--attacks",
    default=None,
    show_default="none: no robustness table",
    metavar="NAME,NAME,...",
    help="Add the robustness table: accuracy under each attack (noise,blur,crop,jpeg,relight,combo) at "
    "the paper's ranges, for the original runs (Atk) and runs immunized against it (Dfs, methods that "
    "train by gradient descent), plus accuracy-versus-severity curves (severity.png, severity.json).",
)
@click.option(
    "--immunize-epochs",
    type=ImmunizeEpochs(),
    multiple=True,
    metavar="[ATTACK=]N",
    show_default="5",
    help="Fine-tuning epochs of each immunized run (with --attacks); ATTACK=N for one attack, e.g. "
    "--immunize-epochs 12 --immunize-epochs combo=40.",
)
@click.option(
    "--curves/--no-curves", default=True, show_default=True, help="Severity curves (with --attacks)."
)
@click.option(
    "--degradations",
    is_flag=True,
    default=False,
    help="Add the standard degradation table: every method as trained (no immunization) on the test split "
    "under each fixed level the registered attacks declare (built in: the degrade attack's) -- downsampled x0.5 and x0.25 (bilinear, antialiased, back to full size), JPEG 65 and 30 (Pillow), "
    "Gaussian blur sigma 4 and 8 at 128 px (scaled with the image: 1 and 2 at 32 px) and their chain "
    "(x0.5, blur 4, JPEG 65), beside clean accuracy, with Wilson 95% intervals.",
)
@repeats_option
@click.option(
    "--fd-dim",
    type=click.IntRange(1, 1024),
    metavar="N",
    default=32,
    show_default=True,
    help="Every method's features are reduced to this many dimensions (PCA fitted on training features) "
    "before the FD ratio, so that ratios are comparable (lowered to a quarter of the smallest half-class).",
)
@click.option(
    "--fd-images",
    type=click.IntRange(8, MAX_IMAGES),
    metavar="N",
    default=4000,
    show_default=True,
    help="At most this many test images (and as many training images for the PCA), class-stratified, "
    "for the FD ratios.",
)
@seed_option
@device_option
@json_option
@progress_option
def bench(
    dataset,
    out,
    methods,
    runs_dir,
    attacks,
    immunize_epochs,
    curves,
    degradations,
    repeats,
    fd_dim,
    fd_images,
    seed,
    device,
    as_json,
    progress,
):
    import sys

    from gfcore.data.dataset import load_dataset
    from gfcore.execution.device import resolve_device
    from gfcore.plugins import get_registries
    from gfcore.studies.bench import run_bench, write_results
    from gfcore.studies.bench.degradations import degradation_table
    from gfcore.studies.bench.render import print_results, to_rich
    from gfcore.terminal.progress import progress_reporter
    from gfp.common import stdout_console

    if degradations and not attacks:
        _check_degradation_flags(click.get_current_context())
    attack_names = [a.strip() for a in attacks.split(",") if a.strip()] if attacks else None
    epochs_per_attack = immunize_epochs_of(immunize_epochs, attack_names)  # checked before any work
    specs = list(methods) or get_registries().attributor_names()
    data = load_dataset(dataset)
    torch_device = resolve_device(device)
    with progress_reporter(progress) as reporter:
        results = run_bench(
            data,
            out,
            specs,
            runs_dir=runs_dir,
            seed=seed,
            device=torch_device,
            reporter=reporter,
            attacks=attack_names,
            immunize_epochs=epochs_per_attack,
            curves=curves,
            repeats=repeats,
            fd_dim=fd_dim,
            max_fd_images=fd_images,
            degradations=degradations,
        )
        write_results(results, out)
    if as_json:
        emit_json(results.to_dict())
    else:
        console = stdout_console()
        print_results(results, console)
        if results.degradations:
            console.print(to_rich(degradation_table(results)))
        console.print(
            f"wrote {out}/results.json, results.md and confusion_*.png", highlight=False, markup=False
        )
    if results.failed:
        click.echo(
            f"Error: {len(results.failed)} of {len(results.methods)} method(s) failed: "
            + "; ".join(f"{row.spec} ({row.error})" for row in results.failed),
            err=True,
        )
        sys.exit(1)


def _check_degradation_flags(ctx: click.Context) -> None:
    """--immunize-epochs and --curves shape the --attacks section only; given with --degradations alone they
    would change nothing, and a user who gave them meant something that does not happen (the degradation
    table never immunizes and has no curves): one line, before any work."""
    from click.core import ParameterSource

    from gfcore.errors import GfpError

    given = [
        opt
        for name, opt in (("immunize_epochs", "--immunize-epochs"), ("curves", "--curves/--no-curves"))
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)
    ]
    if given:
        raise GfpError(
            f"{' and '.join(given)} apply to --attacks only; --degradations evaluates the runs as trained "
            "(no immunization, no curves): add --attacks NAME,... or leave them out"
        )
