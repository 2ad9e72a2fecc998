"""Attack strengths relative to the image size (``reference_size``): the paper's pixel ranges belong to
128x128 images and are scaled to the image; ``reference_size=none`` keeps them in the image's pixels."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gfcore.config import config_from_dict
from gfcore.errors import GfpError
from gfcore.inference.attacks import build_attack, describe_attack, same_attack
from gfcore.studies.bench.render import robustness_markdown
from gfcore.studies.bench.rows import BenchResults, RobustnessRow
from gfp_attacks.blur import Blur, opencv_sigma, scaled_kernel


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def noisy(n=4, size=128, seed=0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8))


@pytest.mark.parametrize(
    "params", ["", "kernel=3", "kernel=9", "kernel=5,sigma=2", "sigma_min=0.5,sigma_max=3"]
)
def test_relative_blur_at_128_px_is_the_absolute_one(params):
    x = noisy(size=128)
    relative = build_attack(f"blur:{params}" if params else "blur")
    absolute = build_attack(f"blur:{params},reference_size=none" if params else "blur:reference_size=none")
    assert relative.config.reference_size == 128
    assert torch.equal(relative.apply(x, gen()), absolute.apply(x, gen()))


@pytest.mark.parametrize("kernel", [3, 5, 7, 9])
def test_at_32_px_the_blur_sigma_is_a_quarter(kernel):
    taps, sigma = scaled_kernel(kernel, opencv_sigma(kernel), 32 / 128)
    assert sigma == pytest.approx(opencv_sigma(kernel) / 4)
    assert taps == 3  # the paper's half-width (kernel - 1) / 2, a quarter of it, rounded up
    # what the attack does on 32x32 images is that kernel in absolute pixels
    x = noisy(size=32)
    expected = build_attack(f"blur:kernel=3,sigma={sigma!r},reference_size=none").apply(x, gen())
    assert torch.equal(build_attack(f"blur:kernel={kernel}").apply(x, gen()), expected)


def test_the_sigma_range_form_scales_too():
    x = noisy(size=32)
    relative = build_attack("blur:sigma_min=2,sigma_max=2").apply(x, gen())
    assert torch.equal(
        relative, build_attack("blur:sigma_min=0.5,sigma_max=0.5,reference_size=none").apply(x, gen())
    )


def test_larger_images_get_a_wider_kernel():
    assert scaled_kernel(3, 0.8, 4.0) == (9, pytest.approx(3.2))  # 512 px: the 3x3 stretched 4x
    assert scaled_kernel(1, 0.5, 4.0)[0] == 1  # kernel 1 stays the identity at every size


@pytest.mark.parametrize(
    "spec,expected", [("blur", 128), ("blur:reference_size=none", None), ("blur:reference_size=64", 64)]
)
def test_reference_size_parses(spec, expected):
    assert build_attack(spec).config.reference_size == expected


def test_combo_hands_its_reference_size_to_blur():
    blur = next(a for a in build_attack("combo").attacks if a.name == "blur")
    assert blur.config.reference_size == 128
    blur = next(a for a in build_attack("combo:reference_size=none").attacks if a.name == "blur")
    assert blur.config.reference_size is None


@pytest.mark.parametrize(
    "spec,phrase",
    [
        ("blur:reference_size=0", r"reference_size=0 must be in \[1, 16384\]"),
        ("blur:reference_size=-128", r"reference_size=-128 must be in \[1, 16384\]"),
        ("blur:reference_size=big", "reference_size='big' is not a valid int"),
        ("combo:reference_size=20000", r"reference_size=20000 must be in \[1, 16384\]"),
        ("crop:reference_size=128", "has no parameter 'reference_size'"),  # a fraction: already relative
    ],
)
def test_a_bad_reference_size_is_one_line(spec, phrase):
    with pytest.raises(GfpError, match=phrase) as info:
        build_attack(spec)
    assert "\n" not in str(info.value)


def test_a_scaled_kernel_over_the_limit_is_one_line():
    # 1001 taps at 8 px is 8001 taps on 64x64 images: refused, never run
    attack = build_attack("blur:kernel=1001,reference_size=8")
    with pytest.raises(GfpError, match="over the limit of 1001") as info:
        attack.apply(noisy(n=1, size=64), gen())
    assert "\n" not in str(info.value)


def test_reports_say_which_form():
    assert describe_attack(build_attack("blur"), "blur")["scale"] == "relative to 128 px"
    assert describe_attack(build_attack("blur:reference_size=none"), "x")["scale"] == "absolute pixels"
    assert "8x8" in build_attack("jpeg").scale_note()
    for name in ("noise", "crop", "relight"):
        assert build_attack(name).scale_note() == "independent of the image size"
    note = build_attack("combo").scale_note()
    assert "blur relative to 128 px" in note and "jpeg absolute pixels" in note
    assert Blur.severity_label == "blur kernel size (at 128 px, scaled to the image)"


def test_a_record_from_before_the_field_meant_absolute_pixels():
    old = {"kernel": None, "kernels": [1, 3, 5, 7, 9], "sigma": None, "sigma_min": 0.0, "sigma_max": None}
    assert config_from_dict(Blur.Config, old).reference_size is None
    # an immunized run recorded then is not today's "blur" (relative), so it is neither reused nor resumed
    assert not same_attack({"spec": "blur", "config": old}, "blur")
    assert same_attack(describe_attack(build_attack("blur"), "blur"), "blur")
    noise = describe_attack(build_attack("noise"), "noise")
    assert same_attack({"spec": "noise", "config": noise["config"]}, "noise")  # unchanged attacks still are


def test_the_robustness_section_states_each_attacks_form():
    rows = [
        RobustnessRow("learned", "blur", 0.97, 0.9, scale="relative to 128 px"),
        RobustnessRow("learned", "jpeg", 0.97, 0.6, scale="absolute pixels (JPEG's 8x8 blocks)"),
        RobustnessRow("learned", "crop", 0.97, 0.4),  # a results.json from before scales were recorded
    ]
    results = BenchResults({"path": "ds", "classes": ["a"]}, "test", 0, [], "now", {}, robustness=rows)
    text = "\n".join(robustness_markdown(results))
    assert "- blur: relative to 128 px" in text
    assert "- jpeg: absolute pixels (JPEG's 8x8 blocks)" in text
    assert "- crop: not recorded" in text
    again = BenchResults.from_dict(results.to_dict())
    assert [r.scale for r in again.robustness] == [r.scale for r in rows]


def test_gfp_attack_says_which_form(tmp_path):
    from PIL import Image

    from gfp.app import get_cli

    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(noisy(n=1, size=32)[0].permute(1, 2, 0).numpy()).save(src / "a.png")
    result = CliRunner().invoke(get_cli(), ["attack", "blur", str(src), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "blur, relative to 128 px, seed 0" in result.output
