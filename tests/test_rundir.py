"""One run-folder class for attribution and GAN runs: what gfp may write into, and what it refuses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gfcore.errors import GfpError
from gfcore.runs.attributor import ATTRIBUTION_RUN, read_run_json
from gfcore.runs.folder import RunDir, package_versions
from gfcore.runs.gan import GAN_RUN, train_gan
from gfcore.runs.training import existing_run_state, train_run


def test_a_folder_is_new_a_run_or_refused(tmp_path):
    folder = RunDir(tmp_path / "run", ATTRIBUTION_RUN)
    assert folder.state() == "new"
    (tmp_path / "run").mkdir()
    assert folder.state() == "new"  # empty
    folder.write({"method": "knn"})
    assert folder.state() == "run" and folder.read()["format"] == "gfp-run" and folder.read()["version"] == 1
    assert folder.weights_path.name == "weights.safetensors" and folder.last_path.name == "last.safetensors"
    with pytest.raises(GfpError, match="not a gfp-ganrun file"):
        RunDir(tmp_path / "run", GAN_RUN).state()  # a run of the other kind
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(GfpError, match="not empty and is not a gfp run"):
        RunDir(tmp_path / "mine", ATTRIBUTION_RUN).state()
    (tmp_path / "file").write_text("x")
    with pytest.raises(GfpError, match="is not a folder"):
        RunDir(tmp_path / "file", ATTRIBUTION_RUN).state()


def test_run_json_from_a_newer_gfp_or_without_version_is_one_line(tmp_path):
    folder = RunDir(tmp_path, ATTRIBUTION_RUN)
    folder.write({"method": "knn"})
    info = json.loads(folder.json_path.read_text())
    folder.json_path.write_text(json.dumps({**info, "version": 7}))
    with pytest.raises(GfpError, match="version 7 was written by a newer gfp"):
        read_run_json(tmp_path)
    folder.json_path.write_text(json.dumps({**info, "version": "1"}))
    with pytest.raises(GfpError, match="no valid version"):
        read_run_json(tmp_path)


def test_both_run_kinds_record_the_same_versions():
    assert set(package_versions()) == {"gfp", "torch", "numpy", "python"}


def test_training_never_writes_into_a_folder_gfp_did_not_create(tiny_dataset, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(GfpError, match="not empty and is not a gfp run"):
        train_run(tiny_dataset, out, "knn")
    real = np.zeros((4, 3, 16, 16), np.uint8)
    with pytest.raises(GfpError, match="not empty and is not a GAN run"):
        train_gan("sngan", real, out, overrides={"resolution": 16, "iters": 1})
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_existing_run_state_is_the_check_train_and_bench_share(tiny_dataset, tmp_path):
    from gfcore.plugins import get_registries

    knn = get_registries().attributor("knn")
    config = knn.Config()
    assert existing_run_state(tmp_path / "r", tiny_dataset, method="knn", config=config, seed=0) == "new"
    train_run(tiny_dataset, tmp_path / "r", "knn", seed=0)
    assert existing_run_state(tmp_path / "r", tiny_dataset, method="knn", config=config, seed=0) == "complete"
    with pytest.raises(GfpError, match="seed 0"):
        existing_run_state(tmp_path / "r", tiny_dataset, method="knn", config=config, seed=1)
    with pytest.raises(GfpError, match="method 'knn'"):
        existing_run_state(tmp_path / "r", tiny_dataset, method="dct", config=None, seed=0)
    with pytest.raises(GfpError, match="already holds a run"):
        train_run(tiny_dataset, tmp_path / "r", "knn")
    with pytest.raises(GfpError, match="nothing to do"):
        train_run(tiny_dataset, tmp_path / "r", resume=True)


def test_resume_continues_the_same_run_or_refuses(tiny_dataset, tmp_path, run_cli):
    spec = "learned:width=0.125,batch_size=8"
    train_run(tiny_dataset, tmp_path / "r", spec, seed=3, overrides={"epochs": 1})
    info = read_run_json(tmp_path / "r")
    for other, message in (("dct", "method 'learned'"), ("learned:width=0.25", "width=0.125")):
        with pytest.raises(GfpError, match=message):
            train_run(tiny_dataset, tmp_path / "r", other, resume=True, overrides={"epochs": 2})
    with pytest.raises(GfpError, match="seed 3"):
        train_run(tiny_dataset, tmp_path / "r", seed=4, resume=True, overrides={"epochs": 2})
    assert read_run_json(tmp_path / "r") == info  # nothing rewritten by a refused resume
    ds = tiny_dataset.path
    done = run_cli("train", ds, "--out", tmp_path / "r", "--resume", "--epochs", 1, "--no-progress")
    assert done.exit_code == 0 and "nothing to do" in done.output
    assert read_run_json(tmp_path / "r")["config"]["epochs"] == 1
    refused = run_cli(
        "train", ds, "--out", tmp_path / "r", "--resume", "--seed", 9, "--epochs", 2, "--no-progress"
    )
    assert refused.exit_code == 1 and "seed 3" in refused.output
    # the run's own method and seed, although the command line's defaults are learned and 0
    resumed = run_cli("train", ds, "--out", tmp_path / "r", "--resume", "--epochs", 2, "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    after = read_run_json(tmp_path / "r")
    assert after["seed"] == 3 and after["config"]["epochs"] == 2 and len(after["history"]) == 2
