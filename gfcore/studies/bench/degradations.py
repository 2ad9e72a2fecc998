"""The standard degradation table of a bench (``gfp bench --degradations``): every method, as trained (no
retraining, no immunization), evaluated on the test split under each fixed degradation level -- real and
generated test images alike -- beside its clean accuracy, each with the Wilson 95% interval over the test
images (:func:`gfcore.studies.stats.wilson_interval`).

The levels are what the registered attacks declare in ``Attack.degradation_levels`` (the built-in
attacks declare the levels of the field's benchmarks: downsampling, JPEG, blur and their chain), looked
up in the registry's order, so a plugin can add levels or replace the attack behind them; the core names
none. A level is deterministic: the same images give the same accuracy on every run.

Like the robustness section, the table uses each method's first repeat (the run of the bench seed)."""

from __future__ import annotations

from gfcore.errors import GfpError
from gfcore.inference.attacks import build_attack
from gfcore.studies.bench.notes import fmt_interval
from gfcore.studies.bench.render import TextTable, to_markdown
from gfcore.studies.bench.rows import BenchResults, DegradationRow
from gfcore.studies.stats import wilson_interval
from gfcore.terminal.formatting import fmt_pct
from gfcore.terminal.progress import Reporter


def degradation_levels() -> list[tuple[str, str]]:
    """``(label, attack spec)`` of every level the registered attacks declare. Each spec is built here,
    so a level that cannot be made is one :class:`GfpError` line before anything trains."""
    from gfcore.plugins import get_registries

    attacks = get_registries().attacks
    levels: list[tuple[str, str]] = []
    for name in attacks.names():
        for label, params in attacks.get(name).degradation_levels:
            spec = f"{name}:{params}" if params else name
            try:
                build_attack(spec)
            except GfpError as exc:
                raise GfpError(f"degradation level {label!r} ({spec}): {exc}") from None
            # two plugins may both declare "JPEG 30": the attack's name keeps the table's rows apart
            taken = any(label == other for other, _ in levels)
            levels.append((f"{label} ({name})" if taken else label, spec))
    if not levels:
        raise GfpError("--degradations: no registered attack declares degradation levels")
    return levels


def _wilson(accuracy: float | None, n: int) -> list[float] | None:
    """The Wilson interval of an accuracy measured on ``n`` images (its count of correct images is exact:
    the accuracy is that count over ``n``)."""
    if accuracy is None or n == 0 or accuracy != accuracy:  # NaN: an empty split
        return None
    interval = wilson_interval(round(accuracy * n), n)
    return list(interval) if interval is not None else None


def run_degradations(
    results: BenchResults, dataset, levels: list[tuple[str, str]], *, seed: int, device, reporter: Reporter
) -> None:
    """Fill ``results.degradations``: one row per method that ran without error and level. One failing
    cell (or a run that no longer loads) is an error in its rows, never the end of the bench."""
    from gfcore.inference.evaluation import split_accuracy
    from gfcore.runs.attributor import load_run

    test = dataset.split("test")
    n = len(test)
    for row in (r for r in results.methods if not r.error):
        clean = row.repeats[0]["accuracy"] if row.repeats else row.accuracy  # the evaluated run's
        cells = [DegradationRow(row.spec, label, spec, n, clean, _wilson(clean, n)) for label, spec in levels]
        job = reporter.task(f"{row.spec}: degradations", total=len(levels))
        try:
            attributor, _ = load_run(row.run, device)
        except Exception as exc:  # the other methods' rows still count
            attributor, failure = None, _one_line(exc)
        for cell in cells:
            try:
                if attributor is None:
                    raise GfpError(failure)
                attack = build_attack(cell.attack)
                cell.accuracy = split_accuracy(attributor, test, attack=attack, seed=seed)
                cell.accuracy_ci95 = _wilson(cell.accuracy, n)
            except Exception as exc:  # one cell's failure must not end the bench
                cell.error = _one_line(exc)
                reporter.warn(f"{row.spec} under {cell.level}: {cell.error}")
            job.advance()
        job.done()
        results.degradations += cells
        reporter.log(
            f"{row.spec} degraded (clean {fmt_pct(clean)}): "
            + ", ".join(f"{c.level} {fmt_pct(c.accuracy)}" for c in cells)
        )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- rendering (render.py holds the renderers; this table is built here, next to its numbers) ------------
DEGRADATION_COLUMNS = ("level", "method", "accuracy", "95% interval", "clean", "clean 95%", "change")


def degradation_table(results: BenchResults) -> TextTable:
    """Level by level, each method's accuracy on the degraded test split beside its clean accuracy (both
    with Wilson intervals) and the change in percentage points."""
    table = TextTable(
        list(DEGRADATION_COLUMNS),
        title="standard degradations: accuracy on the degraded test split",
        text_columns=frozenset({"level", "method"}),
    )
    for cell in results.degradations:
        change = "-"
        if cell.accuracy is not None and cell.clean is not None:
            change = f"{100 * (cell.accuracy - cell.clean):+.2f}"
        table.rows.append(
            [
                cell.level,
                cell.spec,
                f"failed: {cell.error}" if cell.error else fmt_pct(cell.accuracy),
                fmt_interval(cell.accuracy_ci95),
                fmt_pct(cell.clean),
                fmt_interval(cell.clean_ci95),
                change,
            ]
        )
    return table


def degradation_markdown(results: BenchResults) -> str:
    """The section of results.md (empty without ``--degradations``)."""
    if not results.degradations:
        return ""
    levels = dict.fromkeys((c.level, c.attack) for c in results.degradations)
    n = next((c.n for c in results.degradations if c.n), 0)
    lines = [
        "",
        "## Standard degradations",
        "",
        f"Each method as trained (no immunization) on the {n} {results.split} images, real and generated "
        "alike, under each fixed level; 95% intervals: Wilson, over the test images; change: degraded minus "
        "clean accuracy, in percentage points. Levels (the attack spec that makes each, usable as "
        "`gfp evaluate RUN DATASET --attack SPEC`):",
        "",
        *(f"- {label}: `{spec}`" for label, spec in levels),
        "",
        to_markdown(degradation_table(results)),
    ]
    return "\n".join(lines)
