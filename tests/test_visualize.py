"""`gfp visualize` and its parts: the numbers of the response grid, t-SNE points, the files a tiny run
gets, bad inputs skipped, methods without image fingerprints, and the confusion picture (matplotlib)."""

import json

import numpy as np
import pytest
from PIL import Image

from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.inference.responses import (
    diagonal_dominance,
    mean_by_source,
    response_maps,
    response_strengths,
)
from gfcore.studies.visualize.tsne import neighbour_agreement, tsne_2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_response_keeps_only_pixels_that_agree_in_sign_on_every_channel():
    image_fp = np.array([[[[1.0]], [[2.0]], [[-1.0]]], [[[1.0]], [[1.0]], [[1.0]]]])  # [2, 3, 1, 1]
    model_fp = np.ones((2, 3, 1, 1))
    model_fp[1] *= -1
    maps = response_maps(image_fp, model_fp)
    assert maps.shape == (2, 2, 3, 1, 1)
    assert np.all(maps[0] == 0)  # channel 3 disagrees with both fingerprints
    assert maps[1, 0].ravel().tolist() == [1, 1, 1] and np.all(maps[1, 1] == 0)
    assert response_strengths(image_fp, model_fp).tolist() == [[0, 0], [3, 0]]


def test_diagonal_dominance():
    assert diagonal_dominance(np.full((3, 3), 2.0)) == pytest.approx(1.0)
    assert diagonal_dominance(np.eye(3) * 3 + 1) == pytest.approx(4.0)
    assert diagonal_dominance(np.eye(2)) is None  # nothing off the diagonal to compare with


@pytest.mark.parametrize(("rho", "low", "high"), [(0.0, 0.9, 1.1), (0.2, 1.5, 1.9), (0.5, 3.0, 4.0)])
def test_dominance_follows_the_per_pixel_correlation_of_image_and_model_fingerprints(rho, low, high):
    """What the README's reading of the dominance rests on: with Gaussian image fingerprints
    ``rho * W_y + sqrt(1 - rho^2) * noise`` and independent Gaussian model fingerprints W, the dominance is
    1 at rho = 0 and grows with rho (over 30 seeds of this size: 0.98-1.04, 1.66-1.79, 3.29-3.63)."""
    rng = np.random.default_rng(0)
    sources, per_source = 4, 40
    models = rng.standard_normal((sources, 3, 16, 16))
    labels = np.repeat(np.arange(sources), per_source)
    noise = rng.standard_normal((len(labels), 3, 16, 16))
    image_fps = rho * models[labels] + np.sqrt(1 - rho**2) * noise
    by_source = mean_by_source(response_strengths(image_fps, models), labels, sources)
    assert low < diagonal_dominance(by_source) < high


