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
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
progress_option = click.option("--progress/--no-progress", default=True, show_default=True,
                               help="Show progress bars on stderr.")


def _clean(obj):
    """NaN/inf are not JSON: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(_clean(obj), indent=2) + "\n")


def stdout_console():
    from rich.console import Console

    return Console()


def fmt_pct(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}%"
