"""gfp prepare: round trip, class order, image modes and sizes, bad input."""

import json

import numpy as np
import pytest
from PIL import Image

from gfcore.data.dataset import load_dataset, prepare_dataset
from gfcore.data.images import fit_to_size, load_rgb
from gfcore.errors import GfpError


def make_sources(root, spec):
    """spec: {class: [(name, PIL image or bytes)]}"""
    for cls, items in spec.items():
        folder = root / cls
        folder.mkdir(parents=True)
        for name, item in items:
            if isinstance(item, bytes):
                (folder / name).write_bytes(item)
            else:
                item.save(folder / name)
    return root


def solid(colour, size=(20, 20), mode="RGB"):
    return Image.new(mode, size, colour)


def test_round_trip_counts_order_and_hashes(tiny_sources, tmp_path):
    manifest = prepare_dataset(tiny_sources, tmp_path / "ds", resolution=16, split=(0.5, 0.25, 0.25), seed=3)
    ds = load_dataset(tmp_path / "ds")
    assert ds.classes == ["source_0", "source_1", "source_2"]
    assert manifest["counts"]["train"] == {"source_0": 10, "source_1": 10, "source_2": 10}
    assert manifest["counts"]["test"] == {"source_0": 5, "source_1": 5, "source_2": 5}
    train = ds.split("train")
    assert train.images.shape == (30, 3, 16, 16) and train.images.dtype == np.uint8
    assert isinstance(train.images, np.memmap)  # training memory-maps, never decodes files
    assert len(manifest["files"]) == 60 and all(len(f["sha256"]) == 64 for f in manifest["files"])
    # the stored pixels are the source file's pixels
    first = next(f for f in manifest["files"] if f["split"] == "train" and f["class"] == "source_0")
    original = load_rgb(tiny_sources / first["path"]).transpose(2, 0, 1)
    assert any(np.array_equal(original, img) for img in train.images[train.labels == 0])
    # same inputs and seed -> same dataset hash; another seed -> another split
    again = prepare_dataset(tiny_sources, tmp_path / "ds2", resolution=16, split=(0.5, 0.25, 0.25), seed=3)
    other = prepare_dataset(tiny_sources, tmp_path / "ds3", resolution=16, split=(0.5, 0.25, 0.25), seed=4)
    assert again["hash"] == manifest["hash"] != other["hash"]


