"""Every bad input answered in one line, each row of its table a test.

Exit codes follow the contract: 1 for a failure of the work (one "Error: ..." line), 2 for a usage error,
0 when there is nothing to do. ``cli_error`` (conftest) fails on a raw exception, not only on the code.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gfcore.data.dataset import claim_dataset_folder, load_dataset, prepare_dataset
from gfcore.data.images import MAX_PIXELS, load_rgb
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.errors import GfpError
from gfcore.runs.training import train_run
from gfcore.storage.tensorio import load_tensors, save_tensors

SPEC = "learned:width=0.125"


def solid_sources(root, spec):
    """spec: {class: [(file name, colour or raw bytes)]} -> root with one folder per class."""
    for cls, items in spec.items():
        (root / cls).mkdir(parents=True)
        for name, item in items:
            if isinstance(item, bytes):
                (root / cls / name).write_bytes(item)
            else:
                Image.new("RGB", (20, 20), item).save(root / cls / name)
    return root


def good_and_bad_sources(root):
    return solid_sources(
        root,
        {
            "a": [(f"{i}.png", (i * 20, 0, 0)) for i in range(4)],
            "b": [("x.png", b"junk"), ("y.jpg", b"\xff\xd8\xff")],
        },
    )


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A 2-epoch learned run on a 3-class 16x16 dataset (seconds on a CPU)."""
    root = tmp_path_factory.mktemp("bad_inputs")
    write_fingerprint_folders(root / "src", num_sources=3, per_source=12, size=16, seed=2)
    prepare_dataset(root / "src", root / "ds", resolution=16)
    train_run(load_dataset(root / "ds"), root / "run", SPEC, seed=0, overrides={"epochs": 2, "batch_size": 8})
    return root


def copy_run(small_run, tmp_path, name="run"):
    return Path(shutil.copytree(small_run / "run", tmp_path / name))


# ------------------------------------------------------------------ --out that gfp did not create


def test_prepare_never_deletes_a_folder_it_did_not_create(tmp_path, cli_error):
    src = good_and_bad_sources(tmp_path / "src")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    line = cli_error(1, "prepare", src, "--out", out, "--resolution", 16, "--no-progress")
    assert "is not empty and is not a prepared dataset" in line and "thesis.tex" in line
    assert snapshot(out) == {"thesis.tex": b"years of work"}


def test_prepare_into_the_working_directory_keeps_git(tmp_path, cli_error, monkeypatch):
    src = good_and_bad_sources(tmp_path / "src")
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    (work / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    monkeypatch.chdir(work)
    line = cli_error(1, "prepare", src, "--out", ".", "--resolution", 16, "--no-progress")
    assert "is not empty" in line
    assert snapshot(work) == {".git/HEAD": b"ref: refs/heads/main\n"}


@pytest.mark.parametrize("where", ["src", "src/a", "src/new"])
def test_out_inside_or_equal_to_the_sources_is_refused(tmp_path, cli_error, where):
    src = good_and_bad_sources(tmp_path / "src")
    before = snapshot(src)
    line = cli_error(1, "prepare", src, "--out", tmp_path / where, "--resolution", 16, "--no-progress")
    assert "inside the source folder" in line
    assert snapshot(src) == before and not (tmp_path / "src" / "new").exists()


def test_a_failed_prepare_removes_only_what_it_created(tmp_path, cli_error):
    src = good_and_bad_sources(tmp_path / "src")
    line = cli_error(1, "prepare", src, "--out", tmp_path / "new" / "ds", "--resolution", 16, "--no-progress")
    assert line == "Error: no readable images in source folder(s): b"
    assert not (tmp_path / "new").exists()  # it created both folders, and removed both
    (tmp_path / "empty").mkdir()
    cli_error(1, "prepare", src, "--out", tmp_path / "empty", "--resolution", 16, "--no-progress")
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())  # the user's: kept


# ------------------------------------------------------------------ two writers, interrupted writers


