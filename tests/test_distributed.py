"""Distributed runs (torchrun, gloo on CPU): training takes the steps one process takes with the same global
batch, and resumes; evaluate and attribute shard their inputs and rank 0 reports the whole; the collectives
of gfcore.execution.distributed are the identity in one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gfcore.errors import GfpError
from gfcore.execution import distributed as dist
from gfcore.inference.evaluation import decode_files, evaluate_split
from gfcore.runs.attributor import load_run
from gfcore.runs.training import train_run
from gfcore.storage.tensorio import load_tensors

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC, SEED, EPOCHS, BATCH, LR = "learned:width=0.125", 3, 2, 8, 1e-3
JOB = Path(__file__).with_name("distributed_job.py")


@pytest.fixture(scope="module")
def two_processes(tiny_dataset, tiny_sources, tmp_path_factory):
    """One torchrun launch of two processes running tests/distributed_job.py; its outputs by rank."""
    out = tmp_path_factory.mktemp("two")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    env["PYTHONFAULTHANDLER"] = "1"  # a rank that crashes (a signal) prints its Python stack
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(JOB)]
    cmd += map(str, [tiny_dataset.path, out, SPEC, SEED, BATCH, LR, EPOCHS, tiny_sources / "source_1"])
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-6000:]
    return out, json.loads((out / "outputs.json").read_text())


def test_two_processes_train_as_one_with_the_same_global_batch_and_resume(
    tiny_dataset, tmp_path, two_processes
):
    out, outputs = two_processes
    assert [o["world_size"] for o in outputs] == [2, 2]
    assert "trained learned" in outputs[0]["resume"] and outputs[1]["resume"] == ""  # rank 0 alone reports
    train_run(
        tiny_dataset,
        tmp_path / "one",
        SPEC,
        seed=SEED,
        overrides={"epochs": EPOCHS, "batch_size": BATCH, "lr": LR},
    )
    one = load_tensors(tmp_path / "one" / "last.safetensors")[0]
    two, meta = load_tensors(out / "run" / "last.safetensors")
    assert meta["epoch"] == EPOCHS and json.loads((out / "run" / "run.json").read_text())["processes"] == 2
    # Tolerance from the numerics: the runs differ only in the order of float32 sums (a global batch's mean
    # gradient as one sum, or as two half-batch means averaged by all-reduce), a relative gradient difference
    # of order 1e-7 * (terms summed) ~ 1e-4 at most. Adam's update is invariant to the gradient's scale and
    # moves a weight by at most ~lr per step, so after `steps` steps the weights differ by far less than
    # steps * lr * 1e-2 (measured: ~1e-6). Gradients not averaged over the ranks (each rank stepping on its
    # half batch) differ by ~3e-2 here, 200x over it.
    steps = EPOCHS * (len(tiny_dataset.split("train")) // BATCH)
    tolerance = steps * LR * 1e-2
    diffs = {k: (one[k].double() - two[k].double()).abs().max().item() for k in one if k.startswith("model.")}
    assert max(diffs.values()) < tolerance, max(diffs.items(), key=lambda kv: kv[1])


def test_evaluate_and_attribute_shard_and_rank_zero_reports_all(tiny_dataset, tiny_sources, two_processes):
    out, outputs = two_processes
    assert outputs[1]["evaluate"] == outputs[1]["attribute"] == ""
    attributor, _ = load_run(out / "run")
    alone = evaluate_split(attributor, tiny_dataset.split("train"))
    report = json.loads(outputs[0]["evaluate"])
    assert report["confusion_matrix"] == alone["confusion_matrix"]  # every image, each counted once
    attribution = json.loads(outputs[0]["attribute"])
    images = attribution["images"]
    files = sorted((tiny_sources / "source_1").glob("*.png"))
    assert [r["path"] for r in images] == [str(f) for f in files]  # rank 0's block, then rank 1's: file order
    decoded, _, _ = decode_files(files, attributor.resolution)
    temperature = attribution["calibration"][
        "temperature"
    ]  # probabilities are calibrated (gfcore.inference.openset)
    probs = torch.softmax(attributor.logits(torch.from_numpy(decoded)) / temperature, 1)
    got = torch.tensor([[r["probabilities"][c] for c in attributor.classes] for r in images])
    torch.testing.assert_close(got, probs, rtol=0, atol=1e-5)


def test_gan_training_keeps_the_ranks_in_step(two_processes):
    out, outputs = two_processes
    # each rank draws other images and latents: without averaged gradients the generators would part
    assert outputs[0]["generator"] == outputs[1]["generator"]
    run = json.loads((out / "gan" / "run.json").read_text())
    assert run["iterations_done"] == 3 and run["processes"] == 2


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
