"""Fault injection: `gfp train` killed with SIGKILL at random moments of its training -- with epochs this
small, mostly while it writes a checkpoint (weights, optimiser state, run.json, each fsynced) -- and then
`--resume`d. Every resume must work and the finished run must be whole: every epoch in its history, the
last checkpoint at the last epoch, weights that load, no temporary left behind.

There is no hook to stop the writer at a chosen byte, so the test watches the run folder and kills the
process the moment the temporary of a write appears (a random file, after a random number of its writes;
seeded), which lands in the write itself: its bytes, its fsync or the rename."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from gfcore.data.dataset import prepare_dataset
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.runs.attributor import load_run
from gfcore.storage.tensorio import load_tensors

EPOCHS = 40  # enough checkpoints for every attempt to catch one
SPEC = "learned:width=0.125,batch_size=4"

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")


def train(ds, run, resume):
    cmd = [sys.executable, "-m", "gfp", "train", str(ds), "--out", str(run), "--epochs", str(EPOCHS)]
    cmd += ["--resume"] if resume else ["--method", SPEC]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd + ["--no-progress"], stderr=subprocess.PIPE, text=True, env=env)


def kill_during_a_write(proc, run, rng) -> str:
    """SIGKILL the moment a temporary of one of the run's files appears (the write is under way: its
    bytes, its fsync or its rename), the file chosen at random; what was killed, for the failure message."""
    # the two files every checkpoint writes (weights.safetensors only when validation improves: it may
    # never come again, and the attempt would run to the end)
    target = rng.choice(["last.safetensors", "run.json"])
    skip = rng.randint(0, 3)  # let a few of these writes through first
    seen_names, deadline = set(), time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            names = {e.name for e in os.scandir(run)}
        except FileNotFoundError:
            continue
        fresh = {n for n in names - seen_names if n.startswith(f".{target}.") and n.endswith(".tmp")}
        seen_names |= names
        if fresh:
            if skip == 0:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=60)
                return f"killed writing {target}"
            skip -= 1
    proc.kill()
    proc.wait(timeout=60)
    return f"no write of {target} caught (exit {proc.returncode})"


def test_training_killed_during_checkpoints_always_resumes_to_a_whole_run(tmp_path):
    write_fingerprint_folders(tmp_path / "src", num_sources=2, per_source=8, size=16, seed=7)
    prepare_dataset(tmp_path / "src", tmp_path / "ds", resolution=16)
    run, rng, log = tmp_path / "run", random.Random(0), []
    for _ in range(5):
        started = (run / "run.json").is_file()
        log.append(kill_during_a_write(train(tmp_path / "ds", run, resume=started), run, rng))
        if (run / "run.json").is_file():
            info = json.loads((run / "run.json").read_text())  # whole JSON after every kill
            if (run / "last.safetensors").is_file():  # whole, and the epoch of run.json or the next one
                epoch = load_tensors(run / "last.safetensors")[1]["epoch"]
                assert epoch - info.get("epochs_done", 0) in (0, 1), (log, epoch, info.get("epochs_done"))
    assert sum(entry.startswith("killed writing") for entry in log) >= 3, log
    final = train(tmp_path / "ds", run, resume=(run / "run.json").is_file())
    _, err = final.communicate(timeout=600)
    assert final.returncode == 0, (log, err)
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "complete" and info["epochs_done"] == EPOCHS, (log, info)
    assert [h["epoch"] for h in info["history"]] == list(range(1, EPOCHS + 1)), log
    assert load_tensors(run / "last.safetensors")[1]["epoch"] == EPOCHS
    load_run(run)  # the best weights load into the method
    assert sorted(p.name for p in run.iterdir()) == ["last.safetensors", "run.json", "weights.safetensors"], (
        log
    )
