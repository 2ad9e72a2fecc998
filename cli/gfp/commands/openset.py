import click

from gfp.common import (
    MAX_EPOCHS,
    METHOD_DEFAULT,
    device_option,
    emit_json,
    false_unknown_rate_option,
    init_from_option,
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
    type=click.IntRange(1, MAX_EPOCHS),
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
@click.option(
    "--group",
    "groups",
    metavar="NAME=SRC,SRC...",
    multiple=True,
    show_default="none: each source alone",
    help="Leave these sources out together, as one family named NAME (every sampler of one diffusion "
    "model: --group DDPM=DDPM,DDIM); repeat for more. Sources in no group are left out one at a time.",
)
@click.option(
    "--keep",
    metavar="SRC",
    multiple=True,
    show_default="none: every source is left out in turn",
    help="A source every run knows, never left out (--keep real: leave out only generators, and report "
    "how many unseen images are called real); repeat for more.",
)
@init_from_option(
    "Start every run from this run's weights (same method and parameters; the class head starts "
    "afresh). RUN must not know a source that is left out: its weights would have seen it."
)
@seed_option
@device_option
@json_option
@progress_option
def openset(
    dataset,
    out,
    spec,
    epochs,
    false_unknown_rate,
    score,
    groups,
    keep,
    init_from,
    seed,
    device,
    as_json,
    progress,
):
    """Evaluate open-set attribution by leaving one source of DATASET out of training at a time.

    For each source, a run is trained on the others (a finished run in --out is reused, an unfinished one
    resumed), calibrated on their validation split, and asked about the test images of all: AUROC of
    known against the unseen source, and, at the threshold chosen for --false-unknown-rate, the accuracy
    on the known sources and the share of the unseen source called unknown. With --group and --keep it is
    leave-one-family-out: --keep real --group DDPM=DDPM,DDIM leaves out each generator family in turn and
    reports how many of its images are called real. A held-out run that fails is recorded in its row and
    the others go on; the command then exits 1 with one line (results.json and results.md are written)."""
    from pathlib import Path

    from gfcore.data.dataset import load_dataset
    from gfcore.errors import GfpError
    from gfcore.execution.device import resolve_device
    from gfcore.inference.openset import DEFAULT_FALSE_UNKNOWN_RATE, DEFAULT_SCORE
    from gfcore.studies.openset import markdown, run_loso
    from gfcore.terminal.formatting import fmt_pct
    from gfcore.terminal.progress import progress_reporter

    parsed_groups = {}
    for item in groups:
        name, sep, members = item.partition("=")
        sources = [m.strip() for m in members.split(",") if m.strip()]
        if not sep or not name.strip() or not sources or name.strip() in parsed_groups:
            raise click.BadParameter(f"{item!r}: give each group once as NAME=SRC,SRC", param_hint="--group")
        parsed_groups[name.strip()] = sources
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
            groups=parsed_groups,
            keep=list(keep),
            init_from=init_from,
            reporter=reporter,
        )
    if as_json:
        emit_json(results)
    else:
        console = stdout_console()
        console.print(markdown(results), markup=False, highlight=False)
        if results["mean"] is not None:
            score = results["score"]
            mean = results["mean"][score]
            console.print(
                f"mean over held-out sources: AUROC {mean['auroc']:.4f} ({score}); unseen source called unknown "
                f"{fmt_pct(mean['unknown_detected'])}; written to {out}/results.json and results.md",
                markup=False,
                highlight=False,
            )
    if results["failed"]:
        many = "all" if len(results["failed"]) == len(results["held_out"]) else f"{len(results['failed'])} of"
        first = next(r["error"] for r in results["held_out"] if "error" in r)
        raise GfpError(
            f"{many} {len(results['held_out'])} held-out runs failed ({', '.join(results['failed'])}; first: "
            f"{first}); {out}/results.json records each"
        )