def test_a_second_prepare_to_the_same_out_is_refused_while_the_first_writes(
    tmp_path, tiny_sources, cli_error
):
    out = tmp_path / "ds"
    with claim_dataset_folder(out):  # what a running prepare holds
        line = cli_error(1, "prepare", tiny_sources, "--out", out, "--resolution", 16, "--no-progress")
        assert (
            line == f"Error: another gfp prepare (pid {os.getpid()}) is writing {out}; wait for it to finish"
        )
    assert not any(out.iterdir())  # the refused prepare wrote nothing, and the holder's marker is gone


def test_two_prepare_processes_never_mix_their_sources(tmp_path):
    """Two real processes on the same --out: one dataset, all of one source's pixels, and one clear line."""
    write_fingerprint_folders(tmp_path / "first", num_sources=2, per_source=1500, size=16, seed=1)
    write_fingerprint_folders(tmp_path / "second", num_sources=2, per_source=20, size=16, seed=2)
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "gfp", "prepare", "--out", str(out), "--resolution", "16", "--no-progress"]
    first = subprocess.Popen(
        [*cmd, str(tmp_path / "first")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for _ in range(600):  # until the first holds the folder (its marker is written under the lock)
        if (out / ".gfp-incomplete").exists() or first.poll() is not None:
            break
        subprocess.run(["sleep", "0.05"])
    second = subprocess.run([*cmd, str(tmp_path / "second")], capture_output=True, text=True, timeout=300)
    first_out, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert second.returncode == 1, second.stderr
    assert second.stderr.strip().splitlines()[-1] in (
        f"Error: another gfp prepare (pid {first.pid}) is writing {out}; wait for it to finish",
        f"Error: another gfp prepare is writing {out}; wait for it to finish",  # before its marker
        f"Error: {out} already holds a prepared dataset; choose another --out or delete it",
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == str((tmp_path / "first").resolve())
    assert sum(map(sum, (c.values() for c in manifest["counts"].values()))) == 3000
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json"] + [f"{s}_{k}.npy" for s in ("train", "val", "test") for k in ("images", "labels")]
    )


def test_leftovers_of_a_killed_prepare_are_cleaned_up_by_the_next(tmp_path, tiny_sources):
    out = tmp_path / "ds"
    out.mkdir()
    leftovers = [
        ".gfp-incomplete",
        ".decoded.npy",
        ".decoded.ab3_x9zq.npy",
        ".train_images.npy.k2j4h5g6.tmp",
        "train_images.npy",
    ]
    for name in leftovers:
        (out / name).write_bytes(b"half")
    prepare_dataset(tiny_sources, out, resolution=16)
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".")] and "manifest.json" in names
    assert load_dataset(out).split("train").images.shape[1:] == (3, 16, 16)


def test_hidden_temporaries_alone_are_gfps_but_other_files_are_not(tmp_path, tiny_sources):
    out = tmp_path / "ds"
    out.mkdir()
    (out / ".decoded.npy").write_bytes(b"from an older gfp")  # temporaries only: clearly gfp's
    prepare_dataset(tiny_sources, out, resolution=16)
    assert not (out / ".decoded.npy").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "train_images.npy").write_bytes(b"someone's own array")  # a final name without gfp's marker
    with pytest.raises(GfpError, match="is not empty"):
        prepare_dataset(tiny_sources, other, resolution=16)
    assert (other / "train_images.npy").read_bytes() == b"someone's own array"


