"""Studies built on the machinery: the bench (methods side by side, with intervals and paired tests), the
shortcut audit, open-set evaluation, the realistic subset, immunization, the persistence study, the FD ratio,
statistics and figures.

The machinery never imports this package; the CLI and plugins may. This module is the studies' public face
for plugins (a demo, an experiment): the names below are promised, the modules underneath are not. Names
load on first use.
"""

from __future__ import annotations

import importlib

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "DEFAULT_MAX_FD_IMAGES",
            "SPLIT",
            "BenchResults",
            "BenchRow",
            "bench_one",
            "plan_methods",
            "run_bench",
            "write_results",
        ),
        "gfcore.studies.bench",
    ),
    **dict.fromkeys(("PIXELS", "fmt_interval", "fmt_p", "paired_note"), "gfcore.studies.bench.notes"),
    **dict.fromkeys(
        (
            "TextTable",
            "confusion_table",
            "immunize_note",
            "robustness_table",
            "scale_notes",
            "to_json",
            "to_markdown",
        ),
        "gfcore.studies.bench.render",
    ),
    "RobustnessRow": "gfcore.studies.bench.rows",
    "DegradationRow": "gfcore.studies.bench.rows",
    **dict.fromkeys(
        ("degradation_levels", "degradation_markdown", "degradation_table"),
        "gfcore.studies.bench.degradations",
    ),
    "write_visuals": "gfcore.studies.visualize.report",
    **dict.fromkeys(("pyplot", "save_figure"), "gfcore.studies.figures"),
    **dict.fromkeys(("persistence_study", "persistence_variants"), "gfcore.studies.persistence"),
    "run_loso": "gfcore.studies.openset",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gfcore.studies' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
