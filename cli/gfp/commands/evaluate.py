import click

from gfp.common import (
    compile_option,
    device_option,
    emit_json,
    fmt_pct,
    json_option,
    precision_option,
    progress_option,
    seed_option,
    stdout_console,
)


def print_report(report: dict, title: str) -> None:
    from gfcore.bench.render import confusion_table, to_rich
    from gfcore.formatting import fmt_num

    console = stdout_console()
    console.print(
        f"{title}: accuracy {fmt_pct(report['accuracy'])}, macro-F1 {fmt_num(report['macro_f1'], 4)}, "
        f"{report['n']} images",
        highlight=False,
        markup=False,
    )
    console.print(
        to_rich(
            confusion_table(
                report["classes"],
                report["confusion_matrix"],
                report["per_class_accuracy"],
                title="confusion matrix (rows: true source, columns: predicted)",
            )
        )
    )


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option(
    "--attack",
    "attack_spec",
    metavar="NAME[:key=value,...]",
    default=None,
    help="Perturb the images on the fly first (noise, blur, crop, jpeg, relight, combo), e.g. jpeg:quality=30.",
)
@seed_option
@device_option
@precision_option
@compile_option
@json_option
@progress_option
def evaluate(run, dataset, split, attack_spec, seed, device, precision, compile_network, as_json, progress):
    """Accuracy, per-class accuracy, confusion matrix and macro-F1 of RUN on a DATASET split, optionally
    on images perturbed by --attack (seeded: the same seed gives the same perturbed images)."""
    from gfcore import distributed as dist
    from gfcore.accel import configure
    from gfcore.attacking import build_attack, describe_attack
    from gfcore.dataset import load_dataset
    from gfcore.evaluation import REPORT_VERSION, evaluate_split
    from gfcore.runs import check_compatible, load_run

    attack = build_attack(attack_spec) if attack_spec else None
    data = load_dataset(dataset)
    attributor, info = load_run(run, dist.resolve_and_join(device))
    configure(attributor, precision, compile_network)
    check_compatible(info, data, run)
    with dist.progress_for_rank(progress) as reporter:
        report = evaluate_split(attributor, data.split(split), reporter, attack=attack, seed=seed)
    if not dist.is_main():  # under torchrun: each rank computed a block; rank 0 reports
        return
    report = {
        "version": REPORT_VERSION,
        "run": str(run),
        "method": info["method"],
        "dataset": str(dataset),
        "split": split,
        "attack": describe_attack(attack, attack_spec) if attack else None,
        "seed": seed,
        **report,
    }
    if as_json:
        emit_json(report)
    else:
        under = f", attack {attack_spec} (seed {seed})" if attack else ""
        print_report(report, f"{info['method']} on {dataset} [{split}{under}]")