def test_ctrl_c_during_prepare_leaves_nothing(tmp_path, tiny_sources, monkeypatch):
    import gfcore.data.images as images_module

    calls = {"n": 0}

    def interrupted(path):
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt
        return load_rgb(path)

    monkeypatch.setattr(images_module, "load_rgb", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(tiny_sources, tmp_path / "ds", resolution=16)
    assert not (tmp_path / "ds").exists()


def test_leftovers_of_a_killed_training_are_cleaned_up_on_resume(small_run, tmp_path):
    run = copy_run(small_run, tmp_path)
    info = json.loads((run / "run.json").read_text())
    info.update(status="running")
    (run / "run.json").write_text(json.dumps(info))
    stale = [run / ".last.safetensors.q1w2e3r4.tmp", run / ".run.json.zz_00000.tmp"]
    for p in stale:
        p.write_bytes(b"half-written")
    (run / "notes.txt").write_text("mine")
    train_run(load_dataset(small_run / "ds"), run, resume=True)
    assert not any(p.exists() for p in stale) and (run / "notes.txt").read_text() == "mine"


# ------------------------------------------------------------------ untrusted image files


def crafted_dds(size=574) -> bytes:
    """A DDS header with an unknown pixel format: Pillow's DDS decoder raises NotImplementedError."""
    header = struct.pack("<4sIIIIIII", b"DDS ", 124, 0x1007, 16, 16, 0, 0, 0) + bytes(44)
    pixel_format = struct.pack("<II4sIIIII", 32, 0x4, b"XYZW", 0, 0, 0, 0, 0)
    data = header + pixel_format + struct.pack("<IIIII", 0x1000, 0, 0, 0, 0)
    return data + bytes(size - len(data))


def png_header_only(width, height, bit_depth=16) -> bytes:
    """A PNG whose header says ``width`` x ``height`` grey pixels: all a decoder needs to start allocating."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    row = bytes(1 + width * bit_depth // 8)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * 4, 9))
        + chunk(b"IEND", b"")
    )


def test_a_dds_file_named_png_is_skipped_and_counted(tmp_path, run_cli, json_stdout, small_run):
    (tmp_path / "crafted.png").write_bytes(crafted_dds())
    assert (tmp_path / "crafted.png").stat().st_size == 574
    with pytest.raises(GfpError, match="not an image or corrupt"):
        load_rgb(tmp_path / "crafted.png")
    src = solid_sources(
        tmp_path / "src",
        {"a": [(f"{i}.png", (i, 0, 0)) for i in range(4)], "b": [(f"{i}.png", (0, i, 0)) for i in range(4)]},
    )
    shutil.copy(tmp_path / "crafted.png", src / "a" / "crafted.png")
    result = run_cli("prepare", src, "--out", tmp_path / "ds", "--resolution", 16, "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    assert [s["path"] for s in json_stdout(result)["skipped"]] == ["a/crafted.png"]
    result = run_cli(
        "attribute", small_run / "run", tmp_path / "crafted.png", src / "b", "--json", "--no-progress"
    )
    assert result.exit_code == 0, result.output
    data = json_stdout(result)
    assert len(data["images"]) == 4 and [s["path"] for s in data["skipped"]] == [
        str(tmp_path / "crafted.png")
    ]


def test_no_decoder_outside_the_whitelist_ever_runs(tmp_path, monkeypatch):
    from PIL import EpsImagePlugin

    opened = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: opened.append(self))
    (tmp_path / "doc.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(GfpError, match="not an image"):
        load_rgb(tmp_path / "doc.png")
    assert opened == []


@pytest.mark.parametrize("side", [13000, 8000], ids=["over-pillow-warning", "under-pillow-warning"])
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path, side):
    (tmp_path / "bomb.png").write_bytes(png_header_only(side, side))
    assert side * side > MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not leak
        with pytest.raises(GfpError, match=f"over gfp's limit of {MAX_PIXELS:,}"):
            load_rgb(tmp_path / "bomb.png")


def test_prepare_skips_a_bomb_in_one_line(tmp_path, run_cli, json_stdout):
    src = solid_sources(
        tmp_path / "src",
        {"a": [(f"{i}.png", (i, 0, 0)) for i in range(4)], "b": [(f"{i}.png", (0, i, 0)) for i in range(4)]},
    )
    (src / "b" / "bomb.png").write_bytes(png_header_only(13000, 13000))
    result = run_cli("prepare", src, "--out", tmp_path / "ds", "--resolution", 16, "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    skipped = json_stdout(result)["skipped"]
    assert [s["path"] for s in skipped] == ["b/bomb.png"] and "limit" in skipped[0]["reason"]
    assert "DecompressionBomb" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "bomb.png" in line] == [
        f"warning: skipped {src / 'b' / 'bomb.png'}: refused, over gfp's limit of {MAX_PIXELS:,} pixels "
        "(gfcore.data.images.MAX_PIXELS)"
    ]


def test_16_bit_images_convert_exactly_as_before():
    values = np.arange(0, 65536, dtype=np.uint16).reshape(256, 256)
    from gfcore.data.images import to_rgb8

    rgb = to_rgb8(Image.frombytes("I;16", (256, 256), values.astype("<u2").tobytes()))
    assert np.array_equal(rgb[..., 0], np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8))
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


# ------------------------------------------------------------------ runs from strangers


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda info: info.update(classes="xyz"),
            "field 'classes' must be a list of at least 2 distinct class names, not str 'xyz'",
        ),
        (lambda info: info.pop("method"), "field 'method' is missing"),
        (lambda info: info.update(seed="zero"), "field 'seed' must be a non-negative integer"),
        (lambda info: info.update(resolution=[16]), "field 'resolution' must be a positive integer"),
        (lambda info: info["config"].update(lr="fast"), "parameter lr='fast' is not a valid float"),
        (lambda info: info["config"].update(batch_size=0), "parameter batch_size=0 must be in [1, 65536]"),
        (lambda info: info.update(dataset=None), "field 'dataset' must be an object with a \"hash\""),
    ],
)
def test_a_bad_run_json_is_one_line_naming_file_and_field(small_run, tmp_path, cli_error, edit, message):
    run = copy_run(small_run, tmp_path)
    info = json.loads((run / "run.json").read_text())
    edit(info)
    (run / "run.json").write_text(json.dumps(info))
    for args in (("evaluate", run, small_run / "ds"), ("attribute", run, small_run / "src" / "source_0")):
        line = cli_error(1, *args, "--no-progress")
        assert line.startswith(f"Error: {run / 'run.json'}") and message in line, line


def test_a_run_json_that_is_not_json_is_one_line(small_run, tmp_path, cli_error):
    run = copy_run(small_run, tmp_path)
    (run / "run.json").write_text('{"format": "gfp-run", ')
    assert f"{run / 'run.json'}: unreadable" in cli_error(
        1, "evaluate", run, small_run / "ds", "--no-progress"
    )


def test_bad_checkpoint_metadata_is_one_line(small_run, tmp_path, cli_error):
    run = copy_run(small_run, tmp_path)
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "status": "running"}))
    tensors, meta = load_tensors(run / "last.safetensors")
    save_tensors(run / "last.safetensors", tensors, {**meta, "epoch": "two"})
    line = cli_error(1, "train", small_run / "ds", "--out", run, "--resume", "--epochs", 3, "--no-progress")
    assert line == (
        "Error: last.safetensors (checkpoint metadata): field 'epoch' must be a non-negative integer, "
        "not str 'two'"
    )
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in tensors.items()},
        str(run / "last.safetensors"),
        metadata={"gfp_meta": "{not json"},
    )
    line = cli_error(1, "train", small_run / "ds", "--out", run, "--resume", "--epochs", 3, "--no-progress")
    assert line.startswith(f"Error: {run / 'last.safetensors'}: the gfp metadata in its header is not JSON")


def test_a_bad_gan_run_json_is_one_line(tmp_path):
    from gfcore.runs.gan import read_run

    (tmp_path / "run.json").write_text(
        json.dumps({"format": "gfp-ganrun", "version": 1, "family": "progan", "config": {}, "seed": -1})
    )
    with pytest.raises(GfpError, match=r"run.json: field 'seed' must be a non-negative integer, not int -1"):
        read_run(tmp_path)


def test_a_class_count_that_does_not_match_the_weights_names_both(small_run, tmp_path, cli_error):
    run = copy_run(small_run, tmp_path)
    write_fingerprint_folders(tmp_path / "src2", num_sources=2, per_source=10, size=16)
    prepare_dataset(tmp_path / "src2", tmp_path / "ds2", resolution=16)
    train_run(load_dataset(tmp_path / "ds2"), tmp_path / "run2", SPEC, overrides={"epochs": 1})
    shutil.copy(tmp_path / "run2" / "weights.safetensors", run / "weights.safetensors")
    line = cli_error(1, "evaluate", run, small_run / "ds", "--no-progress")
    assert line == (
        f"Error: {run / 'weights.safetensors'}: weights do not fit method 'learned' (the weights are "
        "for 2 classes, but the run lists 3)"
    )


# ------------------------------------------------------------------ flags validated before anything is written


@pytest.mark.parametrize(
    "args, code, message",
    [
        (("--lr", "inf"), 2, "inf is not a finite number"),
        (("--lr", "nan"), 2, "nan is not a finite number"),
        (("--lr", "0"), 2, "0.0 is not in the range 0<x<=1000000.0"),
        (("--seed", "-5"), 2, "-5 is not in the range 0<=x<="),
        (
            ("--method", "learned:batch_size=0"),
            1,
            "method 'learned': parameter batch_size=0 must be in [1, 65536]",
        ),
        (("--method", "learned:width=0"), 1, "method 'learned': parameter width=0.0 must be in (0, 16]"),
        (("--method", "learned:lr=inf"), 1, "method 'learned': parameter lr=inf must be a finite number"),
        (("--method", "learned:eps=nan"), 1, "method 'learned': parameter eps=nan must be a finite number"),
    ],
)
def test_bad_training_values_are_refused_before_anything_is_written(
    small_run, tmp_path, cli_error, args, code, message
):
    out = tmp_path / "run"
    line = cli_error(code, "train", small_run / "ds", "--out", out, "--epochs", 1, *args, "--no-progress")
    assert message in line, line
    assert not out.exists()


def test_bad_split_and_seed_for_prepare_are_usage_errors(tmp_path, tiny_sources, cli_error, run_cli):
    for args, message in (
        (("--split", "nan,nan,nan"), "summing to 1"),
        (("--split", "1,0"), "summing to 1"),
        (("--seed", "-5"), "-5 is not in the range"),
    ):
        line = cli_error(2, "prepare", tiny_sources, "--out", tmp_path / "ds", *args)
        assert message in line, line
        assert not (tmp_path / "ds").exists()
    with pytest.raises(GfpError, match="seed -5"):
        prepare_dataset(tiny_sources, tmp_path / "ds", seed=-5)
    with pytest.raises(GfpError, match="summing to 1"):
        prepare_dataset(tiny_sources, tmp_path / "ds", split=(float("nan"),) * 3)
    assert run_cli("prepare", tiny_sources, "--out", tmp_path / "ds", "--resolution", 16).exit_code == 0


def test_a_diverging_training_stops_and_keeps_the_last_good_checkpoint(small_run, tmp_path, cli_error):
    run = copy_run(small_run, tmp_path)
    before = load_tensors(run / "last.safetensors")
    line = cli_error(
        1, "train", small_run / "ds", "--out", run, "--resume", "--epochs", 4, "--lr", "1e6", "--no-progress"
    )
    assert (
        line
        == "Error: training diverged in epoch 3 (non-finite loss); kept the checkpoint of epoch 2; try a "
        "smaller --lr"
    )
    after = load_tensors(run / "last.safetensors")
    assert after[1]["epoch"] == 2 and all(torch.equal(before[0][k], after[0][k]) for k in before[0])
    assert all(torch.isfinite(t).all() for t in load_tensors(run / "weights.safetensors")[0].values())
    assert json.loads((run / "run.json").read_text())["epochs_done"] == 2


# ------------------------------------------------------------------ names printed literally


def test_markup_in_class_names_and_paths_is_printed_literally(tmp_path, run_cli):
    src = tmp_path / "src"
    write_fingerprint_folders(src, num_sources=2, per_source=10, size=16)
    (src / "source_0").rename(src / "[red]")
    run = tmp_path / "run[/b]"
    assert (
        run_cli("prepare", src, "--out", tmp_path / "ds", "--resolution", 16, "--no-progress").exit_code == 0
    )
    assert run_cli("train", tmp_path / "ds", "--out", run, "--method", "knn", "--no-progress").exit_code == 0
    evaluated = run_cli("evaluate", run, tmp_path / "ds", "--no-progress")
    assert evaluated.exit_code == 0, evaluated.output
    assert "[red]" in evaluated.stdout
    attributed = run_cli("attribute", run, src / "[red]", "--no-progress")
    assert attributed.exit_code == 0, attributed.output
    assert "[red]" in attributed.stdout and "run[/b]" in attributed.stdout.replace("\n", "")


def test_progress_descriptions_and_status_are_printed_literally(monkeypatch):
    import io

    from rich.console import Console

    import gfcore.terminal.progress as progress_module

    buffer = io.StringIO()
    monkeypatch.setattr(
        progress_module, "stderr_console", Console(file=buffer, force_terminal=True, width=120)
    )
    with progress_module.progress_reporter(True) as reporter:
        task = reporter.task("decoding [/b] images", total=2)
        task.update(status="class [red]")
        task.advance(2)
        reporter.warn("skipped [/b].png")
    text = buffer.getvalue()
    assert "decoding [/b] images" in text and "class [red]" in text and "skipped [/b].png" in text


# ------------------------------------------------------------------ unreadable sources


def test_an_unreadable_source_folder_says_so(tmp_path, tiny_sources, cli_error, monkeypatch):
    blocked = str(tiny_sources / "source_1")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == blocked:
            raise PermissionError(13, "Permission denied", blocked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    line = cli_error(1, "prepare", tiny_sources, "--out", tmp_path / "ds", "--no-progress")
    assert line == f"Error: cannot read {blocked}: Permission denied"
    assert not (tmp_path / "ds").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_source_folder_for_real(tmp_path, cli_error):  # pragma: no cover - not run as root
    src = solid_sources(tmp_path / "src", {"a": [("0.png", (1, 2, 3))], "b": [("0.png", (3, 2, 1))]})
    (src / "b").chmod(0)
    try:
        assert "cannot read" in cli_error(1, "prepare", src, "--out", tmp_path / "ds", "--no-progress")
    finally:
        (src / "b").chmod(0o755)


# ------------------------------------------------------------------ resume


def test_resume_of_a_finished_run_has_nothing_to_do(small_run, tmp_path, run_cli, json_stdout):
    run = copy_run(small_run, tmp_path)
    before = snapshot(run)
    for extra in ((), ("--epochs", "1"), ("--epochs", "2"), ("--seed", "0"), ("--method", SPEC)):
        result = run_cli("train", small_run / "ds", "--out", run, "--resume", *extra, "--no-progress")
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == (
            f"{run} has 2 trained epoch(s) of 2: nothing to do (pass --epochs N above 2 to train it further)"
        )
    result = run_cli(
        "train", small_run / "ds", "--out", run, "--resume", "--epochs", 1, "--json", "--no-progress"
    )
    assert "nothing to do" in json_stdout(result)["nothing_to_do"]
    assert snapshot(run) == before


def test_when_a_resume_has_nothing_to_do():
    from gfcore.runs.schema import nothing_to_resume

    finished = {"config": {"epochs": 30}, "epochs_done": 30, "status": "complete"}
    for asked in (None, 5, 30):  # the case: --resume --epochs 5 on a finished 30-epoch run
        assert nothing_to_resume(finished, asked, "run") == (
            "run has 30 trained epoch(s) of 30: nothing to do (pass --epochs N above 30 to train it further)"
        )
    assert nothing_to_resume(finished, 31, "run") is None
    interrupted = {"config": {"epochs": 30}, "epochs_done": 10, "status": "running"}
    assert (
        nothing_to_resume(interrupted, None, "run") is None
        and nothing_to_resume(interrupted, 10, "run") is None
    )
    assert "nothing to do" in nothing_to_resume(interrupted, 5, "run")
    assert (
        nothing_to_resume({"config": {"k": 1}, "status": "complete"}, None, "run")
        == "run is complete: nothing to do"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("--method", "knn"), "holds a run with method 'learned'"),
        (("--method", "learned:width=0.5"), "holds a run with width=0.125"),
        (("--seed", "3"), "holds a run with seed 0"),
    ],
)
def test_resume_with_another_method_or_seed_is_an_error(small_run, tmp_path, cli_error, args, message):
    run = copy_run(small_run, tmp_path)
    before = snapshot(run)
    line = cli_error(
        1, "train", small_run / "ds", "--out", run, "--resume", "--epochs", 3, *args, "--no-progress"
    )
    assert message in line
    assert snapshot(run) == before


# ------------------------------------------------------------------ datasets that do not match their manifest


@pytest.mark.parametrize(
    "name, array, message",
    [
        (
            "test_images.npy",
            np.zeros((3, 3, 8, 8), np.uint8),
            "holds uint8 [3, 3, 8, 8], but manifest.json describes uint8 [3, 3, 16, 16]",
        ),
        ("test_images.npy", np.zeros((2, 3, 16, 16), np.uint8), "holds uint8 [2, 3, 16, 16]"),
        ("test_labels.npy", np.full(3, 7, np.int64), "labels outside 0..2"),
        (
            "test_labels.npy",
            np.zeros(5, np.int64),
            "holds int64 [5], but manifest.json describes 3 integer labels",
        ),
    ],
)
def test_arrays_that_do_not_match_the_manifest_are_one_line(
    small_run, tmp_path, cli_error, name, array, message
):
    ds = Path(shutil.copytree(small_run / "ds", tmp_path / "ds"))
    assert np.load(ds / "test_labels.npy").shape == (3,)
    np.save(ds / name, array)
    line = cli_error(1, "evaluate", small_run / "run", ds, "--no-progress")
    assert line.startswith(f"Error: {ds / name}: ") and message in line, line


def test_the_dataset_hash_covers_the_arrays(small_run):
    import hashlib

    from gfcore.data.hashing import json_sha256

    manifest = json.loads((small_run / "ds" / "manifest.json").read_text())
    for split in ("train", "val", "test"):
        images, labels = (np.load(small_run / "ds" / f"{split}_{k}.npy") for k in ("images", "labels"))
        assert (
            manifest["array_sha256"][split] == hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
        )
    settings = {k: manifest[k] for k in ("classes", "resolution", "size_policy", "split_fractions", "seed")}
    files = [(f["sha256"], f["label"], f["split"]) for f in manifest["files"]]
    assert manifest["hash"] == json_sha256({**settings, "files": files, "arrays": manifest["array_sha256"]})


# ------------------------------------------------------------------ permissions


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_output_files_get_the_users_usual_permissions(tmp_path, tiny_sources, umask):
    from gfcore.storage.atomic import write_json

    old = os.umask(umask)
    try:
        write_json(tmp_path / "report.json", {"ok": 1})
        prepare_dataset(tiny_sources, tmp_path / "ds", resolution=16)
    finally:
        os.umask(old)
    for path in [tmp_path / "report.json", *(tmp_path / "ds").iterdir()]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path


def test_fingerprints_never_overwrite_a_folder_they_did_not_create(small_run, tmp_path, cli_error, run_cli):
    out = tmp_path / "fp"
    out.mkdir()
    (out / "model_fingerprints.npy").write_bytes(b"someone's own array")
    line = cli_error(1, "fingerprints", small_run / "run", "--out", out, "--no-progress")
    assert "is not empty and is not fingerprints" in line
    assert (out / "model_fingerprints.npy").read_bytes() == b"someone's own array"
    (tmp_path / "bad.png").write_bytes(b"junk")
    line = cli_error(
        1, "fingerprints", small_run / "run", tmp_path / "bad.png", "--out", tmp_path / "new", "--no-progress"
    )
    assert line.startswith("Error: no decodable images among") and not (tmp_path / "new").exists()
    assert (
        run_cli("fingerprints", small_run / "run", "--out", tmp_path / "new", "--no-progress").exit_code == 0
    )
    assert "already holds fingerprints" in cli_error(
        1, "fingerprints", small_run / "run", "--out", tmp_path / "new", "--no-progress"
    )
