"""GAN families, GAN runs, `gfp gan`, and the shipped generators. Tiny networks at 16x16 for training;
forward passes at 32 and 64; everything on CPU."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from gfcore import hookimpl
from gfcore.config import build_config
from gfcore.errors import GfpError
from gfcore.interfaces import FitContext, GanSource
from gfcore.plugins import get_registries, register_plugin, unregister_plugin
from gfcore.runs.gan import (
    GENERATOR_FILE,
    LAST_FILE,
    RUN_FILE,
    load_gan,
    read_run,
    train_gan,
)
from gfcore.runs.sampling import sample_to_folder
from gfcore.terminal.progress import NullReporter
from gfp_gans.base import AdversarialGan, GanConfig

# tiny tensors on a shared 2-core machine: one torch thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

PAPER_FAMILIES = {"progan", "sngan", "cramergan", "mmdgan"}
#: Every registered family built on the shared adversarial loop (these tests look at its G and D); every
#: family, third-party ones included, also gets tests/test_conformance.py.
FAMILIES = [e.name for e in get_registries().gan_sources.entries() if issubclass(e.item, AdversarialGan)]
SHIPPED = [
    "cramergan",
    "dcgan",
    "mmdgan",
    "progan_seed0",
    "progan_seed1",
    "progan_seed2",
    "progan_seed3",
    "progan_window0",
    "progan_window2000",
    "progan_window20000",
    "sngan",
    "stylegan",
]


def family_cls(name):
    return get_registries().gan_sources.get(name)


def tiny(name):
    """The family's own conformance settings: widths small enough that an iteration takes milliseconds."""
    return dict(family_cls(name).conformance_overrides)


def tiny_config(name, resolution=16, **extra):
    params = {**tiny(name), "resolution": resolution, "batch_size": 4, "iters": 3, "n_critic": 1, **extra}
    return build_config(family_cls(name).Config, params, name)


def tiny_spec(name):
    """``family:width=...``: the tiny widths only; each test sets resolution, iterations and batches."""
    shared = {f.name for f in dataclasses.fields(GanConfig)}
    return name + ":" + ",".join(f"{k}={v}" for k, v in tiny(name).items() if k not in shared)


