"""Options and output helpers shared by the commands (no torch imports here)."""

from __future__ import annotations

import json
import math
import sys

import click

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
device_option = click.option(
    "--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True,
    help="Where tensors live: auto picks CUDA, then MPS, then CPU.")
seed_option = click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
                           help="Random seed (a non-negative integer).")
progress_option = click.option("--progress/--no-progress", default=True, show_default=True,
                               help="Show progress bars on stderr.")


def emit_json(obj) -> None:
    """One strict JSON document on stdout (NaN/inf as null)."""
    from gfcore.jsonio import json_safe

    sys.stdout.write(json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")


def stdout_console():
    from rich.console import Console

    return Console(markup=False)  # tables and lines hold user names ("[red]", "[/b]"): printed literally


def fmt_pct(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}%"
