"""The Python API (``import gfp``): a run loaded once answers for paths, PIL images, arrays and tensors of
any size, exactly as ``gfp attribute`` does, and never guesses the range of float pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import gfp
from gfcore.errors import GfpError
from gfcore.runs.training import train_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def run_dir(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "run"
    train_run(tiny_dataset, out, "learned:width=0.125", overrides={"epochs": 2, "batch_size": 8})
    return out


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    rgb = np.random.default_rng(3).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("api-images") / "x.png"
    Image.fromarray(rgb).save(path)
    return path, rgb


def test_every_input_form_gives_the_answer_of_the_command_line(run_dir, image_file, run_cli, json_stdout):
    path, rgb = image_file
    model = gfp.load(run_dir, device="cpu")
    cli = json_stdout(run_cli("attribute", run_dir, path, "--json", "--no-progress"))["images"][0]
    forms = {
        "path": path,
        "str": str(path),
        "PIL": Image.open(path),
        "uint8 HWC array": rgb,
        "uint8 CHW tensor": torch.from_numpy(rgb).permute(2, 0, 1),
        "float tensor in [0, 1]": torch.from_numpy(rgb).permute(2, 0, 1).float() / 255,
    }
    for form, item in forms.items():
        value_range = (0, 1) if form.startswith("float") else None
        result = model.predict(item, value_range=value_range)
        assert isinstance(result, gfp.Prediction), form
        assert result.source == cli["predicted"], form
        np.testing.assert_allclose(result.logits, cli["logits"], rtol=0, atol=1e-5, err_msg=form)
        for c, p in cli["probabilities"].items():
            assert result.probabilities[c] == pytest.approx(p, abs=1e-6), form
        assert result.view == cli["view"] and result.view["tiles"] == 3 * 4, form  # 40x56 at 16: 3 x 4 tiles


def test_lists_and_batches_give_lists_in_order(run_dir, image_file):
    path, rgb = image_file
    model = gfp.load(run_dir, device="cpu")
    one = model.predict(rgb)
    several = model.predict([rgb, path, rgb[:16, :16]])
    assert [r.source for r in several[:2]] == [one.source] * 2 and several[2].view["tiles"] == 1
    batch = torch.from_numpy(np.stack([rgb[:32, :32]] * 3)).permute(0, 3, 1, 2)  # [3, 3, 32, 32]
    results = model.predict(batch)
    assert len(results) == 3 and len({tuple(r.logits) for r in results}) == 1
    assert results[0].view["tiles"] == 4
    assert model.predict([]) == []


def test_float_pixels_without_a_range_are_refused_never_guessed(run_dir, image_file):
    _, rgb = image_file
    model = gfp.load(run_dir, device="cpu")
    as_float = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    with pytest.raises(GfpError, match=r"need value_range=\(low, high\)"):
        model.predict(as_float)
    with pytest.raises(GfpError, match="outside value_range"):
        model.predict(as_float * 255, value_range=(0, 1))
    with pytest.raises(GfpError, match="is not an image"):
        model.predict(42)
    with pytest.raises(GfpError, match="smaller than the run's 16x16"):
        model.predict(rgb[:8, :8])
    assert model.predict(rgb[:8, :8], upsample_small=True).view["policy"] == "upsampled"


def test_fingerprints_and_inference_mode(run_dir, image_file):
    _, rgb = image_file
    model = gfp.load(run_dir, device="cpu")
    fp = model.fingerprints([rgb, rgb[:16, :16]])
    assert fp["image"].shape[0] == 2 and fp["model"].shape[0] == len(model.classes)
    assert fp["image"].shape[1] == fp["model"].shape[1]
    model.predict(rgb)
    assert not model.attributor.network.training
    assert "learned 16x16" in repr(model)


def test_gfp_loads_its_api_lazily():
    import subprocess
    import sys

    code = "import sys, gfp; print('torch' in sys.modules, sorted(gfp.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert (
        out.strip()
        == "False ['Model', 'Prediction', 'create_app', 'generators', 'load', 'sample', 'shipped_runs']"
    )


def test_the_shipped_attributor_attributes_fresh_images_of_its_sources(run_cli, json_stdout, tmp_path):
    """``shipped:existence`` is installed with gfp: the demo's five-source network, loaded by name. On
    images none of its splits used (other latent seeds, the photos' test regions at another draw) it must
    name the source far above chance (20%)."""
    from gfcore import get_registries, load_shipped_gan

    model = gfp.load("shipped:existence", device="cpu")
    assert model.classes == ["real", "ProGAN", "SNGAN", "CramerGAN", "MMDGAN"]
    shipped = model.info["shipped"]
    assert shipped["reproduce"].startswith("gfp demo") and 0.9 < shipped["test_accuracy"] <= 1
    n = 40
    photos = get_registries().real_sources.get("photos")
    images = [torch.from_numpy(photos(photos.Config()).sample(n, 32, seed=7, split="test"))]
    for name in ("progan_seed0", "sngan", "cramergan", "mmdgan"):
        images.append(load_shipped_gan(name, torch.device("cpu")).sample(n, seed=4242))
    batch = torch.cat(images)
    truth = np.repeat(np.arange(5), n)
    predicted = [
        model.classes.index(p.source) if p.source in model.classes else -1
        for p in model.predict(batch, open_set=False)
    ]
    # 97.12% on the demo's test split; these 200 fresh images: measured 0.965
    assert np.mean(np.array(predicted) == truth) >= 0.85
    # the command line takes the same name, and lists the run with its provenance
    Image.fromarray(batch[n].permute(1, 2, 0).numpy()).save(tmp_path / "progan.png")
    answer = json_stdout(run_cli("attribute", "shipped:existence", tmp_path / "progan.png", "--json"))
    assert answer["run"] == "shipped:existence" and answer["images"][0]["predicted"] == "ProGAN"
    listed = json_stdout(run_cli("plugins", "--json"))["shipped_runs"]
    assert {"name": "shipped:existence", "method": "learned"}.items() <= listed[0].items()
    with pytest.raises(GfpError, match="shipped:existence"):
        gfp.load("shipped:nonesuch")
