"""Batched attribution: decoding in worker processes and the model in batches give the results of
attributing each file alone, in file order, for any batch size and number of workers; a corrupt file is
skipped with one line and the rest finish."""

import shutil

import numpy as np
import pytest
import torch

from gfcore.execution.accel import configure
from gfcore.inference.attribution import attribute_stream, default_workers
from gfcore.inference.evaluation import decode_files
from gfcore.runs.attributor import load_run
from gfcore.runs.training import train_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_GOOD, BAD_AT = 70, 33  # more files than the largest batch, so batches are full, ragged and crossed


@pytest.fixture(scope="module")
def attributor_and_files(tiny_dataset, tiny_sources, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attribution")
    train_run(tiny_dataset, tmp / "run", "learned:width=0.125", overrides={"epochs": 1, "batch_size": 8})
    attributor, _ = load_run(tmp / "run")
    sources = sorted(tiny_sources.rglob("*.png"))
    folder = tmp / "images"
    folder.mkdir()
    files = []
    for k in range(N_GOOD + 1):
        path = folder / f"img_{k:03d}.png"
        if k == BAD_AT:
            path.write_bytes(b"\x89PNG\r\n\x1a\n truncated")  # a PNG signature and nothing decodable
        else:
            shutil.copy(sources[k % len(sources)], path)
        files.append(path)
    return attributor, files


def one_at_a_time(attributor, files):
    """The reference: each file decoded and attributed on its own."""
    out = {}
    for f in files:
        images, kept, _ = decode_files([f], attributor.resolution)
        if kept:
            out[str(f)] = torch.softmax(attributor.logits(torch.from_numpy(images)), 1)[0].numpy()
    return out


@pytest.mark.parametrize("batch_size,workers", [(1, 0), (7, 2), (64, 0), (64, 2)])
def test_batches_and_workers_give_the_results_of_one_file_at_a_time(
    attributor_and_files, batch_size, workers, capsys
):
    attributor, files = attributor_and_files
    expected = one_at_a_time(attributor, files)
    capsys.readouterr()  # the reference's own warning
    batch = attribute_stream(attributor, files, batch_size=batch_size, workers=workers)
    assert [r.path for r in batch.results] == [str(f) for k, f in enumerate(files) if k != BAD_AT]
    assert batch.skipped == [{"path": str(files[BAD_AT]), "reason": batch.skipped[0]["reason"]}]
    assert batch.skipped[0]["reason"]  # Pillow's words, e.g. "Truncated File Read"
    for r in batch.results:
        probs = np.array([r.probabilities[c] for c in attributor.classes])
        # float32 convolutions may sum in another order for another batch size: a few ulps of the logits
        np.testing.assert_allclose(probs, expected[r.path], rtol=0, atol=1e-5)
        assert r.predicted == attributor.classes[int(expected[r.path].argmax())]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "skipped" in line]
    assert len(warnings) == 1 and str(files[BAD_AT]) in warnings[0]


def test_few_files_decode_in_process():
    assert default_workers(3, 64) == 0
    assert default_workers(10_000, 64) >= 1


def test_bf16_autocast_changes_only_the_rounding(attributor_and_files):
    attributor, files = attributor_and_files
    images, _, _ = decode_files(files[:BAD_AT], attributor.resolution)
    images = torch.from_numpy(images)
    fp32 = attributor.logits(images)
    configure(attributor, "bf16")
    try:
        bf16 = attributor.logits(images)
    finally:
        configure(attributor, "fp32")
    assert torch.equal(attributor.logits(images), fp32)  # back to fp32: exactly the fp32 numbers
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, fp32)  # autocast ran
    # bf16 keeps 8 significant bits (relative rounding 2^-9 per operation); through a few layers the logits
    # move by a few percent of their spread, far less than the spread itself
    spread = float(fp32.std())
    assert float((bf16 - fp32).abs().max()) < 0.25 * spread


