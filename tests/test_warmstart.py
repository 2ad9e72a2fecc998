"""`gfp train --init-from RUN`: a new run starts from another run's weights (gfcore.runs.warmstart)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from gfcore.data.dataset import load_dataset, prepare_dataset
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.errors import GfpError
from gfcore.runs.attributor import build_attributor
from gfcore.runs.training import existing_run_state, train_run
from gfcore.runs.warmstart import init_record, warm_start
from gfcore.storage.tensorio import load_tensors

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = "learned:width=0.125"
FAST = {"epochs": 1, "batch_size": 8, "lr": 0.01}


@pytest.fixture(scope="module")
def transfer(tmp_path_factory):
    """Task A: three sources with fixed patterns, a learned run trained on it. Task B: the same images with
    one source renamed, so B's classes differ from A's (and sort in another order)."""
    root = tmp_path_factory.mktemp("warm")
    write_fingerprint_folders(root / "a", num_sources=3, per_source=200, size=16, amplitude=24.0)
    shutil.copytree(root / "a", root / "b")
    (root / "b" / "source_2").rename(root / "b" / "renamed")
    for name in "ab":
        prepare_dataset(root / name, root / f"ds_{name}", resolution=16, seed=0)
    a, b = load_dataset(root / "ds_a"), load_dataset(root / "ds_b")
    run_a = train_run(a, root / "run_a", SPEC, overrides={"epochs": 6, "batch_size": 8, "lr": 0.01})
    assert run_a.info["best"]["val_accuracy"] >= 0.95  # the features to transfer exist
    return root, a, b


def test_warm_start_loads_all_but_a_fresh_head_when_the_classes_differ(transfer):
    root, a, b = transfer
    source, _ = load_tensors(root / "run_a" / "weights.safetensors")
    torch.manual_seed(7)
    fresh, name, _ = build_attributor(SPEC, b.classes, 16, torch.device("cpu"))
    torch.manual_seed(7)
    warm, _, _ = build_attributor(SPEC, b.classes, 16, torch.device("cpu"))
    warm_start(warm, name, init_record(root / "run_a"))
    for key, value in warm.state_dict().items():
        expected = fresh.state_dict()[key] if key.startswith("dense2.") else source[key]
        assert torch.equal(value, expected), key
    # the same classes: the head comes along too
    same, _, _ = build_attributor(SPEC, a.classes, 16, torch.device("cpu"))
    warm_start(same, name, init_record(root / "run_a"))
    assert all(torch.equal(v, source[k]) for k, v in same.state_dict().items())


def test_a_warm_started_run_learns_the_new_task_in_one_epoch_where_a_random_start_cannot(transfer):
    root, _, b = transfer
    warm = train_run(b, root / "warm", SPEC, overrides=FAST, init_from=root / "run_a")
    scratch = train_run(b, root / "scratch", SPEC, overrides=FAST)
    # measured: 1.00 against 0.43 (chance 0.33); one epoch of 600 images is too few to find the patterns
    assert warm.info["best"]["val_accuracy"] >= 0.95
    assert scratch.info["best"]["val_accuracy"] <= 0.8
    record = json.loads((root / "warm" / "run.json").read_text())["init_from"]
    assert record["path"] == str((root / "run_a").resolve()) and record["classes"] == [
        "source_0",
        "source_1",
        "source_2",
    ]
    assert "init_from" not in json.loads((root / "scratch" / "run.json").read_text())


def test_a_bench_reuses_a_warm_started_run_only_for_the_same_start(transfer):
    root, _, b = transfer
    train_run(b, root / "bench_run", SPEC, overrides=FAST, init_from=root / "run_a")
    _, _, config = build_attributor(SPEC, b.classes, 16, torch.device("cpu"), FAST)
    start = init_record(root / "run_a")
    state = existing_run_state(
        root / "bench_run", b, method="learned", config=config, seed=0, init_from=start
    )
    assert state == "complete"
    with pytest.raises(GfpError, match="a start from"):
        existing_run_state(root / "bench_run", b, method="learned", config=config, seed=0)


def test_resume_keeps_the_start_and_refuses_another(transfer, tmp_path):
    root, _, b = transfer
    out = tmp_path / "run"
    train_run(b, out, SPEC, overrides=FAST, init_from=root / "run_a")
    (out / "last.safetensors").unlink()  # killed before its first checkpoint: it starts from run_a again
    resumed = train_run(b, out, resume=True, overrides={"epochs": 2})
    assert resumed.info["init_from"]["path"] == str((root / "run_a").resolve())
    with pytest.raises(GfpError, match="started from .*not from"):
        train_run(b, out, resume=True, overrides={"epochs": 3}, init_from=root / "warm")


def test_bad_init_from_is_one_line(transfer, tmp_path, cli_error):
    root, a, b = transfer
    ds_b = root / "ds_b"
    out = tmp_path / "out"
    assert "run.json" in cli_error(1, "train", ds_b, "--out", out, "--init-from", tmp_path)
    assert "it is a 'learned' run; this run trains 'visnet'" in cli_error(
        1, "train", ds_b, "--out", out, "--method", "visnet:width=0.125", "--init-from", root / "run_a"
    )
    assert "does not train by gradient descent" in cli_error(
        1, "train", ds_b, "--out", out, "--method", "knn", "--init-from", root / "run_a"
    )
    assert "do not fit this network" in cli_error(
        1, "train", ds_b, "--out", out, "--method", "learned:width=0.25", "--init-from", root / "run_a"
    )
    write_fingerprint_folders(tmp_path / "big", num_sources=3, per_source=10, size=32)
    prepare_dataset(tmp_path / "big", tmp_path / "ds32", resolution=32, seed=0)
    assert "trained at 16x16" in cli_error(
        1, "train", tmp_path / "ds32", "--out", out, "--init-from", root / "run_a"
    )
    assert not out.exists()  # nothing written for a job that could not start


@pytest.mark.parametrize(
    "spec",
    [
        "learned:width=0.125",
        "visnet:width=0.0625",
        "cnn:arch=resnet10t",
        "predown:width=0.125,res=16",
        "residual:width=0.125,res=16",
        "postpool:width=0.125,res=8",
        "featpool:width=0.125,res=8",
        "tilepool:width=0.125,patch=16",
    ],
)
def test_class_head_names_exactly_the_tensors_that_depend_on_the_classes(spec):
    three, _, _ = build_attributor(spec, ["a", "b", "c"], 32, torch.device("cpu"))
    five, _, _ = build_attributor(spec, list("abcde"), 32, torch.device("cpu"))
    small, large = three.state_dict(), five.state_dict()
    assert small.keys() == large.keys()
    differ = {k for k in small if small[k].shape != large[k].shape}
    named = {k for k in small if any(k == p or k.startswith(p + ".") for p in three.class_head())}
    assert differ and named == differ
