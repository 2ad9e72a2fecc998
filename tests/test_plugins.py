"""Registry, plugin loading, and a throwaway third-party plugin used through the CLI."""

import json
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace

import numpy as np
import pluggy
import pytest
import torch
from click.testing import CliRunner

from gfcore import hookimpl, hookspecs, plugins
from gfcore.config import bounded, build_config, describe_config, one_of, positive
from gfcore.errors import DuplicateNameError, GfpError, PluginError, UnknownNameError
from gfcore.interfaces import Attack, Attributor, GanSource
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
    with pytest.raises(DuplicateNameError, match="by two plugins: 'first-plugin' and 'second-plugin'"):
        reg.register(SimpleNamespace(name="knn"), plugin="second-plugin")


def test_duplicate_across_plugins_is_an_error(third_party):
    class Copycat:
        @hookimpl
        def gfp_register_baselines(self, register):
            register(MeanColour)

    with pytest.raises(
        DuplicateNameError,
        match="baseline name 'mean-colour' is registered by two plugins: 'copycat' and 'gfp-mean-colour'",
    ):
        plugins.register_plugin(Copycat(), name="copycat")
    # the refused plugin is gone again, and the first one keeps its name
    assert plugins.get_plugin_manager().get_plugin("copycat") is None
    assert plugins.get_registries().baselines.entry("mean-colour").plugin == "gfp-mean-colour"


def test_builtin_learned_network_is_registered_through_its_entry_point(run_cli, json_stdout):
    result = run_cli("plugins", "--json")
    assert result.exit_code == 0
    data = json_stdout(result)
    [extractor] = [e for e in data["extractors"] if e["name"] == "learned"]
    assert extractor["plugin"] == "learned"
    learned = [p for p in data["plugins"] if p["name"] == "learned"][0]
    assert "entry point gfp_learned" in learned["origin"]


