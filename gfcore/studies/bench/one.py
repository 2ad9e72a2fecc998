"""One method of a bench: its repeats trained (or reused), evaluated on the test split and -- when it has
image fingerprints -- scored with the FD ratio, then summed up in one :class:`BenchRow`.

A failure is recorded in the row (``error``), never raised, so one method cannot end the bench."""

from __future__ import annotations

from dataclasses import replace

from gfcore.data.dataset import PreparedDataset
from gfcore.errors import GfpError
from gfcore.inference.evaluation import predict_split
from gfcore.interfaces import Split
from gfcore.studies.bench.plan import MethodPlan, obtain_run
from gfcore.studies.bench.repeats import (
    aggregate,
    encode_correct,
    repeat_init_from,
    repeat_run_dir,
    repeat_seeds,
)
from gfcore.studies.bench.rows import BenchRow
from gfcore.studies.bench.separability import DEFAULT_FD_DIM, fingerprint_separability
from gfcore.terminal.formatting import fmt_num, fmt_pct
from gfcore.terminal.progress import Reporter


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    message = text.splitlines()[0] if text else type(exc).__name__
    return message if isinstance(exc, GfpError) else f"{type(exc).__name__}: {message}"


def run_repeat(
    plan: MethodPlan,
    dataset: PreparedDataset,
    test: Split,
    seed: int,
    *,
    device,
    reporter: Reporter,
    max_fd_images: int,
    fd_dim: int,
    task,
    step: list[str],
) -> tuple[dict, dict]:
    """Train or reuse one repeat of ``plan`` (its run folder holds ``seed``), evaluate it and measure its
    FD ratio; returns the repeat's entry (results.json) and its classification report. ``step[0]`` says
    what it was doing, for the error line of a failure."""
    from gfcore.inference.metrics import classification_report
    from gfcore.runs.attributor import check_compatible, load_run

    entry = {"seed": seed, "run": str(plan.run_dir)}
    task.update(status=f"seed {seed}: training")
    entry["reused"] = obtain_run(plan, dataset, seed, device, reporter)
    task.advance()

    step[0] = "evaluating"
    task.update(status=f"seed {seed}: evaluating")
    attributor, info = load_run(plan.run_dir, device)  # the best weights, as `gfp evaluate` uses
    check_compatible(info, dataset, plan.run_dir)
    logits, seconds = predict_split(attributor, test, reporter)
    predictions = logits.argmax(1)
    report = classification_report(test.labels, predictions, attributor.classes)
    entry["accuracy"], entry["macro_f1"] = report["accuracy"], report["macro_f1"]
    entry["train_seconds"] = info.get("train_seconds")
    entry["images_per_second"] = round(len(test) / seconds, 1) if seconds > 0 else None
    task.advance()

    entry["fd_ratio"], entry["fd"] = None, None
    step[0] = "fingerprints"
    if attributor.has_fingerprints:
        task.update(status=f"seed {seed}: FD ratio")
        try:
            fd = fingerprint_separability(
                attributor, dataset.split("train"), test, seed, max_fd_images, reporter, dim=fd_dim
            )
        except GfpError as exc:  # e.g. too few test images per class: the accuracy still stands
            fd = {"fd_ratio": None, "note": str(exc)}
            reporter.warn(f"{plan.spec}: no FD ratio: {exc}")
        entry["fd_ratio"], entry["fd"] = fd.pop("fd_ratio"), fd
    task.advance()
    entry["correct"] = encode_correct(predictions == test.labels)
    return entry, report


def bench_one(
    plan: MethodPlan,
    dataset: PreparedDataset,
    test: Split,
    *,
    seed: int,
    device,
    reporter: Reporter,
    max_fd_images: int,
    repeats: int = 1,
    fd_dim: int = DEFAULT_FD_DIM,
    position: str = "",
) -> BenchRow:
    """Train or reuse, evaluate and fingerprint ``repeats`` runs of one method (seeds ``seed``,
    ``seed + 1``, ...); errors are recorded in the row, not raised."""
    start = str(plan.init_from.resolve()) if plan.init_from is not None else None
    row = BenchRow(spec=plan.spec, method=plan.method, slug=plan.slug, run=str(plan.run_dir), init_from=start)
    task = reporter.task(f"{position}{plan.spec}", total=3 * repeats)
    entries, reports = [], []
    for index, repeat_seed in enumerate(repeat_seeds(seed, repeats)):
        repeat = replace(
            plan,
            run_dir=repeat_run_dir(plan, index, repeat_seed),
            init_from=repeat_init_from(plan, index, repeat_seed),
        )
        step = ["training"]
        try:
            entry, report = run_repeat(
                repeat,
                dataset,
                test,
                repeat_seed,
                device=device,
                reporter=reporter,
                max_fd_images=max_fd_images,
                fd_dim=fd_dim,
                task=task,
                step=step,
            )
        except Exception as exc:  # one method's failure, whatever it is, must not end the bench
            prefix = f"seed {repeat_seed}, " if repeats > 1 else ""
            row.error = f"{prefix}{step[0]}: {_one_line(exc)}"
            task.update(status="failed")
            reporter.warn(f"{plan.spec} failed while {prefix}{step[0]}: {_one_line(exc)}")
            return row
        entries.append(entry)
        reports.append(report)
    aggregate(row, entries, reports)
    row.fd = next((e["fd"] for e in entries if e["fd"] is not None), None)
    task.update(status="done")
    log_row(row, len(entries), len(test), reporter)
    return row


def log_row(row: BenchRow, runs: int, test_images: int, reporter: Reporter) -> None:
    """One line of a finished method's numbers, and one more when its FD ratio is on a subsample."""
    fd_text = f", FD ratio {fmt_num(row.fd_ratio, 3)}" if row.fd is not None else ""
    low, high = row.accuracy_ci95
    reporter.log(
        f"{row.spec}: accuracy {fmt_pct(row.accuracy)} (95% {fmt_pct(low)} to {fmt_pct(high)}, "
        f"{runs} run(s)), macro-F1 {fmt_num(row.macro_f1, 4)}{fd_text}, "
        f"{fmt_num(row.images_per_second, 1)} images/s"
    )
    if row.fd and row.fd.get("subsampled"):
        reporter.log(
            f"{row.spec}: FD ratio on a class-stratified subsample of {row.fd['images']} of "
            f"{test_images} test images"
        )
