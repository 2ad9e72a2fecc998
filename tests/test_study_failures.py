"""A study whose runs fail still writes what it has, and says so in one line with exit 1: the failed runs
are recorded in results.json, the others are kept, and no figure or report dies on the missing numbers."""

import json

import pytest

from gfcore.data.dataset import prepare_dataset
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.errors import GfpError


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("study_failures")
    write_fingerprint_folders(root / "src12", num_sources=2, per_source=10, size=12, seed=2)
    prepare_dataset(root / "src12", root / "ds12", resolution=12)
    write_fingerprint_folders(root / "src3", num_sources=3, per_source=10, size=16, seed=2)
    prepare_dataset(root / "src3", root / "ds3", resolution=16)
    return root


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("Error: ")]


def test_persistence_on_12_pixels_writes_its_results_and_reports_the_failed_runs(data, tmp_path, run_cli):
    """The band and pooling variants cannot halve 12x12 images: their panel has no point (matplotlib's log axis once
    died on it, and no results.json was written)."""
    result = run_cli("persistence", data / "ds12", "--out", tmp_path / "p", "--epochs", 1, "--no-progress")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result)
    assert line.startswith("Error: 8 of 10 runs failed (") and "predown:res=4" in line
    assert "cannot be halved" in line
    results = json.loads((tmp_path / "p" / "results.json").read_text())
    assert len(results["failed"]) == 8
    assert all(p["accuracy"] is not None for p in results["curves"]["tilepool"]["points"])
    assert (tmp_path / "p" / "persistence.png").stat().st_size > 0


def test_openset_keeps_the_other_held_out_runs_when_one_fails(data, tmp_path, run_cli):
    out = tmp_path / "os"
    (out / "runs" / "without-source_1").mkdir(parents=True)
    (out / "runs" / "without-source_1" / "notes.txt").write_text("mine")  # not a run: refused, kept
    result = run_cli("openset", data / "ds3", "--out", out, "--method", "knn", "--no-progress")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result)
    assert line.startswith("Error: 1 of 3 held-out runs failed (source_1; first: ") and "results.json" in line
    results = json.loads((out / "results.json").read_text())
    assert results["failed"] == ["source_1"] and results["mean"] is not None
    assert [("error" in r) for r in results["held_out"]] == [False, True, False]
    assert "| source_1 | failed: " in (out / "results.md").read_text()
    assert (out / "runs" / "without-source_1" / "notes.txt").read_text() == "mine"


def test_openset_whose_runs_all_fail_still_writes_them(data, tmp_path, run_cli, monkeypatch):
    from gfcore.studies.openset import run as openset_run

    def fails(job, data, source, held_out):
        raise GfpError(f"training diverged without {source}")

    monkeypatch.setattr(openset_run, "_held_out_row", fails)
    result = run_cli("openset", data / "ds3", "--out", tmp_path / "os", "--method", "knn", "--no-progress")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result)
    assert line.startswith("Error: all 3 held-out runs failed (source_0, source_1, source_2; first: training")
    results = json.loads((tmp_path / "os" / "results.json").read_text())
    assert results["mean"] is None and len(results["failed"]) == 3
    assert "**mean**" not in (tmp_path / "os" / "results.md").read_text()