def test_third_party_plugin_is_listed_and_trains(third_party, run_cli, json_stdout, tiny_dataset, tmp_path):
    listed = json_stdout(run_cli("plugins", "--json"))
    assert "mean-colour" in [e["name"] for e in listed["baselines"]]
    assert "gfp-mean-colour" in [p["name"] for p in listed["plugins"]]
    result = run_cli(
        "train",
        tiny_dataset.path,
        "--out",
        tmp_path / "run",
        "--method",
        "mean-colour:scale=2",
        "--no-progress",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json_stdout(result)["config"] == {"scale": 2.0}
    evaluated = run_cli("evaluate", tmp_path / "run", tiny_dataset.path, "--json", "--no-progress")
    assert evaluated.exit_code == 0
    assert json_stdout(evaluated)["method"] == "mean-colour"


def test_a_third_party_plugins_parameters_are_shown(third_party, run_cli, json_stdout):
    """`gfp plugins NAME` describes any registered class's Config, a plugin's as much as a built-in's."""
    [item] = json_stdout(run_cli("plugins", "mean-colour", "--json"))["items"]
    assert item == {
        "name": "mean-colour",
        "kind": "baseline",
        "plugin": "gfp-mean-colour",
        "description": "Nearest mean colour (test plugin).",
        "parameters": [
            {"name": "scale", "type": "float", "default": 1.0, "range": None, "choices": None, "help": None}
        ],
    }
    table = run_cli("plugins", "mean-colour").stdout
    assert "mean-colour (baseline, plugin gfp-mean-colour)" in table and "scale" in table


@dataclass
class DescribedBase:
    rate: float = bounded(0.5, min=0, max=1, max_open=True)  # share of the images
    # how the images are split:
    # by source or by image
    split: str = one_of("source", ("source", "image"))
    count: int | None = positive(None)
    grid: tuple[float, ...] = (1.0, 2.0)


@dataclass
class DescribedChild(DescribedBase):
    """``rate`` is re-declared for its default only: its range and its comment are the base's."""

    rate: float = 0.25
    count: int | None = 3  # at most this many


def test_describe_config_gives_types_ranges_choices_defaults_and_comments():
    described = {d["name"]: d for d in describe_config(DescribedChild)}
    assert list(described) == ["rate", "split", "count", "grid"]
    assert described["rate"] == {
        "name": "rate",
        "type": "float",
        "default": 0.25,
        "range": "in [0, 1)",
        "choices": None,
        "help": "share of the images",
    }
    assert described["split"]["choices"] == ["source", "image"] and described["split"]["range"] is None
    assert described["split"]["help"] == "how the images are split: by source or by image"
    assert described["count"] == {
        "name": "count",
        "type": "int | None",
        "default": 3,
        "range": "> 0",
        "choices": None,
        "help": "at most this many",
    }
    assert described["grid"]["type"] == "tuple[float, ...]" and described["grid"]["default"] == [1.0, 2.0]
    json.dumps(described)  # JSON as it is


def test_one_of_is_checked_like_a_range():
    assert build_config(DescribedChild, {"split": "image"}, "t").split == "image"
    with pytest.raises(GfpError, match=r"t: parameter split='scene': choose one of source, image"):
        build_config(DescribedChild, {"split": "scene"}, "t")


def test_every_registered_config_is_described():
    """Every built-in Config is a dataclass describe_config reads (JSON-able defaults, a type for each)."""
    for registry in plugins.get_registries().by_kind().values():
        for entry in registry.entries():
            described = describe_config(entry.item.Config)
            json.dumps(described, allow_nan=False)
            assert all(d["type"] for d in described), entry.name


def test_unknown_method_lists_valid_names(cli_error, tiny_dataset, tmp_path):
    line = cli_error(
        1, "train", tiny_dataset.path, "--out", tmp_path / "r", "--method", "nope", "--no-progress"
    )
    assert "unknown method 'nope'; valid names:" in line and "learned" in line


def test_unknown_method_parameter_lists_valid_ones(run_cli, tiny_dataset, tmp_path):
    result = run_cli("train", tiny_dataset.path, "--out", tmp_path / "r", "--method", "learned:depth=3")
    assert result.exit_code == 1
    assert "has no parameter 'depth'" in result.output and "width" in result.output


class FakeEntryPoint:
    """What importlib.metadata gives for one entry point of the ``gfp`` group."""

    def __init__(self, name, dist, load=None):
        self.name, self.value, self.dist = name, f"mod_{name}", SimpleNamespace(name=dist)
        self._load = load or (lambda: ModuleType(f"mod_{name}"))

    def load(self):
        return self._load()


def load_fake_entry_points(monkeypatch, eps):
    """A fresh plugin manager over ``eps``; returns (plugin names, problems). Restores the real one."""
    monkeypatch.setattr(plugins, "entry_points", lambda group: eps)
    monkeypatch.setattr(plugins, "_problems", [])
    pm = pluggy.PluginManager(plugins.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins._load_entry_points(pm)
    plugins._drop_unverifiable_plugins(pm)
    return [name for name, _ in pm.list_name_plugin()], list(plugins._problems)


def test_autoload_switch_skips_third_party_entry_points(monkeypatch):
    """With GFP_DISABLE_PLUGIN_AUTOLOAD set, only the gfp distribution's own entry points load."""
    eps = [FakeEntryPoint("theirs", "gfp-something"), FakeEntryPoint("ours", "gfp")]
    monkeypatch.setenv(plugins.AUTOLOAD_ENV, "1")
    assert load_fake_entry_points(monkeypatch, eps) == (["ours"], [])
    monkeypatch.delenv(plugins.AUTOLOAD_ENV)
    assert load_fake_entry_points(monkeypatch, eps)[0] == ["ours", "theirs"]


def test_broken_plugin_import_is_reported_and_the_others_load(monkeypatch):
    def fail():
        raise ModuleNotFoundError("No module named 'libfoo'\nsecond line")

    eps = [FakeEntryPoint("broken", "gfp-broken", fail), FakeEntryPoint("ours", "gfp")]
    monkeypatch.delenv(plugins.AUTOLOAD_ENV, raising=False)
    names, problems = load_fake_entry_points(monkeypatch, eps)
    assert names == ["ours"]
    assert problems == [
        "plugin 'broken' of gfp-broken (entry point mod_broken) failed to load and is skipped: "
        "ModuleNotFoundError: No module named 'libfoo' (set GFP_DISABLE_PLUGIN_AUTOLOAD=1 to load only "
        "gfp's built-in plugins)"
    ]


def test_entry_point_named_like_a_builtin_plugin_is_refused(monkeypatch):
    """Listed first or not, a third party's ``learned`` never replaces the built-in one."""
    builtin, impostor = ModuleType("gfp_learned"), ModuleType("gfp_evil")
    eps = [
        FakeEntryPoint("learned", "gfp-evil", lambda: impostor),
        FakeEntryPoint("learned", "gfp", lambda: builtin),
    ]
    monkeypatch.delenv(plugins.AUTOLOAD_ENV, raising=False)
    names, problems = load_fake_entry_points(monkeypatch, eps)
    assert names == ["learned"]
    assert len(problems) == 1
    assert (
        "plugin 'learned' of gfp-evil" in problems[0]
        and "plugin 'learned' of gfp (entry point" in problems[0]
    )


def test_hook_implementation_without_a_spec_is_skipped(monkeypatch):
    class Typo:
        @hookimpl
        def gfp_register_widgets(self, register):
            pass

    eps = [FakeEntryPoint("typo", "gfp-typo", Typo), FakeEntryPoint("ours", "gfp")]
    monkeypatch.delenv(plugins.AUTOLOAD_ENV, raising=False)
    names, problems = load_fake_entry_points(monkeypatch, eps)
    assert names == ["ours"]
    assert problems[0].startswith("plugin 'typo' is skipped:") and "gfp_register_widgets" in problems[0]


# --- registration goes through pluggy --------------------------------------------------------------------


class Noise(Attack):
    name = "test-noise"

    @dataclass
    class Config:
        amount: int = 8

    def apply(self, images, generator):
        noise = torch.randint(-self.config.amount, self.config.amount + 1, images.shape, generator=generator)
        return (images.int() + noise.to(images.device)).clamp(0, 255).to(torch.uint8)


@pytest.fixture
def registered():
    """Register plugins for one test; all are unregistered afterwards, in reverse order."""
    names = []

    def add(plugin, name):
        plugins.register_plugin(plugin, name=name)
        names.append(name)

    yield add
    for name in reversed(names):
        plugins.unregister_plugin(name)


def test_opt_in_arguments_order_and_wrappers_work(registered):
    calls = []

    class First:  # registered first, but trylast
        @hookimpl(trylast=True)
        def gfp_register_attacks(self, register):
            calls.append("first")

    class Second:
        @hookimpl(tryfirst=True)
        def gfp_register_attacks(self, register):
            calls.append("second")
            register(Noise)

    class NoArguments:  # opts out of `register`: pluggy calls it with what it asks for
        @hookimpl
        def gfp_register_attacks(self):
            calls.append("no-arguments")

    class Wrapper:
        @hookimpl(wrapper=True)
        def gfp_register_attacks(self):
            calls.append("(")
            yield
            calls.append(")")

    for plugin, name in (
        (First(), "first"),
        (Second(), "second"),
        (NoArguments(), "no-args"),
        (Wrapper(), "w"),
    ):
        registered(plugin, name)
    calls.clear()
    registries = plugins.get_registries(refresh=True)
    # the wrapper also wraps the built-in attack plugins' calls, which record nothing: "( )" pairs
    assert " ".join(calls).replace("( ) ", "").replace(" ( )", "") == "( second ) ( no-arguments ) ( first )"
    assert registries.attacks.entry("test-noise").plugin == "second"


def test_hook_that_raises_is_one_error_naming_plugin_and_hook(registered):
    class Raiser:
        @hookimpl
        def gfp_register_baselines(self, register):
            register(MeanColour)  # then fails: nothing of it is kept
            raise RuntimeError("boom\nand more")

    with pytest.raises(PluginError) as info:
        registered(Raiser(), "raiser")
    assert str(info.value) == (
        "plugin 'raiser' failed in gfp_register_baselines: RuntimeError: boom; its baselines are skipped"
    )
    assert plugins.get_plugin_manager().get_plugin("raiser") is None
    assert (
        "knn" in plugins.get_registries().baselines
        and "mean-colour" not in plugins.get_registries().baselines
    )


def test_installed_plugin_whose_hook_raises_is_skipped_and_the_rest_works(monkeypatch):
    class Raiser:
        @hookimpl
        def gfp_register_attacks(self, register):
            register(Noise)
            raise ValueError("bad attack table")

    from gfp.app import get_cli

    monkeypatch.setattr(plugins, "_problems", [])
    pm = plugins.get_plugin_manager()
    pm.register(Raiser(), name="raiser")  # as the entry points are: register_plugin would refuse it at once
    try:
        plugins._registries = None
        result = CliRunner().invoke(get_cli(), ["plugins", "--json"], catch_exceptions=True)
    finally:
        pm.unregister(name="raiser")
        plugins.get_registries(refresh=True)
    assert result.exit_code == 0 and result.exception is None
    data = json.loads(result.stdout)
    assert data["problems"] == [
        "plugin 'raiser' failed in gfp_register_attacks: ValueError: bad attack table; its attacks are skipped"
    ]
    # none of the raiser's attacks is kept; the other plugins' (the built-in ones) all are
    assert all(e["plugin"] != "raiser" for e in data["attacks"]) and "noise" in [
        e["name"] for e in data["attacks"]
    ]
    assert "knn" in [e["name"] for e in data["baselines"]]


def test_name_taken_by_a_builtin_names_both_plugins(registered):
    class Knn(MeanColour):
        name = "knn"

    class Stealer:
        @hookimpl
        def gfp_register_baselines(self, register):
            register(Knn)

    with pytest.raises(
        DuplicateNameError,
        match="baseline name 'knn' is registered by two plugins: 'baselines' and 'stealer'",
    ):
        registered(Stealer(), "stealer")


def test_extractor_and_baseline_of_one_name_names_both_plugins(registered):
    class Learned(MeanColour):
        name = "learned"

    class Stealer:
        @hookimpl
        def gfp_register_baselines(self, register):
            register(Learned)

    with pytest.raises(
        DuplicateNameError, match="as an extractor by plugin 'learned' and as a baseline by plugin 'stealer'"
    ):
        registered(Stealer(), "stealer")


def test_classes_that_break_the_contract_are_refused_at_registration(registered):
    @dataclass
    class NoItersConfig:
        resolution: int = 16

    class NoIters(GanSource):
        name, Config = "no-iters", NoItersConfig
        train = sample = state_dict = load_state_dict = lambda *a: None

    class NotAnAttributor:
        name = "plain"

    class Abstract(Attributor):
        name = "abstract"

    cases = [
        (
            "gfp_register_gan_sources",
            NoIters,
            "GAN source 'no-iters', which has no iters field in its Config",
        ),
        (
            "gfp_register_baselines",
            NotAnAttributor,
            "baseline 'plain', which is not a subclass of gfcore.interfaces.Attributor",
        ),
        (
            "gfp_register_baselines",
            Abstract,
            "baseline 'abstract', which does not implement fit, load_state_dict, logits, state_dict",
        ),
        ("gfp_register_extractors", MeanColour, "extractor 'mean-colour', which has no fingerprints"),
    ]
    for hook, cls, message in cases:
        plugin = ModuleType("bad")
        setattr(plugin, hook, hookimpl(lambda register, cls=cls: register(cls)))
        with pytest.raises(PluginError, match=f"^plugin 'bad' registered {message}"):
            registered(plugin, "bad")


# --- the GAN-family contract as the run layer uses it ----------------------------------------------------


def test_gan_run_ships_the_generator_even_without_a_last_checkpoint(tmp_path):
    """generator.safetensors comes from generator_state_dict() when train() returns, checkpoint or not."""
    from gfcore.runs.gan import GENERATOR_FILE, load_gan, read_run, train_gan
    from gfcore.storage.tensorio import load_tensors
    from gfp_gans.sngan import SnGan

    class Silent(SnGan):
        name = "silent-sngan"

        def train(self, real, ctx, preview=None):
            ctx.checkpoint = lambda *args, **kwargs: None  # never checkpoints
            super().train(real, ctx, preview)

    class Family:
        @hookimpl
        def gfp_register_gan_sources(self, register):
            register(Silent)

    real = np.random.default_rng(0).integers(0, 256, (8, 3, 16, 16), dtype=np.uint8)
    plugins.register_plugin(Family(), name="silent")
    try:
        spec = "silent-sngan:ch=4,resolution=16,iters=2,batch_size=4,n_critic=1"
        gan = train_gan(spec, real, tmp_path / "run", command="test")
        assert read_run(tmp_path / "run")["iterations_done"] == 2
        tensors, meta = load_tensors(tmp_path / "run" / GENERATOR_FILE)
        assert tensors.keys() == gan.generator_state_dict().keys() and meta["step"] == 2
        assert torch.equal(load_gan(tmp_path / "run").sample(3, seed=1), gan.sample(3, seed=1))
    finally:
        plugins.unregister_plugin("silent")


# ------------------------------------------------------------------ a plugin that calls sys.exit


def test_a_plugin_that_exits_at_import_is_skipped_in_one_line(monkeypatch):
    """`sys.exit` at a plugin's import once ended every gfp command, `--help` included."""

    def exits():
        raise SystemExit("exitplug refuses to load")

    eps = [FakeEntryPoint("exitplug", "gfp-exitplug", exits), FakeEntryPoint("ours", "gfp")]
    monkeypatch.delenv(plugins.AUTOLOAD_ENV, raising=False)
    names, problems = load_fake_entry_points(monkeypatch, eps)
    assert names == ["ours"]
    assert problems == [
        "plugin 'exitplug' of gfp-exitplug (entry point mod_exitplug) failed to load and is skipped: "
        "SystemExit: exitplug refuses to load (set GFP_DISABLE_PLUGIN_AUTOLOAD=1 to load only gfp's "
        "built-in plugins)"
    ]


def test_a_keyboard_interrupt_at_import_still_stops_gfp(monkeypatch):
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_fake_entry_points(monkeypatch, [FakeEntryPoint("slow", "gfp-slow", interrupted)])


def test_a_hook_that_exits_loses_only_its_plugin(registered):
    class Exits:
        @hookimpl
        def gfp_register_attacks(self, register):
            raise SystemExit(3)

    with pytest.raises(PluginError, match="plugin 'exits' failed in gfp_register_attacks: SystemExit: 3"):
        registered(Exits(), "exits")
    assert "noise" in plugins.get_registries().attacks


def test_an_installed_plugin_that_exits_leaves_gfp_working(tmp_path):
    """The real thing: an installed distribution whose module calls sys.exit when imported."""
    import os
    import subprocess
    import sys

    (tmp_path / "exitplug.py").write_text('import sys\nsys.exit("exitplug refuses to load")\n')
    info = tmp_path / "exitplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: exitplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gfp]\nexitplug = exitplug\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop(plugins.AUTOLOAD_ENV, None)
    for args in (["--help"], ["plugins", "--json"]):
        result = subprocess.run([sys.executable, "-m", "gfp", *args], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        assert "Commands:" in result.stdout or '"problems"' in result.stdout
        [line] = [line for line in result.stderr.splitlines() if "exitplug" in line]
        assert line.startswith("Warning: plugin 'exitplug' of exitplug") and "SystemExit" in line
