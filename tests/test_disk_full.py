"""A full disk (or any OS error on a write) is one line, exit 1, and leaves no partial file: a failed write
removes its temporary, the file it would have replaced is untouched, and a memory-mapped output asks for
its space up front instead of dying of SIGBUS (exit 135) halfway.

The real case runs on a 200 KB tmpfs when the tests may mount one (root on Linux); the same paths are also
checked everywhere by making the writes fail with ENOSPC."""

import errno
import os
import subprocess
import sys

import pytest

from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.errors import GfpError
from gfcore.storage import atomic
from gfcore.storage.atomic import write_json


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("full_src")
    write_fingerprint_folders(root, num_sources=2, per_source=20, size=32, seed=5)
    return root


@pytest.fixture
def small_disk(tmp_path):
    """A 200 KB tmpfs, or a skip where none can be mounted."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def gfp(*args):
    return subprocess.run([sys.executable, "-m", "gfp", *map(str, args)], capture_output=True, text=True)


def test_prepare_on_a_full_disk_is_one_line_and_leaves_nothing(sources, small_disk):
    result = gfp("prepare", sources, "--out", small_disk / "ds", "--resolution", 32, "--no-progress")
    assert result.returncode == 1, (result.returncode, result.stderr)  # was -7 (SIGBUS), exit 135
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: cannot write {small_disk / 'ds'}/") and line.endswith(
        "No space left on device"
    )
    assert not (small_disk / "ds").exists()


def test_train_on_a_full_disk_is_one_line_and_keeps_whole_files(sources, small_disk, tmp_path):
    from gfcore.data.dataset import prepare_dataset

    prepare_dataset(sources, tmp_path / "ds", resolution=32)
    args = ("train", tmp_path / "ds", "--out", small_disk / "run", "--method", "learned:width=0.5")
    result = gfp(*args, "--epochs", 2, "--no-progress")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[-1].startswith("Error: cannot write ") and lines[-1].endswith(": No space left on device")
    assert not [p.name for p in (small_disk / "run").iterdir() if p.name.startswith(".")]  # no temporaries


def test_a_failed_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    write_json(tmp_path / "a.json", {"old": 1})
    monkeypatch.setattr(atomic.os, "fsync", enospc)
    with pytest.raises(GfpError, match=rf"^cannot write {tmp_path / 'a.json'}: No space left on device$"):
        write_json(tmp_path / "a.json", {"new": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    assert (tmp_path / "a.json").read_text().strip().replace(" ", "").replace("\n", "") == '{"old":1}'


def half_written_then_full(path, data):
    """What a write on a disk that fills up does: some bytes land, then ENOSPC."""
    with atomic.atomic_path(path) as tmp:
        tmp.write_bytes(data[: len(data) // 2])
        enospc()


def test_weights_on_a_full_disk_are_one_line_and_leave_no_file(tmp_path, monkeypatch):
    import torch

    from gfcore.storage import tensorio

    tensorio.save_tensors(tmp_path / "w.safetensors", {"a": torch.ones(2)})
    before = (tmp_path / "w.safetensors").read_bytes()
    monkeypatch.setattr(tensorio, "write_bytes", half_written_then_full)
    with pytest.raises(GfpError, match=r"cannot write .*w\.safetensors: No space left on device"):
        tensorio.save_tensors(tmp_path / "w.safetensors", {"a": torch.zeros(2)})
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temporary of any name
    assert (tmp_path / "w.safetensors").read_bytes() == before


def test_prepare_without_room_for_its_arrays_is_one_line(sources, tmp_path, cli_error, monkeypatch):
    monkeypatch.setattr(atomic.os, "posix_fallocate", enospc, raising=False)
    line = cli_error(1, "prepare", sources, "--out", tmp_path / "ds", "--resolution", 32, "--no-progress")
    assert line.startswith("Error: cannot write ") and line.endswith("No space left on device"), line
    assert not (tmp_path / "ds").exists()


def test_training_whose_checkpoint_write_fails_is_one_line_and_resumable(
    sources, tmp_path, cli_error, run_cli, monkeypatch
):
    from gfcore.data.dataset import prepare_dataset

    prepare_dataset(sources, tmp_path / "ds", resolution=32)
    args = (
        "train",
        tmp_path / "ds",
        "--out",
        tmp_path / "run",
        "--method",
        "learned:width=0.125",
        "--no-progress",
    )
    assert run_cli(*args, "--epochs", 1).exit_code == 0
    before = (tmp_path / "run" / "last.safetensors").read_bytes()
    from gfcore.storage import tensorio

    monkeypatch.setattr(tensorio, "write_bytes", half_written_then_full)
    line = cli_error(1, *args[:-3], "--resume", "--epochs", 2, "--no-progress")
    assert line == f"Error: cannot write {tmp_path / 'run' / 'last.safetensors'}: No space left on device"
    assert (tmp_path / "run" / "last.safetensors").read_bytes() == before
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert run_cli(*args[:-3], "--resume", "--epochs", 2, "--no-progress").exit_code == 0


def test_an_os_error_of_the_disk_anywhere_in_a_command_is_one_line(tmp_path, cli_error, monkeypatch):
    import gfcore.data.dataset

    def read_only(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(gfcore.data.dataset, "load_dataset", read_only)
    line = cli_error(1, "train", tmp_path / "ds", "--out", tmp_path / "run")
    assert line == f"Error: {tmp_path / 'ds'}: {os.strerror(errno.EROFS)}"
