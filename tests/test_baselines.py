"""The baselines learn the synthetic tasks they should and fail on the ones they cannot.

Each task has three sources sharing one kind of varied content; they differ in one way only:
* ``layout``: coarse colour and a bright block in a source-specific place (pixels see it);
* ``noise_pattern``: a fixed, weak, pixel-level noise pattern per source (PRNU sees it, pixels do not);
* ``global_colour``: a colour cast, every image with fresh noise of the same statistics (PRNU is blind);
* ``periodic``: a high-frequency cosine of random phase at a source-specific frequency (the DCT sees it).
Chance is 1/3; "learned" means >= 0.9, "failed" <= 0.55.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gfcore.interfaces import FitContext, Split
from gfcore.plugins import get_registries
from gfcore.storage.tensorio import load_tensors, save_tensors
from gfcore.terminal.progress import NullReporter

# tiny tensors on a shared 2-core machine: one torch thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLASSES = ["a", "b", "c"]


# -- synthetic tasks ---------------------------------------------------------------------------------
def smooth_content(
    rng: np.random.Generator, n: int, size: int, low: float = 40, high: float = 215
) -> np.ndarray:
    """float [n, 3, size, size]: random 4x4 colour fields, bilinearly upsampled (content without fine detail)."""
    coarse = torch.from_numpy(rng.uniform(low, high, size=(n, 3, 4, 4)))
    return torch.nn.functional.interpolate(
        coarse, size=(size, size), mode="bilinear", align_corners=True
    ).numpy()


def make_task(kind: str, per_class: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    fixed = np.random.default_rng(999)  # the sources' identities: the same in every split
    images, labels = [], []
    patterns = fixed.normal(0, 4.0, size=(3, 3, size, size))
    for c in range(3):
        x = smooth_content(rng, per_class, size)
        if kind == "layout":
            x = (
                0.5 * x
                + 0.5 * np.array([[200, 60, 60], [60, 200, 60], [60, 60, 200]])[c][None, :, None, None]
            )
            h = size // 2
            r0, c0 = [(0, 0), (0, h), (h, 0)][c]
            x[:, :, r0 : r0 + h, c0 : c0 + h] += 40
            x += rng.normal(0, 8, size=x.shape)
        elif kind == "noise_pattern":
            x = x + patterns[c]
        elif kind == "global_colour":
            x = x + np.array([[25, 0, 0], [0, 25, 0], [0, 0, 25]])[c][None, :, None, None]
            x += rng.normal(0, 4.0, size=x.shape)
        elif kind == "periodic":
            grid = np.arange(size)
            freq = [None, (0.0, 0.8 * np.pi), (0.8 * np.pi, 0.8 * np.pi)][c]
            if freq is not None:
                phase = rng.uniform(0, 2 * np.pi, size=(per_class, 1, 1, 1))
                wave = np.cos(freq[0] * grid[:, None] + freq[1] * grid[None, :] + phase)
                x = x + 6.0 * wave
            x += rng.normal(0, 2.0, size=x.shape)
        else:
            raise ValueError(kind)
        images.append(np.clip(np.round(x), 0, 255).astype(np.uint8))
        labels.append(np.full(per_class, c, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def splits(kind: str, size: int, train: int, val: int, test: int) -> tuple[Split, Split, Split]:
    return tuple(Split(*make_task(kind, n, size, seed)) for n, seed in ((train, 1), (val, 2), (test, 3)))


def make(name: str, size: int, **params):
    from gfcore.config import build_config

    cls = get_registries().baselines.get(name)
    return cls(CLASSES, size, build_config(cls.Config, params, name), torch.device("cpu"))


def fit(method, train: Split, val: Split) -> FitContext:
    ctx = FitContext(device=torch.device("cpu"), progress=NullReporter(), seed=0)
    method.fit(train, val, ctx)
    return ctx


def test_accuracy(method, split: Split) -> float:
    logits = method.logits(torch.from_numpy(split.images))
    assert logits.shape == (len(split), len(CLASSES)) and logits.device.type == "cpu"
    return float((logits.argmax(1).numpy() == split.labels).mean())


test_accuracy.__test__ = False  # a helper, not a test


def assert_round_trip(method, name: str, size: int, images: np.ndarray, tmp_path, **params) -> None:
    """Saved as safetensors and loaded into a fresh instance, the method gives identical logits."""
    path = tmp_path / f"{name}.safetensors"
    save_tensors(path, method.state_dict())
    tensors, _ = load_tensors(path)
    fresh = make(name, size, **params)
    fresh.load_state_dict(tensors)
    x = torch.from_numpy(images)
    assert torch.equal(method.logits(x), fresh.logits(x))


# -- registration ---------------------------------------------------------------------------------------
def test_all_baselines_are_registered():
    assert {"knn", "eigenface", "prnu", "dct", "cnn"} <= set(get_registries().baselines.names())


@pytest.mark.parametrize("name", get_registries().attributor_names())
def test_every_method_describes_itself(name):
    assert get_registries().attributor(name).description.strip()


# -- kNN ------------------------------------------------------------------------------------------------------
def test_knn_candidates_and_tie_break():
    from gfp_baselines.knn import k_candidates, vote_scores

    assert k_candidates(40) == [1, 3, 5, 9, 17, 33]
    assert k_candidates(1) == [1]
    assert k_candidates(5000) == [1, 3, 5, 9, 17, 33, 65, 129, 257, 513, 1025]
    assert k_candidates(5000, max_k=20) == [1, 3, 5, 9, 17]
    # two votes each for classes 0 and 1; class 1's voters are nearer in total, so it wins the tie
    labels = torch.tensor([[1, 0, 0, 1]])
    dists = torch.tensor([[1.0, 2.0, 2.5, 3.0]])
    scores = vote_scores(labels, dists, 3)
    assert scores.argmax(1).item() == 1
    assert ((scores[0, :2] > 0.5) & (scores[0, :2] < 0.5 + 1 / 8)).all() and scores[0, 2] == 0
    # the tie-break never overrides a vote: three votes beat two nearer ones
    scores = vote_scores(torch.tensor([[0, 0, 1, 1, 1]]), torch.tensor([[0.0, 0.0, 9.0, 9.0, 9.0]]), 2)
    assert scores.argmax(1).item() == 1


def test_knn_learns_layout_and_round_trips(tmp_path):
    train, val, test = splits("layout", 16, 30, 15, 30)
    knn = make("knn", 16)
    ctx = fit(knn, train, val)
    assert ctx.history[-1]["chosen_k"] in (1, 3, 5, 9, 17, 33, 65)
    assert set(ctx.history[-1]["val_accuracy_by_k"]) == {"1", "3", "5", "9", "17", "33", "65"}
    assert test_accuracy(knn, test) >= 0.9
    assert_round_trip(knn, "knn", 16, test.images, tmp_path)


def test_knn_is_near_chance_on_a_weak_noise_pattern():
    train, val, test = splits("noise_pattern", 16, 40, 20, 60)
    knn = make("knn", 16)
    fit(knn, train, val)
    assert test_accuracy(knn, test) <= 0.55


# -- Eigenface ---------------------------------------------------------------------------------------------
def test_eigenface_learns_layout_and_round_trips(tmp_path):
    train, val, test = splits("layout", 16, 40, 20, 30)
    method = make("eigenface", 16, max_fit_images=100)
    ctx = fit(method, train, val)
    record = ctx.history[-1]
    assert record["chosen_variance_fraction"] in (0.25, 0.5, 0.75, 0.95)
    assert record["pca_images"] == 100
    assert 1 <= record["chosen_components"] <= 100
    assert test_accuracy(method, test) >= 0.9
    assert_round_trip(method, "eigenface", 16, test.images, tmp_path, max_fit_images=100)


def test_eigenface_is_near_chance_on_a_weak_noise_pattern():
    train, val, test = splits("noise_pattern", 16, 40, 20, 60)
    method = make("eigenface", 16)
    fit(method, train, val)
    assert test_accuracy(method, test) <= 0.55


def test_classic_eigenface_nn_learns_the_colour_task_and_round_trips(tmp_path):
    """classifier=nn: the nearest training image in the eigenspace. The colour cast (25 levels) is small next
    to the content's variation, which dominates the distance: 1-NN reaches about 0.7 (measured 0.69 with
    these sizes; chance is 1/3 and one standard error at 180 test images is 0.035, so 0.6 is learning)."""
    train, val, test = splits("global_colour", 16, 150, 40, 60)
    method = make("eigenface", 16, classifier="nn")
    ctx = fit(method, train, val)
    assert ctx.history[-1]["classifier"] == "nn"
    assert ctx.history[-1]["chosen_variance_fraction"] in (0.25, 0.5, 0.75, 0.95)
    assert test_accuracy(method, test) >= 0.6
    # its model is the projected training set, and its logits put the nearest neighbour's class first
    assert method.state_dict()["train_features"].shape[0] == len(train)
    assert_round_trip(method, "eigenface", 16, test.images, tmp_path, classifier="nn")
    layout_train, layout_val, layout_test = splits("layout", 16, 40, 20, 30)
    layout = make("eigenface", 16, classifier="nn")
    fit(layout, layout_train, layout_val)
    assert test_accuracy(layout, layout_test) >= 0.9


def test_eigenface_classifier_is_one_of_two():
    from gfcore.config import check_config
    from gfcore.errors import GfpError

    method = make("eigenface", 16, classifier="nn")
    check_config(method.config, "eigenface")
    with pytest.raises(GfpError, match="choose one of logistic, nn"):
        check_config(make("eigenface", 16, classifier="svm").config, "eigenface")


# -- PRNU ---------------------------------------------------------------------------------------------------------
def test_prnu_learns_noise_patterns_and_round_trips(tmp_path):
    train, val, test = splits("noise_pattern", 32, 20, 10, 30)
    prnu = make("prnu", 32)
    ctx = fit(prnu, train, val)
    assert ctx.history[-1]["chosen_sigma"] in (1.0, 3.0, 5.0)
    assert test_accuracy(prnu, test) >= 0.9
    # fingerprints: residuals per image, the class average per source, and the logits are their NCC
    x = torch.from_numpy(test.images[:5])
    residuals = prnu.image_fingerprints(x)
    fingerprints = prnu.model_fingerprints()
    assert residuals.shape == (5, 32 * 32) and fingerprints.shape == (3, 32 * 32)
    assert torch.allclose(
        prnu.logits(x), torch.corrcoef(torch.cat([residuals, fingerprints]))[:5, 5:], atol=1e-5
    )
    assert_round_trip(prnu, "prnu", 32, test.images, tmp_path)


def test_prnu_is_near_chance_when_sources_differ_only_in_colour():
    train, val, test = splits("global_colour", 32, 20, 10, 60)
    prnu = make("prnu", 32, sigma_grid="")
    assert prnu.config.sigma_grid == ()
    ctx = fit(prnu, train, val)
    assert ctx.history[-1]["chosen_sigma"] == 3.0
    assert test_accuracy(prnu, test) <= 0.55


def test_prnu_rejects_a_resolution_the_wavelet_cannot_halve():
    from gfcore.errors import GfpError

    with pytest.raises(GfpError, match="levels"):
        make("prnu", 24, boundary="periodization")  # 24 is not divisible by 2^4
    make("prnu", 24)  # the symmetric extension (the default, as the reference) takes any size
    with pytest.raises(GfpError, match="choose one of symmetric, periodization"):
        from gfcore.config import check_config

        check_config(make("prnu", 32, boundary="zero").config, "prnu")


# -- the denoiser and its wavelets --------------------------------------------------------------------------
def test_daubechies_filters_are_the_published_ones():
    from gfp_baselines.wavelet import daubechies_lowpass

    # PyWavelets' Wavelet("db4").dec_lo
    db4 = [
        -0.010597401784997278,
        0.032883011666982945,
        0.030841381835986965,
        -0.18703481171888114,
        -0.02798376941698385,
        0.6308807679295904,
        0.7148465705525415,
        0.23037781330885523,
    ]
    assert np.allclose(daubechies_lowpass(4), db4, atol=1e-10)
    assert np.allclose(daubechies_lowpass(1), [2**-0.5, 2**-0.5])
    db8 = np.array(daubechies_lowpass(8))
    assert len(db8) == 16 and np.isclose(db8.sum(), 2**0.5) and np.isclose((db8**2).sum(), 1.0)


def test_wavelet_transform_is_orthogonal_with_vanishing_moments():
    from gfp_baselines.wavelet import filter_bank, wavedec2, waverec2

    bank = filter_bank(4, torch.device("cpu"), torch.float64)
    x = torch.randn(2, 3, 16, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    approx, details = wavedec2(x, bank, levels=4)
    assert torch.allclose(waverec2(approx, details, bank), x, atol=1e-10)
    energy = approx.pow(2).sum() + sum(band.pow(2).sum() for level in details for band in level)
    assert torch.isclose(energy, x.pow(2).sum())
    # db4 has four vanishing moments: the high-pass filter annihilates polynomials of degree < 4
    n = torch.arange(8, dtype=torch.float64)
    assert all(abs(float((bank[1] * n**p).sum())) < 1e-8 for p in range(4))


@pytest.mark.parametrize("mode", ["periodization", "symmetric"])
def test_matrix_transform_equals_its_conv_definition(mode):
    # the fast path (one cached matrix per axis and level) against the conv2d filter-bank definition
    from gfp_baselines.wavelet import _analyse_last_dim, _synthesise_last_dim, dwt2, filter_bank, idwt2

    bank = filter_bank(4, torch.device("cpu"), torch.float64)
    x = torch.randn(2, 3, 24, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    lo_w, hi_w = _analyse_last_dim(x, bank, mode)
    ll, lh = (t.transpose(-1, -2) for t in _analyse_last_dim(lo_w.transpose(-1, -2), bank, mode))
    hl, hh = (t.transpose(-1, -2) for t in _analyse_last_dim(hi_w.transpose(-1, -2), bank, mode))
    fast_ll, (fast_lh, fast_hl, fast_hh) = dwt2(x, bank, mode)
    for fast, slow in ((fast_ll, ll), (fast_lh, lh), (fast_hl, hl), (fast_hh, hh)):
        assert torch.allclose(fast, slow, atol=1e-12)
    t = lambda v: v.transpose(-1, -2)  # noqa: E731
    lo = t(_synthesise_last_dim(t(ll), t(lh), bank, mode))
    hi = t(_synthesise_last_dim(t(hl), t(hh), bank, mode))
    assert torch.allclose(
        idwt2(ll, (lh, hl, hh), bank, mode), _synthesise_last_dim(lo, hi, bank, mode), atol=1e-12
    )


def test_local_variance_equals_zero_padded_window_means():
    import torch.nn.functional as F

    from gfp_baselines.denoise import WINDOWS, local_variance

    c = torch.randn(2, 3, 19, 13, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 5
    expected = None
    for w in WINDOWS:  # MATLAB filter2 semantics: zeros beyond the border, divided by the full window
        mean = F.avg_pool2d(c.pow(2), w, stride=1, padding=w // 2, count_include_pad=True)
        var = (mean - 9.0).clamp_min(0)
        expected = var if expected is None else torch.minimum(expected, var)
    assert torch.allclose(local_variance(c, 9.0), expected, atol=1e-10)


def test_denoiser_residuals_on_known_signals():
    from gfp_baselines.denoise import noise_residual

    gen = torch.Generator().manual_seed(0)
    constant = torch.full((4, 3, 32, 32), 128.0)
    # float32: a constant comes back up to round-off of its own magnitude (128 * eps32 ~ 1.5e-5 per operation)
    assert noise_residual(constant).abs().max() <= 128 * 16 * torch.finfo(torch.float32).eps
    # white noise at the denoiser's noise level is (mostly) kept in the residual
    noise = torch.randn(4, 1, 32, 32, generator=gen).expand(4, 3, 32, 32) * 2.0
    residual = noise_residual(constant + noise, sigma=3.0)
    reference = noise[:, 0] - noise[:, 0].mean(dim=(1, 2), keepdim=True)
    correlation = (residual * reference).sum((1, 2)) / (
        residual.norm(dim=(1, 2)) * reference.norm(dim=(1, 2))
    )
    assert (correlation > 0.9).all()
    # smooth content is (mostly) removed: the residual holds a small share of its energy
    smooth = torch.from_numpy(smooth_content(np.random.default_rng(0), 4, 32)).float()
    smooth_residual = noise_residual(smooth, sigma=3.0)
    assert smooth_residual.std() < 0.05 * smooth.std()


# -- DCT -----------------------------------------------------------------------------------------------------
def test_dct_matrix_is_orthonormal_dct_ii():
    from gfp_baselines.dct import dct2, dct_matrix

    d = dct_matrix(16, torch.device("cpu"), torch.float64)
    assert torch.allclose(d @ d.t(), torch.eye(16, dtype=torch.float64), atol=1e-12)
    constant = torch.full((16, 16), 3.0, dtype=torch.float64)
    spectrum = dct2(constant, d)
    assert torch.isclose(spectrum[0, 0], torch.tensor(3.0 * 16, dtype=torch.float64))
    assert spectrum.flatten()[1:].abs().max() < 1e-10


def test_dct_learns_periodic_patterns_that_pixels_miss(tmp_path):
    train, val, test = splits("periodic", 16, 60, 20, 30)
    method = make("dct", 16)
    ctx = fit(method, train, val)
    assert ctx.history[-1]["chosen_C"] in (1e-3, 1e-2, 1e-1, 1.0, 10.0)
    assert test_accuracy(method, test) >= 0.9
    assert_round_trip(method, "dct", 16, test.images, tmp_path)
    rgb = make("dct", 16, channels="rgb", c_grid="0.01")
    fit(rgb, train, val)
    assert rgb.state_dict()["weight"].shape == (3, 3 * 16 * 16)
    assert_round_trip(rgb, "dct", 16, test.images, tmp_path, channels="rgb")
    knn = make("knn", 16)  # random phase: no pixel-space neighbour shares the pattern
    fit(knn, train, val)
    assert test_accuracy(knn, test) <= 0.55


# -- CNN -------------------------------------------------------------------------------------------------------
def test_cnn_learns_layout_and_exposes_fingerprints(tmp_path):
    torch.manual_seed(0)
    train, val, test = splits("layout", 32, 48, 12, 30)
    params = {"arch": "resnet10t", "epochs": 3, "batch_size": 16, "lr": 1e-3}
    cnn = make("cnn", 32, **params)
    ctx = fit(cnn, train, val)
    assert len(ctx.history) == 3
    assert test_accuracy(cnn, test) >= 0.9
    x = torch.from_numpy(test.images[:4])
    assert cnn.image_fingerprints(x).shape == (4, 512)
    assert cnn.model_fingerprints().shape == (3, 512)
    assert_round_trip(cnn, "cnn", 32, test.images, tmp_path, **params)


def test_cnn_rejects_an_unknown_architecture():
    from gfcore.errors import GfpError

    with pytest.raises(GfpError, match="unknown timm architecture"):
        make("cnn", 32, arch="no_such_net")


# -- through the run layer ---------------------------------------------------------------------------
def test_knn_trains_and_reloads_as_a_run(tmp_path, tiny_dataset):
    from gfcore.runs.attributor import load_run
    from gfcore.runs.training import train_run

    result = train_run(tiny_dataset, tmp_path / "run", "knn")
    assert "chosen_k" in result.info["history"][-1]
    loaded, info = load_run(tmp_path / "run")
    images = torch.from_numpy(np.array(tiny_dataset.split("test").images))
    assert torch.equal(loaded.logits(images), result.attributor.logits(images))


def test_principal_axes_by_scatter_matrix_match_the_svd():
    # the fast path (eigenvectors of the D x D scatter matrix, N >= D) against the SVD of the data itself
    from gfp_baselines.eigenface import principal_axes

    gen = torch.Generator().manual_seed(3)
    scales = torch.logspace(0, -2, 48)  # variances spanning four decades, as pixel PCA spectra do
    x = torch.randn(600, 48, generator=gen) * scales @ torch.linalg.qr(torch.randn(48, 48, generator=gen))[0]
    x = x - x.mean(0)
    fast_values, fast_axes, _ = principal_axes(x)  # 600 images >= 48 pixels
    _, s, vh = torch.linalg.svd(x.double(), full_matrices=False)
    # float32 scatter matrix: each value is off by a few float32 epsilons of the LARGEST one (~5e-8 here)
    assert (fast_values.double() - s.pow(2)).abs().max() < 1e-6 * s[0] ** 2
    alignment = (fast_axes[:20].double() * vh[:20]).sum(1).abs()  # the same directions, up to sign
    assert (alignment > 0.999).all()
    slow_values, _, _ = principal_axes(x[:40])  # fewer images than pixels: the SVD path
    assert torch.allclose(slow_values, torch.linalg.svdvals(x[:40]).pow(2), rtol=1e-4)
