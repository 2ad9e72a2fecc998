"""`learned:outlier_exposure=W`: the made-up generator traces are real upsampling stages drawn per batch, and
training with them teaches the network to be unsure about traced images while it still attributes clean
ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gfcore.data.dataset import load_dataset, prepare_dataset
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.errors import GfpError
from gfcore.runs.attributor import load_run
from gfcore.runs.training import train_run
from gfp_learned.outliers import generator_traces, uniform_cross_entropy

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_traces_are_8_bit_images_drawn_from_the_generator():
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    a = generator_traces(x, torch.Generator().manual_seed(1))
    b = generator_traces(x, torch.Generator().manual_seed(1))
    c = generator_traces(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)  # reproducible, and a new stage per draw
    levels = (a + 1) * 127.5
    assert torch.allclose(levels, levels.round(), atol=1e-4)  # on the 256 levels of an 8-bit image
    assert uniform_cross_entropy(torch.zeros(4, 5)) == pytest.approx(np.log(5))
    # with a class excluded: uniform over the other four is the minimum, and any mass on the excluded one costs
    no_first = torch.tensor([[-30.0, 0, 0, 0, 0]])
    assert uniform_cross_entropy(no_first, excluded=0) == pytest.approx(np.log(4), abs=1e-6)
    assert uniform_cross_entropy(torch.zeros(1, 5), excluded=0) > np.log(4) + 0.2
    assert uniform_cross_entropy(no_first, excluded=2) > np.log(5) + 5


def test_network_traces_are_faint_full_resolution_patterns():
    """`outlier_traces=networks`: a random shallow network's pattern of a few grey levels, drawn afresh per
    call and reproducible per seed; `both` draws either kind."""
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    drawn = [generator_traces(x, torch.Generator().manual_seed(s), "networks") for s in (1, 1, 2)]
    assert torch.equal(drawn[0], drawn[1]) and not torch.equal(drawn[0], drawn[2])
    for traced in drawn:
        levels = (traced - x) * 127.5
        assert 0.5 < levels.pow(2).mean().sqrt() < 7  # NETWORK_LEVELS is 1 to 6, before quantisation
        assert torch.allclose((traced + 1) * 127.5, ((traced + 1) * 127.5).round(), atol=1e-4)
    upsampled = generator_traces(x, torch.Generator().manual_seed(1))
    assert (upsampled - x).abs().mean() * 127.5 > 20  # noise at half resolution loses most of itself
    kinds = {
        "networks" if ((t - x) * 127.5).abs().mean() < 10 else "upsampling"
        for t in (generator_traces(x, torch.Generator().manual_seed(s), "both") for s in range(8))
    }
    assert kinds == {"networks", "upsampling"}


def _traced_probabilities(run, images: torch.Tensor) -> tuple[float, float, float]:
    """Mean top probability on clean and on traced images, and the traced images' mean probability of
    class 0."""
    attributor, _ = load_run(run)
    traced = generator_traces(images.float() / 127.5 - 1, torch.Generator().manual_seed(99))
    traced = torch.round((traced + 1) * 127.5).to(torch.uint8)
    clean_p, traced_p = (torch.softmax(attributor.logits(x), 1) for x in (images, traced))
    return (
        clean_p.max(1).values.mean().item(),
        traced_p.max(1).values.mean().item(),
        traced_p[:, 0].mean().item(),
    )


def test_training_with_outlier_exposure_is_unsure_of_traces_and_still_attributes(tmp_path):
    write_fingerprint_folders(tmp_path / "src", num_sources=3, per_source=100, size=16, amplitude=24.0)
    prepare_dataset(tmp_path / "src", tmp_path / "ds", resolution=16, seed=0)
    data = load_dataset(tmp_path / "ds")
    test = data.split("test")
    images = torch.from_numpy(np.array(test.images))
    found = {}
    for name, options in {
        "off": "",
        "uniform": ",outlier_exposure=1",
        "not 0": ",outlier_exposure=1,outlier_real_class=source_0",
    }.items():
        spec = f"learned:width=0.125,lr=0.01{options}"
        train_run(data, tmp_path / name, spec, overrides={"epochs": 8, "batch_size": 16})
        attributor, _ = load_run(tmp_path / name)
        accuracy = (attributor.logits(images).argmax(1).numpy() == test.labels).mean()
        assert accuracy >= 0.85, (name, accuracy)  # chance: 1/3
        found[name] = _traced_probabilities(tmp_path / name, images)
    # measured: top probability on traced test images 0.85 without, 0.47 with (uniform: 0.33)
    assert found["off"][1] > 0.75 and found["uniform"][1] < 0.6, found
    # keeping traces away from class 0 puts almost nothing there (measured 0.005; top probability 0.57 where
    # uniform over the other two is 0.5)
    assert found["not 0"][2] < 0.1 and found["not 0"][1] < 0.75, found


def test_training_against_network_traces_is_unsure_of_them(tmp_path):
    write_fingerprint_folders(tmp_path / "src", num_sources=3, per_source=100, size=16, amplitude=24.0)
    prepare_dataset(tmp_path / "src", tmp_path / "ds", resolution=16, seed=0)
    data = load_dataset(tmp_path / "ds")
    images = torch.from_numpy(np.array(data.split("test").images))
    top = {}
    for weight in (0, 1):
        spec = f"learned:width=0.125,lr=0.01,outlier_exposure={weight},outlier_traces=networks"
        train_run(data, tmp_path / str(weight), spec, overrides={"epochs": 8, "batch_size": 16})
        attributor, _ = load_run(tmp_path / str(weight))
        traced = generator_traces(images.float() / 127.5 - 1, torch.Generator().manual_seed(99), "networks")
        traced = torch.round((traced + 1) * 127.5).to(torch.uint8)
        accuracy = (attributor.logits(images).argmax(1).numpy() == data.split("test").labels).mean()
        assert accuracy >= 0.85, (weight, accuracy)
        top[weight] = torch.softmax(attributor.logits(traced), 1).max(1).values.mean().item()
    # measured: top probability on network-traced test images 0.98 without, 0.58 with (uniform: 0.33)
    assert top[0] > 0.85 and top[1] < 0.75, top


def test_an_excluded_class_that_is_not_a_class_is_refused(tmp_path):
    write_fingerprint_folders(tmp_path / "src", num_sources=2, per_source=20, size=16)
    prepare_dataset(tmp_path / "src", tmp_path / "ds", resolution=16, seed=0)
    with pytest.raises(GfpError, match="outlier_real_class='real' is not one of the classes"):
        train_run(
            load_dataset(tmp_path / "ds"),
            tmp_path / "run",
            "learned:outlier_exposure=1,outlier_real_class=real",
        )
