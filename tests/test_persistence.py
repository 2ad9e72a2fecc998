"""The persistence extractors (the paper's persistence study): each learns a pattern its band or patch still holds and is
at chance on one it cannot see.

Synthetic tasks, 16x16, three sources: every image is smooth random content (cyclically shifted, so it
looks alike at every position) plus its source's fixed pattern, a whole number of grey levels, so the
rounding to uint8 adds nothing that depends on the source:

* a one-pixel checkerboard (the Nyquist frequency) in the source's own colour channel: the binomial
  kernel's response there is exactly 0, so the low band at 8 holds no trace of it, while the full image and
  its 16x16 Laplacian band do; it is stationary, so one 4x4 patch holds it too;
* a colour offset (zero frequency): every Laplacian band is exactly blind to constants, the low band at 4
  keeps it;
* a layout of the red and the green checkerboard over the halves of the image: every source has the same
  4x4 patches, so a per-patch classifier cannot tell them apart, while the whole-image network can.

Where a source is invisible to a variant, its test accuracy is a draw around chance 1/3: on 180 test
images its standard deviation is sqrt(1/3 * 2/3 / 180) = 0.035, and 0.48 is 4 of them above chance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gfcore.data.synthetic import smooth_content
from gfcore.errors import GfpError
from gfcore.interfaces import FitContext, Split
from gfcore.terminal.progress import NullReporter
from gfp_persistence.method import (
    FeaturePoolAttributor,
    PostPoolAttributor,
    PreDownAttributor,
    ResidualAttributor,
    TilePoolAttributor,
)
from gfp_persistence.network import FeaturePoolNet, LogitPoolNet, PatchPoolNet, patch_starts, receptive_field
from gfp_persistence.pyramid import gaussian_down, gaussian_up, laplacian_band, low_band

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE, SOURCES, TRAIN, TEST = 16, 3, 128, 60
CHANCE_BOUND = 0.48  # chance 1/3 + 4 standard deviations of a 180-image accuracy; measured 0.31-0.36
LEARNED = 0.9  # measured 0.99-1.00 for every variant that holds the pattern


def _content(rng: np.random.Generator, n: int) -> np.ndarray:
    """Smooth content at half contrast around mid-grey, cyclically shifted by a random offset."""
    content = 128 + 0.5 * (smooth_content(rng, n, SIZE).astype(np.float64) - 128)
    offsets = rng.integers(0, SIZE, size=(n, 2))
    return np.stack([np.roll(c, tuple(o), axis=(1, 2)) for c, o in zip(content, offsets)])


def _task(patterns: np.ndarray, seed: int = 0) -> tuple[Split, Split]:
    """Train and test splits: ``TRAIN`` and ``TEST`` images per source, content + the source's pattern."""
    rng = np.random.default_rng(seed)
    per = TRAIN + TEST
    images = np.concatenate([np.rint(_content(rng, per)) + p for p in patterns])
    assert images.min() >= 0 and images.max() <= 255  # no clipping: the pattern is exactly there
    images = images.astype(np.uint8)
    labels = np.repeat(np.arange(len(patterns)), per)
    is_train = np.tile(np.arange(per) < TRAIN, len(patterns))
    order = rng.permutation(int(is_train.sum()))
    train = Split(images[is_train][order], labels[is_train][order])
    return train, Split(images[~is_train], labels[~is_train])


def _accuracy(cls, patterns, epochs=7, **config) -> float:
    train, test = _task(patterns)
    settings = {"epochs": epochs, "width": 0.125, "batch_size": 16, "flip": False, **config}
    torch.manual_seed(0)  # the initial weights, as `gfp train` seeds them
    method = cls([f"s{i}" for i in range(len(patterns))], SIZE, cls.Config(**settings))
    ctx = FitContext(
        device=torch.device("cpu"), progress=NullReporter(), seed=0, checkpoint=lambda *a, **k: None
    )
    method.fit(train, test, ctx)
    predictions = method.logits(torch.from_numpy(test.images)).argmax(1).numpy()
    return float((predictions == test.labels).mean())


def _checker(channel: int) -> np.ndarray:
    """A +-16 one-pixel checkerboard (pure Nyquist frequency) in one colour channel."""
    out = np.zeros((3, SIZE, SIZE))
    out[channel] = 16.0 * np.where(np.add.outer(np.arange(SIZE), np.arange(SIZE)) % 2, 1.0, -1.0)
    return out


