"""Calibration (temperature scaling, ECE), the open-set rule and its leave-one-source-out evaluation,
and the realistic-subset check."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gfcore.data.dataset import load_dataset, write_dataset
from gfcore.data.synthetic import fingerprint_task
from gfcore.inference.calibration import ECE_BINS, expected_calibration_error, fit_temperature, nll, softmax
from gfcore.inference.openset import auroc, fit_calibration, known_score, pick_threshold
from gfcore.studies.realistic import realistic_subset, wilson_interval

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def calibrated_set(n: int, seed: int = 0):
    """Logits and labels drawn from softmax(logits): calibrated at T = 1 by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, size=(n, 5))
    p = softmax(logits)
    labels = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return logits, labels


def test_ece_of_a_calibrated_set_is_about_zero_and_of_a_known_case_exact():
    logits, labels = calibrated_set(50_000)
    # each bin's accuracy is a binomial mean: |noise| ~ sqrt(p(1-p)/n_bin) <= sqrt(0.25/3333) ~ 0.009
    assert expected_calibration_error(softmax(logits), labels) < 0.015
    # every image 80% confident, 60% right: ECE exactly 0.2
    probs = np.tile([0.8, 0.2], (10, 1))
    assert math.isclose(expected_calibration_error(probs, np.array([0] * 6 + [1] * 4)), 0.2)
    assert ECE_BINS == 15


def test_temperature_scaling_undoes_over_confidence():
    logits, labels = calibrated_set(20_000, seed=1)
    over = 3.0 * logits  # the same model three times too sure: the right temperature is 3
    t = fit_temperature(over, labels)
    assert abs(t - 3.0) < 0.15, t  # the MLE of T on 20000 images, not a machine's digits
    assert nll(over, labels, t) < nll(over, labels) - 0.1
    before = expected_calibration_error(softmax(over), labels)
    after = expected_calibration_error(softmax(over, t), labels)
    assert before > 0.1 and after < 0.02
    assert (softmax(over, t).argmax(1) == over.argmax(1)).all()  # accuracy unchanged


def test_threshold_gives_the_stated_false_unknown_rate():
    rng = np.random.default_rng(2)
    val, test = rng.normal(size=2000), rng.normal(size=20_000)  # scores of known images
    threshold = pick_threshold(val, 0.05)
    assert (val < threshold).mean() == 100 / 2000  # floor(0.05 * 2000) below it, no ties
    # on new known images: the quantile's own error sqrt(.05*.95/2000) = 0.0049 and the test's 0.0015
    assert abs((test < threshold).mean() - 0.05) < 4 * math.hypot(0.0049, 0.0015)


def test_auroc_known_answers():
    rng = np.random.default_rng(3)
    assert auroc([2, 3, 4], [0, 1]) == 1.0 and auroc([0, 1], [2, 3]) == 0.0
    assert auroc([1, 1], [1, 1]) == 0.5  # ties count one half
    a, b = rng.normal(1, 1, 300), rng.normal(0, 1, 200)
    brute = np.mean([(x > y) + 0.5 * (x == y) for x in a for y in b])
    assert math.isclose(auroc(a, b), brute)


def test_msp_score_keeps_its_order_when_probabilities_round_to_one():
    logits = np.array([[60.0, 0.0], [50.0, 0.0], [40.0, 0.0]])
    assert (softmax(logits).max(1) == 1.0).all()
    s = known_score(logits, 1.0, "msp")
    assert s[0] > s[1] > s[2]
    record = fit_calibration(*calibrated_set(1000), 0.1, "energy")
    assert record["open_set"]["score"] == "energy" and record["temperature"] > 0


def test_realistic_subset_picks_the_images_nearest_a_real_one():
    rng = np.random.default_rng(4)
    real = rng.integers(0, 256, size=(5, 3, 16, 16), dtype=np.uint8)
    # source 1: 20 images at growing noise around a real image; the 2 least noisy are the 10%
    noise = [rng.normal(0, 1, size=(3, 16, 16)) for _ in range(20)]
    levels = rng.permutation(20)
    test = np.stack(
        [np.clip(real[i % 5] + 4.0 * (1 + lv) * nz, 0, 255) for i, (lv, nz) in enumerate(zip(levels, noise))]
    )
    test = np.concatenate([real[:3], test.astype(np.uint8)])  # three real test images, label 0
    labels = np.array([0] * 3 + [1] * 20)
    chosen, distances = realistic_subset(test, labels, real, real_label=0)
    # the real class is filtered too: its one nearest test image (an exact copy, distance 0) of three
    assert sorted(chosen.tolist()) == sorted([0, *(3 + np.argsort(levels)[:2]).tolist()])
    assert np.allclose(distances[:3], 0) and (distances[3:] > 0).all()
    low, high = wilson_interval(5, 10)
    assert math.isclose(low + high, 1.0) and 0.23 < low < 0.24  # the textbook 95% interval for 5/10
    assert abs(wilson_interval(0, 10)[0]) < 1e-12 and wilson_interval(0, 0) is None


