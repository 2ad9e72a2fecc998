import click

from gfp.common import (
    METHOD_DEFAULT,
    device_option,
    emit_json,
    false_unknown_rate_option,
    json_option,
    out_option,
    progress_option,
    seed_option,
    stdout_console,
)


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False))
@out_option("Folder for the K-1-source datasets, their runs, results.json and results.md.")
@click.option(
    "--method",
    "spec",
    metavar="SPEC",
    default="learned",
    show_default=True,
    help="Registered extractor or baseline, with optional parameters: learned:width=0.125 "
    "(`gfp plugins NAME` lists them).",
)
@click.option(
    "--epochs",
    type=click.IntRange(1),
    metavar="N",
    default=None,
    show_default=METHOD_DEFAULT,
    help="Training epochs (neural methods).",
)
@false_unknown_rate_option("gfp's 0.05")
@click.option(
    "--score",
    type=click.Choice(["msp", "max-logit", "energy"]),
    default=None,
    show_default="gfp's open-set score, msp",
    help="The score whose threshold the table's accuracy and detection rates use (AUROC: all three).",
)
@seed_option
@device_option
@json_option
@progress_option
def openset(dataset, out, spec, epochs, false_unknown_rate, score, seed, device, as_json, progress):
    """Evaluate open-set attribution by leaving one source of DATASET out of training at a time.

    For each source, a run is trained on the others (a finished run in --out is reused, an unfinished one
    resumed), calibrated on their validation split, and asked about the test images of all: AUROC of
    known against the unseen source, and, at the threshold chosen for --false-unknown-rate, the accuracy
    on the known sources and the share of the unseen source called unknown."""
    from pathlib import Path

    from gfcore.data.dataset import load_dataset
    from gfcore.execution.device import resolve_device
    from gfcore.inference.openset import DEFAULT_FALSE_UNKNOWN_RATE, DEFAULT_SCORE
    from gfcore.studies.openset import markdown, run_loso
    from gfcore.terminal.formatting import fmt_pct
    from gfcore.terminal.progress import progress_reporter

    data = load_dataset(dataset)
    overrides = {"epochs": epochs} if epochs is not None else {}
    with progress_reporter(progress) as reporter:
        results = run_loso(
            data,
            Path(out),
            spec,
            seed=seed,
            device=resolve_device(device),
            overrides=overrides,
            false_unknown_rate=false_unknown_rate or DEFAULT_FALSE_UNKNOWN_RATE,
            score=score or DEFAULT_SCORE,
            reporter=reporter,
        )
    if as_json:
        emit_json(results)
        return
    console = stdout_console()
    console.print(markdown(results), markup=False, highlight=False)
    score = results["score"]
    mean = results["mean"][score]
    console.print(
        f"mean over held-out sources: AUROC {mean['auroc']:.4f} ({score}); unseen source called unknown "
        f"{fmt_pct(mean['unknown_detected'])}; written to {out}/results.json and results.md",
        markup=False,
        highlight=False,
    )
