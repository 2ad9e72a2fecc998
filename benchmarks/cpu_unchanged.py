"""Is the CPU path unchanged? Trains the same small runs with this checkout and with an earlier commit (taken
with `git archive` into a temporary folder, imported ahead of this checkout), one torch thread each, and
compares the SHA-256 of the final weights and optimiser state. Equal hashes mean the same training, bit for bit.

    python benchmarks/cpu_unchanged.py 14ed203 [--specs learned:width=0.125 cnn]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN = """
import hashlib, sys, torch
torch.set_num_threads(1)
from gfcore.data.dataset import load_dataset
from gfcore.runs.training import train_run
from gfcore.storage.tensorio import load_tensors
data, out = load_dataset(sys.argv[1]), sys.argv[2]
for i, spec in enumerate(sys.argv[3:]):
    train_run(data, f"{out}/{i}", spec, seed=2, overrides={"epochs": 2, "batch_size": 8})
    t = load_tensors(f"{out}/{i}/last.safetensors")[0]
    print(spec, hashlib.sha256(b"".join(t[k].numpy().tobytes() for k in sorted(t))).hexdigest()[:16])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the earlier commit")
    parser.add_argument("--specs", nargs="+", default=["learned:width=0.125", "cnn"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = tmp / "old"
        old.mkdir()
        archive = subprocess.run(["git", "archive", args.rev], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        from gfcore.data.dataset import prepare_dataset
        from gfcore.data.synthetic import write_fingerprint_folders

        write_fingerprint_folders(tmp / "src", 3, 20, 16, 24.0)
        prepare_dataset(tmp / "src", tmp / "ds", resolution=16)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        hashes = {}
        for name, path in (("old", f"{old}:{old}/plugins:{old}/cli"), ("new", "")):
            run_env = {**env, "PYTHONPATH": path} if path else env
            out = subprocess.run(
                [sys.executable, "-c", TRAIN, str(tmp / "ds"), str(tmp / name), *args.specs],
                env=run_env,
                check=True,
                capture_output=True,
                text=True,
            )
            hashes[name] = out.stdout.split("\n")
    for old_line, new_line in zip(hashes["old"], hashes["new"]):
        if old_line:
            verdict = "same" if old_line == new_line else "DIFFERENT"
            print(f"{args.rev}: {old_line}   this checkout: {new_line.split()[-1]}   {verdict}")


if __name__ == "__main__":
    main()
