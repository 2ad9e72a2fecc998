"""The bundled photographs, real patch sampling with disjoint splits, and ``gfp data``."""

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gfcore.errors import GfpError
from gfp_photos.patches import (
    IMAGES_DIR,
    CropBox,
    licences,
    max_resolution,
    photo_paths,
    photo_sizes,
    render_patch,
    sample_boxes,
    sample_patches,
    split_region,
)


def run_cli(args):
    import gfp.app

    return CliRunner().invoke(gfp.app.get_cli(), args)


# ------------------------------------------------------------------------------------------ the bundle


def test_at_least_15_photos_under_10_mb_each_with_a_licence_entry():
    paths = photo_paths()
    assert len(paths) >= 15
    assert sum(p.stat().st_size for p in paths) < 10 * 1024 * 1024
    entries = licences()
    assert [e["file"] for e in entries] == [p.name for p in paths]
    for entry in entries:
        assert entry["licence"].startswith(("Public domain", "CC0-1.0", "CC-BY-2.0")), entry
        assert entry["credit"] and entry["source_package"] and entry["original_path"], entry


def test_the_images_folder_holds_exactly_the_manifest_and_the_files_match_their_checksums():
    on_disk = {p.name for p in IMAGES_DIR.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"}}
    assert on_disk == {e["file"] for e in licences()}
    for entry in licences():
        digest = hashlib.sha256((IMAGES_DIR / entry["file"]).read_bytes()).hexdigest()
        assert digest == entry["sha256"], entry["file"]


def test_notice_mirrors_the_manifest():
    notice = (IMAGES_DIR / "NOTICE.md").read_text(encoding="utf-8")
    for entry in licences():
        row = next(line for line in notice.splitlines() if line.startswith(f"| `{entry['file']}`"))
        assert entry["licence"] in row and entry["credit"] in row and entry["original_path"] in row


def test_every_photo_decodes_to_rgb_and_is_large_enough():
    for width, height in photo_sizes():
        assert min(width, height) >= 256


# ------------------------------------------------------------------------------------------ sampling


def test_patches_have_the_requested_shape_and_dtype():
    x = sample_patches(40, resolution=16, seed=3)
    assert x.shape == (40, 3, 16, 16) and x.dtype == np.uint8
    assert x.std() > 10  # real content, not a constant fill
    assert sample_patches(3, resolution=64, split="test").shape == (3, 3, 64, 64)


def test_same_seed_same_patches_other_seed_other_patches():
    a = sample_patches(64, resolution=32, seed=7)
    b = sample_patches(64, resolution=32, seed=7)
    c = sample_patches(64, resolution=32, seed=8)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any(axis=(1, 2, 3)).mean() > 0.9


def test_a_crop_at_native_scale_is_copied_exactly():
    box = CropBox(photo=3, left=10, top=20, right=42, bottom=52)
    photo = np.asarray(Image.open(photo_paths()[3]).convert("RGB"))
    np.testing.assert_array_equal(render_patch(box, 32), photo[20:52, 10:42].transpose(2, 0, 1))


def test_boxes_are_squares_inside_their_photo_at_scales_from_r_to_8r():
    sizes = photo_sizes()
    boxes = sample_boxes(3000, resolution=16, seed=1, split="all")
    sides = np.array([b.side for b in boxes])
    assert all(b.bottom - b.top == b.side for b in boxes)
    assert sides.min() == 16 and sides.max() <= 8 * 16
    assert np.median(sides) > 30  # log-uniform in [16, 128] has median ~45; not all at native scale
    for b in boxes:
        width, height = sizes[b.photo]
        assert 0 <= b.left and 0 <= b.top and b.right <= width and b.bottom <= height
    assert len({b.photo for b in boxes}) == len(sizes)  # every photo is used


def test_scales_narrow_the_crop_sides_and_the_default_is_the_full_range():
    full = sample_boxes(500, resolution=16, seed=2)
    assert sample_boxes(500, resolution=16, seed=2, scales=(1, 8)) == full  # the default, spelled out
    native = sample_boxes(500, resolution=16, seed=2, scales=(1, 1))
    assert {b.side for b in native} == {16}  # copied pixel for pixel, never resampled
    scenes = sample_boxes(500, resolution=16, seed=2, scales=(4, 8))
    sides = np.array([b.side for b in scenes])
    assert sides.min() >= 64 and sides.max() <= 128 and len(set(sides)) > 20
    # the same photos and the same draws: only the side (and so the corner) changes
    assert [b.photo for b in scenes] == [b.photo for b in full]


@pytest.mark.parametrize("scales", [(0.5, 2), (3, 2), (1, 9)])
def test_bad_scales_are_refused_in_one_line(scales):
    with pytest.raises(GfpError, match="crop scales must satisfy 1 <= min <= max <= 8"):
        sample_boxes(4, resolution=16, scales=scales)


@pytest.mark.parametrize("size", [(400, 300), (512, 600), (1411, 1411), (451, 300)])
def test_split_regions_are_disjoint_and_cover_the_photo(size):
    width, height = size
    regions = {s: split_region(width, height, s) for s in ("train", "val", "test")}
    area = {s: (r[2] - r[0]) * (r[3] - r[1]) for s, r in regions.items()}
    assert sum(area.values()) == width * height
    assert 0.75 < area["train"] / (width * height) < 0.85
    covered = np.zeros((height, width), dtype=int)
    for left, top, right, bottom in regions.values():
        covered[top:bottom, left:right] += 1
    assert (covered == 1).all()  # every pixel in exactly one split
    assert split_region(width, height, "all") == (0, 0, width, height)


def test_train_val_test_crops_never_share_a_pixel():
    by_split = {s: sample_boxes(1500, resolution=16, seed=5, split=s) for s in ("train", "val", "test")}
    sizes = photo_sizes()
    for split, boxes in by_split.items():
        for b in boxes:
            left, top, right, bottom = split_region(*sizes[b.photo], split)
            assert left <= b.left and top <= b.top and b.right <= right and b.bottom <= bottom, (split, b)
    # and directly: mark each split's pixels per photo; no pixel may carry two marks
    for index, (width, height) in enumerate(sizes):
        owner = np.zeros((height, width), dtype=np.uint8)
        for bit, boxes in zip((1, 2, 4), by_split.values(), strict=True):
            for b in boxes:
                if b.photo == index:
                    owner[b.top : b.bottom, b.left : b.right] |= bit
        assert set(np.unique(owner)) <= {0, 1, 2, 4}, photo_paths()[index].name


def test_splits_give_different_patches_for_the_same_seed():
    assert not np.array_equal(
        sample_patches(8, 16, seed=0, split="train"), sample_patches(8, 16, seed=0, split="test")
    )


def test_windows_share_exactly_their_overlap():
    # across the sequence's seeded blocks (1024 patches each), so the overlap does not depend on where it lies
    base = sample_boxes(3000, 16, seed=2, window=0)
    shifted = sample_boxes(3000, 16, seed=2, window=1000)
    assert shifted[:2000] == base[1000:]
    assert sample_boxes(7, 16, seed=2, window=2995) == base[2995:] + sample_boxes(2, 16, seed=2, window=3000)
    # the part outside the overlap is new: no other box of the base window is repeated
    assert not set(shifted[2000:]) & set(base)
    # the windowed sequence is its own: neither another seed's nor the classic draw's
    assert sample_boxes(50, 16, seed=3, window=0) != base[:50] != sample_boxes(50, 16, seed=2)
    np.testing.assert_array_equal(
        sample_patches(4, 16, 2, window=1020), sample_patches(1024, 16, 2, window=0)[1020:]
    )
    with pytest.raises(GfpError, match="window"):
        sample_boxes(5, 16, window=-1)


def test_cli_window_option(tmp_path):
    result = run_cli(["data", "photos", "--out", str(tmp_path / "w"), "-n", "3", "--window", "7", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["window"] == 7
    written = np.stack(
        [np.asarray(Image.open(f)).transpose(2, 0, 1) for f in sorted((tmp_path / "w").glob("*.png"))]
    )
    np.testing.assert_array_equal(written, sample_patches(10, 32, 0, window=0)[7:])
    result = run_cli(["data", "photos", "--out", str(tmp_path / "x"), "-n", "3", "--window", "-1"])
    assert result.exit_code == 2 and not (tmp_path / "x").exists()


def test_bad_requests_are_one_line_errors():
    with pytest.raises(GfpError, match="positive"):
        sample_patches(0)
    with pytest.raises(GfpError, match="at least 8"):
        sample_patches(4, resolution=4)
    with pytest.raises(GfpError, match="larger than the smallest 'val' region"):
        sample_patches(4, resolution=max_resolution("val") + 1, split="val")
    with pytest.raises(GfpError, match="non-negative"):
        sample_patches(4, seed=-1)
    with pytest.raises(GfpError, match="unknown split"):
        sample_patches(4, split="holdout")
    assert max_resolution("test") >= 64  # 64-pixel patches are available in every split


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_writes_n_readable_pngs_of_the_right_size(tmp_path):
    out = tmp_path / "real"
    result = run_cli(["data", "photos", "--out", str(out), "-n", "12", "--resolution", "24", "--seed", "4"])
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == [f"photo_{i:06d}.png" for i in range(12)]
    written = np.stack([np.asarray(Image.open(f).convert("RGB")).transpose(2, 0, 1) for f in files])
    np.testing.assert_array_equal(written, sample_patches(12, resolution=24, seed=4))
    assert "wrote 12" in result.stdout


def test_cli_scales_option(tmp_path):
    result = run_cli(["data", "photos", "--out", str(tmp_path / "a"), "-n", "3", "--scales", "2-4", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scales"] == [2.0, 4.0]
    written = np.stack(
        [np.asarray(Image.open(f)).transpose(2, 0, 1) for f in sorted((tmp_path / "a").glob("*.png"))]
    )
    np.testing.assert_array_equal(written, sample_patches(3, 32, 0, "train", (2, 4)))
    for bad, words in (("x", "is not MIN-MAX"), ("1-2-3", "is not MIN-MAX"), ("0-2", "1 <= min <= max")):
        result = run_cli(["data", "photos", "--out", str(tmp_path / "b"), "-n", "3", "--scales", bad])
        assert result.exit_code != 0 and words in result.output, result.output
    assert not (tmp_path / "b").exists()  # refused before anything is written


def test_cli_json_summary(tmp_path):
    result = run_cli(["data", "photos", "--out", str(tmp_path), "-n", "2", "--split", "val", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["count"] == 2 and summary["split"] == "val"


def test_cli_rejects_bad_input(tmp_path):
    assert run_cli(["data", "photos", "--out", str(tmp_path), "-n", "0"]).exit_code == 2
    assert run_cli(["data", "photos", "--out", str(tmp_path), "-n", "3", "--resolution", "4"]).exit_code == 2
    too_big = run_cli(
        ["data", "photos", "--out", str(tmp_path), "-n", "3", "--split", "test", "--resolution", "200"]
    )
    assert too_big.exit_code == 1 and "larger than the smallest" in too_big.output
    assert run_cli(["data", "photos", "--out", str(tmp_path), "-n", "3", "--seed", "-1"]).exit_code == 2
    assert not list(tmp_path.glob("*.png"))


def test_cli_never_writes_over_files_it_did_not_make(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "photo_000000.png").write_bytes(b"my own file")
    result = run_cli(["data", "photos", "--out", str(mine), "-n", "2"])
    assert result.exit_code == 1 and "gfp never deletes what it did not create" in " ".join(
        result.stderr.split()
    )
    assert (mine / "photo_000000.png").read_bytes() == b"my own file"
    assert run_cli(["data", "photos", "--out", str(tmp_path / "p"), "-n", "2"]).exit_code == 0
    assert json.loads((tmp_path / "p" / ".gfp-photos.json").read_text())["count"] == 2  # written last
    again = run_cli(["data", "photos", "--out", str(tmp_path / "p"), "-n", "3"])  # a finished set
    assert again.exit_code == 1 and "already holds photo patches" in " ".join(again.stderr.split())


def test_cli_licences_json_parses():
    result = run_cli(["data", "licences", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["photos"]
    assert [p["file"] for p in listed] == [e["file"] for e in licences()]
    assert all(p["width"] > 0 and p["height"] > 0 for p in listed)


def test_cli_licences_table():
    result = run_cli(["data", "licences"])
    assert result.exit_code == 0, result.output
    assert "CC-BY-2.0" in result.stdout and "grace_hopper" in result.stdout


def test_data_group_is_reused_when_another_plugin_made_it():
    import click

    from gfp_photos.commands import add_data_commands

    @click.group()
    def root():
        pass

    @click.group("data")
    def other_data():
        pass

    @other_data.command("other")
    def other():
        pass

    root.add_command(other_data)
    add_data_commands(root)
    assert set(root.commands["data"].commands) == {"other", "photos", "licences"}


# ------------------------------------------------------------------------------- your own photographs


def _own_photos(folder, sizes=((300, 200), (180, 260))):
    """Random-noise "photographs" (every crop is unique, so a patch can be traced back to its place)."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    paths = []
    for i, (width, height) in enumerate(sizes):
        path = folder / f"own_{i}.png"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_patches_from_a_folder_come_from_its_photos_and_keep_the_splits_apart(tmp_path):
    from gfp_photos.patches import folder_photos

    paths = _own_photos(tmp_path / "own")
    (tmp_path / "own" / "notes.jpg").write_text("not an image")
    Image.new("RGB", (20, 20)).save(tmp_path / "own" / "tiny.png")
    warnings = []
    found = folder_photos([tmp_path / "own"], resolution=16, split="test", warn=warnings.append)
    assert found == paths
    assert len(warnings) == 2 and "notes.jpg" in warnings[0] and "too small" in warnings[1]

    pixels = [np.asarray(Image.open(p)).transpose(2, 0, 1) for p in paths]
    for split in ("train", "test"):
        boxes = sample_boxes(60, resolution=16, seed=1, split=split, scales=(1, 1), photos=found)
        patches = sample_patches(60, resolution=16, seed=1, split=split, scales=(1, 1), photos=found)
        assert {b.photo for b in boxes} == {0, 1}
        for box, patch in zip(boxes, patches, strict=True):
            width, height = Image.open(paths[box.photo]).size
            left, top, right, bottom = split_region(width, height, split)
            assert left <= box.left and box.right <= right and top <= box.top and box.bottom <= bottom
            # native scale: the patch is the photo's pixels at that place, copied exactly
            np.testing.assert_array_equal(
                patch, pixels[box.photo][:, box.top : box.bottom, box.left : box.right]
            )


def test_cli_photos_folder_with_and_without_the_bundled_set(tmp_path):
    paths = _own_photos(tmp_path / "own")
    (tmp_path / "own" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "real"
    result = run_cli(["data", "photos", "--out", str(out), "-n", "6", "--resolution", "16",
                      "--photos", str(tmp_path / "own"), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["photos"] == 2 and len(summary["skipped"]) == 1 and "broken.png" in summary["skipped"][0]
    assert "broken.png" in result.stderr
    written = np.stack([np.asarray(Image.open(f)).transpose(2, 0, 1) for f in sorted(out.glob("*.png"))])
    np.testing.assert_array_equal(written, sample_patches(6, 16, photos=paths))

    both = run_cli(["data", "photos", "--out", str(tmp_path / "both"), "-n", "6", "--resolution", "16",
                    "--photos", str(tmp_path / "own"), "--with-bundled", "--json"])  # fmt: skip
    assert both.exit_code == 0, both.output
    assert json.loads(both.stdout)["photos"] == len(photo_paths()) + 2


def test_cli_photos_folder_refusals(tmp_path):
    (tmp_path / "empty").mkdir()
    cases = (
        (["--photos", str(tmp_path / "missing")], 1, "no such photo folder"),
        (["--photos", str(tmp_path / "empty")], 1, "no usable photographs"),
        (["--with-bundled"], 2, "give a folder"),
    )
    for extra, code, words in cases:
        result = run_cli(["data", "photos", "--out", str(tmp_path / "out"), "-n", "3", *extra])
        assert result.exit_code == code and words in result.output, result.output
    assert not (tmp_path / "out").exists()
