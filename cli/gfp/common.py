"""Options and output helpers of the built-in commands: the shared ones live in
:mod:`gfcore.terminal.options` (plugins' commands use them too), the rest are the CLI's own."""

from __future__ import annotations

import click

from gfcore.terminal.formatting import fmt_pct  # noqa: F401  (re-exported: the one percent formatter)
from gfcore.terminal.options import (  # noqa: F401  (re-exported for the commands)
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_IMAGES,
    MAX_ITERS,
    MAX_REPEATS,
    MAX_WIDTH,
    MAX_WORKERS,
    METHOD_DEFAULT,
    PIPED_WIDTH,
    FiniteFloatRange,
    compile_option,
    count_option,
    device_option,
    emit_json,
    false_unknown_rate_option,
    init_from_option,
    json_option,
    out_option,
    precision_option,
    progress_option,
    repeats_option,
    runs_dir_option,
    seed_option,
    stdout_console,
)


def emit_run_summary(out, info: dict, as_json: bool, done: str, **extra) -> None:
    """What ``gfp train`` and ``gfp immunize`` print: with ``--json`` the run folder and the essentials of
    its run.json (plus ``extra``), else the line ``done``."""
    if as_json:
        keys = ("method", "config", "classes", "best", "history", "train_seconds")
        emit_json({"run": str(out), **extra, **{k: info.get(k) for k in keys}})
    else:
        click.echo(done)