# --- a learned model on a tiny synthetic task: trained once for the tests below -----------------------------


@pytest.fixture(scope="module")
def three_of_four(tmp_path_factory):
    """A learned run trained on three of four synthetic sources, its dataset, and the fourth source's images."""
    from gfcore.runs.training import train_run

    root = tmp_path_factory.mktemp("openset")
    counts = {"train": 300, "val": 60, "test": 60}
    splits, unseen = {}, None
    for i, (split, n) in enumerate(counts.items()):
        images, labels = fingerprint_task(4, n, 16, 24.0, seed=i)
        splits[split] = (images[labels < 3], labels[labels < 3])
        unseen = images[labels == 3]
    data = write_dataset(root / "ds", ["a", "b", "c"], splits)
    train_run(data, root / "run", "learned:width=0.25", overrides={"epochs": 6})
    return root, data, unseen


def test_an_unseen_source_is_called_unknown(three_of_four):
    from gfcore.inference.evaluation import predict_split
    from gfcore.inference.openset import run_calibration
    from gfcore.interfaces import Split
    from gfcore.runs.attributor import load_run, read_run_json

    root, data, unseen = three_of_four
    info = read_run_json(root / "run")
    record = info["calibration"]  # stored by train at the end
    assert record["open_set"]["false_unknown_rate"] == 0.05 and record["n"] == 180
    attributor, info = load_run(root / "run")
    t = run_calibration(info, "run")["temperature"]
    known, _ = predict_split(attributor, data.split("test"))
    assert (known.argmax(1) == data.split("test").labels).mean() > 0.9  # it learned the three sources
    unknown, _ = predict_split(attributor, Split(images=unseen, labels=np.zeros(len(unseen), np.int64)))
    # 0.93 measured (seed 0); chance is 0.5
    assert auroc(known_score(known, t, "max-logit"), known_score(unknown, t, "max-logit")) > 0.85


def test_attribute_says_unknown_and_an_old_run_loads_uncalibrated(
    three_of_four, run_cli, cli_error, tmp_path
):
    from gfcore.data.images import save_png

    root, data, unseen = three_of_four
    for i, img in enumerate(unseen[:20]):
        save_png(tmp_path / "unseen" / f"{i}.png", img)
    for i, img in enumerate(np.asarray(data.split("test").images[:20])):
        save_png(tmp_path / "known" / f"{i}.png", img)
    run_cli("calibrate", root / "run", root / "ds", "--score", "max-logit", "--no-progress")

    def share_unknown(folder, *flags):
        result = run_cli("attribute", root / "run", tmp_path / folder, "--json", "--no-progress", *flags)
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        return doc["shares"].get("unknown"), doc

    unseen_share, doc = share_unknown("unseen")
    known_share, _ = share_unknown("known")
    assert doc["calibration"]["open_set"]["score"] == "max-logit" and doc["calibration"]["calibrated"]
    assert unseen_share > 0.6 and known_share < 0.3 and unseen_share > known_share + 0.4
    assert all(math.isclose(sum(r["probabilities"].values()), 1.0) for r in doc["images"])
    closed, _ = share_unknown("unseen", "--closed-set")
    assert closed is None

    # a run made before calibration existed: no "calibration" field -> T = 1, closed set, said so
    run_json = root / "run" / "run.json"
    saved = run_json.read_text()
    try:
        info = json.loads(saved)
        del info["calibration"]
        run_json.write_text(json.dumps(info))
        result = run_cli("attribute", root / "run", tmp_path / "known", "--json", "--no-progress")
        assert result.exit_code == 0 and "T = 1" in result.stderr
        doc = json.loads(result.stdout)
        assert doc["calibration"]["temperature"] == 1.0 and doc["calibration"]["open_set"] is None
        assert "stores no open-set threshold" in cli_error(
            1, "attribute", root / "run", tmp_path / "known", "--open-set"
        )
    finally:
        run_json.write_text(saved)


