"""Distributed training (torchrun, gloo on CPU) takes the steps one process takes with the same global batch,
and resumes; the collectives of gfcore.distributed are the identity in one process."""

import os
import subprocess
import sys

import pytest
import torch

from gfcore import distributed as dist
from gfcore.errors import GfpError
from gfcore.runs import train_run
from gfcore.tensorio import load_tensors

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC, EPOCHS, BATCH, LR = "learned:width=0.125", 2, 8, 1e-3


def torchrun(*args):
    """``torchrun --standalone --nproc_per_node 2 -m gfp ARGS`` (a free port, gloo on CPU)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "gfp", *map(str, args), "--device", "cpu", "--no-progress"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_two_processes_match_one_with_the_same_global_batch_and_resume(tiny_dataset, tmp_path):
    overrides = {"epochs": EPOCHS, "batch_size": BATCH, "lr": LR}
    train_run(tiny_dataset, tmp_path / "one", SPEC, seed=3, overrides=overrides)
    # two processes: one epoch, then --resume to the second (every rank loads the same checkpoint)
    common = ["--method", SPEC, "--seed", 3, "--batch-size", BATCH, "--lr", LR]
    first = torchrun("train", tiny_dataset.path, "--out", tmp_path / "two", *common, "--epochs", 1)
    assert first.returncode == 0, first.stderr
    second = torchrun("train", tiny_dataset.path, "--out", tmp_path / "two", "--resume", "--epochs", EPOCHS)
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("trained learned") == 1  # rank 0 alone reports
    one = load_tensors(tmp_path / "one" / "last.safetensors")[0]
    two, meta = load_tensors(tmp_path / "two" / "last.safetensors")
    assert meta["epoch"] == EPOCHS
    # Tolerance from the numerics: the two runs differ only in the order of float32 sums (a global batch's
    # mean gradient as one sum, or as two half-batch means averaged by all-reduce), a relative gradient
    # difference of order 1e-7 * (terms summed) ~ 1e-4 at most. Adam's update is invariant to the
    # gradient's scale and moves a weight by at most ~lr per step, so after `steps` steps the weights
    # differ by far less than steps * lr * 1e-2 (measured: ~1e-6). Gradients that are not averaged over
    # the ranks (each rank stepping on its half batch) differ by ~3e-2 here, 200x over it.
    steps = EPOCHS * (len(tiny_dataset.split("train")) // BATCH)
    tolerance = steps * LR * 1e-2
    diffs = {k: (one[k].double() - two[k].double()).abs().max().item() for k in one if k.startswith("model.")}
    assert max(diffs.values()) < tolerance, max(diffs.items(), key=lambda kv: kv[1])


def test_an_uneven_global_batch_is_one_line(monkeypatch):
    monkeypatch.setattr(dist, "world_size", lambda: 2)
    assert dist.per_rank_batch(8) == 4
    with pytest.raises(GfpError, match="batch_size 7 does not divide over 2 processes; use a multiple of 2"):
        dist.per_rank_batch(7)


def test_collectives_are_the_identity_in_one_process():
    assert (dist.world_size(), dist.rank(), dist.is_main()) == (1, 0, True)
    assert list(dist.shard(5)) == [0, 1, 2, 3, 4]
    t = torch.arange(6.0).reshape(3, 2)
    assert dist.gather_rows(t) is t
    assert dist.gather_json({"a": [1]}) == [{"a": [1]}]
    assert dist.all_sum(2, 3.5) == [2.0, 3.5]
    assert dist.per_rank_batch(7) == 7