def test_tsne_gives_one_2d_point_per_image_and_separates_separable_clusters():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    features = rng.normal(size=(60, 3, 4, 4)) + 6 * labels[:, None, None, None]  # three far-apart clusters
    points = tsne_2d(features, seed=0)
    assert points.shape == (60, 2) and np.all(np.isfinite(points))
    assert neighbour_agreement(points, labels) == 1.0
    shuffled = rng.permutation(labels)  # the same points with labels that mean nothing: near chance (1/3)
    assert neighbour_agreement(points, shuffled) < 0.7
    assert tsne_2d(features[:3]).shape == (3, 2)  # too few to embed, still one point each


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, one_torch_thread):
    """A 3-source 16x16 dataset, a one-epoch visNet run and a one-epoch learned run on it (seconds)."""
    from click.testing import CliRunner

    from gfp.app import get_cli

    root = tmp_path_factory.mktemp("vis")
    write_fingerprint_folders(root / "src", 3, 30, 16, 16.0)
    runner = CliRunner()

    def gfp(*args):
        result = runner.invoke(get_cli(), [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    gfp("prepare", root / "src", "--out", root / "ds", "--resolution", 16, "--no-progress")
    for name, spec in (("visnet", "visnet:width=0.0625,lr=0.01"), ("learned", "learned:width=0.0625")):
        gfp("train", root / "ds", "--out", root / name, "--method", spec, "--epochs", 1, "--no-progress")
    gfp("train", root / "ds", "--out", root / "knn", "--method", "knn", "--no-progress")
    return root


def test_visualize_writes_every_figure_and_skips_a_bad_file(tiny, run_cli):
    good = sorted((tiny / "src" / "source_1").glob("*.png"))[:2]
    bad = tiny / "bad.png"
    bad.write_bytes(b"not an image")
    out = tiny / "figures"
    result = run_cli("visualize", tiny / "visnet", *good, bad, "--out", out, "--per-source", 3, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    names = {"model_fingerprints.png", "response_grid.png", "tsne.png"}
    names |= {f"image_{k:03d}_{p.stem}.png" for k, p in enumerate(good)}
    assert {p.split("/")[-1] for p in doc["files"]} == names
    assert {p.name for p in out.iterdir()} == names | {"visualize.json"}
    for png in names:
        with Image.open(out / png) as image:
            image.load()
            assert image.format == "PNG" and min(image.size) > 150
    assert [s["path"] for s in doc["skipped"]] == [str(bad)]
    assert sum(str(bad) in line for line in result.stderr.splitlines()) == 1  # one line for the bad file
    assert [i["path"] for i in doc["images"]] == [str(p) for p in good]
    assert set(doc["images"][0]["response_strength"]) == {"source_0", "source_1", "source_2"}
    grid = doc["response_grid"]
    assert np.array(grid["strengths"]).shape == (3, 3) and grid["diagonal_dominance"] > 0
    assert grid["test_images"] == 9 and doc["tsne"]["images"] == 9  # 3 test images of each source
    assert json.loads((out / "visualize.json").read_text()) == doc
    # without --json: the numbers, then every written file; a finished folder is never written again
    other = tiny / "figures-2"
    again = run_cli("visualize", tiny / "visnet", "--out", other, "--per-source", 3)
    assert again.exit_code == 0, again.output
    assert f"wrote {other / 'tsne.png'}" in again.stdout and "diagonal dominance" in again.stdout
    assert run_cli("visualize", tiny / "visnet", "--out", other).exit_code == 1


def test_a_method_without_image_sized_fingerprints_gets_the_tsne_and_a_line_on_the_rest(tiny, run_cli):
    out = tiny / "learned-figures"
    result = run_cli("visualize", tiny / "learned", "--out", out, "--dataset", tiny / "ds", "--per-source", 3)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["tsne.png", "visualize.json"]
    assert "skipped the model fingerprint picture" in result.stderr


def test_a_method_without_fingerprints_is_one_line_and_writes_nothing(tiny, cli_error):
    line = cli_error(1, "visualize", tiny / "knn", "--out", tiny / "knn-figures")
    assert "has no fingerprints" in line and not (tiny / "knn-figures").exists()


def test_visualize_never_writes_into_a_folder_gfp_did_not_create(tiny, cli_error):
    foreign = tiny / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    cli_error(1, "visualize", tiny / "visnet", "--out", foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_the_confusion_picture_is_drawn_with_matplotlib(tmp_path):
    from gfcore.studies.figures import save_confusion_png

    save_confusion_png(tmp_path / "c.png", [[5, 1], [0, 0]], ["a", "b"], title="t")  # an empty row too
    with Image.open(tmp_path / "c.png") as image:
        assert image.format == "PNG" and image.width > 200
    with pytest.raises(ValueError, match="shape"):
        save_confusion_png(tmp_path / "d.png", [[1, 2]], ["a", "b"])


def test_the_demo_figure_step_trains_visnet_and_records_its_figures(tiny):
    """`gfp demo --all`'s visNet step on a tiny dataset; its section lands in tables.md."""
    import torch

    from gfcore.data.dataset import load_dataset
    from gfcore.terminal.progress import NullReporter
    from gfp_demo.figures import add_figure_section, figures_lines, visnet_figures
    from gfp_demo.tasks import DemoSettings

    settings = DemoSettings(visnet="visnet:width=0.0625,lr=0.01,epochs=1", visnet_tsne_per_source=3)
    out = tiny / "demo"
    datasets = {"existence": load_dataset(tiny / "ds")}
    section = visnet_figures(out, datasets, settings, torch.device("cpu"), NullReporter())
    assert section["files"] == [
        "figures/visnet/model_fingerprints.png",
        "figures/visnet/response_grid.png",
        "figures/visnet/tsne.png",
    ]
    assert all((out / f).is_file() for f in section["files"]) and 0 <= section["accuracy"] <= 1
    assert section["response_grid"]["diagonal_dominance"] > 0 and section["tsne"]["images"] == 9
    tables = {}
    add_figure_section(tables, "visnet", section)
    markdown = "\n".join(figures_lines(tables))
    assert "## visNet on the existence task" in markdown and "(figures/visnet/response_grid.png)" in markdown


def test_the_demo_persistence_step_records_the_study(tiny):
    """`gfp demo --all`'s persistence step: the study's figure and one table row per variant in tables.md."""
    import torch

    from gfcore.data.dataset import load_dataset
    from gfcore.terminal.progress import NullReporter
    from gfp_demo.figures import add_figure_section, figures_lines, persistence_figures
    from gfp_demo.tasks import DemoSettings

    settings = DemoSettings(persistence_epochs=1, persistence_width=0.0625)
    out = tiny / "demo-persistence"
    datasets = {"existence": load_dataset(tiny / "ds")}
    section = persistence_figures(out, datasets, settings, torch.device("cpu"), NullReporter())
    assert (
        section["files"] == ["figures/persistence/persistence.png"] and (out / section["files"][0]).is_file()
    )
    assert set(section["curves"]) == {"predown", "residual", "postpool", "featpool", "tilepool"}
    tables = {}
    add_figure_section(tables, "persistence", section)
    markdown = "\n".join(figures_lines(tables))
    assert "| R | 4 | 8 | 16 |" in markdown and markdown.count("%") >= 9  # three variants at three R
