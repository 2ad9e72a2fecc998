"""Options and output helpers shared by the commands (no torch imports here)."""

from __future__ import annotations

import json
import sys

import click

from gfcore.device import DEVICE_CHOICES
from gfcore.formatting import fmt_pct  # noqa: F401  (re-exported: the one percent formatter)

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
device_option = click.option(
    "--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True,
    help="Where tensors live: auto picks CUDA, then MPS, then CPU.")
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
progress_option = click.option("--progress/--no-progress", default=True, show_default=True,
                               help="Show progress bars on stderr.")


def emit_json(obj) -> None:
    """One strict JSON document on stdout (NaN/inf as null)."""
    from gfcore.jsonio import json_safe

    sys.stdout.write(json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")


def stdout_console():
    from rich.console import Console

    return Console()
