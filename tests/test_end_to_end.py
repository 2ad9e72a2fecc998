"""prepare -> train -> evaluate -> attribute -> fingerprints on sources that differ only by a weak, fixed,
zero-mean high-frequency pattern (+-16 grey levels, 6% of the range: invisible to a colour histogram)."""

import json

import numpy as np
import pytest
from PIL import Image

from gfcore.data.synthetic import write_fingerprint_folders

EPOCHS = 10


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from click.testing import CliRunner

    from gfp.app import get_cli

    root = tmp_path_factory.mktemp("e2e")
    write_fingerprint_folders(root / "src", num_sources=3, per_source=400, size=16, amplitude=16.0, seed=0)
    runner = CliRunner()
    prepared = runner.invoke(
        get_cli(),
        ["prepare", str(root / "src"), "--out", str(root / "ds"), "--resolution", "16", "--no-progress"],
    )
    assert prepared.exit_code == 0, prepared.output
    result = runner.invoke(
        get_cli(),
        [
            "train",
            str(root / "ds"),
            "--out",
            str(root / "run"),
            "--method",
            "learned:width=0.25",
            "--epochs",
            str(EPOCHS),
            "--seed",
            "0",
            "--no-progress",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return root, json.loads(result.stdout)


def test_colour_histograms_do_not_separate_the_sources(tmp_path):
    write_fingerprint_folders(tmp_path, num_sources=3, per_source=200, size=16, amplitude=16.0, seed=0)
    means = []
    for s in range(3):
        pixels = np.stack(
            [np.asarray(Image.open(p)) for p in sorted((tmp_path / f"source_{s}").glob("*.png"))]
        )
        means.append(pixels.reshape(-1, 3).mean(0))
    assert np.ptp(np.stack(means), axis=0).max() < 3.0  # mean colour differs by < 3 grey levels


def test_learns_weak_fingerprints_to_90_percent(trained, run_cli, json_stdout):
    root, summary = trained
    assert len(summary["history"]) == EPOCHS
    result = run_cli("evaluate", root / "run", root / "ds", "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    report = json_stdout(result)
    assert report["accuracy"] >= 0.90, report
    assert report["version"] == 1 and len(report["confusion_matrix"]) == 3
    assert sum(map(sum, report["confusion_matrix"])) == report["n"] == 120
    assert 0.0 <= report["macro_f1"] <= 1.0 and set(report["per_class_accuracy"]) == {
        "source_0",
        "source_1",
        "source_2",
    }
    table = run_cli("evaluate", root / "run", root / "ds", "--no-progress")
    assert "confusion matrix" in table.stdout and "accuracy" in table.stdout


def test_run_holds_no_pickle_and_describes_itself(trained):
    root, _ = trained
    run = root / "run"
    info = json.loads((run / "run.json").read_text())
    assert info["method"] == "learned" and info["classes"] == ["source_0", "source_1", "source_2"]
    assert info["resolution"] == 16 and info["status"] == "complete" and info["dataset"]["hash"]
    assert {"gfp", "torch"} <= set(info["versions"]) and len(info["history"]) == EPOCHS
    for name in ("weights.safetensors", "last.safetensors"):
        raw = (run / name).read_bytes()
        header_len = int.from_bytes(raw[:8], "little")
        json.loads(raw[8 : 8 + header_len])  # a safetensors header is plain JSON
        assert b"\x80\x04\x95" not in raw[:64] and not raw.startswith(b"PK")  # no pickle, no zip archive


def test_attribute_files_folders_globs_and_skips_bad_files(trained, run_cli, json_stdout, tmp_path):
    root, _ = trained
    (tmp_path / "bad.png").write_bytes(b"not an image")
    folder = root / "src" / "source_1"
    result = run_cli(
        "attribute",
        root / "run",
        folder,
        str(root / "src" / "source_2" / "0000[0-4].png"),
        tmp_path / "bad.png",
        tmp_path / "missing.png",
        "--json",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    data = json_stdout(result)
    assert len(data["images"]) == 405
    assert {s["path"] for s in data["skipped"]} == {str(tmp_path / "bad.png"), str(tmp_path / "missing.png")}
    first = data["images"][0]
    assert set(first["probabilities"]) == {"source_0", "source_1", "source_2"}
    assert abs(sum(first["probabilities"].values()) - 1) < 1e-5
    assert data["shares"]["source_1"] > 0.8  # most of source_1's folder is attributed to it
    table = run_cli("attribute", root / "run", folder / "00000.png", "--no-progress")
    assert "share of images per source" in table.stdout


def test_a_256px_image_is_attributed_from_all_of_its_pixels(trained, run_cli, json_stdout, tmp_path):
    """The run is 16x16: a 256x256 image is 256 tiles at scale 1, and the output says so."""
    import numpy as np
    from PIL import Image

    root, _ = trained
    big = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    Image.fromarray(big).save(tmp_path / "big.png")
    Image.fromarray(big[:10, :10]).save(tmp_path / "tiny.png")
    data = json_stdout(run_cli("attribute", root / "run", tmp_path, "--json", "--no-progress"))
    (image,) = data["images"]
    assert image["view"] == {
        "policy": "tiles",
        "tiles": 256,
        "tile_size": 16,
        "scale": 1.0,
        "image_size": [256, 256],
        "coverage": 1.0,
    }
    assert data["policy"] == {"name": "tiles", "upsample_small": False, "tile_size": 16}
    assert [s["path"] for s in data["skipped"]] == [str(tmp_path / "tiny.png")]
    crop = json_stdout(run_cli("attribute", root / "run", tmp_path / "big.png", "--policy", "crop", "--json"))
    assert crop["images"][0]["view"]["tiles"] == 1 and crop["images"][0]["view"]["coverage"] == 1 / 256
    table = run_cli("attribute", root / "run", tmp_path / "big.png", "--no-progress")
    assert "whole images: tiles of 16x16 at the image's own scale" in table.stdout


def test_attribute_with_only_bad_files_fails_cleanly(trained, cli_error, tmp_path):
    root, _ = trained
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8garbage")
    line = cli_error(1, "attribute", root / "run", tmp_path / "bad.jpg", "--no-progress")
    assert line == "Error: none of the given files could be attributed"
    line = cli_error(1, "attribute", root / "run", tmp_path / "nothing-here", "--no-progress")
    assert line == f"Error: no image files found in {tmp_path / 'nothing-here'}"


def test_fingerprints_are_written_with_class_order(trained, run_cli, tmp_path):
    root, _ = trained
    result = run_cli(
        "fingerprints", root / "run", root / "src" / "source_0", "--out", tmp_path / "fp", "--no-progress"
    )
    assert result.exit_code == 0, result.output
    model = np.load(tmp_path / "fp" / "model_fingerprints.npy")
    images = np.load(tmp_path / "fp" / "image_fingerprints.npy")
    assert model.shape == (3, 128) and images.shape == (400, 128)
    index = json.loads((tmp_path / "fp" / "fingerprints.json").read_text())
    assert index["classes"] == ["source_0", "source_1", "source_2"] and len(index["images"]) == 400
    st = run_cli("fingerprints", root / "run", "--out", tmp_path / "fp2", "--format", "safetensors")
    assert st.exit_code == 0 and (tmp_path / "fp2" / "fingerprints.safetensors").is_file()


def test_evaluate_refuses_a_dataset_with_other_classes_or_size(trained, cli_error, tmp_path):
    from gfcore.data.dataset import prepare_dataset

    root, _ = trained
    write_fingerprint_folders(tmp_path / "two", num_sources=2, per_source=10, size=16)
    prepare_dataset(tmp_path / "two", tmp_path / "two_ds", resolution=16)
    assert "trained for classes" in cli_error(
        1, "evaluate", root / "run", tmp_path / "two_ds", "--no-progress"
    )
    write_fingerprint_folders(tmp_path / "big", num_sources=3, per_source=10, size=32)
    prepare_dataset(tmp_path / "big", tmp_path / "big_ds", resolution=32)
    assert "expects 16x16" in cli_error(1, "evaluate", root / "run", tmp_path / "big_ds", "--no-progress")


def test_training_resumes_and_extends(trained, run_cli, json_stdout, tmp_path):
    root, _ = trained
    again = run_cli("train", root / "ds", "--out", root / "run", "--no-progress")
    assert again.exit_code == 1 and "--resume" in again.output
    done = run_cli("train", root / "ds", "--out", root / "run", "--resume", "--no-progress")
    assert done.exit_code == 0 and "nothing to do" in done.stdout
