import click

from gfp.common import (
    MAX_EPOCHS,
    compile_option,
    device_option,
    emit_run_summary,
    false_unknown_rate_option,
    fmt_pct,
    json_option,
    out_option,
    precision_option,
    progress_option,
    seed_option,
)


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option(
    "--attack",
    "attack_spec",
    metavar="SPEC",
    default=None,
    show_default="required for a new run; with --resume, the run's own",
    help="The attack to immunize against (noise, blur, crop, jpeg, relight, combo), with optional "
    "parameters: jpeg:quality=30.",
)
@out_option("Folder for the immunized run (a new run; RUN is left as it is).")
@click.option(
    "--epochs",
    type=click.IntRange(1, MAX_EPOCHS),
    metavar="N",
    default=None,
    show_default="5; with --resume, the run's own",
    help="Fine-tuning epochs (with --resume: the new total).",
)
@false_unknown_rate_option()
@seed_option
@device_option
@precision_option
@compile_option
@click.option("--resume", is_flag=True, help="Continue the immunized run in --out from its last checkpoint.")
@json_option
@progress_option
def immunize(
    run,
    dataset,
    attack_spec,
    out,
    epochs,
    false_unknown_rate,
    seed,
    device,
    precision,
    compile_network,
    resume,
    as_json,
    progress,
):
    """Fine-tune the trained network of RUN on DATASET's training images perturbed on the fly by --attack,
    validating on perturbed validation images, into a new run --out.

    The new run keeps RUN's class order and settings and records the attack and RUN in its run.json;
    `gfp evaluate OUT DATASET --attack NAME` then measures it. Methods that train by gradient descent
    (learned, cnn) can be immunized; others are refused in one line.

    On many processes: torchrun --nproc_per_node N -m gfp immunize ... (the batch is the global batch).
    """
    from gfcore.data.dataset import load_dataset
    from gfcore.errors import NothingToDo
    from gfcore.execution import distributed as dist
    from gfcore.runs.attributor import read_run_json
    from gfcore.studies.immunize import immunize_run

    device = dist.resolve_and_join(device)
    data = load_dataset(dataset)
    try:
        with dist.progress_for_rank(progress) as reporter:
            result = immunize_run(
                run,
                data,
                attack_spec,
                out,
                epochs=epochs,
                seed=seed,
                device=device,
                resume=resume,
                reporter=reporter,
                false_unknown_rate=false_unknown_rate,
                precision=precision,
                compile=compile_network,
            )
    except NothingToDo as exc:  # a finished run: say so, rewrite nothing
        if not dist.is_main():
            return
        emit_run_summary(out, read_run_json(out), as_json, str(exc), nothing_to_do=str(exc))
        return
    if not dist.is_main():  # rank 0 reports for all
        return
    info = result.info
    best = info.get("best") or {}
    done = (
        f"immunized {info['method']} against {info['attack']['spec']} into {out} in "
        f"{info['train_seconds']:.1f}s; best validation accuracy on attacked images "
        f"{fmt_pct(best.get('val_accuracy'))}"
    )
    emit_run_summary(out, info, as_json, done, parent=info["parent"], attack=info["attack"])
