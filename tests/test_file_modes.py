"""Every file gfp writes is ``0o666 & ~umask`` and every folder ``0o777 & ~umask`` (what ``open()`` and
``os.makedirs`` give), so a run or dataset shared with a colleague can be read: no ``0o600`` from
``mkstemp`` or from a library that writes its own temporary file (safetensors does) and renames it."""

import os
import stat

import numpy as np
import pytest
import torch

from gfcore.data.synthetic import write_fingerprint_folders

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ("--method", "learned:width=0.125", "--epochs", 1, "--batch-size", 8, "--no-progress")


@pytest.fixture(params=[0o022, 0o027], ids=["umask022", "umask027"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def wrong_modes(root, umask):
    """``(path, mode, expected)`` for everything under ``root`` (not ``root`` itself) with the wrong mode."""
    file_mode, dir_mode = 0o666 & ~umask, 0o777 & ~umask
    wrong, seen = [], 0
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            expected = dir_mode if stat.S_ISDIR(st.st_mode) else file_mode
            seen += 1
            if stat.S_IMODE(st.st_mode) != expected:
                wrong.append((os.path.relpath(path, root), oct(stat.S_IMODE(st.st_mode)), oct(expected)))
    assert seen, f"nothing was written under {root}"
    return wrong


def test_atomic_helpers(tmp_path, umask):
    from gfcore.data.images import save_png
    from gfcore.storage.atomic import atomic_path, write_bytes, write_json, write_text
    from gfcore.storage.tensorio import save_tensors
    from gfcore.studies.figures import pyplot, save_figure

    out = tmp_path / "out"
    write_text(out / "a.txt", "text\n")
    write_json(out / "nested" / "b.json", {"x": 1.0, "nan": float("nan")})
    write_bytes(out / "c.bin", b"\x00\x01")
    save_tensors(out / "d.safetensors", {"w": torch.zeros(3)}, meta={"k": 1})
    save_png(out / "e.png", np.zeros((3, 4, 4), np.uint8))
    fig, ax = pyplot().subplots(figsize=(1, 1))
    ax.plot([0, 1])
    save_figure(fig, out / "f.png", dpi=20)
    with atomic_path(out / "g.npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.arange(3))
    write_text(out / "a.txt", "replaced\n")  # overwriting an existing file: the same mode again
    names = {"a.txt", "c.bin", "d.safetensors", "e.png", "f.png", "g.npy", "nested", "nested/b.json"}
    assert {str(p.relative_to(out)) for p in out.rglob("*")} == names  # no temporaries left behind either
    assert wrong_modes(out, umask) == []


def test_cli_writers(tmp_path, umask, run_cli):
    src, ds, run = tmp_path / "src", tmp_path / "ds", tmp_path / "run"
    write_fingerprint_folders(src, num_sources=3, per_source=12, size=16, amplitude=24.0)

    def ok(*args):
        result = run_cli(*args)
        assert result.exit_code == 0, result.output

    ok("prepare", src, "--out", ds, "--resolution", 16, "--no-progress")
    ok("train", ds, "--out", run, *TINY)
    assert {"run.json", "weights.safetensors", "last.safetensors"} <= {p.name for p in run.iterdir()}
    ok("evaluate", run, ds, "--reliability-png", tmp_path / "figs" / "reliability.png", "--no-progress")
    ok("fingerprints", run, src / "source_0", "--out", tmp_path / "fp_npy", "--no-progress")
    ok("fingerprints", run, "--out", tmp_path / "fp_st", "--format", "safetensors", "--no-progress")
    ok("attack", "noise", src, "--out", tmp_path / "attacked", "--no-progress")
    ok("gan", "sample", "progan_seed0", "-n", 2, "--out", tmp_path / "samples", "--no-progress")
    for folder in ("figs", "fp_npy", "fp_st", "attacked", "samples"):
        assert any((tmp_path / folder).rglob("*.*")), folder
    assert wrong_modes(tmp_path, umask) == []