def test_explicit_class_order_is_stored(tiny_sources, tmp_path, run_cli):
    result = run_cli(
        "prepare",
        tiny_sources,
        "--out",
        tmp_path / "ds",
        "--resolution",
        16,
        "--classes",
        "source_2,source_0,source_1",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["classes"] == ["source_2", "source_0", "source_1"]
    labels = np.load(tmp_path / "ds" / "train_labels.npy")
    assert set(labels.tolist()) == {0, 1, 2}


@pytest.mark.parametrize(
    "image",
    [
        solid(128, mode="L"),
        solid((10, 20, 30, 0), mode="RGBA"),
        solid((10, 20, 30, 255), mode="CMYK"),
        solid(128, mode="LA") if hasattr(Image, "new") else None,
        solid(1, mode="P"),
        solid(40000, mode="I;16"),
        solid(1, mode="1"),
    ],
    ids=["grey", "rgba", "cmyk", "grey-alpha", "palette", "16-bit", "bilevel"],
)
def test_every_mode_becomes_rgb8(image, tmp_path):
    suffix = ".jpg" if image.mode == "CMYK" else ".png"
    path = tmp_path / f"img{suffix}"
    image.save(path)
    rgb = load_rgb(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (20, 20, 3)


def test_16_bit_maps_to_8_bit_range(tmp_path):
    solid(65535, mode="I;16").save(tmp_path / "white.png")
    assert load_rgb(tmp_path / "white.png").min() == 255


def test_size_policy_crop_keeps_pixels_and_resize_resamples():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    cropped = fit_to_size(img, 16, "crop")
    assert np.array_equal(cropped, img[12:28, 17:33])  # centre of the centred 40x40 square
    resized = fit_to_size(img, 16, "resize")
    assert resized.shape == (16, 16, 3) and not np.array_equal(resized, cropped)
    small = fit_to_size(img[:8, :8], 16, "crop")  # smaller than the target: upsampled
    assert small.shape == (16, 16, 3)


def test_corrupt_and_non_image_files_are_skipped_and_counted(tmp_path, run_cli, json_stdout):
    good = [(f"{i}.png", solid((i * 10, 0, 0))) for i in range(4)]
    src = make_sources(
        tmp_path / "src",
        {
            "a": good + [("broken.png", b"\x89PNG\r\n\x1a\nnot really"), ("notes.txt", b"hello")],
            "b": [(f"{i}.png", solid((0, i * 10, 0))) for i in range(4)]
            + [("truncated.jpg", b"\xff\xd8\xff")],
        },
    )
    result = run_cli("prepare", src, "--out", tmp_path / "ds", "--resolution", 16, "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    summary = json_stdout(result)
    assert sorted(s["path"] for s in summary["skipped"]) == ["a/broken.png", "a/notes.txt", "b/truncated.jpg"]
    assert sum(sum(c.values()) for c in summary["counts"].values()) == 8
    assert "skipped" in result.stderr


def test_empty_source_folder_is_a_clear_error(tmp_path, cli_error):
    src = make_sources(tmp_path / "src", {"a": [("0.png", solid((1, 2, 3)))]})
    (src / "b").mkdir()
    assert (
        cli_error(1, "prepare", src, "--out", tmp_path / "ds") == f"Error: source folder {src / 'b'} is empty"
    )
    assert not (tmp_path / "ds").exists()


def test_source_with_only_bad_files_is_a_clear_error(tmp_path):
    src = make_sources(tmp_path / "src", {"a": [("0.png", solid((1, 2, 3)))], "b": [("x.png", b"junk")]})
    with pytest.raises(GfpError, match="no readable images in source folder.*b"):
        prepare_dataset(src, tmp_path / "ds", resolution=16)
    assert not (tmp_path / "ds").exists()  # the folder it created, with its staging file, is gone


def test_fewer_than_two_sources_is_a_clear_error(tmp_path, run_cli):
    src = make_sources(tmp_path / "src", {"only": [("0.png", solid((1, 2, 3)))]})
    result = run_cli("prepare", src, "--out", tmp_path / "ds")
    assert result.exit_code == 1 and "at least 2" in result.output


def test_missing_source_and_bad_split_and_bad_flag(tmp_path, run_cli, tiny_sources):
    assert "not a folder" in run_cli("prepare", tmp_path / "nope", "--out", tmp_path / "ds").output
    bad_split = run_cli("prepare", tiny_sources, "--out", tmp_path / "ds", "--split", "0.9,0.2,0.1")
    assert bad_split.exit_code == 2 and "summing to 1" in bad_split.output  # a bad flag value: usage error
    assert run_cli("prepare", tiny_sources, "--out", tmp_path / "ds", "--bogus").exit_code == 2
    unknown_class = run_cli("prepare", tiny_sources, "--out", tmp_path / "ds", "--classes", "source_0,zzz")
    assert unknown_class.exit_code == 1 and "zzz" in unknown_class.output


def test_refuses_to_overwrite_a_prepared_dataset(tiny_sources, tmp_path):
    prepare_dataset(tiny_sources, tmp_path / "ds", resolution=16)
    with pytest.raises(GfpError, match="already holds"):
        prepare_dataset(tiny_sources, tmp_path / "ds", resolution=16)


def test_not_a_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(GfpError, match="not a prepared dataset"):
        load_dataset(tmp_path)


def _sized_sources(root, sizes):
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            Image.fromarray(np.full((h, w, 3), 40 * i, np.uint8)).save(root / c / f"{i}.png")
    return root


def test_prepare_says_how_many_images_were_cropped_and_upsampled(tmp_path, run_cli, json_stdout):
    src = _sized_sources(tmp_path / "src", [(32, 32), (64, 40), (20, 50), (100, 100)])
    result = run_cli("prepare", src, "--out", tmp_path / "ds", "--resolution", 32, "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    assert json_stdout(result)["sizes"] == {"exact": 2, "larger": 4, "upsampled": 2}
    text = run_cli("prepare", src, "--out", tmp_path / "ds2", "--resolution", 32, "--no-progress").stdout
    assert "2 already 32x32, 4 centre-cropped, 2 smaller and upsampled (resampling destroys" in text


def test_prepare_names_the_methods_that_cannot_train_on_a_resolution(
    tmp_path, run_cli, monkeypatch, cli_error
):
    src = _sized_sources(tmp_path / "src", [(64, 64)] * 3)
    result = run_cli("prepare", src, "--out", tmp_path / "ds", "--resolution", 48, "--no-progress")
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stderr.splitlines() if "48x48" in x]
    assert "learned" in line.split("cannot train")[0] and line.endswith("knn, prnu can")
    assert "power of two from 16 to 256, got 48" in line
    assert (
        run_cli("prepare", src, "--out", tmp_path / "ds32", "--resolution", 32, "--no-progress").stderr == ""
    )
    import gfcore.runs.attributor as attributor

    monkeypatch.setattr(attributor, "methods_for_resolution", lambda r: ([], {"learned": "needs 2^k"}))
    assert cli_error(1, "prepare", src, "--out", tmp_path / "ds3", "--resolution", 48) == (
        "Error: no installed method can train on 48x48 images (needs 2^k)"
    )
    assert not (tmp_path / "ds3").exists() or not any((tmp_path / "ds3").iterdir())