def test_train_with_bf16_on_cpu_records_it(tiny_dataset, tmp_path):
    result = train_run(
        tiny_dataset, tmp_path / "bf16", "learned:width=0.125", overrides={"epochs": 1}, precision="bf16"
    )
    assert result.info["precision"] == "bf16"
    assert np.isfinite(result.info["history"][-1]["train_loss"])


# --- whole images: tiles at the run's scale -------------------------------------------------------------


def test_tiles_cover_every_pixel_without_resampling():
    from gfcore.data.tiling import attribution_inputs, tile_starts

    assert tile_starts(64, 32) == [0, 32]
    assert tile_starts(70, 32) == [0, 32, 38]  # one tile flush with the far edge
    assert tile_starts(32, 32) == [0]
    rgb = np.random.default_rng(0).integers(0, 256, (70, 100, 3), dtype=np.uint8)
    tiles, view = attribution_inputs(rgb, 32)
    assert tiles.shape == (3 * 4, 3, 32, 32) and tiles.dtype == np.uint8
    assert (view.policy, view.tiles, view.scale, view.coverage) == ("tiles", 12, 1.0, 1.0)
    covered = np.zeros((70, 100), bool)
    for k, (y, x) in enumerate((y, x) for y in tile_starts(70, 32) for x in tile_starts(100, 32)):
        np.testing.assert_array_equal(
            tiles[k], rgb[y : y + 32, x : x + 32].transpose(2, 0, 1)
        )  # pixels as is
        covered[y : y + 32, x : x + 32] = True
    assert covered.all()


def test_a_small_image_is_refused_unless_upsampling_is_asked_for():
    from gfcore.data.tiling import TooSmallError, attribution_inputs

    rgb = np.zeros((20, 24, 3), np.uint8)
    with pytest.raises(TooSmallError, match="20x24 is smaller than the run's 32x32.*--upsample-small"):
        attribution_inputs(rgb, 32)
    tiles, view = attribution_inputs(rgb, 32, upsample_small=True)
    assert tiles.shape == (1, 3, 32, 32) and view.policy == "upsampled" and view.scale == 1.6
    _, crop = attribution_inputs(np.zeros((64, 80, 3), np.uint8), 32, "crop")
    assert (crop.tiles, crop.scale, crop.coverage) == (1, 1.0, 0.2)


def test_a_large_image_is_attributed_from_the_mean_logits_of_all_its_tiles(attributor_and_files, tmp_path):
    from PIL import Image

    from gfcore.data.tiling import attribution_inputs

    attributor, _ = attributor_and_files
    rng = np.random.default_rng(1)
    big = rng.integers(0, 256, (40, 72, 3), dtype=np.uint8)  # 16x16 runs: 3 x 5 tiles, two flush ones
    small = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    Image.fromarray(big).save(tmp_path / "big.png")
    Image.fromarray(small).save(tmp_path / "small.png")
    batch = attribute_stream(attributor, [tmp_path / "big.png", tmp_path / "small.png"], workers=0)
    r = attributor.resolution
    tiles, _ = attribution_inputs(big, r)
    expected = attributor.logits(torch.from_numpy(tiles)).mean(0)
    (result,) = batch.results
    np.testing.assert_allclose(result.logits, expected.numpy(), rtol=0, atol=1e-5)
    assert result.view["tiles"] == len(tiles) == 3 * 5  # rows 0, 16, 24; columns 0, 16, 32, 48, 56
    assert result.view["scale"] == 1.0 and result.view["image_size"] == [40, 72]
    assert [s["path"] for s in batch.skipped] == [str(tmp_path / "small.png")]
    assert "smaller than the run's" in batch.skipped[0]["reason"]
    upsampled = attribute_stream(attributor, [tmp_path / "small.png"], workers=0, upsample_small=True)
    assert upsampled.results[0].view["policy"] == "upsampled"
