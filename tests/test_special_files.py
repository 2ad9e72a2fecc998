"""Only regular files are read as data, and JSON is read with a depth limit: a FIFO or /dev/zero where a
file should be, or a deeply nested run.json / manifest.json, is one line -- never a hang or a traceback.

Each read here runs under a deadline (SIGALRM), so a regression fails the test instead of hanging it."""

import json
import os
import shutil
import signal
from contextlib import contextmanager

import pytest

from gfcore.data.dataset import load_dataset, prepare_dataset
from gfcore.data.images import BadImageError, load_rgb
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.errors import GfpError
from gfcore.runs.training import train_run
from gfcore.storage.jsonio import MAX_DEPTH, loads_document, read_document
from gfcore.storage.tensorio import load_tensors, save_tensors

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")


@contextmanager
def deadline(seconds=20):
    def expired(signum, frame):
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("special")
    write_fingerprint_folders(root / "src", num_sources=2, per_source=8, size=16, seed=4)
    prepare_dataset(root / "src", root / "ds", resolution=16)
    train_run(load_dataset(root / "ds"), root / "run", "learned:width=0.125", overrides={"epochs": 1})
    return root


def replace_with(path, kind):
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize("split_file", ["test_labels.npy", "test_images.npy"])
def test_evaluate_refuses_a_split_file_that_is_not_regular(made, tmp_path, cli_error, kind, split_file):
    ds = shutil.copytree(made / "ds", tmp_path / "ds")
    replace_with(ds / split_file, kind)
    with deadline():
        line = cli_error(1, "evaluate", made / "run", ds, "--no-progress")
    assert f"{ds / split_file}: " in line and "not a regular file" in line


def test_train_refuses_it_before_writing_anything(made, tmp_path, cli_error):
    ds = shutil.copytree(made / "ds", tmp_path / "ds")
    replace_with(ds / "train_images.npy", "zero")
    with deadline():
        line = cli_error(1, "train", ds, "--out", tmp_path / "run", "--method", "learned:width=0.125")
    assert "a device, not a regular file" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["run.json", "weights.safetensors"])
def test_a_run_file_that_is_a_fifo_is_one_line(made, tmp_path, cli_error, name):
    run = shutil.copytree(made / "run", tmp_path / "run")
    replace_with(run / name, "fifo")
    with deadline():
        line = cli_error(1, "evaluate", run, made / "ds", "--no-progress")
    assert f"{run / name}: a FIFO, not a regular file" in line


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_an_image_path_that_is_not_regular_is_a_bad_image(tmp_path, kind):
    path = tmp_path / "x.png"
    path.write_bytes(b"")
    replace_with(path, kind)
    with deadline(), pytest.raises(BadImageError, match="not a regular file"):
        load_rgb(path)


def nested(levels):
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 100_000])
def test_deeply_nested_json_is_one_line(levels):
    with pytest.raises(GfpError, match=f"x.json: JSON nested deeper than {MAX_DEPTH} levels"):
        loads_document(nested(levels), "x.json")
    assert loads_document(nested(MAX_DEPTH), "x.json") is not None


@pytest.mark.parametrize("document", ["run", "manifest"])
def test_a_deeply_nested_run_json_or_manifest_is_one_line(made, tmp_path, cli_error, document):
    run = shutil.copytree(made / "run", tmp_path / "run")
    ds = shutil.copytree(made / "ds", tmp_path / "ds")
    path = run / "run.json" if document == "run" else ds / "manifest.json"
    text = path.read_text().rstrip().rstrip("}")
    path.write_text(text + f', "extra": {nested(200_000)}}}')
    line = cli_error(1, "evaluate", run, ds, "--no-progress")
    assert f"{path}: JSON nested deeper than {MAX_DEPTH} levels" in line


def test_deep_checkpoint_metadata_is_one_line(tmp_path):
    import torch

    save_tensors(tmp_path / "w.safetensors", {"a": torch.zeros(1)}, {"x": 1})
    (tmp_path / "ok.json").write_text(json.dumps({"format": "f"}))
    assert read_document(tmp_path / "ok.json", "f", "missing") == {"format": "f"}
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(1)}, str(tmp_path / "deep.safetensors"), metadata={"gfp_meta": nested(5000)})
    with pytest.raises(GfpError, match="nested deeper"):
        load_tensors(tmp_path / "deep.safetensors")


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_attribute_skips_a_named_fifo_or_device_in_one_line(made, tmp_path, run_cli, kind):
    path = tmp_path / "x.png"
    path.write_bytes(b"")
    replace_with(path, kind)
    with deadline():
        result = run_cli("attribute", made / "run", path, "--no-progress")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"warning: skipped {path}: not a regular file" in result.stderr
