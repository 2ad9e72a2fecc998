"""The options and output helpers every command shares, built-in or added by a plugin (no torch imports
here): one flag has one name, type, default and validation everywhere."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import click

from gfcore.config import MAX_SEED
from gfcore.execution.device import DEVICE_CHOICES

# --- shared options ------------------------------------------------------------------------------------
# Every command takes its common options from here, so a flag means the same thing (name, type, default,
# validation) everywhere. Values are checked by Click types: a bad one is a usage error (exit status 2)
# before any work starts. Conventions: CONTRIBUTING.md, "Command-line conventions" (metavars: an upper-case
# noun, never Click's TEXT/PATH/DIRECTORY; defaults: shown in --help, or said in words where they are None).

#: what --help says for an option whose default (None) is the method's own Config value
METHOD_DEFAULT = "the method's; see `gfp plugins NAME`"

# Upper bounds of the numbers the commands take (tests/test_cli.py asks every numeric option for one). Each
# is far above real use, so it only turns a typo (`--repeats 10000000000`) into a usage error before any work,
# instead of a study that never ends or an allocation that fails minutes in.
MAX_EPOCHS = 100_000  # the paper trains for tens of epochs
MAX_ITERS = 100_000_000  # GAN updates: the paper's longest runs are a few hundred thousand
MAX_BATCH = (
    65_536  # images per batch: 65k images of 256x256 are 12 GB of uint8, more than a GPU holds as floats
)
MAX_IMAGES = 10_000_000  # images a command writes or uses per source (`-n`): 10 million 32x32 PNGs are ~30 GB
MAX_REPEATS = 1_000  # trainings of each method in a study: 1000 already takes 1000 times the study's time
MAX_WORKERS = 256  # decoding processes: more than the cores of any one machine
MAX_WIDTH = 16.0  # network channel multipliers: 1 is the paper's network, 16 has ~256 times its weights

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout (progress stays on stderr)."
)
device_option = click.option(
    "--device",
    type=click.Choice(DEVICE_CHOICES),
    default="auto",
    show_default=True,
    help="Where tensors live: auto picks CUDA, then MPS, then CPU.",
)
seed_option = click.option(
    "--seed",
    type=click.IntRange(min=0, max=MAX_SEED),
    metavar="SEED",
    default=0,
    show_default=True,
    help="Random seed (>= 0): the same seed gives the same result.",
)
precision_option = click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16"]),
    default="fp32",
    show_default=True,
    help="Neural methods: bf16 runs forward passes under autocast (fast on GPUs; check accuracy first).",
)
compile_option = click.option(
    "--compile",
    "compile_network",
    is_flag=True,
    help="Neural methods: run the network through torch.compile.",
)
repeats_option = click.option(
    "--repeats",
    type=click.IntRange(1, MAX_REPEATS),
    metavar="K",
    default=1,
    show_default=True,
    help="Train every method this many times (seeds SEED, SEED+1, ...; the dataset's splits stay fixed) "
    "and report the mean accuracy with a 95% t-interval; with 1, a Wilson interval over the test images. "
    "Every method is tested against the learned network on the same test images (exact McNemar); about "
    "K times the time.",
)
runs_dir_option = click.option(
    "--runs",
    "runs_dir",
    type=click.Path(file_okay=False),
    metavar="FOLDER",
    default=None,
    show_default="OUT/runs",
    help="Folder of run folders, one per method: a finished run there that matches the dataset, "
    "method, parameters and seed is reused, an unfinished one resumed.",
)
progress_option = click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Show progress bars on stderr."
)


class FiniteFloatRange(click.FloatRange):
    """A ``click.FloatRange`` that also refuses ``nan`` and infinities (FloatRange accepts ``nan``: every
    comparison with it is false, so ``--lr nan`` passed ``min=0, min_open=True``)."""

    name = "finite float range"

    def convert(self, value, param, ctx):
        number = click.types.FloatParamType.convert(self, value, param, ctx)  # finiteness before the range
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


def out_option(help: str, required: bool = True, **kwargs):
    """``--out FOLDER`` (a folder, never a file), passed to the command as a :class:`~pathlib.Path`."""
    return click.option(
        "--out",
        "out",
        required=required,
        type=click.Path(file_okay=False, path_type=Path),
        metavar="FOLDER",
        help=help,
        **kwargs,
    )


def false_unknown_rate_option(default: str = "the run's own, else 0.05"):
    """``--false-unknown-rate RATE``: the share of known-source images the open-set rule may call unknown,
    which sets its threshold on the validation split; ``default`` says what None means for the command
    (gfcore.inference.openset's DEFAULT_FALSE_UNKNOWN_RATE, 0.05, when there is no run to keep it from)."""
    return click.option(
        "--false-unknown-rate",
        type=FiniteFloatRange(min=0, max=0.5, min_open=True),
        metavar="RATE",
        default=None,
        show_default=default,
        help="Share of validation images of the known sources the open-set rule may call unknown.",
    )


def count_option(help: str):
    """``-n N``: how many items to write (at least 1)."""
    return click.option("-n", "n", required=True, type=click.IntRange(1, MAX_IMAGES), metavar="N", help=help)


def emit_json(obj) -> None:
    """One strict JSON document on stdout (NaN/inf as null, paths as strings)."""
    from gfcore.storage.jsonio import json_safe

    sys.stdout.write(json.dumps(json_safe(obj), indent=2, allow_nan=False, default=_path_to_str) + "\n")


def _path_to_str(value):
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


PIPED_WIDTH = 160  # columns of the tables and lines gfp prints when stdout is not a terminal


def stdout_console():
    from rich.console import Console

    # markup off: tables and lines hold user names ("[red]", "[/b]"), printed literally. Piped into a file
    # or another program, rich would assume 80 columns and cut the tables' numbers; use 160 unless
    # COLUMNS says otherwise
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPED_WIDTH
    return Console(markup=False, width=width)


def init_from_option(help: str):  # noqa: A002 -- Click's name
    """``--init-from RUN``: start from another run's weights instead of a random initialisation."""
    return click.option(
        "--init-from",
        "init_from",
        type=click.Path(file_okay=False),
        metavar="RUN",
        default=None,
        show_default="none: a random initialisation",
        help=help,
    )
