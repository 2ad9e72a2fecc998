"""The ddpm family: a U-Net built from a config (nothing downloaded), a model that learns what it is shown,
and its sampler as a sampling parameter. (The family also passes tests/test_conformance.py, which checks
that a resumed training continues exactly.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gfcore.errors import GfpError
from gfcore.interfaces import FitContext
from gfcore.runs.gan import load_gan, train_gan
from gfcore.terminal.progress import NullReporter
from gfp_diffusion.ddpm import Ddpm, build_unet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**extra):
    return Ddpm.Config(**{**Ddpm.conformance_overrides, **extra})


def ctx(seed=0):
    return FitContext(device=torch.device("cpu"), progress=NullReporter(), seed=seed)


def pattern_images(n=64, resolution=8):
    """Every image the same pattern (a red-to-blue ramp on a mid-grey) plus a little noise."""
    yy, xx = np.mgrid[0:resolution, 0:resolution] / (resolution - 1)
    base = np.stack([40 + 180 * xx, np.full_like(xx, 128.0), 220 - 180 * yy])
    noise = np.random.default_rng(0).normal(0, 4, (n, 3, resolution, resolution))
    return np.clip(base[None] + noise, 0, 255).round().astype(np.uint8), base


def test_unet_is_ddpms_layout_built_from_the_config():
    cfg = Ddpm.Config()  # the shipped family's defaults: 32x32, ch 32, multipliers 1, 2, 2
    unet = build_unet(cfg)
    assert unet.config.block_out_channels == (32, 64, 64)
    # self-attention at 16x16 only, as the paper's CIFAR-10 model
    assert unet.config.down_block_types == ("DownBlock2D", "AttnDownBlock2D", "DownBlock2D")
    assert unet.config.up_block_types == ("UpBlock2D", "AttnUpBlock2D", "UpBlock2D")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert unet(x, torch.tensor([0, 999])).sample.shape == x.shape
    assert Ddpm(cfg).train_scheduler.config.num_train_timesteps == 1000


def test_ddpm_learns_the_pattern_it_is_shown():
    real, target = pattern_images()
    mirror = target[:, :, ::-1]  # what it was not shown (flips are off)
    settings = dict(resolution=8, channel_mult=(1, 2), ch=16, sample_steps=20, sampler="ddim", flip=False)
    untrained = Ddpm(tiny(**settings)).sample(32, seed=0).float().numpy()
    gan = Ddpm(
        tiny(**settings, iters=300, batch_size=16, lr=2e-3, ema_beta=0.95, checkpoint_every=1000, dropout=0.0)
    )
    gan.train(real, ctx())
    samples = gan.sample(32, seed=0).float().numpy()

    def error(images, reference):  # mean absolute difference per image, in grey levels
        return np.abs(images - reference[None]).mean((1, 2, 3))

    # an untrained U-Net's samples are far from the pattern; the trained one's close to it, every one of
    # them closer to the pattern than to its mirror image (measured: median 14 against 41 grey levels)
    assert np.median(error(untrained, target)) > 35
    assert np.median(error(samples, target)) < 22
    assert (error(samples, target) < error(samples, mirror)).all()


def test_the_sampler_is_a_sampling_parameter_of_the_same_weights(tmp_path):
    real, _ = pattern_images(16)
    run = tmp_path / "run"
    train_gan("ddpm", real, run, overrides={**Ddpm.conformance_overrides, "resolution": 8, "iters": 2})
    ddpm = load_gan(run, sampling={"sampler": "ddpm", "sample_steps": "4"})  # strings parse by field type
    ddim = load_gan(run, sampling={"sampler": "ddim", "sample_steps": 4})
    assert (ddpm.config.sampler, ddpm.config.sample_steps) == ("ddpm", 4)
    assert torch.equal(ddim.sample(3, seed=1), ddim.sample(3, seed=1))  # seeded
    assert not torch.equal(ddpm.sample(3, seed=1), ddim.sample(3, seed=1))
    for name, value in ddpm.ema.state_dict().items():  # the same weights
        assert torch.equal(value, ddim.ema.state_dict()[name])
    with pytest.raises(GfpError, match="cannot change lr when sampling a ddpm run; its sampling parameters"):
        load_gan(run, sampling={"lr": 1.0})
    with pytest.raises(GfpError, match="sample_steps"):
        load_gan(run, sampling={"sample_steps": 5000})  # more steps than the model was trained with


def test_gan_sample_takes_sampling_parameters(run_cli, cli_error, tmp_path):
    real, _ = pattern_images(16)
    run = tmp_path / "run"
    train_gan("ddpm", real, run, overrides={**Ddpm.conformance_overrides, "resolution": 8, "iters": 2})
    out = tmp_path / "ddim"
    shown = run_cli(
        "gan", "sample", run, "-n", 3, "--out", out, "--param", "sampler=ddim,sample_steps=3", "--json"
    )
    record = json.loads(shown.stdout)
    assert record["sampling"] == {"sampler": "ddim", "sample_steps": 3} and record["count"] == 3
    assert len(list(out.glob("*.png"))) == 3
    line = cli_error(1, "gan", "sample", run, "-n", 1, "--out", tmp_path / "x", "--param", "lr=1")
    assert "cannot change lr" in line
    line = cli_error(1, "gan", "sample", run, "-n", 1, "--out", tmp_path / "y", "--param", "ddim")
    assert "key=value" in line


def test_weights_without_a_unet_are_refused():
    with pytest.raises(GfpError, match="no U-Net"):
        Ddpm(tiny()).load_state_dict({"something.else": torch.zeros(1)})


def neighbour_correlation(images: torch.Tensor) -> float:
    """Correlation of horizontally adjacent pixels: about 0.9 for photo patches, about 0 for noise."""
    x = images.float()
    left, right = x[..., :-1].flatten(), x[..., 1:].flatten()
    return float(torch.corrcoef(torch.stack([left, right]))[0, 1])


def test_shipped_ddpm_is_small_reproducible_and_samples_images(run_cli, tmp_path):
    from gfcore.runs.gan import read_run
    from gfcore.runs.shipped_gans import load_shipped_gan, shipped_gans

    family, folder = shipped_gans()["ddpm"]
    assert family == "ddpm" and (folder / "generator.safetensors").stat().st_size < 5_000_000
    run = read_run(folder)
    assert run["resolution"] == 32 and run["command"].startswith("gfp data photos")
    images = load_shipped_gan("ddpm", sampling={"sampler": "ddim", "sample_steps": 10}).sample(8, seed=0)
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.uint8
    # an untrained U-Net's 10 DDIM steps leave noise (correlation near 0); trained, it makes image-like patches
    assert neighbour_correlation(images) > 0.6
    out = tmp_path / "ddim"
    result = run_cli(
        "gan",
        "sample",
        "ddpm",
        "--out",
        str(out),
        "-n",
        "2",
        "--param",
        "sampler=ddim,sample_steps=3",
        "--json",
    )
    assert json.loads(result.stdout)["sampling"] == {"sampler": "ddim", "sample_steps": 3}
    assert len(list(out.glob("*.png"))) == 2
