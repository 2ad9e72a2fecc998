"""``gfp bench``: methods compared side by side, runs reused, failures reported without losing the rest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gfcore import hookimpl
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.errors import GfpError
from gfcore.interfaces import Attributor
from gfcore.plugins import register_plugin, unregister_plugin
from gfcore.studies.bench import (
    BenchResults,
    BenchRow,
    fd_sample_indices,
    plan_methods,
    run_bench,
    spec_slug,
)
from gfcore.terminal.progress import NullReporter

# tiny tensors on a shared 2-core machine: one torch thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

LEARNED = "learned:width=0.125,epochs=2"
METHODS = [LEARNED, "knn", "eigenface", "dct", "prnu"]
FINGERPRINTED = {LEARNED, "prnu"}
ROW_FIELDS = {
    "spec",
    "method",
    "run",
    "accuracy",
    "accuracy_ci95",
    "ci_method",
    "macro_f1",
    "per_class_accuracy",
    "confusion_matrix",
    "fd_ratio",
    "train_seconds",
    "images_per_second",
    "repeats",
    "paired",
    "error",
}


def method_options(specs):
    """``--method A --method B ...``"""
    return [arg for spec in specs for arg in ("--method", spec)]


def invoke(*args):
    """The CLI in-process, with a wide terminal so that table rows are not folded."""
    from gfp.app import get_cli

    return CliRunner().invoke(
        get_cli(), [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"}
    )


@pytest.fixture(scope="module")
def bench_dataset(tmp_path_factory):
    """Three 16x16 sources with 16 test images each (the FD ratio needs at least 4 per class)."""
    from gfcore.data.dataset import load_dataset, prepare_dataset

    root = tmp_path_factory.mktemp("bench")
    write_fingerprint_folders(root / "src", num_sources=3, per_source=40, size=16, amplitude=24.0)
    prepare_dataset(root / "src", root / "ds", resolution=16, split=(0.5, 0.1, 0.4), seed=0)
    return load_dataset(root / "ds")


@pytest.fixture(scope="module")
def first_bench(bench_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("first")
    out, runs = root / "out", root / "runs"
    result = invoke(
        "bench",
        bench_dataset.path,
        "--out",
        out,
        "--runs",
        runs,
        *method_options(METHODS),
        "--no-progress",
    )
    assert result.exit_code == 0, result.stderr
    return result, out, runs, json.loads((out / "results.json").read_text())


# -- pure helpers ---------------------------------------------------------------------------------
def test_each_method_option_is_one_spec_whatever_its_commas(tmp_path):
    plans = plan_methods(["knn:k=5,max_k=9", "prnu:sigma_grid=1;3", "learned:width=0.25,epochs=3"], tmp_path)
    assert [p.method for p in plans] == ["knn", "prnu", "learned"]
    assert plans[0].config.k == 5 and plans[0].config.max_k == 9
    assert tuple(plans[1].config.sigma_grid) == (1, 3)
    assert plans[2].config.width == 0.25 and plans[2].config.epochs == 3


def test_the_old_methods_option_is_gone(bench_dataset, tmp_path):
    result = invoke("bench", bench_dataset.path, "--out", tmp_path / "out", "--methods", "knn")
    assert result.exit_code == 2 and "--method" in result.stderr
    assert not (tmp_path / "out").exists()


def test_rows_and_results_round_trip_through_dicts(first_bench):
    _, out, _, document = first_bench
    results = BenchResults.read(out / "results.json")
    assert results.to_dict() == document
    assert all(isinstance(row, BenchRow) for row in results.methods)
    assert BenchRow.from_dict(document["methods"][0]).to_dict() == document["methods"][0]
    with pytest.raises(GfpError, match="missing spec"):
        BenchRow.from_dict({"accuracy": 0.5})
    with pytest.raises(GfpError, match="unknown field"):
        BenchRow.from_dict({"spec": "knn", "acuracy": 0.5})
    (out.parent / "wrong.json").write_text(json.dumps({**document, "format": "gfp-run"}))
    with pytest.raises(GfpError, match="not a gfp-bench file"):
        BenchResults.read(out.parent / "wrong.json")


def test_slugs_ignore_parameter_order_and_duplicates_are_refused(tmp_path):
    assert spec_slug("knn:k=5,max_k=9") == spec_slug("knn: max_k=9, k=5") == "knn-k=5-max_k=9"
    with pytest.raises(GfpError, match="list it once"):
        plan_methods(["knn:k=5,max_k=9", "knn:max_k=9,k=5"], tmp_path)
    with pytest.raises(GfpError, match="no parameter 'kk'"):
        plan_methods(["knn:kk=5"], tmp_path)


def test_fd_subsample_is_stratified_and_deterministic():
    labels = np.repeat([0, 1, 2], [500, 300, 50])
    first = fd_sample_indices(labels, 3, max_images=300, seed=3)
    assert np.array_equal(first, fd_sample_indices(labels, 3, max_images=300, seed=3))
    assert np.bincount(labels[first]).tolist() == [100, 100, 50]
    assert np.all(np.diff(first) > 0)
    assert not np.array_equal(first, fd_sample_indices(labels, 3, max_images=300, seed=4))
    assert len(fd_sample_indices(labels, 3, max_images=10_000, seed=0)) == len(labels)


# -- the bench end to end -------------------------------------------------------------------------
def test_bench_writes_well_formed_results(first_bench, bench_dataset):
    _, out, _, results = first_bench
    assert results["format"] == "gfp-bench" and results["version"] == 3 and results["split"] == "test"
    assert results["dataset"]["hash"] == bench_dataset.hash
    assert results["dataset"]["classes"] == bench_dataset.classes
    assert results["dataset"]["counts"]["test"] == {c: 16 for c in bench_dataset.classes}
    datetime.fromisoformat(results["created"])
    assert {"torch", "gfp"} <= set(results["versions"])
    assert [m["spec"] for m in results["methods"]] == METHODS
    markdown = (out / "results.md").read_text()
    for m in results["methods"]:
        assert ROW_FIELDS <= set(m), m["spec"]
        assert m["error"] is None and m["reused"] is False
        cm = np.array(m["confusion_matrix"])
        assert cm.shape == (3, 3) and cm.sum() == 48
        assert m["accuracy"] == pytest.approx(np.trace(cm) / 48)
        assert 0 <= m["macro_f1"] <= 1 and m["train_seconds"] >= 0 and m["images_per_second"] > 0
        # one repeat: its per-image correctness is the row's accuracy, and the interval is Wilson's
        (repeat,) = m["repeats"]
        assert repeat["seed"] == 0 and len(repeat["correct"]) == 48
        assert repeat["correct"].count("1") == np.trace(cm)
        low, high = m["accuracy_ci95"]
        assert "Wilson" in m["ci_method"] and low <= m["accuracy"] <= high and high - low > 0.02
        if m["spec"] == LEARNED:
            assert m["paired"] is None and results["reference"] == LEARNED
        else:  # discordant counts agree with the two rows' correctness strings
            ref = results["methods"][0]["repeats"][0]["correct"]
            only_ref = sum(a == "1" and b == "0" for a, b in zip(ref, repeat["correct"]))
            assert m["paired"]["reference_only"] == [only_ref] and 0 <= m["paired"]["p_value"] <= 1
        run_info = json.loads((out.parent / "runs" / m["slug"] / "run.json").read_text())
        assert run_info["status"] == "complete" and run_info["train_seconds"] == m["train_seconds"]
        with Image.open(out / f"confusion_{m['slug']}.png") as png:
            png.load()
            assert png.format == "PNG" and png.width > 150 and png.height > 150
        assert sum(line.startswith(f"| {m['spec']} |") for line in markdown.splitlines()) == 2  # both tables
    assert len(list(out.glob("confusion_*.png"))) == len(METHODS)


def test_the_audit_takes_the_knn_row_from_the_bench_and_it_is_what_the_audit_computes(
    bench_dataset, tmp_path
):
    """With the plain knn baseline in the bench, the audit's raw-pixel kNN row is taken from it (the
    neighbours are searched once); it equals what the audit measures on its own."""
    from gfcore.studies.audit.pixels import knn_row
    from gfcore.studies.bench import run_bench
    from gfcore.terminal.progress import NullReporter

    results = run_bench(bench_dataset, tmp_path / "out", ["knn"], reporter=NullReporter())
    taken = next(row for row in results.audit if row.cue == "raw-pixel kNN")
    splits = [bench_dataset.split(name) for name in ("train", "val", "test")]
    measured = knn_row(bench_dataset.classes, bench_dataset.resolution, *splits)
    assert taken.error is None and taken.n == measured.n == len(splits[2])
    assert taken.accuracy == measured.accuracy and taken.details["k"] == measured.details["k"] >= 1
    assert taken.accuracy == results.methods[0].accuracy
    # a bench without the plain knn (here: knn with other settings) measures the row itself
    other = run_bench(bench_dataset, tmp_path / "other", ["knn:k=3"], reporter=NullReporter())
    row = next(row for row in other.audit if row.cue == "raw-pixel kNN")
    assert row.accuracy == measured.accuracy and row.details["k"] == measured.details["k"]


def test_bench_results_carry_the_shortcut_audit(first_bench):
    """Under the methods, every table shows what each trivial cue reaches on the same test split."""
    result, out, _, results = first_bench
    cues = [a["cue"] for a in results["audit"]]
    assert cues == ["global stats", "colour histogram", "raw-pixel kNN"]
    for a in results["audit"]:
        assert a["error"] is None and a["n"] == 48 and a["chance"] == pytest.approx(1 / 3)
        assert 0 <= a["accuracy"] <= 1
    markdown = (out / "results.md").read_text()
    for cue in cues:
        assert sum(line.startswith(f"| audit: {cue} |") for line in markdown.splitlines()) == 1
        assert f"audit: {cue}" in result.stdout  # the rich table
    assert BenchResults.read(out / "results.json").audit[0].cue == "global stats"
    old = {k: v for k, v in results.items() if k != "audit"}  # a version-1 file has no audit rows
    assert BenchResults.from_dict({**old, "version": 1}).audit == []


def test_fd_ratio_only_for_methods_with_fingerprints(first_bench):
    results = first_bench[3]
    rows = {m["spec"]: m for m in results["methods"]}
    for spec, m in rows.items():
        if spec in FINGERPRINTED:
            assert m["fd_ratio"] > 0 and m["fd"]["images"] == 48 and m["fd"]["subsampled"] is False
            # 8 test images per half-class: the common dimension drops to 8 // 4 = 2 for every method,
            # with the PCA fitted on the 60 training images
            assert (
                m["fd"]["dims"] == 2 and m["fd"]["requested_dims"] == 32 and m["fd"]["pca_fit_images"] == 60
            )
        else:
            assert m["fd_ratio"] is None and m["fd"] is None
    # PRNU residuals carry the synthetic sources' fixed noise patterns: the classes separate (ratio > 1)
    assert rows["prnu"]["fd_ratio"] > 1.2
    assert rows["prnu"]["fd"]["projected"] is True and rows["prnu"]["fd"]["feature_dims"] == 16 * 16
    # the reference row: the raw pixels, reduced the same way
    pixels = results["fd_reference"]
    assert results["fd_dim"] == 32 and pixels["dims"] == 2 and pixels["feature_dims"] == 3 * 16 * 16
    assert pixels["fd_ratio"] > 0


def _expected_cells(m: dict) -> list[str]:
    """Display strings computed here, independently of the formatter under test."""
    fd = "-" if m["fd_ratio"] is None else f"{m['fd_ratio']:.3f}"
    low, high = m["accuracy_ci95"]
    p = "reference" if m["paired"] is None else m["paired"]["p_value"]
    p = p if isinstance(p, str) else (f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}")
    return [
        m["spec"],
        f"{100 * m['accuracy']:.2f}%",
        f"{100 * low:.2f}-{100 * high:.2f}%",
        p,
        f"{m['macro_f1']:.4f}",
        fd,
        f"{m['train_seconds']:.1f}",
        f"{m['images_per_second']:.1f}",
    ]


def _table_rows(text: str, separator: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip(separator).split(separator)]
        if len(cells) >= 8 and cells[0] not in rows:  # the first table of each output is the main one
            rows[cells[0]] = cells
    return rows


def test_printed_table_and_markdown_match_results_json(first_bench):
    result, out, _, results = first_bench
    printed = _table_rows(result.stdout, "│")
    markdown = _table_rows((out / "results.md").read_text(), "|")
    for m in results["methods"]:
        expected = _expected_cells(m)
        assert printed[m["spec"]][:8] == expected
        assert markdown[m["spec"]][:8] == expected
        per_class = [f"{100 * m['per_class_accuracy'][c]:.2f}%" for c in results["dataset"]["classes"]]
        assert f"| {m['spec']} | " + " | ".join(per_class) + " |" in (out / "results.md").read_text()


def test_second_bench_reuses_runs_and_json_matches_file(first_bench, bench_dataset, tmp_path):
    _, _, runs, first = first_bench
    before = {p.parent.name: (p.stat().st_mtime_ns, p.read_text()) for p in runs.glob("*/run.json")}
    assert len(before) == len(METHODS)
    # the same methods, written differently: other order of parameters, spaces
    result = invoke(
        "bench",
        bench_dataset.path,
        "--out",
        tmp_path / "again",
        "--runs",
        runs,
        *method_options(["learned: epochs=2, width=0.125", "knn", "eigenface", "dct", "prnu"]),
        "--json",
        "--no-progress",
    )
    assert result.exit_code == 0, result.stderr
    second = json.loads(result.stdout)
    assert second == json.loads((tmp_path / "again" / "results.json").read_text())
    assert second["methods"][0]["spec"] == "learned: epochs=2, width=0.125"  # as given, but the same run
    after = {p.parent.name: (p.stat().st_mtime_ns, p.read_text()) for p in runs.glob("*/run.json")}
    assert after == before  # nothing retrained, nothing rewritten
    for old, new in zip(first["methods"], second["methods"]):
        assert new["reused"] is True and new["train_seconds"] == old["train_seconds"]
        assert new["confusion_matrix"] == old["confusion_matrix"]  # the same weights, evaluated again
    assert "reusing the finished run" in result.stderr


def test_a_run_of_another_seed_is_not_overwritten(first_bench, bench_dataset, tmp_path):
    _, _, runs, _ = first_bench
    run_json = runs / "knn" / "run.json"
    before = run_json.read_text()
    results = run_bench(
        bench_dataset, tmp_path, ["knn", "dct"], runs_dir=runs, seed=1, reporter=NullReporter()
    )
    knn, dct = results.methods
    assert "seed 0" in knn.error and knn.accuracy is None
    assert dct.error and run_json.read_text() == before


def test_unknown_method_lists_valid_names_and_trains_nothing(bench_dataset, tmp_path):
    result = invoke(
        "bench", bench_dataset.path, "--out", tmp_path / "out", *method_options(["knn", "nosuch"])
    )
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown method 'nosuch'" in lines[0]
    assert all(name in lines[0] for name in ("knn", "learned", "prnu", "eigenface"))
    assert not (tmp_path / "out").exists()
    assert result.stdout == ""


def test_spec_parameters_win_over_overrides(bench_dataset, tmp_path):
    results = run_bench(
        bench_dataset,
        tmp_path,
        ["learned:width=0.125"],
        seed=0,
        reporter=NullReporter(),
        overrides_for={"learned": {"epochs": 1, "width": 0.5}},
    )
    (row,) = results.methods
    assert row.error is None
    config = json.loads((tmp_path / "runs" / "learned-width=0.125" / "run.json").read_text())["config"]
    assert config["epochs"] == 1 and config["width"] == 0.125
    assert (
        len(json.loads((tmp_path / "runs" / "learned-width=0.125" / "run.json").read_text())["history"]) == 1
    )


# -- a method failing mid-way ---------------------------------------------------------------------
class ExplodingAttributor(Attributor):
    name = "bench_test_exploding"
    description = "fails in its second epoch (tests of gfp bench)"

    @dataclass
    class Config:
        fail_at_epoch: int = 2

    def fit(self, train, val, ctx):
        task = ctx.progress.task("exploding", total=3)
        for epoch in range(1, 4):
            if epoch == self.config.fail_at_epoch:
                raise RuntimeError(f"simulated failure in epoch {epoch}")
            ctx.history.append({"epoch": epoch, "val_accuracy": 0.0})
            task.advance()

    def logits(self, images):
        return torch.zeros(len(images), len(self.classes))

    def state_dict(self):
        return {}

    def load_state_dict(self, tensors):
        pass


class ExplodingPlugin:
    @hookimpl
    def gfp_register_baselines(self, register):
        register(ExplodingAttributor)


@pytest.fixture
def exploding_plugin():
    register_plugin(ExplodingPlugin(), "bench-test-exploding")
    yield ExplodingAttributor.name
    unregister_plugin("bench-test-exploding")


def test_failing_methods_are_reported_while_the_others_finish(exploding_plugin, bench_dataset, tmp_path):
    out = tmp_path / "out"
    # periodic prnu with 5 levels is a user mistake on 16x16 images (a GfpError); the plugin raises RuntimeError
    result = invoke(
        "bench",
        bench_dataset.path,
        "--out",
        out,
        *method_options(["knn", exploding_plugin, "prnu:levels=5,boundary=periodization", "dct"]),
        "--no-progress",
    )
    assert result.exit_code == 1
    results = json.loads((out / "results.json").read_text())
    rows = {m["spec"]: m for m in results["methods"]}
    assert "simulated failure in epoch 2" in rows[exploding_plugin]["error"]
    assert "not divisible" in rows["prnu:levels=5,boundary=periodization"]["error"]
    for spec in ("knn", "dct"):
        assert rows[spec]["error"] is None and rows[spec]["accuracy"] == 1.0
    for spec in (exploding_plugin, "prnu:levels=5,boundary=periodization"):
        assert rows[spec]["accuracy"] is None and not (out / f"confusion_{rows[spec]['slug']}.png").exists()
    assert (out / "confusion_knn.png").exists() and (out / "confusion_dct.png").exists()
    assert "2 of 4 method(s) failed" in result.stderr
    markdown = (out / "results.md").read_text()
    assert f"failed: {rows[exploding_plugin]['error']}" in markdown
    assert "failed" in _table_rows(result.stdout, "│")[exploding_plugin][-1]


def test_an_unfinished_run_is_resumed(bench_dataset, tmp_path):
    run_bench(bench_dataset, tmp_path, ["knn"], reporter=NullReporter())
    run_json = tmp_path / "runs" / "knn" / "run.json"
    info = json.loads(run_json.read_text())
    run_json.write_text(json.dumps({**info, "status": "running"}))  # as if the bench had been interrupted
    (row,) = run_bench(bench_dataset, tmp_path, ["knn"], reporter=NullReporter()).methods
    assert row.error is None and row.reused is False and row.accuracy == 1.0
    assert json.loads(run_json.read_text())["status"] == "complete"


def test_too_few_test_images_for_the_fd_ratio_is_a_note_not_a_failure(tiny_dataset, tmp_path):
    (row,) = run_bench(tiny_dataset, tmp_path, ["prnu"], reporter=NullReporter()).methods
    assert row.error is None and row.accuracy is not None
    assert row.fd_ratio is None and "at least 4 samples" in row.fd["note"]


# -- rendering ------------------------------------------------------------------------------------
def test_tables_print_names_literally_in_every_format():
    from rich.console import Console

    from gfcore.studies.bench.render import confusion_table, to_markdown, to_rich

    classes = ["[red]", "a|b", "[/b]"]
    table = confusion_table(
        classes, [[2, 0, 0], [0, 1, 1], [0, 0, 2]], {"[red]": 1.0, "a|b": 0.5, "[/b]": None}
    )
    console = Console(record=True, width=200)
    console.print(to_rich(table))
    text = console.export_text()
    assert "[red]" in text and "[/b]" in text and "50.00%" in text
    markdown = to_markdown(table)
    assert "| [red] | 2 | 0 | 0 | 100.00% |" in markdown and "a\\|b" in markdown and "| - |" in markdown


def test_row_names_survive_a_table_wider_than_the_console(monkeypatch):
    from rich.console import Console

    from gfcore.studies.bench.render import TextTable, to_rich

    names = ["eigenface:classifier=nn", "prnu:boundary=periodization,zero_mean=rows_columns"]
    columns = ["method", *(f"number {k}" for k in range(8)), "status"]
    table = TextTable(
        columns, [[n, *["12.34%"] * 8, "reused"] for n in names], text_columns=frozenset({"method", "status"})
    )
    console = Console(record=True, width=80)
    console.print(to_rich(table))
    lines = [line.split("│") for line in console.export_text().splitlines() if line.startswith("│")]
    first_column = "".join(cells[1].strip() for cells in lines)
    # rich used to shrink the name column to nothing here; now it folds each name, in full
    assert first_column == "".join(names), console.export_text()

    from gfp.common import PIPED_WIDTH, stdout_console

    monkeypatch.delenv("COLUMNS", raising=False)
    assert stdout_console().width == PIPED_WIDTH  # pytest's stdout is no terminal: wide enough for the tables
    monkeypatch.setenv("COLUMNS", "100")
    assert stdout_console().width == 100


def test_out_holding_other_files_is_refused_before_any_training(bench_dataset, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "results.md").write_text("my own notes")
    result = invoke("bench", bench_dataset.path, "--out", out, "--method", "knn", "--no-progress")
    assert result.exit_code == 1 and "holds no gfp bench results" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["results.md"]
    assert (out / "results.md").read_text() == "my own notes"
