"""How sure the bench's numbers are: intervals and exact McNemar against known values, repeated
runs in a bench, and seeded runs giving identical numbers on one machine."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.studies.bench import BenchRow, run_bench
from gfcore.studies.bench.repeats import encode_correct, paired_tests
from gfcore.studies.stats import discordant, mcnemar_exact, t_interval, wilson_interval
from gfcore.terminal.progress import NullReporter

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LEARNED = "learned:width=0.125,epochs=2"


# -- intervals and tests against values worked out by hand -----------------------------------------
def test_t_interval_of_known_values():
    # mean 0.92, sample sd 0.02, t(0.975, 2) = 4.302653: half-width 4.302653 * 0.02 / sqrt(3) = 0.0496827
    low, high = t_interval([0.90, 0.92, 0.94])
    assert low == pytest.approx(0.92 - 0.0496827, abs=1e-6) and high == pytest.approx(
        0.92 + 0.0496827, abs=1e-6
    )
    assert t_interval([0.5, 0.5]) == (0.5, 0.5)  # no spread, no width
    # an accuracy's interval stays inside [0, 1]: 0.96 and 0.98 give 0.97 +- 12.7 * 0.01 unclipped
    from gfcore.studies.bench.repeats import accuracy_interval

    assert accuracy_interval([0.96, 0.98], 100)[0] == [pytest.approx(0.97 - 0.127062, abs=1e-5), 1.0]
    with pytest.raises(ValueError):
        t_interval([0.9])


def test_wilson_interval_of_known_values():
    # 8 of 10: the textbook Wilson 95% interval is (0.4902, 0.9433)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)  # not degenerate at 100%
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_exact_mcnemar_of_known_tables():
    # b = 1, c = 9: 2 * (C(10,0) + C(10,1)) / 2^10 = 22 / 1024
    assert mcnemar_exact(1, 9) == mcnemar_exact(9, 1) == 22 / 1024
    assert mcnemar_exact(0, 5) == 2 / 32 and mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(7, 7) == 1.0
    from scipy.stats import binomtest

    for b, c in [(3, 12), (40, 61), (250, 300), (0, 1)]:
        assert math.isclose(mcnemar_exact(b, c), binomtest(b, b + c, 0.5).pvalue, rel_tol=1e-9)
    assert discordant([1, 1, 0, 0, 1], [1, 0, 1, 1, 1]) == (1, 2)


def _row(spec, corrects):
    repeats = [{"seed": i, "correct": encode_correct(c)} for i, c in enumerate(corrects)]
    return BenchRow(spec=spec, repeats=repeats)


def test_paired_tests_name_a_winner_only_when_every_repeat_agrees():
    right = np.ones(30, dtype=bool)
    ten_wrong = right.copy()
    ten_wrong[:10] = False
    ref = _row("learned", [right, right])
    worse = _row("worse", [ten_wrong, ten_wrong])  # 10 discordant pairs each, all for the reference
    mixed = _row("mixed", [ten_wrong, right])  # the second repeat is a tie
    paired_tests([ref, worse, mixed], "learned")
    assert ref.paired is None
    assert worse.paired["reference_only"] == [10, 10] and worse.paired["this_only"] == [0, 0]
    assert worse.paired["p_value"] == 2 / 1024 and worse.paired["verdict"] == "reference better"
    assert mixed.paired["p_values"] == [2 / 1024, 1.0] and mixed.paired["p_value"] == 1.0
    assert mixed.paired["verdict"] == "no significant difference"


# -- repeats in a bench, and determinism ------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from gfcore.data.dataset import load_dataset, prepare_dataset

    root = tmp_path_factory.mktemp("trust")
    write_fingerprint_folders(root / "src", num_sources=3, per_source=40, size=16, amplitude=24.0)
    prepare_dataset(root / "src", root / "ds", resolution=16, split=(0.5, 0.1, 0.4), seed=0)
    return load_dataset(root / "ds")


@pytest.fixture(scope="module")
def two_repeats(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("repeats")
    return out, run_bench(dataset, out, [LEARNED, "prnu"], repeats=2, audit=False, reporter=NullReporter())


def test_repeats_train_each_method_once_per_seed_and_carry_an_interval(two_repeats):
    out, results = two_repeats
    assert results.repeats == 2 and results.reference == LEARNED
    learned, prnu = results.methods
    for row in (learned, prnu):
        assert row.error is None and [r["seed"] for r in row.repeats] == [0, 1]
        runs = [out / "runs" / row.slug, out / "runs" / f"{row.slug}--seed1"]
        assert [r["run"] for r in row.repeats] == [str(p) for p in runs]
        for run, seed in zip(runs, (0, 1)):
            assert json.loads((run / "run.json").read_text())["seed"] == seed
        accuracies = [r["accuracy"] for r in row.repeats]
        assert row.accuracy == pytest.approx(np.mean(accuracies))
        assert row.accuracy_ci95 == pytest.approx(list(t_interval(accuracies)))
        assert row.ci_method.startswith("t-interval over 2 repeats")
        assert np.sum(row.confusion_matrix) == 2 * row.n  # summed over the repeats
    assert prnu.paired["reference"] == LEARNED and len(prnu.paired["p_values"]) == 2
    assert prnu.paired["p_value"] == max(prnu.paired["p_values"])
    assert results.to_dict()["methods"][1]["paired"] == prnu.paired


def test_one_repeat_reuses_repeat_zero(two_repeats, dataset, tmp_path):
    out, results = two_repeats
    again = run_bench(
        dataset, tmp_path, [LEARNED], runs_dir=out / "runs", audit=False, reporter=NullReporter()
    )
    (row,) = again.methods
    assert row.reused is True and row.repeats[0]["correct"] == results.methods[0].repeats[0]["correct"]


def test_seeded_repeats_give_identical_numbers_on_one_machine(two_repeats, dataset, tmp_path):
    from safetensors.torch import load_file

    out, first = two_repeats
    second = run_bench(dataset, tmp_path, [LEARNED, "prnu"], repeats=2, audit=False, reporter=NullReporter())
    for a, b in zip(first.methods, second.methods):
        assert b.reused is False
        for ra, rb in zip(a.repeats, b.repeats):
            assert (ra["correct"], ra["accuracy"], ra["fd_ratio"]) == (
                rb["correct"],
                rb["accuracy"],
                rb["fd_ratio"],
            )
    slug = first.methods[0].slug
    for name in (slug, f"{slug}--seed1"):
        weights_a = load_file(out / "runs" / name / "weights.safetensors")
        weights_b = load_file(tmp_path / "runs" / name / "weights.safetensors")
        assert weights_a.keys() == weights_b.keys()
        assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)  # bit for bit
    # and the two seeds did train different networks
    seed0 = load_file(out / "runs" / slug / "weights.safetensors")
    seed1 = load_file(out / "runs" / f"{slug}--seed1" / "weights.safetensors")
    assert any(not torch.equal(seed0[k], seed1[k]) for k in seed0 if seed0[k].is_floating_point())