def nyquist_patterns() -> np.ndarray:
    """Source s: the checkerboard in channel s. (Sources whose patterns differ only in phase, such as a
    checkerboard and its negative, are a one-pixel shift apart, which this nearly shift-invariant network
    does not learn in a few epochs; a different channel it does.)"""
    return np.stack([_checker(s) for s in range(SOURCES)])


def offset_patterns() -> np.ndarray:
    """Source s: +24 grey levels in channel s, everywhere (zero frequency)."""
    return 24.0 * np.eye(SOURCES)[:, :, None, None] * np.ones((SOURCES, 3, SIZE, SIZE))


def layout_patterns() -> np.ndarray:
    """The red and the green checkerboard on two halves: red left, green left, red on top. Every source
    has the same patches (half red, half green), in a different layout."""
    red, green = _checker(0), _checker(1)
    left = (np.arange(SIZE) < SIZE // 2)[None, None, :]
    top = (np.arange(SIZE) < SIZE // 2)[None, :, None]
    return np.stack([np.where(left, red, green), np.where(left, green, red), np.where(top, red, green)])


# -- the bands themselves -------------------------------------------------------------------------------


def test_the_pyramid_removes_nyquist_from_the_low_band_and_constants_from_the_residual():
    nyquist = torch.from_numpy(nyquist_patterns()).float()
    assert float(low_band(nyquist, 8).abs().max()) < 1e-5
    assert torch.allclose(laplacian_band(nyquist, 16), nyquist, atol=1e-4)
    constant = torch.full((1, 3, SIZE, SIZE), 24.0)
    for r in (16, 8, 4):
        assert float(laplacian_band(constant, r).abs().max()) < 1e-4
    assert torch.allclose(low_band(constant, 4), torch.full((1, 3, 4, 4), 24.0))
    x = torch.rand(2, 3, SIZE, SIZE)
    assert gaussian_down(x).shape == (2, 3, 8, 8) and gaussian_up(gaussian_down(x)).shape == x.shape


def test_tilepool_sees_every_pixel_of_any_size_and_averages_its_tile_logits():
    assert patch_starts(16, 4) == [0, 4, 8, 12] and patch_starts(18, 8) == [0, 8, 10]
    net = PatchPoolNet(4, 3, width=0.125)
    x = torch.rand(2, 3, 12, 12)
    by_hand = torch.stack(
        [net.net(x[:, :, i : i + 4, j : j + 4]) for i in range(0, 12, 4) for j in range(0, 12, 4)], 1
    ).mean(1)
    assert torch.allclose(net(x), by_hand, atol=1e-5)
    assert net(torch.rand(2, 3, 19, 23)).shape == (2, 3)


def test_postpool_pools_the_logits_of_every_location_and_each_sees_its_receptive_field():
    net = LogitPoolNet(16, 8, 3, width=0.125)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    per_location = net.dense2(
        torch.nn.functional.leaky_relu(net.dense1(net.features(x)), 0.2).permute(0, 2, 3, 1)
    )  # [N, 8, 8, L]
    assert torch.allclose(net(x), per_location.mean(dim=(1, 2)), atol=1e-5)
    assert net(torch.rand(2, 3, 48, 32) * 2 - 1).shape == (2, 3)  # any size: fully convolutional
    # one pixel changed: only the locations within its receptive field move
    assert receptive_field(16, 8) == 6 and receptive_field(32, 8) == 16 and receptive_field(16, 16) == 1
    y = x.clone()
    y[:, :, 15, 15] += 1.0
    moved = (net.dense1(net.features(y)) - net.dense1(net.features(x))).abs().sum(dim=(0, 1)) > 0
    assert moved[-1, -1] and not moved[:-3, :].any() and not moved[:, :-3].any()


def test_featpool_is_the_whole_network_at_4_and_pools_features_to_4x4_above():
    net = FeaturePoolNet(16, 8, 3, width=0.125)
    assert net(torch.rand(2, 3, 16, 16)).shape == (2, 3) and net(torch.rand(1, 3, 64, 40)).shape == (1, 3)
    assert len(FeaturePoolNet(16, 4, 3, width=0.125).features) == 10  # both blocks, as the full network
    with pytest.raises(GfpError, match="cannot be halved"):
        LogitPoolNet(12, 8, 3, width=0.125)


# -- learning where the band holds the pattern, chance where it does not ---------------------------------


def test_a_nyquist_fingerprint_lives_in_the_high_band_only():
    patterns = nyquist_patterns()
    assert _accuracy(ResidualAttributor, patterns, res=16) >= LEARNED
    assert _accuracy(PreDownAttributor, patterns, res=16) >= LEARNED
    assert _accuracy(PreDownAttributor, patterns, res=8) <= CHANCE_BOUND


def test_a_colour_offset_lives_in_the_low_band_only():
    patterns = offset_patterns()
    assert _accuracy(PreDownAttributor, patterns, res=4) >= LEARNED
    assert _accuracy(ResidualAttributor, patterns, res=16) <= CHANCE_BOUND


def test_tilepool_learns_a_stationary_fingerprint_from_4x4_tiles_but_not_a_layout():
    assert _accuracy(TilePoolAttributor, nyquist_patterns(), patch=4) >= LEARNED
    layout = layout_patterns()
    assert _accuracy(TilePoolAttributor, layout, patch=4) <= CHANCE_BOUND
    assert _accuracy(TilePoolAttributor, layout, patch=16) >= LEARNED


@pytest.mark.parametrize("cls", [PostPoolAttributor, FeaturePoolAttributor])
def test_post_pooling_learns_a_stationary_fingerprint_from_small_receptive_fields(cls):
    assert _accuracy(cls, nyquist_patterns(), res=8) >= LEARNED


# -- the command ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset_8px(tmp_path_factory):
    """Three sources of 8x8 images: R = 4 and 8, six runs of one epoch."""
    from gfcore.data.dataset import prepare_dataset
    from gfcore.data.synthetic import write_fingerprint_folders

    root = tmp_path_factory.mktemp("persistence")
    write_fingerprint_folders(root / "src", num_sources=3, per_source=12, size=8, amplitude=24.0)
    prepare_dataset(root / "src", root / "ds", resolution=8, seed=0)
    return root / "ds"


def test_gfp_persistence_writes_curves_and_reuses_finished_runs(dataset_8px, tmp_path, run_cli, json_stdout):
    args = ["persistence", dataset_8px, "--out", tmp_path / "study", "--epochs", 1, "--width", 0.0625]
    first = run_cli(*args, "--json", "--no-progress")
    assert first.exit_code == 0, first.output
    doc = json_stdout(first)
    assert doc["format"] == "gfp-persistence" and doc["resolutions"] == [4, 8]
    assert set(doc["curves"]) == {"predown", "residual", "postpool", "featpool", "tilepool"}
    assert doc["failed"] == []
    assert (
        doc["curves"]["tilepool"]["parameter"] == "patch" and doc["curves"]["postpool"]["parameter"] == "res"
    )
    points = [p for curve in doc["curves"].values() for p in curve["points"]]
    assert [p["resolution"] for p in points] == [4, 8] * 5
    assert all(0 <= p["accuracy"] <= 1 and p["reused"] is False and p["n"] for p in points)
    assert json.loads((tmp_path / "study" / "results.json").read_text()) == doc
    assert (tmp_path / "study" / "persistence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((tmp_path / "study" / "runs").iterdir())) == 10

    again = json_stdout(run_cli(*args, "--json", "--no-progress"))  # nothing trains the second time
    points_again = [p for curve in again["curves"].values() for p in curve["points"]]
    assert all(p["reused"] is True for p in points_again)
    assert [p["accuracy"] for p in points_again] == [p["accuracy"] for p in points]


def test_gfp_persistence_refuses_a_folder_it_did_not_create(dataset_8px, tmp_path, cli_error):
    (tmp_path / "notes.txt").write_text("mine")
    line = cli_error(1, "persistence", dataset_8px, "--out", tmp_path, "--epochs", 1)
    assert "not empty" in line and (tmp_path / "notes.txt").read_text() == "mine"


def test_gfp_persistence_lr_reaches_every_run_and_is_recorded(dataset_8px, tmp_path, run_cli, json_stdout):
    out = tmp_path / "study"
    args = ["persistence", dataset_8px, "--out", out, "--epochs", 1, "--width", 0.0625, "--lr", 0.005]
    doc = json_stdout(run_cli(*args, "--json", "--no-progress"))
    assert doc["settings"]["lr"] == 0.005
    for curve in doc["curves"].values():
        for point in curve["points"]:
            run = json.loads((Path(point["run"]) / "run.json").read_text())
            assert run["config"]["lr"] == 0.005


@pytest.mark.parametrize("bad", ["0", "-0.01", "nan", "fast"])
def test_gfp_persistence_refuses_a_bad_lr_in_one_line(dataset_8px, tmp_path, cli_error, bad):
    line = cli_error(2, "persistence", dataset_8px, "--out", tmp_path / "study", "--lr", bad)
    assert "--lr" in line and not (tmp_path / "study").exists()