def test_evaluate_reports_ece_realistic_subset_and_a_reliability_diagram(
    three_of_four, run_cli, cli_error, tmp_path
):
    root, data, _ = three_of_four
    png = tmp_path / "rel.png"
    result = run_cli(
        "evaluate",
        root / "run",
        root / "ds",
        "--json",
        "--no-progress",
        "--reliability-png",
        png,
        "--realistic-subset",
        "--real-class",
        "a",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    c = doc["calibration"]
    assert c["ece_bins"] == 15 and 0 <= c["ece_after"] <= 1 and c["stored"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = doc["realistic_subset"]
    assert r["n"] == 3 * 6 and set(r["per_source"]) == {"a", "b", "c"}  # 10% of 60 per source, real too
    assert doc["open_set"]["false_unknown_rate_measured"] < 0.3
    per_class = doc["open_set"]["false_unknown_rate_per_class"]
    counts = np.bincount(load_dataset(root / "ds").split("test").labels)
    assert set(per_class) == set(doc["classes"])  # the overall rate is their mean, weighted by images
    weighted = sum(per_class[c] * counts[k] for k, c in enumerate(doc["classes"])) / counts.sum()
    assert weighted == pytest.approx(doc["open_set"]["false_unknown_rate_measured"])
    assert "exists" in cli_error(1, "evaluate", root / "run", root / "ds", "--reliability-png", png)
    assert "no class named" in cli_error(1, "evaluate", root / "run", root / "ds", "--realistic-subset")


def test_openset_command_leaves_each_source_out_and_reuses_its_runs(
    tiny_dataset, run_cli, cli_error, tmp_path
):
    out = tmp_path / "loso"
    args = ("openset", tiny_dataset.path, "--out", out, "--method", "knn:k=3", "--json", "--no-progress")
    first = run_cli(*args)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert [r["held_out"] for r in doc["held_out"]] == tiny_dataset.classes
    for row in doc["held_out"]:
        info = json.loads((out / "runs" / f"without-{row['held_out']}" / "run.json").read_text())
        assert row["held_out"] not in info["classes"] and len(info["classes"]) == 2
        assert info["calibration"]["open_set"]["false_unknown_rate"] == 0.05
        assert set(row["scores"]) == {"msp", "max-logit", "energy"} and not row["reused"]
        assert row["n_unknown"] == int(
            (tiny_dataset.split("test").labels == tiny_dataset.classes.index(row["held_out"])).sum()
        )
        assert all(0 <= s["auroc"] <= 1 for s in row["scores"].values())
    assert "| held-out | AUROC msp | OSCR msp |" in (out / "results.md").read_text()
    again = json.loads(run_cli(*args).stdout)
    assert all(r["reused"] for r in again["held_out"])
    assert [r["scores"] for r in again["held_out"]] == [r["scores"] for r in doc["held_out"]]
    run = out / "runs" / f"without-{tiny_dataset.classes[0]}"
    assert "another dataset" in cli_error(1, "calibrate", run, tiny_dataset.path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert "gfp does not write into folders" in cli_error(
        1, "openset", tiny_dataset.path, "--out", tmp_path / "other"
    )


def test_openset_leaves_a_family_out_together_and_keeps_the_real_class(run_cli, cli_error, tmp_path):
    """Leave-one-family-out: `--group fam=b,c --keep real` leaves out the family {b, c} and the source a in
    turn, never real, and says how many unseen images each run gave to real."""
    counts = {"train": 60, "val": 20, "test": 20}
    splits = {}
    for i, (split, n) in enumerate(counts.items()):
        splits[split] = fingerprint_task(4, n, 16, 24.0, seed=i)
    data = write_dataset(tmp_path / "ds", ["real", "a", "b", "c"], splits)
    out = tmp_path / "lofo"
    args = ("openset", data.path, "--out", out, "--method", "knn:k=3", "--group", "fam=b,c", "--keep", "real")
    result = run_cli(*args, "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["groups"] == {"fam": ["b", "c"]} and doc["keep"] == ["real"]
    rows = {r["held_out"]: r for r in doc["held_out"]}
    assert set(rows) == {"fam", "a"} and rows["fam"]["sources"] == ["b", "c"]
    info = json.loads((out / "runs" / "without-fam" / "run.json").read_text())
    assert info["classes"] == ["real", "a"]
    test_labels = data.split("test").labels
    assert rows["fam"]["n_unknown"] == int(np.isin(test_labels, [2, 3]).sum())
    for row in rows.values():
        chosen = row["scores"][doc["score"]]
        # an unseen image is either called unknown, or given to real, or to another generator
        assert chosen["unknown_detected"]["rate"] + chosen["unknown_called_kept"]["rate"] <= 1 + 1e-9
        known = set(json.loads((Path(row["run"]) / "run.json").read_text())["classes"])
        assert set(chosen["false_unknown_rate_per_class"]) == known and chosen["per_class_threshold"]
        assert 0 <= row["unknown_to_kept_closed_set"] <= 1
    assert "unseen called real" in (out / "results.md").read_text()
    assert "no source zz" in cli_error(1, *args[:-4], "--group", "fam=b,zz", "--out", tmp_path / "o2")
    assert "NAME=SRC" in cli_error(2, *args[:-4], "--group", "fam", "--out", tmp_path / "o3")


def test_openset_starts_every_run_from_a_run_that_never_saw_the_held_out_sources(
    run_cli, cli_error, tmp_path
):
    """`--init-from RUN`: each held-out run starts from RUN's weights (recorded in its run.json and in
    results.json); a RUN trained on a source that is left out is refused before any work."""
    counts = {"train": 40, "val": 20, "test": 20}

    def dataset(name, classes, seed):
        splits = {
            s: fingerprint_task(len(classes), n, 16, 24.0, seed=seed + i)
            for i, (s, n) in enumerate(counts.items())
        }
        return write_dataset(tmp_path / name, classes, splits)

    data = dataset("ds", ["real", "a", "b"], 0)
    spec = "learned:width=0.0625,lr=0.01"
    for name, classes in {"clean": ["real", "x"], "leaky": ["real", "b"]}.items():
        start = dataset(f"start-{name}", classes, 10)
        trained = run_cli(
            "train", start.path, "--out", tmp_path / name, "--method", spec, "--epochs", "1", "--no-progress"
        )
        assert trained.exit_code == 0, trained.output
    args = ("openset", data.path, "--method", spec, "--epochs", "1", "--keep", "real", "--no-progress")
    result = run_cli(*args, "--out", tmp_path / "lo", "--init-from", tmp_path / "clean", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["init_from"]["path"] == str((tmp_path / "clean").resolve())
    for row in doc["held_out"]:
        info = json.loads((Path(row["run"]) / "run.json").read_text())
        assert info["init_from"]["weights_sha256"] == doc["init_from"]["weights_sha256"]
    assert "every run starts from" in (tmp_path / "lo" / "results.md").read_text()
    again = json.loads(
        run_cli(*args, "--out", tmp_path / "lo", "--init-from", tmp_path / "clean", "--json").stdout
    )
    assert all(r["reused"] for r in again["held_out"])
    error = cli_error(1, *args, "--out", tmp_path / "lo2", "--init-from", tmp_path / "leaky")
    assert "was trained on b, which would be left out" in error
    assert not (tmp_path / "lo2" / "runs").exists()
    # a run that knows no held-out source but started from one that does is refused as well
    heir = dataset("start-heir", ["real", "y"], 20)
    warm = (
        "train",
        heir.path,
        "--out",
        tmp_path / "heir",
        "--method",
        spec,
        "--epochs",
        "1",
        "--no-progress",
    )
    assert run_cli(*warm, "--init-from", tmp_path / "leaky").exit_code == 0
    error = cli_error(1, *args, "--out", tmp_path / "lo3", "--init-from", tmp_path / "heir")
    assert "(or a run it started from) was trained on b" in error


def test_the_demo_open_set_step_runs_the_three_protocols(tmp_path):
    """`gfp demo --all`'s open-set step: leave one out by seed, by family (DDPM and DDIM together) and by
    training data, the real class kept in every run; one table row per protocol in tables.md."""
    import torch

    from gfcore.terminal.progress import NullReporter
    from gfp_demo.figures import add_figure_section, figures_lines
    from gfp_demo.openset_step import openset_figures
    from gfp_demo.tasks import DemoSettings

    def dataset(name, classes):
        counts = {"train": 40, "val": 20, "test": 20}
        splits = {
            s: fingerprint_task(len(classes), n, 16, 24.0, seed=i) for i, (s, n) in enumerate(counts.items())
        }
        return write_dataset(tmp_path / "datasets" / name, classes, splits)

    datasets = {
        "uniqueness": dataset("uniqueness", ["real", "seed0", "seed1"]),
        "modern": dataset("modern", ["real", "DCGAN", "DDPM", "DDIM"]),
        "training_data": dataset("training_data", ["real", "w0", "w1"]),
    }
    settings = DemoSettings(learned="learned:width=0.0625,lr=0.01", openset_epochs=1)
    section = openset_figures(tmp_path / "demo", datasets, settings, torch.device("cpu"), NullReporter())
    assert set(section["protocols"]) == {"seed", "architecture family", "training data"}
    family = json.loads((tmp_path / "demo" / section["protocols"]["architecture family"]).read_text())
    assert [r["held_out"] for r in family["held_out"]] == ["DDPM", "DCGAN"] and family["keep"] == ["real"]
    assert (
        "mahalanobis" in family["mean"] and 0 <= family["mean"]["msp"]["per_class_unknown_called_kept"] <= 1
    )
    tables = {}
    add_figure_section(tables, "openset", section)
    markdown = "\n".join(figures_lines(tables))
    assert markdown.count("\n| seed |") + markdown.count("\n| architecture family |") == 2
    assert "| training data | 2 |" in markdown
