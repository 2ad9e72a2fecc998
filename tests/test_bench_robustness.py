"""`gfp bench --attacks`: the robustness table (clean / Atk / Dfs) and the severity curves."""

import json

from PIL import Image

from gfcore.studies.bench import BenchResults
from gfcore.studies.bench.robustness import SWEEPS

LEARNED = "learned:width=0.25,epochs=1"


def test_bench_attacks_fill_the_table_immunize_once_and_plot(tiny_dataset, tmp_path, run_cli, cli_error):
    out = tmp_path / "bench"
    args = ["bench", tiny_dataset.path, "--out", out, "--method", LEARNED, "--method", "knn"]
    args += ["--attacks", "noise,relight", "--immunize-epochs", "1", "--immunize-epochs", "relight=2"]
    args += ["--no-progress"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    results = BenchResults.read(out / "results.json")
    cells = {(r.spec, r.attack): r for r in results.robustness}
    assert set(cells) == {(m, a) for m in (LEARNED, "knn") for a in ("noise", "relight")}
    for (spec, _attack), cell in cells.items():
        assert cell.error is None and 0 <= cell.atk <= 1 and cell.clean == results.row(spec).accuracy
        assert (cell.dfs is None) == (spec == "knn")  # kNN cannot be fine-tuned
    immunized = json.loads(
        (out / "runs" / "learned-epochs=1-width=0.25--immunized-relight" / "run.json").read_text()
    )
    assert immunized["attack"]["spec"] == "relight" and immunized["parent"]["path"].endswith("width=0.25")
    # relight's own count, noise the one for every attack; recorded in the rows and said in results.md
    assert len(immunized["history"]) == 2 and cells[(LEARNED, "noise")].immunize_epochs == 1
    assert (
        cells[(LEARNED, "relight")].immunize_epochs == 2 and cells[("knn", "noise")].immunize_epochs is None
    )
    assert "fine-tuned 1 epoch against noise, 2 epochs against relight" in (out / "results.md").read_text()
    # curves: the swept attacks only (relight has no severity parameter), for both methods and the immunized run
    curves = {(c.spec, c.attack, c.run is not None) for c in results.curves}
    assert curves == {(LEARNED, "noise", False), ("knn", "noise", False), (LEARNED, "noise", True)}
    assert all(c.values == SWEEPS["noise"][1] and len(c.accuracy) == len(c.values) for c in results.curves)
    severity = json.loads((out / "severity.json").read_text())
    assert severity["format"] == "gfp-severity" and len(severity["curves"]) == 3
    Image.open(out / "severity.png").verify()
    assert "noise Atk" in (out / "results.md").read_text()
    # a second bench reuses the immunized runs (the same numbers, nothing retrained)
    mtime = (
        (out / "runs" / "learned-epochs=1-width=0.25--immunized-noise" / "weights.safetensors")
        .stat()
        .st_mtime
    )
    assert run_cli(*args).exit_code == 0
    again = BenchResults.read(out / "results.json")
    assert [(r.atk, r.dfs) for r in again.robustness] == [(r.atk, r.dfs) for r in results.robustness]
    assert (
        out / "runs" / "learned-epochs=1-width=0.25--immunized-noise" / "weights.safetensors"
    ).stat().st_mtime == mtime
    line = cli_error(
        1, "bench", tiny_dataset.path, "--out", tmp_path / "b2", "--method", "knn", "--attacks", "fog"
    )
    assert "fog" in line and not (tmp_path / "b2").exists()
    typo = run_cli(
        "bench",
        tiny_dataset.path,
        "--out",
        tmp_path / "b3",
        "--method",
        "knn",
        "--attacks",
        "noise",
        "--immunize-epochs",
        "nosie=3",
    )
    assert typo.exit_code == 2 and "'nosie', which is not one of --attacks" in typo.output
    assert not (tmp_path / "b3").exists()
    bad = run_cli(
        "bench",
        tiny_dataset.path,
        "--out",
        tmp_path / "b4",
        "--attacks",
        "noise",
        "--immunize-epochs",
        "combo=x",
    )
    assert bad.exit_code == 2 and "not N or ATTACK=N" in bad.output


def test_the_demo_robustness_section_renders_the_atk_dfs_table():
    from gfp_demo.tasks import robustness_lines

    rows = [
        {"spec": "learned", "attack": "crop", "clean": 0.96, "atk": 0.66, "dfs": 0.91},
        {"spec": "knn", "attack": "crop", "clean": 0.78, "atk": 0.43, "dfs": None},
    ]
    text = "\n".join(robustness_lines({"task": "existence", "rows": rows, "curves": [], "figure": "s.png"}))
    assert "| method | clean | crop Atk | crop Dfs |" in text
    assert "| learned | 96.00% | 66.00% | 91.00% |" in text and "| knn | 78.00% | 43.00% | - |" in text
