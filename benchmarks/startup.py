"""Start-up wall time of the command line: `gfp --help` and `gfp attribute` on one image.

Each command runs as a fresh process (what a user waits for), ``--rounds`` times alternating; the median
wall time is printed. `gfp --help` must not import torch (it lists the commands); `gfp attribute` on one
image pays for importing torch, loading the plugins and the run, and one forward pass, on a run trained
here for one epoch on a tiny synthetic dataset. `python -c 'import torch'` is printed beside it: the part
of the start-up gfp cannot shorten.

    python benchmarks/startup.py [--rounds 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def gfp_command() -> list[str]:
    exe = shutil.which("gfp", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "gfp"]


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    from gfcore.data.dataset import load_dataset, prepare_dataset
    from gfcore.data.synthetic import write_fingerprint_folders
    from gfcore.runs.training import train_run

    gfp = gfp_command()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_fingerprint_folders(tmp / "src", 3, 20, 32)
        prepare_dataset(tmp / "src", tmp / "ds", resolution=32)
        train_run(load_dataset(tmp / "ds"), tmp / "run", "learned:width=0.125", overrides={"epochs": 1})
        image = next((tmp / "src" / "source_0").glob("*.png"))
        commands = {
            "python -c 'import torch'": [sys.executable, "-c", "import torch"],  # the floor under attribute
            "gfp --help": gfp + ["--help"],
            "gfp attribute (one image)": gfp
            + ["attribute", str(tmp / "run"), str(image), "--device", args.device, "--no-progress"],
        }
        for cmd in commands.values():
            wall(cmd)  # warm the page cache
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, cmd in commands.items():
                times[name].append(wall(cmd))
    print(
        f"start-up wall time, median of {args.rounds} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})"
    )
    for name, values in times.items():
        print(
            f"{name:28s} {float(np.median(values)):7.2f} s   (rounds: {', '.join(f'{v:.2f}' for v in values)})"
        )


if __name__ == "__main__":
    main()
