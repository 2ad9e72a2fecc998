import click

from gfp.common import (
    MAX_BATCH,
    MAX_EPOCHS,
    METHOD_DEFAULT,
    FiniteFloatRange,
    compile_option,
    device_option,
    emit_run_summary,
    false_unknown_rate_option,
    fmt_pct,
    init_from_option,
    json_option,
    out_option,
    precision_option,
    progress_option,
    seed_option,
)


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False))
@out_option("Run folder to write.")
@click.option(
    "--method",
    "spec",
    metavar="SPEC",
    default="learned",
    show_default=True,
    help="Registered extractor or baseline, with optional parameters: learned:width=0.25 "
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
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_BATCH),
    metavar="N",
    default=None,
    show_default=METHOD_DEFAULT,
    help="Minibatch size (neural methods).",
)
@click.option(
    "--lr",
    type=FiniteFloatRange(min=0, max=1e6, min_open=True),
    metavar="RATE",
    default=None,
    show_default=METHOD_DEFAULT,
    help="Learning rate (neural methods).",
)
@false_unknown_rate_option()
@seed_option
@device_option
@precision_option
@compile_option
@init_from_option(
    "Start from this run's weights (same method and parameters; the class head starts afresh when "
    "its classes differ)."
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@json_option
@progress_option
@click.pass_context
def train(
    ctx,
    dataset,
    out,
    spec,
    epochs,
    batch_size,
    lr,
    false_unknown_rate,
    seed,
    device,
    precision,
    compile_network,
    init_from,
    resume,
    as_json,
    progress,
):
    """Train a method on a prepared DATASET; writes run.json and safetensors weights to --out.

    --resume continues the run in --out from its last checkpoint, with its own method and seed; pass
    --epochs N to train a finished run further. A training that diverges (non-finite loss) stops with
    one line and keeps its last good checkpoint.

    --init-from RUN starts a new run from RUN's best weights instead of a random initialisation (transfer
    from a related task: the same method and parameters, other classes allowed); run.json records it.

    On many processes: torchrun --nproc_per_node N -m gfp train ... (--batch-size is the global batch).
    """
    from gfcore.data.dataset import load_dataset
    from gfcore.errors import NothingToDo
    from gfcore.execution import distributed as dist
    from gfcore.runs.attributor import read_run_json
    from gfcore.runs.training import train_run

    device = dist.resolve_and_join(device)  # under torchrun: this rank's device, in the process group
    data = load_dataset(dataset)
    overrides = {"epochs": epochs, "batch_size": batch_size, "lr": lr}
    if resume:  # a resumed run keeps its own method and seed; only ones typed on the command line are checked
        spec, seed = (
            value if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT else None
            for name, value in (("spec", spec), ("seed", seed))
        )
    try:
        with dist.progress_for_rank(progress) as reporter:
            result = train_run(
                data,
                out,
                spec,
                seed=seed,
                device=device,
                resume=resume,
                overrides={k: v for k, v in overrides.items() if v is not None},
                reporter=reporter,
                false_unknown_rate=false_unknown_rate,
                precision=precision,
                compile=compile_network,
                init_from=init_from,
            )
    except NothingToDo as exc:  # a finished run: say so, rewrite nothing
        if not dist.is_main():
            return
        emit_run_summary(out, read_run_json(out), as_json, str(exc), nothing_to_do=str(exc))
        return
    if not dist.is_main():  # rank 0 reports for all
        return
    info = result.info
    best = info.get("best") or (info["history"][-1] if info["history"] else {})
    done = (
        f"trained {info['method']} into {out} in {info['train_seconds']:.1f}s; "
        f"best validation accuracy {fmt_pct(best.get('val_accuracy'))}"
    )
    emit_run_summary(out, info, as_json, done)
