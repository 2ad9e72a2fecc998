from pathlib import Path

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
    from gfcore.studies.bench.render import confusion_table, to_rich
    from gfcore.terminal.formatting import fmt_num

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


def interval(bounds) -> str:
    return f"{fmt_pct(bounds[0])} to {fmt_pct(bounds[1])}" if bounds else "-"


def print_extras(report: dict) -> None:
    """Calibration, open-set and realistic-subset lines under the confusion matrix."""
    from gfcore.inference.openset import describe_rule

    console = stdout_console()  # markup off already

    def say(line: str) -> None:
        console.print(line, highlight=False)

    c = report["calibration"]
    say(
        f"calibration ({c['note']}): ECE {fmt_pct(c['ece_before'])} before, {fmt_pct(c['ece_after'])} after "
        f"({c['ece_bins']} equal-width bins); NLL {c['nll_before']:.4f} -> {c['nll_after']:.4f}",
    )
    if (o := report["open_set"]) is not None:
        say(
            f"open set ({describe_rule(o)}): "
            f"{fmt_pct(o['false_unknown_rate_measured'])} of these known-source images called unknown (chosen "
            f"for {fmt_pct(o['false_unknown_rate'])} on validation); accuracy counting them wrong "
            f"{fmt_pct(o['accuracy_open_set'])}",
        )
    if (r := report["realistic_subset"]) is not None:
        say(
            f"realistic subset ({100 * r['fraction']:.0f}% of each source, real too, nearest a real training "
            f"image; {r['feature_space']}): accuracy {fmt_pct(r['accuracy'])} on {r['n']} images "
            f"(95% interval {interval(r['accuracy_interval_95'])}), against {fmt_pct(r['accuracy_all'])} "
            f"on all {r['n_all']} test images ({interval(r['accuracy_all_interval_95'])})",
        )
    if report["reliability_png"]:
        say(f"reliability diagram: {report['reliability_png']}")


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option(
    "--split",
    type=click.Choice(["train", "val", "test"]),
    default="test",
    show_default=True,
    help="The split of DATASET to evaluate on.",
)
@click.option(
    "--attack",
    "attack_spec",
    metavar="SPEC",
    default=None,
    show_default="none: the images as they are",
    help="Perturb the images on the fly first with this attack (noise, blur, crop, jpeg, relight, combo), "
    "with optional parameters: jpeg:quality=30.",
)
@click.option(
    "--reliability-png",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    default=None,
    show_default="none: no diagram",
    help="Write a reliability diagram (accuracy against confidence, before and after the run's temperature) "
    "to this new PNG file.",
)
@click.option(
    "--realistic-subset",
    is_flag=True,
    help="Also report the accuracy on the 10% of each generated source's images nearest to a real training "
    "image (raw pixels downsampled to 8x8; the paper's section on realistic images).",
)
@click.option(
    "--real-class",
    metavar="CLASS",
    default="real",
    show_default=True,
    help="The class of real images, for --realistic-subset.",
)
@seed_option
@device_option
@precision_option
@compile_option
@json_option
@progress_option
def evaluate(
    run,
    dataset,
    split,
    attack_spec,
    reliability_png,
    realistic_subset,
    real_class,
    seed,
    device,
    precision,
    compile_network,
    as_json,
    progress,
):
    """Accuracy, per-class accuracy, confusion matrix and macro-F1 of RUN on a DATASET split, optionally
    on images perturbed by --attack (seeded: the same seed gives the same perturbed images).

    Also the expected calibration error (15 equal-width bins) before and after the run's temperature
    (a run without one: T = 1, said so), and, when the run stores an open-set threshold, the share of
    these known-source images it calls unknown. Under torchrun each process evaluates a block of the
    split and rank 0 reports."""
    from gfcore.data.dataset import load_dataset
    from gfcore.errors import GfpError
    from gfcore.execution import distributed as dist
    from gfcore.execution.accel import configure
    from gfcore.inference.attacks import build_attack, describe_attack
    from gfcore.inference.evaluation import REPORT_VERSION, evaluate_logits
    from gfcore.inference.openset import split_report
    from gfcore.runs.attributor import check_compatible, load_run

    if reliability_png is not None and reliability_png.exists():
        raise GfpError(f"{reliability_png} exists; gfp does not overwrite files: choose another name")
    attack = build_attack(attack_spec) if attack_spec else None
    data = load_dataset(dataset)
    attributor, info = load_run(run, dist.resolve_and_join(device))
    configure(attributor, precision, compile_network)
    check_compatible(info, data, run)
    if realistic_subset and real_class not in info["classes"]:  # refused before any work
        raise GfpError(
            f"no class named {real_class!r} to measure realism against (--real-class; classes: "
            f"{', '.join(info['classes'])})"
        )
    with dist.progress_for_rank(progress) as reporter:
        chosen = data.split(split)
        report, logits = evaluate_logits(attributor, chosen, reporter, attack=attack, seed=seed)
    if not dist.is_main():  # under torchrun: each rank computed a block; rank 0 reports
        return
    calibration, open_set = split_report(logits, chosen.labels, info, run)
    realistic = None
    if realistic_subset:
        from gfcore.studies.realistic import realistic_report

        realistic = realistic_report(
            chosen, data.split("train"), info["classes"], logits.argmax(1), real_class
        )
    if reliability_png is not None:
        from gfcore.studies.figures import save_reliability_png

        title = f"{info['method']} on {Path(dataset).name} [{split}], {len(chosen)} images, 15 bins"
        save_reliability_png(reliability_png, logits, chosen.labels, calibration["temperature"], title)
    report = {
        "version": REPORT_VERSION,
        "run": str(run),
        "method": info["method"],
        "dataset": str(dataset),
        "split": split,
        "attack": describe_attack(attack, attack_spec) if attack else None,
        "seed": seed,
        **report,
        "calibration": calibration,
        "open_set": open_set,
        "realistic_subset": realistic,
        "reliability_png": str(reliability_png) if reliability_png is not None else None,
    }
    if as_json:
        emit_json(report)
    else:
        scale = report["attack"].get("scale") if attack else None
        under = f", attack {attack_spec}{f', {scale}' if scale else ''} (seed {seed})" if attack else ""
        print_report(report, f"{info['method']} on {dataset} [{split}{under}]")
        print_extras(report)
