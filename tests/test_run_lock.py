"""One writer per run folder: a second `gfp train` (or `--resume`, `gfp calibrate`) on a folder another
process is writing is refused in one line that names the holder, and nothing of the first is touched."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from gfcore.data.dataset import load_dataset, prepare_dataset
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.runs.training import train_run
from gfcore.storage.lock import LOCK_NAME, folder_lock

SPEC = "learned:width=0.125"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("lock")
    write_fingerprint_folders(root / "src", num_sources=3, per_source=8, size=16, seed=1)
    prepare_dataset(root / "src", root / "ds", resolution=16)
    train_run(load_dataset(root / "ds"), root / "run", SPEC, overrides={"epochs": 1, "batch_size": 8})
    return root


@pytest.fixture
def holder():
    """Start a process that holds the write lock of a folder until the test ends; returns its pid."""
    procs = []

    def hold(folder):
        code = textwrap.dedent(
            f"""
            import sys, time
            from gfcore.storage.lock import folder_lock
            with folder_lock({str(folder)!r}, "gfp train"):
                print("ready", flush=True)
                sys.stdin.read()
            """
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == "ready"
        return proc.pid

    yield hold
    for proc in procs:
        proc.stdin.close()
        proc.wait(timeout=30)


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != LOCK_NAME}


def test_a_second_training_on_a_locked_new_folder_is_refused(trained, tmp_path, holder, cli_error):
    pid = holder(tmp_path / "run")
    line = cli_error(1, "train", trained / "ds", "--out", tmp_path / "run", "--method", SPEC, "--epochs", "1")
    assert f"pid {pid}" in line and "gfp train" in line and "is being written" in line
    assert [p.name for p in (tmp_path / "run").iterdir()] == [LOCK_NAME]  # only the holder's lock


@pytest.mark.parametrize(
    "args",
    [
        ("train", "{ds}", "--out", "{run}", "--resume", "--epochs", "3"),
        ("train", "{ds}", "--out", "{run}", "--method", SPEC, "--epochs", "1"),
        ("calibrate", "{run}", "{ds}"),
    ],
    ids=["resume", "train-again", "calibrate"],
)
def test_a_second_writer_of_a_locked_run_is_refused_and_changes_nothing(
    trained, tmp_path, holder, cli_error, args
):
    run = shutil.copytree(trained / "run", tmp_path / "run")
    before = snapshot(run)
    pid = holder(run)
    line = cli_error(1, *(a.format(ds=trained / "ds", run=run) for a in args))
    assert f"pid {pid}" in line, line
    assert snapshot(run) == before


def test_the_lock_is_taken_before_the_check_and_leaves_nothing(tmp_path):
    with folder_lock(tmp_path / "a" / "b", "gfp train"):
        assert (tmp_path / "a" / "b" / LOCK_NAME).read_text().split("\n")[:2] == [
            str(os.getpid()),
            "gfp train",
        ]
        with folder_lock(tmp_path / "a" / "b", "gfp calibrate"):  # re-entrant in one process
            pass
        assert (tmp_path / "a" / "b" / LOCK_NAME).exists()
    assert not (tmp_path / "a").exists()  # created for the lock, empty again: removed


def test_a_lock_file_left_by_a_killed_process_does_not_block(trained, tmp_path, run_cli):
    run = shutil.copytree(trained / "run", tmp_path / "run")
    (run / LOCK_NAME).write_text("999999\ngfp train\n")  # its holder is gone: the kernel released the flock
    result = run_cli("train", trained / "ds", "--out", run, "--resume", "--epochs", "2", "--no-progress")
    assert result.exit_code == 0, result.output
    assert not (run / LOCK_NAME).exists()
