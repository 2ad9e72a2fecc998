"""`gfp bench --degradations`: the standard degradation table (fixed downsampling, JPEG, blur and their
chain), the `downsample` and `degrade` attacks behind it, and its place in `gfp demo --all`."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from gfcore import Attack, hookimpl
from gfcore.data.synthetic import smooth_content
from gfcore.errors import GfpError
from gfcore.inference.attacks import build_attack
from gfcore.plugins import register_plugin, unregister_plugin
from gfcore.studies.bench import BenchResults
from gfcore.studies.bench.degradations import degradation_levels
from gfcore.studies.stats import wilson_interval

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LEARNED = "learned:width=0.25,epochs=1"


def textured(n=4, size=32, seed=0) -> torch.Tensor:
    """Smooth colour fields plus fine texture: content at every frequency, as photographs have."""
    rng = np.random.default_rng(seed)
    fine = rng.normal(0, 12, size=(n, 1, size, size))
    return torch.from_numpy(np.clip(smooth_content(rng, n, size) + fine, 0, 255).round().astype(np.uint8))


def high_frequency_energy(x: torch.Tensor) -> float:
    """Power of the luminance spectrum above half the Nyquist frequency (mean removed)."""
    y = (x.double() * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1)
    spectrum = torch.fft.fftshift(torch.fft.fft2(y - y.mean((1, 2), keepdim=True)), dim=(-2, -1)).abs() ** 2
    h, w = y.shape[1:]
    fy, fx = torch.meshgrid(torch.arange(h) - h // 2, torch.arange(w) - w // 2, indexing="ij")
    return float(spectrum[:, (fy.abs() > h // 4) | (fx.abs() > w // 4)].sum())


# -- the attacks ------------------------------------------------------------------------------------------
def test_downsample_at_factor_1_is_the_identity():
    x = textured()
    out = build_attack("downsample:factor=1").apply(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()  # a new tensor, the same pixels


def test_downsample_at_half_removes_the_high_frequencies_and_keeps_the_picture():
    x = textured()
    out = build_attack("downsample:factor=0.5").apply(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    # above half Nyquist is what a half-size copy cannot hold: antialiasing removes it, and bilinear
    # enlarging puts back only faint images of the lower band (about a tenth of the energy measured)
    assert high_frequency_energy(out) < 0.2 * high_frequency_energy(x)
    # ... while the smooth content stays
    assert (out.double() - x.double()).abs().mean() < 15
    quarter = build_attack("downsample:factor=0.25").apply(x, torch.Generator().manual_seed(0))
    assert high_frequency_energy(quarter) < high_frequency_energy(out)


@pytest.mark.parametrize("spec", ["downsample:factor=0", "downsample:factor=1.5", "degrade:quality=0"])
def test_bad_degradation_parameters_are_one_line(spec):
    with pytest.raises(GfpError, match="factor|quality"):
        build_attack(spec)


@pytest.mark.parametrize("label,spec", degradation_levels())
def test_each_level_is_deterministic(label, spec):
    """The same images give the same degraded images, whatever the generator: a level draws nothing."""
    attack, x = build_attack(spec), textured()
    first = attack.apply(x, torch.Generator().manual_seed(0))
    assert torch.equal(first, build_attack(spec).apply(x.clone(), torch.Generator().manual_seed(7)))
    assert not torch.equal(first, x), f"{label} left the images unchanged"


def test_the_standard_levels_are_the_fields_and_the_chain_runs_in_its_order():
    levels = dict(degradation_levels())
    assert set(levels) >= {"down x0.5", "down x0.25", "JPEG 65", "JPEG 30"}
    assert levels["JPEG 30"] == "degrade:quality=30"
    x, g = textured(), torch.Generator()
    chained = build_attack(levels["chain: x0.5, blur 4, JPEG 65"]).apply(x, g)
    by_hand = x
    # sigma 4 at 128 px is sigma 1 at 32 px
    for step in (
        "downsample:factor=0.5",
        "blur:sigma_min=1,sigma_max=1,reference_size=none",
        "jpeg:quality=65",
    ):
        by_hand = build_attack(step).apply(by_hand, g)
    assert torch.equal(chained, by_hand)


def test_blur_levels_scale_with_the_image():
    """sigma 4 at 128 px on a 64-px image is sigma 2 there."""
    x, g = textured(size=64), torch.Generator()
    scaled = build_attack("degrade:sigma=4").apply(x, g)
    assert torch.equal(scaled, build_attack("blur:sigma_min=2,sigma_max=2,reference_size=none").apply(x, g))


# -- the registry: levels are what attacks declare ---------------------------------------------------------
class Fog(Attack):
    name = "test_fog"
    degradation_levels = (("JPEG 30", "amount=1"),)  # a label the built-in levels hold already

    @dataclass
    class Config:
        amount: int = 0

    def apply(self, images, generator):
        return images.clone()


class FogPlugin:
    @hookimpl
    def gfp_register_attacks(self, register):
        register(Fog)


def test_a_plugin_adds_levels_and_a_taken_label_is_told_apart():
    register_plugin(FogPlugin(), "degradation-test-fog")
    try:
        levels = degradation_levels()
        assert ("JPEG 30 (test_fog)", "test_fog:amount=1") in levels and (
            "JPEG 30",
            "degrade:quality=30",
        ) in levels
    finally:
        unregister_plugin("degradation-test-fog")


def test_a_level_that_cannot_be_built_is_one_line(monkeypatch):
    monkeypatch.setattr(Fog, "degradation_levels", (("broken", "amount=x"),))
    register_plugin(FogPlugin(), "degradation-test-fog")
    try:
        with pytest.raises(GfpError, match="degradation level 'broken' \\(test_fog:amount=x\\)"):
            degradation_levels()
    finally:
        unregister_plugin("degradation-test-fog")


# -- the bench ---------------------------------------------------------------------------------------------
def test_bench_degradations_fill_the_table_in_every_output(tiny_dataset, tmp_path, run_cli):
    out = tmp_path / "bench"
    args = ["bench", tiny_dataset.path, "--out", out, "--method", LEARNED, "--method", "knn"]
    result = run_cli(*args, "--degradations", "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    results = BenchResults.read(out / "results.json")
    assert doc["degradations"] == results.to_dict()["degradations"]
    levels = degradation_levels()
    n = len(tiny_dataset.split("test"))
    assert [(d.spec, d.level, d.attack) for d in results.degradations] == [
        (m, label, spec) for m in (LEARNED, "knn") for label, spec in levels
    ]
    for cell in results.degradations:
        assert cell.error is None and cell.n == n and 0 <= cell.accuracy <= 1
        assert cell.clean == results.row(cell.spec).accuracy
        # Wilson intervals over the test images, from the shared helper
        assert cell.accuracy_ci95 == list(wilson_interval(round(cell.accuracy * n), n))
        assert cell.clean_ci95 == list(wilson_interval(round(cell.clean * n), n))
    markdown = (out / "results.md").read_text()
    assert "## Standard degradations" in markdown and "`degrade:quality=30`" in markdown
    assert "| level | method | accuracy | 95% interval | clean | clean 95% | change |" in markdown
    # the same runs again: nothing retrained and every level gives the same accuracy
    again = run_cli(*args, "--degradations", "--no-progress")
    assert again.exit_code == 0, again.output
    assert "standard degradations" in again.stdout and "JPEG 30" in again.stdout
    second = BenchResults.read(out / "results.json")
    assert [d.accuracy for d in second.degradations] == [d.accuracy for d in results.degradations]
    assert all(r.reused for r in second.methods)


def test_without_the_flag_there_is_no_table(tiny_dataset, tmp_path, run_cli):
    out = tmp_path / "bench"
    result = run_cli("bench", tiny_dataset.path, "--out", out, "--method", "knn", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "degradations" not in json.loads((out / "results.json").read_text())
    assert "Standard degradations" not in (out / "results.md").read_text()


@pytest.mark.parametrize("flag", [["--immunize-epochs", "2"], ["--no-curves"]])
def test_immunization_or_curve_flags_with_degradations_alone_are_one_line(
    flag, tiny_dataset, tmp_path, cli_error
):
    out = tmp_path / "bench"
    line = cli_error(1, "bench", tiny_dataset.path, "--out", out, "--method", "knn", "--degradations", *flag)
    assert "apply to --attacks only" in line and flag[0].split("/")[0] in line
    assert not out.exists()


def test_the_demo_section_renders_the_bench_table():
    from gfp_demo.tasks import degradation_lines, tables_markdown

    rows = [
        {
            "spec": "learned",
            "level": "JPEG 30",
            "attack": "degrade:quality=30",
            "n": 100,
            "clean": 0.96,
            "clean_ci95": [0.9, 0.98],
            "accuracy": 0.5,
            "accuracy_ci95": [0.4, 0.6],
        }
    ]
    lines = degradation_lines({"task": "existence", "rows": rows})
    text = "\n".join(lines)
    assert lines[0] == "## standard degradations: existence task"
    assert "| JPEG 30 | learned | 50.00% | 40.00-60.00% | 96.00% | 90.00-98.00% | -46.00 |" in text
    assert "- JPEG 30: `degrade:quality=30`" in text
    tables = {
        "learned_spec": "learned",
        "seconds": 1.0,
        "settings": {"repeats": 1, "seed": 0},
        "tasks": {},
        "superiority": [],
        "degradations": {"task": "existence", "rows": rows},
    }
    assert "## standard degradations: existence task" in tables_markdown(tables)


def test_the_demo_measures_the_table_on_the_five_source_task(tmp_path):
    """`gfp demo --all` sets ``degradations``: the five-source bench carries the table into tables.md."""
    from gfcore.terminal.progress import NullReporter
    from gfp_demo.tasks import DemoSettings, run_demo

    settings = DemoSettings(train_per_source=40, val_per_source=10, test_per_source=10, epochs=1)
    settings.tasks, settings.baselines, settings.degradations = ["existence"], ["knn"], True
    tables = run_demo(tmp_path / "demo", settings, torch.device("cpu"), NullReporter())
    rows = tables["degradations"]["rows"]
    assert len(rows) == 2 * len(degradation_levels()) and all(r["error"] is None for r in rows)
    assert {r["n"] for r in rows} == {50}
    assert "## standard degradations: existence task" in (tmp_path / "demo" / "tables.md").read_text()
