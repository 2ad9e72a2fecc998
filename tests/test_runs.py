"""Runs: reproducibility, resuming, atomic writes, safe loading, the CLI's error contract."""

import subprocess
import sys

import pytest
import torch

from gfcore.errors import GfpError
from gfcore.runs.attributor import load_run
from gfcore.runs.training import train_run
from gfcore.storage.atomic import atomic_path, write_json
from gfcore.storage.tensorio import load_tensors, save_tensors

SPEC = "learned:width=0.125"


def weights(run_dir):
    return load_tensors(run_dir / "last.safetensors")[0]


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_seeded_runs_are_reproducible_on_cpu(tiny_dataset, tmp_path):
    train_run(tiny_dataset, tmp_path / "a", SPEC, seed=5, overrides={"epochs": 2, "batch_size": 8})
    train_run(tiny_dataset, tmp_path / "b", SPEC, seed=5, overrides={"epochs": 2, "batch_size": 8})
    train_run(tiny_dataset, tmp_path / "c", SPEC, seed=6, overrides={"epochs": 2, "batch_size": 8})
    assert same(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert not same(weights(tmp_path / "a"), weights(tmp_path / "c"))


def test_resumed_run_matches_an_uninterrupted_one(tiny_dataset, tmp_path, run_cli):
    train_run(tiny_dataset, tmp_path / "full", SPEC, seed=1, overrides={"epochs": 3, "batch_size": 8})
    train_run(tiny_dataset, tmp_path / "cut", SPEC, seed=1, overrides={"epochs": 1, "batch_size": 8})
    result = run_cli(
        "train", tiny_dataset.path, "--out", tmp_path / "cut", "--resume", "--epochs", 3, "--no-progress"
    )
    assert result.exit_code == 0, result.output
    assert same(weights(tmp_path / "full"), weights(tmp_path / "cut"))
    import json

    info = json.loads((tmp_path / "cut" / "run.json").read_text())
    assert [h["epoch"] for h in info["history"]] == [1, 2, 3] and info["epochs_done"] == 3


def test_interrupted_run_resumes_from_its_last_epoch(tiny_dataset, tmp_path, monkeypatch):
    import gfcore.training.loop as train_module

    original = train_module.split_accuracy
    calls = {"n": 0}

    def interrupt_in_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(train_module, "split_accuracy", interrupt_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_run(tiny_dataset, tmp_path / "run", SPEC, seed=2, overrides={"epochs": 3, "batch_size": 8})
    monkeypatch.setattr(train_module, "split_accuracy", original)
    result = train_run(tiny_dataset, tmp_path / "run", resume=True)
    assert [h["epoch"] for h in result.info["history"]] == [1, 2, 3]
    train_run(tiny_dataset, tmp_path / "ref", SPEC, seed=2, overrides={"epochs": 3, "batch_size": 8})
    assert same(weights(tmp_path / "run"), weights(tmp_path / "ref"))


def test_resume_on_another_dataset_is_refused(tiny_dataset, tmp_path):
    from gfcore.data.dataset import load_dataset, prepare_dataset
    from gfcore.data.synthetic import write_fingerprint_folders

    train_run(tiny_dataset, tmp_path / "run", SPEC, overrides={"epochs": 1})
    write_fingerprint_folders(tmp_path / "src", 3, 12, 16, seed=9)
    prepare_dataset(tmp_path / "src", tmp_path / "other", resolution=16)
    with pytest.raises(GfpError, match="another dataset"):
        train_run(load_dataset(tmp_path / "other"), tmp_path / "run", resume=True, overrides={"epochs": 2})


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "report.json"
    write_json(target, {"ok": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"half": ')
            raise RuntimeError("interrupted")
    assert target.read_text().strip().endswith("}") and '"ok": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_safetensors_round_trip_and_corrupt_file(tmp_path):
    save_tensors(tmp_path / "w.safetensors", {"a": torch.arange(3.0)}, {"epoch": 4})
    tensors, meta = load_tensors(tmp_path / "w.safetensors")
    assert torch.equal(tensors["a"], torch.arange(3.0)) and meta == {"epoch": 4}
    (tmp_path / "bad.safetensors").write_bytes(b"\x80\x04\x95 pickled stuff")
    with pytest.raises(GfpError, match="not a readable safetensors file"):
        load_tensors(tmp_path / "bad.safetensors")


def test_weights_for_another_architecture_are_refused(tiny_dataset, tmp_path, cli_error):
    train_run(tiny_dataset, tmp_path / "run", SPEC, overrides={"epochs": 1})
    save_tensors(tmp_path / "run" / "weights.safetensors", {"bogus": torch.zeros(2)})
    with pytest.raises(GfpError, match="weights do not fit"):
        load_run(tmp_path / "run")
    line = cli_error(1, "evaluate", tmp_path / "run", tiny_dataset.path)
    assert "weights do not fit method 'learned'" in line and "is missing" in line
    assert "not a gfp run" in cli_error(1, "evaluate", tmp_path / "nowhere", tiny_dataset.path)


def test_usage_errors_exit_2(run_cli, tiny_dataset, tmp_path):
    assert run_cli("train", tiny_dataset.path, "--out", tmp_path / "r", "--epochs", 0).exit_code == 2
    assert run_cli("train", tiny_dataset.path, "--out", tmp_path / "r", "--device", "tpu").exit_code == 2
    assert run_cli("train", tiny_dataset.path).exit_code == 2  # --out missing
    assert run_cli("no-such-command").exit_code == 2


def test_help_does_not_import_torch():
    code = (
        "import sys\nfrom gfp.app import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'gfp --help imported torch'\nprint('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr


def test_python_dash_m_gfp_works():
    out = subprocess.run(
        [sys.executable, "-m", "gfp", "--version"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "gfp" in out.stdout


def test_patience_stops_when_validation_stops_improving(tiny_dataset, tmp_path, monkeypatch):
    import gfcore.training.loop as train_module

    monkeypatch.setattr(train_module, "split_accuracy", lambda *args, **kwargs: 0.5)  # a plateau
    result = train_run(tiny_dataset, tmp_path / "run", SPEC + ",patience=2", overrides={"epochs": 10})
    assert [h["epoch"] for h in result.info["history"]] == [1, 2, 3]
    assert result.info["status"] == "complete"


def test_patience_also_stops_at_perfect_validation(tiny_dataset, tmp_path, monkeypatch):
    import gfcore.training.loop as train_module

    monkeypatch.setattr(train_module, "split_accuracy", lambda *args, **kwargs: 1.0)
    result = train_run(tiny_dataset, tmp_path / "run", SPEC + ",patience=5", overrides={"epochs": 10})
    assert [h["epoch"] for h in result.info["history"]] == [1]
