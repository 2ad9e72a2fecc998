"""Registry, plugin loading, and a throwaway third-party plugin used through the CLI."""

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gfcore import hookimpl, plugins
from gfcore.errors import DuplicateNameError, UnknownNameError
from gfcore.interfaces import Attributor
from gfcore.registry import Registry


class MeanColour(Attributor):
    """A throwaway third-party baseline: nearest class-mean colour."""

    name = "mean-colour"
    description = "Nearest mean colour (test plugin)."

    @dataclass
    class Config:
        scale: float = 1.0

    def fit(self, train, val, ctx):
        images = torch.from_numpy(np.array(train.images)).float().mean(dim=(2, 3))
        labels = torch.from_numpy(train.labels)
        self.means = torch.stack([images[labels == i].mean(0) for i in range(len(self.classes))])
        ctx.history.append({"epoch": 1, "val_accuracy": None})

    def logits(self, images):
        colours = images.float().mean(dim=(2, 3))
        return -self.config.scale * torch.cdist(colours, self.means)

    def state_dict(self):
        return {"means": self.means}

    def load_state_dict(self, tensors):
        self.means = tensors["means"]


class ThirdPartyPlugin:
    @hookimpl
    def gfp_register_baselines(self, register):
        register(MeanColour)


@pytest.fixture
def third_party():
    plugins.register_plugin(ThirdPartyPlugin(), name="gfp-mean-colour")
    try:
        yield
    finally:
        plugins.unregister_plugin("gfp-mean-colour")


def test_registry_unknown_name_lists_valid_names():
    reg = Registry("attack")
    reg.register(SimpleNamespace(name="blur", description="Gaussian blur"), plugin="a")
    reg.register(SimpleNamespace(name="noise"), plugin="a")
    with pytest.raises(UnknownNameError, match="unknown attack 'jpg'; valid names: blur, noise"):
        reg.get("jpg")
    assert reg.entry("blur").description == "Gaussian blur"


def test_registry_duplicate_names_both_plugins():
    reg = Registry("baseline")
    reg.register(SimpleNamespace(name="knn"), plugin="first-plugin")
    with pytest.raises(DuplicateNameError, match="'first-plugin' and by plugin 'second-plugin'"):
        reg.register(SimpleNamespace(name="knn"), plugin="second-plugin")


def test_duplicate_across_plugins_is_an_error(third_party):
    class Copycat:
        @hookimpl
        def gfp_register_baselines(self, register):
            register(MeanColour)

    with pytest.raises(DuplicateNameError, match="gfp-mean-colour.*copycat|copycat.*gfp-mean-colour"):
        plugins.register_plugin(Copycat(), name="copycat")
    plugins.unregister_plugin("copycat")


def test_builtin_learned_network_is_registered_through_its_entry_point(run_cli, json_stdout):
    result = run_cli("plugins", "--json")
    assert result.exit_code == 0
    data = json_stdout(result)
    assert {"name": "learned", "plugin": "learned"}.items() <= data["extractors"][0].items()
    learned = [p for p in data["plugins"] if p["name"] == "learned"][0]
    assert "entry point gfp_learned" in learned["origin"]


def test_third_party_plugin_is_listed_and_trains(third_party, run_cli, json_stdout, tiny_dataset, tmp_path):
    listed = json_stdout(run_cli("plugins", "--json"))
    assert "mean-colour" in [e["name"] for e in listed["baselines"]]
    assert "gfp-mean-colour" in [p["name"] for p in listed["plugins"]]
    result = run_cli("train", tiny_dataset.path, "--out", tmp_path / "run", "--method", "mean-colour:scale=2",
                     "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    assert json_stdout(result)["config"] == {"scale": 2.0}
    evaluated = run_cli("evaluate", tmp_path / "run", tiny_dataset.path, "--json", "--no-progress")
    assert evaluated.exit_code == 0
    assert json_stdout(evaluated)["method"] == "mean-colour"


def test_unknown_method_lists_valid_names(run_cli, tiny_dataset, tmp_path):
    result = run_cli("train", tiny_dataset.path, "--out", tmp_path / "r", "--method", "nope", "--no-progress")
    assert result.exit_code == 1
    assert "unknown method 'nope'; valid names:" in result.output and "learned" in result.output
    assert "Traceback" not in result.output


def test_unknown_method_parameter_lists_valid_ones(run_cli, tiny_dataset, tmp_path):
    result = run_cli("train", tiny_dataset.path, "--out", tmp_path / "r", "--method", "learned:depth=3")
    assert result.exit_code == 1
    assert "has no parameter 'depth'" in result.output and "width" in result.output


def test_autoload_switch_skips_third_party_entry_points(monkeypatch):
    """With GFP_DISABLE_PLUGIN_AUTOLOAD set, only the gfp distribution's own entry points load."""
    loaded = []

    class FakeEP:
        def __init__(self, name, dist):
            self.name, self.value, self.dist = name, f"mod_{name}", SimpleNamespace(name=dist)

    class FakePM:
        def get_plugin(self, name):
            return None

        def is_blocked(self, name):
            return False

        def register(self, module, name):
            loaded.append(name)

    fake = [FakeEP("ours", "gfp"), FakeEP("theirs", "gfp-something")]
    monkeypatch.setattr(plugins, "entry_points", lambda group: fake)
    monkeypatch.setattr(plugins.importlib, "import_module", lambda value: object())
    monkeypatch.setenv(plugins.AUTOLOAD_ENV, "1")
    plugins._load_entry_points(FakePM())
    assert loaded == ["ours"]
    loaded.clear()
    monkeypatch.delenv(plugins.AUTOLOAD_ENV)
    plugins._load_entry_points(FakePM())
    assert loaded == ["ours", "theirs"]


def test_broken_plugin_import_names_the_plugin(monkeypatch):
    class FakeEP:
        name, value, dist = "broken", "gfp_broken_plugin_xyz", SimpleNamespace(name="gfp-broken")

    class FakePM:
        def get_plugin(self, name):
            return None

        def is_blocked(self, name):
            return False

    monkeypatch.setattr(plugins, "entry_points", lambda group: [FakeEP()])
    monkeypatch.delenv(plugins.AUTOLOAD_ENV, raising=False)
    with pytest.raises(plugins.GfpError, match="error importing plugin 'broken'"):
        plugins._load_entry_points(FakePM())
