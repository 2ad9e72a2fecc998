"""Upper bounds: an absurd parameter is one line naming the parameter, its bound and the value, before any
work; never gigabytes of memory, an allocator error, or black images from an overflow."""

import dataclasses
import json
import shutil
import typing

import pytest
from PIL import Image

from gfcore.config import MAX_MAGNITUDE, _field_range, build_config
from gfcore.data.dataset import load_dataset, prepare_dataset
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.errors import GfpError
from gfcore.plugins import get_registries
from gfcore.runs.training import train_run


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("bounds")
    write_fingerprint_folders(root / "src", num_sources=2, per_source=8, size=16, seed=3)
    prepare_dataset(root / "src", root / "ds", resolution=16)
    train_run(load_dataset(root / "ds"), root / "run", "learned:width=0.125", overrides={"epochs": 1})
    return root


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("blur:kernel=20000001", "parameter kernel=20000001 must be in [1, 1001]"),
        ("blur:kernels=3;20000001", "parameter kernels=20000001 must be in [1, 1001]"),
        ("blur:sigma_max=1e9", "parameter sigma_max=1000000000.0 must be in [0, 150]"),
        ("noise:std=1e30", "parameter std=1e+30 must be in [0, 1000]"),
        ("relight:gain_min=1e30,gain_max=1e30", "parameter gain_min=1e+30 must be in (0, 100]"),
        ("relight:curvature=1e30", "parameter curvature=1e+30 must be in [0, 1000]"),
        ("relight:relief=1e30", "parameter relief=1e+30 must be in [0, 1000]"),
    ],
)
def test_an_absurd_attack_parameter_is_one_line_before_any_image(tmp_path, cli_error, spec, expected):
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (16, 16), (90, 40, 10)).save(tmp_path / "imgs" / "a.png")
    line = cli_error(1, "attack", spec, tmp_path / "imgs", "--out", tmp_path / "out")
    assert expected in line, line
    assert not (tmp_path / "out").exists()


def numeric(annotation) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    return any(a in (int, float) or numeric(a) for a in args if a is not type(None) and a is not Ellipsis)


@pytest.mark.parametrize("name", get_registries().attacks.names())
def test_every_number_of_every_attack_has_an_upper_bound(name):
    cls = get_registries().attacks.get(name)
    hints = typing.get_type_hints(cls.Config)
    unbounded = [
        f.name
        for f in dataclasses.fields(cls.Config)
        if numeric(hints[f.name])
        and hints[f.name] is not bool
        and _field_range(cls.Config, f.name)[1] is None
    ]
    assert not unbounded, f"{name}: {unbounded} have no upper bound"


def test_a_width_from_an_edited_run_json_is_one_line(run_and_data, tmp_path, cli_error):
    run = shutil.copytree(run_and_data / "run", tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    info["config"]["width"] = 1e9
    (run / "run.json").write_text(json.dumps(info))
    for args in (
        ("evaluate", run, run_and_data / "ds"),
        ("train", run_and_data / "ds", "--out", run, "--resume", "--epochs", "3"),
    ):
        line = cli_error(1, *args)
        assert "parameter width=1000000000.0 must be in (0, 16]" in line, line


def test_a_number_without_a_declared_range_is_held_to_the_shared_bound():
    @dataclasses.dataclass
    class Config:
        scale: float = 1.0
        count: int = 3

    assert build_config(Config, {"scale": "1e11", "count": "-5"}, "x").scale == 1e11
    with pytest.raises(GfpError, match=r"x: parameter scale=1e\+30 must be at most 1e\+12 in magnitude"):
        build_config(Config, {"scale": "1e30"}, "x")
    with pytest.raises(GfpError, match="parameter count=-10000000000000 must be at most"):
        build_config(Config, {"count": str(-10 * int(MAX_MAGNITUDE))}, "x")


def test_a_gan_family_refuses_an_absurd_width_in_one_line(tmp_path, cli_error):
    (tmp_path / "real").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "real" / "a.png")
    line = cli_error(
        1, "gan", "train", "progan:width=1e9", "--real", tmp_path / "real", "--out", tmp_path / "g"
    )
    assert "width=1000000000.0 must be in (0, 16]" in line
