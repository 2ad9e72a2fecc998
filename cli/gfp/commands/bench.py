import click

from gfp.common import device_option, emit_json, json_option, out_option, progress_option, seed_option

METHODS_HELP = (
    "Methods to compare, each a registered extractor or baseline with optional parameters. Default: every "
    "registered one. Methods are separated by commas or semicolons; since parameters are comma-separated "
    "too, a separator starts a new method only when a method name follows it (NAME or NAME:...), while "
    "key=value continues the previous method: 'knn:k=5,max_k=9,learned:width=0.25,dct' is three methods."
)


def print_results(results: dict, out_dir) -> None:
    """The comparison as rich tables on stdout: the same strings as results.md."""
    from rich.table import Table

    from gfcore.bench import COLUMNS, format_row
    from gfp.common import fmt_pct, stdout_console

    console = stdout_console()
    table = Table(title=f"gfp bench: {results['split']} split of {results['dataset']['path']}")
    for column in COLUMNS:
        if column == "method":
            table.add_column(column, overflow="fold")
        else:
            table.add_column(column, justify="right", no_wrap=True)
    table.add_column("status", overflow="fold")
    for method in results["methods"]:
        cells = format_row(method)
        status = "failed" if method["error"] else ("reused" if method["reused"] else "trained")
        table.add_row(*(cells[c] for c in COLUMNS), status)
    console.print(table)

    classes = results["dataset"]["classes"]
    per_class = Table(title="per-class accuracy")
    per_class.add_column("method", overflow="fold")
    for c in classes:
        per_class.add_column(c, justify="right", no_wrap=True)
    for method in results["methods"]:
        accuracies = method["per_class_accuracy"] or {}
        per_class.add_row(method["spec"], *(fmt_pct(accuracies.get(c)) for c in classes))
    console.print(per_class)
    for method in results["methods"]:
        fd = method.get("fd") or {}
        if fd.get("subsampled"):
            console.print(
                f"{method['spec']}: FD ratio on a class-stratified subsample of {fd['images']} "
                f"{results['split']} images",
                highlight=False,
            )
        if method["error"]:
            console.print(f"{method['spec']} failed: {method['error']}", highlight=False, markup=False)
    console.print(f"wrote {out_dir}/results.json, results.md and confusion_*.png", highlight=False)


@click.command(
    help="Train (or reuse) several methods on a prepared DATASET and compare them on its test "
    "split: accuracy, macro-F1, FD ratio of the image fingerprints, training time and "
    "attribution speed. Writes results.json, results.md and one confusion_<method>.png per "
    "method to --out. Exits 1 when any method failed (the others are still reported)."
)
@click.argument("dataset", type=click.Path(file_okay=False))
@out_option("Folder for the results.")
@click.option("--methods", default=None, help=METHODS_HELP)
@click.option(
    "--runs",
    "runs_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of run folders, one per method: a finished run there that matches the dataset, "
    "method, parameters and seed is reused, an unfinished one resumed. Default: OUT/runs.",
)
@seed_option
@device_option
@json_option
@progress_option
def bench(dataset, out, methods, runs_dir, seed, device, as_json, progress):
    import sys

    from gfcore.bench import failed_methods, run_bench, split_method_list, write_results
    from gfcore.dataset import load_dataset
    from gfcore.device import resolve_device
    from gfcore.errors import GfpError
    from gfcore.jsonio import json_safe
    from gfcore.plugins import get_registries
    from gfcore.progress import progress_reporter

    if methods is None:
        specs = get_registries().attributor_names()
    else:
        specs = split_method_list(methods)
        if not specs:
            raise GfpError("--methods lists no method")
    data = load_dataset(dataset)
    torch_device = resolve_device(device)
    with progress_reporter(progress) as reporter:
        results = run_bench(
            data, out, specs, runs_dir=runs_dir, seed=seed, device=torch_device, reporter=reporter
        )
        write_results(results, out)
    if as_json:
        emit_json(json_safe(results))
    else:
        print_results(results, out)
    failed = failed_methods(results)
    if failed:
        click.echo(
            f"Error: {len(failed)} of {len(results['methods'])} method(s) failed: "
            + "; ".join(f"{m['spec']} ({m['error']})" for m in failed),
            err=True,
        )
        sys.exit(1)
