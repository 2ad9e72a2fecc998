"""The shortcut audit (`gfp audit`, gfcore.studies.audit): trivial cues that separate sources are found, and cues
that do not are near chance."""

import json

import numpy as np
import pytest
from PIL import Image

from gfcore.data.synthetic import fingerprint_task, smooth_content
from gfcore.interfaces import Split
from gfcore.studies.audit import AUDIT_FORMAT, chance_level, far_threshold, is_far_above_chance, pixel_audit
from gfcore.studies.audit.features import colour_histograms, global_stats
from gfcore.studies.audit.files import MajorityPerValue, stratified_split

# tiny tensors on a shared 2-core machine: one torch thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLASSES = ["a", "b", "c"]


def splits(images, labels, seed=0):
    """Stratified train / val / test Splits: 50% / 10% / 40% of each class."""
    idx = stratified_split(labels.tolist(), (0.5, 0.1, 0.4), seed)
    return [Split(images[idx[s]], labels[idx[s]]) for s in ("train", "val", "test")]


def by_cue(rows):
    return {row.cue: row for row in rows}


def colour_task(per_source=250, size=16, seed=0):
    """Three sources of the same smooth content, each with one colour channel raised by 40 levels."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for s in range(3):
        content = smooth_content(rng, per_source, size).astype(np.int64)
        content[:, s] += 40
        images.append(np.clip(content, 0, 255).astype(np.uint8))
        labels.append(np.full(per_source, s))
    return np.concatenate(images), np.concatenate(labels)


# -- the pieces --------------------------------------------------------------------------------------
def test_global_stats_are_the_eight_numbers():
    img = np.zeros((1, 3, 2, 3), dtype=np.uint8)
    img[0, 0] = [[0, 10, 20], [0, 10, 20]]  # red: a horizontal ramp
    img[0, 2, 1] = 40  # blue: bottom row
    f = global_stats(img)[0]
    assert f[:3] == pytest.approx([10, 0, 20])
    assert f[3:6] == pytest.approx([np.std([0, 10, 20]), 0, 20])
    assert f[6] == pytest.approx((4 * 10) / 12)  # |horizontal differences|: 3 channels x 2 rows x 2
    assert f[7] == pytest.approx((3 * 40) / 9)  # |vertical differences|: 3 channels x 1 row x 3
    h = colour_histograms(img)[0].reshape(3, 8)
    assert h.sum(1) == pytest.approx([1, 1, 1]) and h[1, 0] == 1 and h[2, 0] == pytest.approx(0.5)


def test_chance_and_the_far_above_chance_rule():
    assert chance_level([0, 0, 1, 2], 3) == 0.5  # the most frequent class, not 1/K, when unbalanced
    assert chance_level([0, 1, 2, 3, 4], 5) == pytest.approx(0.2)
    assert far_threshold(0.2) == pytest.approx(0.6) and far_threshold(0.5) == pytest.approx(0.75)
    assert is_far_above_chance(0.6, 0.2) and not is_far_above_chance(0.59, 0.2)
    majority = MajorityPerValue().fit(["x", "x", "y", "y", "y"], [0, 1, 1, 2, 2])
    # a tie goes to the smaller label; an unseen value gets the most frequent label overall (1 and 2 tie)
    assert majority.predict(["x", "y", "unseen"]) == [0, 2, 1]


# -- the audit on data whose shortcut is known ---------------------------------------------------------
def test_sources_that_differ_in_colour_are_a_global_statistics_shortcut():
    rows = by_cue(pixel_audit(CLASSES, 16, *splits(*colour_task())))
    stats = rows["global stats"]
    assert stats.n == 300 and stats.chance == pytest.approx(1 / 3)
    # the channel means differ by 40 levels against an image-to-image spread of about 10: a linear
    # classifier separates them almost perfectly (measured 100%); 0.95 leaves 4 standard errors at n=300
    assert stats.accuracy >= 0.95 and stats.far_above_chance
    assert rows["colour histogram"].far_above_chance


def test_sources_that_differ_by_a_fixed_pattern_are_not_a_statistics_shortcut():
    """Matched patterns have the same values and neighbour differences in every source: the global
    statistics and histograms see nothing, while raw-pixel kNN finds the pattern itself."""
    images, labels = fingerprint_task(3, 500, size=16, amplitude=16.0, seed=0, matched=True)
    rows = by_cue(pixel_audit(CLASSES, 16, *splits(images, labels)))
    for cue in ("global stats", "colour histogram"):
        # chance is 1/3; at n=600 one standard error is 0.019, so 0.10 is 5 of them (measured 0.32-0.35)
        assert rows[cue].n == 600 and rows[cue].accuracy <= 1 / 3 + 0.10, cue
        assert not rows[cue].far_above_chance
    assert rows["raw-pixel kNN"].accuracy >= 0.9  # measured 99.8%: the pattern is a fingerprint kNN finds
    assert rows["raw-pixel kNN"].details["k"] >= 1


# -- a folder of files: the file cues ----------------------------------------------------------------------
def write_file_sources(root, per_source=30):
    """a: PNG 32x32; b: JPEG quality 90, 32x32; c: JPEG quality 50 with EXIF, 40x40 -- the same content."""
    rng = np.random.default_rng(0)
    for name in CLASSES:
        (root / name).mkdir(parents=True)
    for i in range(per_source):
        for name in CLASSES:
            size = 40 if name == "c" else 32
            img = Image.fromarray(smooth_content(rng, 1, size)[0].transpose(1, 2, 0))
            if name == "a":
                img.save(root / name / f"{i:03d}.png")
            elif name == "b":
                img.save(root / name / f"{i:03d}.jpg", quality=90)
            else:
                exif = Image.Exif()
                exif[0x010F] = "gfp test camera"  # Make
                img.save(root / name / f"{i:03d}.jpg", quality=50, exif=exif)


def test_file_cues_detect_format_quality_and_exif(tmp_path, run_cli):
    write_file_sources(tmp_path / "src")
    result = run_cli("audit", tmp_path / "src", "--json", "--no-progress", "--seed", "3")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format"] == AUDIT_FORMAT and doc["version"] == 1 and doc["target"]["kind"] == "folder"
    assert doc["target"]["counts"] == {"train": 54, "val": 18, "test": 18}
    rows = {row["cue"]: row for row in doc["cues"]}
    for row in rows.values():
        assert row["n"] == 18 and row["chance"] == pytest.approx(1 / 3) and row["error"] is None
    # JPEG tables tell all three apart (PNG has none, quality 90 and 50 differ)
    assert rows["JPEG quantisation tables"]["accuracy"] == 1.0
    # format: PNG vs JPEG, b and c share a value -> 12 of 18; EXIF: only c has it -> 12 of 18
    assert rows["file format"]["accuracy"] == pytest.approx(2 / 3)
    assert rows["EXIF present"]["accuracy"] == pytest.approx(2 / 3)
    assert rows["image dimensions"]["accuracy"] == pytest.approx(2 / 3)  # only c is 40x40
    assert rows["colour mode"]["accuracy"] == pytest.approx(1 / 3)  # all RGB: chance
    # PNG > JPEG q90 > JPEG q50 at the same content, but c's larger images overlap b's sizes (measured 0.78)
    assert rows["file size"]["accuracy"] >= 0.6
    assert (
        rows["JPEG quantisation tables"]["far_above_chance"] and not rows["colour mode"]["far_above_chance"]
    )
    assert "shortcut: JPEG quantisation tables" in " ".join(result.stderr.split())
    table = run_cli("audit", tmp_path / "src", "--no-progress", "--seed", "3")
    assert "quantisation" in table.stdout and "SHORTCUT" in table.stdout


def test_a_prepared_dataset_is_fitted_on_train_and_scored_on_test(tiny_dataset, run_cli):
    result = run_cli("audit", tiny_dataset.path, "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["target"]["kind"] == "dataset" and doc["target"]["evaluate"] == "test"
    test_n = len(tiny_dataset.split("test"))
    assert [row["cue"] for row in doc["cues"]] == ["global stats", "colour histogram", "raw-pixel kNN"]
    assert all(row["n"] == test_n for row in doc["cues"])


def test_a_folder_with_one_source_is_one_error_line(tmp_path, cli_error):
    (tmp_path / "src" / "only").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "src" / "only" / "x.png")
    assert "found 1 source folder" in cli_error(1, "audit", tmp_path / "src")
    assert "not a folder" in cli_error(1, "audit", tmp_path / "missing")