def real_images(n=16, resolution=16, seed=0):
    """Smooth random colour gradients: structured enough to be image-like, cheap to make."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:resolution, 0:resolution] / resolution
    base = rng.uniform(0, 255, (n, 3, 1, 1))
    slope = rng.uniform(-120, 120, (n, 3, 2, 1, 1))
    img = base + slope[:, :, 0] * yy + slope[:, :, 1] * xx
    return np.clip(img, 0, 255).astype(np.uint8)


def fit_ctx(seed=0, **kwargs):
    return FitContext(device=torch.device("cpu"), progress=NullReporter(), seed=seed, **kwargs)


# --- the families ---------------------------------------------------------------------------------------


def test_four_families_are_registered():
    names = get_registries().gan_sources.names()
    assert PAPER_FAMILIES <= set(names) and PAPER_FAMILIES <= set(FAMILIES)
    for name in FAMILIES:
        cls = family_cls(name)
        assert issubclass(cls, GanSource) and cls.description
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        assert {"resolution", "z_dim", "iters", "batch_size", "lr_g", "lr_d"} <= fields


@pytest.mark.parametrize("resolution", [32, 64])
@pytest.mark.parametrize("name", FAMILIES)
def test_generator_and_critic_forward(name, resolution):
    gan = family_cls(name)(tiny_config(name, resolution=resolution))
    z = torch.randn(4, gan.config.z_dim)
    fake = gan.G(z)
    assert fake.shape == (4, 3, resolution, resolution)
    if getattr(gan.config, "output", None) != "linear":  # ProGAN's official toRGB is linear, unbounded
        assert fake.min() >= -1 and fake.max() <= 1
    out = gan.D(fake)
    assert out.shape[0] == 4 and torch.isfinite(out).all()
    if hasattr(gan.config, "dof_dim"):  # critics of feature-space losses output dof_dim features
        assert out.shape == (4, gan.config.dof_dim)
    else:
        assert out.shape == (4,)


@pytest.mark.parametrize("name", FAMILIES)
def test_training_changes_weights_and_keeps_losses_finite(name):
    gan = family_cls(name)(tiny_config(name, iters=3, log_every=1))
    ctx = fit_ctx()
    gan.train(real_images(), ctx)
    before = family_cls(name)(tiny_config(name))  # same architecture, built from seed 0 as train() does
    before._build_networks(seed=0)
    for net in ("G", "D"):
        trained = dict(getattr(gan, net).named_parameters())
        initial = dict(getattr(before, net).named_parameters())
        changed = [k for k in trained if not torch.equal(trained[k], initial[k])]
        assert changed, f"{name}.{net} did not change"
    assert [h["step"] for h in ctx.history] == [1, 2, 3]
    for entry in ctx.history:
        assert {"d", "g"} <= entry.keys()
        assert all(np.isfinite(v) for v in entry.values())


def test_training_checks_the_real_images():
    gan = family_cls("mmdgan")(tiny_config("mmdgan"))
    with pytest.raises(GfpError, match="uint8"):
        gan.train(real_images(resolution=32), fit_ctx())
    with pytest.raises(GfpError, match="power of two"):
        family_cls("sngan")(tiny_config("sngan", resolution=24))


@pytest.mark.parametrize("name", FAMILIES)
def test_sampling_is_deterministic_per_seed(name):
    gan = family_cls(name)(tiny_config(name, iters=2))
    gan.train(real_images(), fit_ctx())
    a, b, c = gan.sample(6, seed=3), gan.sample(6, seed=3), gan.sample(6, seed=4)
    assert a.dtype == torch.uint8 and a.shape == (6, 3, 16, 16) and a.device.type == "cpu"
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(gan.sample(2, seed=3), a[:2])  # image i does not depend on how many are drawn


def test_same_seed_same_training_and_other_seed_differs():
    def train(seed):
        gan = family_cls("progan")(tiny_config("progan", iters=3))
        gan.train(real_images(), fit_ctx(seed=seed))
        return gan.sample(4, seed=0)

    assert torch.equal(train(0), train(0))
    assert not torch.equal(train(0), train(1))


def test_progan_grows_through_every_level_with_fade_in():
    from gfp_gans.progan import growth_phase

    phases = [growth_phase(step, 80, 4) for step in range(80)]
    assert phases[0] == (0, 1.0) and phases[-1] == (3, 1.0)
    levels = [level for level, _ in phases]
    assert levels == sorted(levels) and set(levels) == {0, 1, 2, 3}
    fading = [alpha for level, alpha in phases if alpha < 1.0]
    assert fading and min(fading) == 0.0
    assert growth_phase(0, 3, 4) == (3, 1.0)  # too short to grow: train at full resolution only


# --- GAN runs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FAMILIES)
def test_run_save_load_round_trip(name, tmp_path):
    spec = tiny_spec(name)
    overrides = {"resolution": 16, "batch_size": 4, "iters": 2, "n_critic": 1}
    gan = train_gan(spec, real_images(), tmp_path / "run", seed=5, overrides=overrides, command="test")
    run = read_run(tmp_path / "run")
    assert run["family"] == name and run["seed"] == 5 and run["iterations_done"] == 2
    assert run["command"] == "test" and run["versions"]["torch"] == torch.__version__
    assert (tmp_path / "run" / LAST_FILE).is_file()
    assert (tmp_path / "run" / "samples" / "step_000002.png").is_file()
    loaded = load_gan(tmp_path / "run")
    assert torch.equal(loaded.sample(5, seed=1), gan.sample(5, seed=1))
    # the shipped file holds only the sampling generator: no critic, no optimiser state
    from gfcore.storage.tensorio import load_tensors

    tensors, meta = load_tensors(tmp_path / "run" / GENERATOR_FILE)
    assert all(k.startswith("sampler.") for k in tensors) and meta["family"] == name


@pytest.mark.parametrize("name", FAMILIES)
def test_resume_continues_exactly_where_it_stopped(name, tmp_path):
    spec = tiny_spec(name)
    base = {"resolution": 16, "batch_size": 4, "n_critic": 1, "checkpoint_every": 2}
    real = real_images()
    straight = train_gan(spec, real, tmp_path / "a", seed=1, overrides={**base, "iters": 4})
    train_gan(spec, real, tmp_path / "b", seed=1, overrides={**base, "iters": 2})
    assert read_run(tmp_path / "b")["iterations_done"] == 2
    resumed = train_gan(spec, real, tmp_path / "b", resume=True, overrides={"iters": 4})
    run = read_run(tmp_path / "b")
    assert run["iterations_done"] == 4 and [h["step"] for h in run["history"]] == [2, 4]
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_resume_refuses_changed_settings_and_missing_checkpoint(tmp_path):
    spec = tiny_spec("sngan")
    train_gan(spec, real_images(), tmp_path / "r", overrides={"resolution": 16, "batch_size": 4, "iters": 1})
    with pytest.raises(GfpError, match="only iters may change"):
        train_gan(spec, real_images(), tmp_path / "r", resume=True, overrides={"batch_size": 8})
    with pytest.raises(GfpError, match="cannot resume"):
        train_gan(tiny_spec("mmdgan"), real_images(), tmp_path / "r", resume=True)
    with pytest.raises(GfpError, match="--resume"):
        train_gan(spec, real_images(), tmp_path / "r", overrides={"resolution": 16})
    (tmp_path / "r" / LAST_FILE).unlink()
    with pytest.raises(GfpError, match="no such weights file"):
        train_gan(spec, real_images(), tmp_path / "r", resume=True)


def test_load_gan_errors_are_one_line(tmp_path):
    spec = tiny_spec("mmdgan")
    train_gan(spec, real_images(), tmp_path / "r", overrides={"resolution": 16, "batch_size": 4, "iters": 1})
    with pytest.raises(GfpError, match="not a GAN run"):
        load_gan(tmp_path / "nowhere")
    (tmp_path / "r" / GENERATOR_FILE).write_bytes(b"garbage")
    with pytest.raises(GfpError, match="not a readable safetensors"):
        load_gan(tmp_path / "r")
    run = json.loads((tmp_path / "r" / RUN_FILE).read_text())
    (tmp_path / "r" / RUN_FILE).write_text(json.dumps({**run, "family": "stylegan9"}))
    with pytest.raises(GfpError, match="valid names: .*mmdgan"):
        load_gan(tmp_path / "r")
    (tmp_path / "r" / RUN_FILE).write_text("{not json")
    with pytest.raises(GfpError, match="unreadable"):
        load_gan(tmp_path / "r")


def test_sample_to_folder_is_stable_in_n(tmp_path):
    gan = family_cls("mmdgan")(tiny_config("mmdgan"))
    few = sample_to_folder(gan, 3, tmp_path / "few", seed=2)
    many = sample_to_folder(gan, 7, tmp_path / "many", seed=2)
    assert [p.name for p in few] == ["000000.png", "000001.png", "000002.png"] and len(many) == 7
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(few, many[:3], strict=True))


# --- the command line -----------------------------------------------------------------------------------


def write_real_folder(folder, n=8, resolution=20):
    from gfcore.data.images import save_png

    folder.mkdir(parents=True)
    for i, image in enumerate(real_images(n, resolution)):
        save_png(folder / f"{i}.png", image)
    return folder


class ColourGan(GanSource):
    """A third-party family in a few lines: learns the per-channel mean and spread of the real images by
    gradient descent, and samples flat colour fields from them."""

    name = "colourfield"
    description = "Test family: flat colour fields"

    @dataclass
    class Config:
        resolution: int = 16
        iters: int = 3

    def __init__(self, config, device=None):
        super().__init__(config, device)
        self.mean = torch.zeros(3, requires_grad=True)
        self.log_std = torch.zeros(3, requires_grad=True)

    def train(self, real, ctx, preview=None):
        x = torch.as_tensor(np.asarray(real)).float().div(127.5).sub(1).mean(dim=(2, 3))
        opt = torch.optim.SGD([self.mean, self.log_std], lr=0.5)
        for step in range(1, self.config.iters + 1):
            loss = (self.mean - x.mean(0)).pow(2).sum() + (self.log_std.exp() - x.std(0)).pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            ctx.history.append({"step": step, "loss": loss.item()})
            ctx.checkpoint(step, self.state_dict(), {"step": step})
            if preview:
                preview(step)

    def sample(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            colour = self.mean + self.log_std.exp() * torch.randn(n, 3, generator=g)
        r = self.config.resolution
        return (
            ((colour.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, :, None, None].expand(n, 3, r, r)
        )

    def state_dict(self):
        return {"mean": self.mean.detach(), "log_std": self.log_std.detach()}

    def load_state_dict(self, tensors):
        with torch.no_grad():
            self.mean.copy_(tensors["mean"])
            self.log_std.copy_(tensors["log_std"])


class ColourPlugin:
    @staticmethod
    @hookimpl
    def gfp_register_gan_sources(register):
        register(ColourGan)


@pytest.fixture
def colour_plugin():
    register_plugin(ColourPlugin, "test-colourfield")
    try:
        yield
    finally:
        unregister_plugin("test-colourfield")


def test_third_party_family_lists_trains_and_samples(colour_plugin, run_cli, tmp_path):
    listing = run_cli("gan", "list")
    assert listing.exit_code == 0 and "colourfield" in listing.stdout and "Test family" in listing.stdout
    real = write_real_folder(tmp_path / "real")
    result = run_cli(
        "gan", "train", "colourfield", "--real", real, "--out", tmp_path / "run", "--no-progress", "--json"
    )
    assert result.exit_code == 0, result.output
    run = read_run(tmp_path / "run")
    assert run["family"] == "colourfield" and run["iterations_done"] == 3
    assert run["command"].startswith("gfp gan train colourfield --real")
    trained = json.loads(result.stdout)
    assert trained["family"] == "colourfield" and trained["iterations"] == 3 and trained["real_images"] == 8
    assert trained["command"] == run["command"] and trained["out"] == str(tmp_path / "run")
    result = run_cli(
        "gan", "sample", tmp_path / "run", "-n", 3, "--out", tmp_path / "s", "--no-progress", "--json"
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == [".gfp-samples.json", "000000.png", "000001.png", "000002.png"]
    sampled = json.loads(result.stdout)
    assert sampled["family"] == "colourfield" and sampled["count"] == 3 and len(sampled["files"]) == 3
    assert json.loads((tmp_path / "s" / ".gfp-samples.json").read_text())["count"] == 3
    # a finished folder, or one holding a user's own files, is refused and left as it is
    again = run_cli("gan", "sample", tmp_path / "run", "-n", 3, "--out", tmp_path / "s", "--no-progress")
    assert again.exit_code == 1 and "already holds generated samples" in again.output
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "000000.png").write_bytes(b"my own file")
    refused = run_cli("gan", "sample", tmp_path / "run", "-n", 1, "--out", tmp_path / "mine", "--no-progress")
    assert refused.exit_code == 1 and (tmp_path / "mine" / "000000.png").read_bytes() == b"my own file"


def test_cli_trains_a_builtin_family_skipping_bad_files(run_cli, tmp_path):
    real = write_real_folder(tmp_path / "real")
    (real / "broken.png").write_bytes(b"not a png")
    args = ["gan", "train", tiny_spec("mmdgan"), "--real", real, "--out", tmp_path / "run"]
    args += ["--resolution", 16, "--iters", 2, "--batch-size", 4, "--seed", 3, "--no-progress"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert "broken.png" in result.stderr and "trained mmdgan" in result.stdout
    run = read_run(tmp_path / "run")
    assert run["real"]["count"] == 8 and run["seed"] == 3 and run["config"]["resolution"] == 16
    again = run_cli(*args)
    assert again.exit_code == 1 and "--resume" in again.stderr
    resumed = run_cli(
        *args[:7], "--resolution", 16, "--batch-size", 4, "--iters", 3, "--resume", "--no-progress"
    )
    assert resumed.exit_code == 0, resumed.output
    run = read_run(tmp_path / "run")
    assert run["iterations_done"] == 3 and "--resume" not in run["command"]
    assert "--iters 3" in run["resumed_with"][0] and run["resumed_with"][0].endswith("--resume")
    # the run's own seed (3) went on; the recorded resume line must not claim the default --seed 0
    assert run["seed"] == 3 and "--seed" not in run["resumed_with"][0] and "--seed 3" in run["command"]


def test_cli_errors(cli_error, run_cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = cli_error(1, "gan", "train", "stylegan9", "--real", empty, "--out", tmp_path / "o")
    assert "stylegan9" in line and all(name in line for name in FAMILIES)
    assert "no images found" in cli_error(
        1, "gan", "train", "sngan", "--real", empty, "--out", tmp_path / "o"
    )
    line = cli_error(1, "gan", "train", "sngan:depth=3", "--real", empty, "--out", tmp_path / "o")
    assert "no parameter 'depth'" in line
    missing = run_cli("gan", "train", "sngan", "--out", tmp_path / "o")
    assert missing.exit_code == 2
    line = cli_error(1, "gan", "sample", tmp_path / "nothing", "-n", 2, "--out", tmp_path / "s")
    assert "not a shipped generator" in line


# --- shipped generators ---------------------------------------------------------------------------------


def test_every_shipped_generator_loads_samples_and_is_small(run_cli):
    from gfp_gans.pretrained import load_pretrained, pretrained_dir, pretrained_names

    assert pretrained_names() == SHIPPED
    for name in SHIPPED:
        folder = pretrained_dir(name)
        assert (folder / GENERATOR_FILE).stat().st_size < 5_000_000, name
        run = read_run(folder)
        assert run["resolution"] == 32 and "gfp data photos" in run["command"], name
        images = load_pretrained(name).sample(4, seed=0)
        assert images.shape == (4, 3, 32, 32) and images.dtype == torch.uint8
        assert images.float().std() > 5, f"{name} samples are flat"
    seeds = {read_run(pretrained_dir(f"progan_seed{i}"))["seed"] for i in range(4)}
    configs = {json.dumps(read_run(pretrained_dir(f"progan_seed{i}"))["config"]) for i in range(4)}
    assert seeds == {0, 1, 2, 3} and len(configs) == 1
    # the training-data ProGANs: the seed-0 recipe on windows of the photo sequence (0 and 2000 share
    # 18,000 patches, 0 and 20000 none)
    starts = (0, 2000, 20000)
    windows = [read_run(pretrained_dir(f"progan_window{w}")) for w in starts]
    assert {r["seed"] for r in windows} == {0} and {json.dumps(r["config"]) for r in windows} == configs
    assert all(f"--window {w} " in r["command"] for w, r in zip(starts, windows, strict=True))
    listing = run_cli("gan", "list", "--json")
    shipped = {s["name"]: s for s in json.loads(listing.stdout)["shipped"]}
    assert set(SHIPPED) <= set(shipped) and shipped["sngan"]["family"] == "sngan"
    with pytest.raises(GfpError, match="valid names"):
        load_pretrained("biggan")
