"""visNet, the fingerprint visualiser: shapes at any resolution, exact resume of both optimisers and the moving
average, and learning a synthetic task whose model fingerprints must come to resemble the true patterns."""

import numpy as np
import pytest
import torch

from gfcore.data.synthetic import fingerprint_task, source_patterns
from gfcore.errors import GfpError
from gfcore.interfaces import FitContext, Split
from gfcore.terminal.progress import NullReporter
from gfp_visnet.method import VisNetAttributor, VisNetConfig
from gfp_visnet.network import VisNet, VisNetAE

# tiny tensors on a shared 2-core machine: one torch thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_autoencoder_shapes_at_any_resolution(resolution):
    ae = VisNetAE(resolution, 3, width=0.0625)
    x = torch.rand(2, 3, resolution, resolution) * 2 - 1
    assert ae.encoder(x).shape == (2, 32, 4, 4)  # 512 x width channels at 4x4
    rec = ae.reconstruct(x)
    assert rec.shape == x.shape and rec.abs().max() <= 1  # tanh
    assert torch.allclose(ae.image_fingerprint(x), x - rec)
    assert ae(x).shape == (2, 3)
    assert ae.fingerprints.shape == (3, 3, resolution, resolution)


def test_bottleneck_is_4x4x512_at_width_1():
    ae = VisNetAE(128, 2)
    assert ae.encoder(torch.zeros(1, 3, 128, 128)).shape == (1, 512, 4, 4)
    assert [m.weight.shape[0] for m in ae.decoder if hasattr(m, "weight")][-3:] == [16, 16, 3]


def test_bad_resolution_is_one_line_error():
    with pytest.raises(GfpError, match="power of two"):
        VisNet(24, 2)


def _task(per_source, size=16, amplitude=16.0, sources=4):
    images, labels = fingerprint_task(sources, per_source, size=size, amplitude=amplitude, seed=0)
    order = np.random.default_rng(0).permutation(len(labels))
    return images[order], labels[order]


def _fit(config, train, val, resume=None, seed=0):
    checkpoints = []
    method = VisNetAttributor([f"s{i}" for i in range(4)], 16, config)
    ctx = FitContext(
        device=torch.device("cpu"),
        progress=NullReporter(),
        seed=seed,
        checkpoint=lambda step, tensors, meta, *a, **k: checkpoints.append(
            ({n: t.clone() for n, t in tensors.items()}, meta)
        ),
        resume=resume,
    )
    method.fit(train, val, ctx)
    return method, checkpoints


def test_resume_continues_exactly_with_both_optimisers_and_the_average():
    images, labels = _task(8)
    train, val = Split(images[:24], labels[:24]), Split(images[24:], labels[24:])
    config = VisNetConfig(epochs=2, width=0.0625, batch_size=8)
    whole, checkpoints = _fit(config, train, val)
    tensors, meta = checkpoints[0]
    assert any(k.startswith("critic.") for k in tensors)  # the critic's optimiser state is kept
    assert "optimizer.critic" in meta and "optimizer" in meta
    resumed, _ = _fit(config, train, val, resume=checkpoints[0])
    a, b = whole.network.state_dict(), resumed.network.state_dict()
    assert int(a["ema_steps"]) == 2 * 3
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def synthetic_visnet(one_torch_thread):
    """visNet trained on 4 sources, 16x16, a +-16/255 additive tile per source; ~12 s on one thread.
    Returns (method, held-out images, their labels)."""
    sources, size, amplitude = 4, 16, 16.0
    images, labels = _task(64, size, amplitude, sources)
    n = len(labels) * 3 // 4
    train, val = Split(images[:n], labels[:n]), Split(images[n:], labels[n:])
    # lr 0.01: the model fingerprints are equalised-LR parameters and move ~lr per step, so the paper's
    # 1e-3 needs thousands of steps to shape them; this run has 120.
    config = VisNetConfig(epochs=10, width=0.125, batch_size=16, flip=False, lr=0.01)
    method, _ = _fit(config, train, val)
    return method, images[n:].copy(), labels[n:]


def test_visnet_learns_additive_patterns_and_its_model_fingerprints_match_them(synthetic_visnet):
    method, held_out, held_labels = synthetic_visnet
    sources, size, amplitude = 4, 16, 16.0
    test = torch.from_numpy(held_out)
    accuracy = float((method.logits(test).argmax(1).numpy() == held_labels).mean())
    # chance is 0.25 and the untrained net is near it; measured 1.00 (the first epoch's EMA gives ~0.55)
    assert accuracy >= 0.9, accuracy

    # Softmax ignores what all model fingerprints share, so compare deviations from the mean over sources.
    truth = source_patterns(sources, size, amplitude)
    truth = truth - truth.mean(0)
    learned = method.model_fingerprints().numpy()
    assert learned.shape == (sources, 3, size, size)
    learned = learned - learned.mean(0)
    corr = [np.corrcoef(truth[s].ravel(), learned[s].ravel())[0, 1] for s in range(sources)]
    # Measured ~0.47 for each source. An unrelated image-sized tensor correlates ~N(0, 1/sqrt(768)), i.e.
    # |r| < 0.15 at 4 sigma; 0.3 is far above that and far enough below what learning reaches. (The
    # fingerprints also carry the content residual, which is why r stays below 1.)
    assert min(corr) > 0.3, corr


def test_the_response_grid_of_the_synthetic_task_is_diagonal_dominant(synthetic_visnet):
    """Each source's images respond most to their own model fingerprint (the paper's response grid)."""
    from gfcore.inference.responses import diagonal_dominance, mean_by_source, response_strengths

    method, held_out, held_labels = synthetic_visnet
    image_fps = method.image_fingerprints(torch.from_numpy(held_out)).numpy()
    strengths = response_strengths(image_fps, method.model_fingerprints().numpy())
    by_source = mean_by_source(strengths, held_labels, 4)
    dominance = diagonal_dominance(by_source)
    # Sources are interchangeable before training, so the expected dominance is 1 (no source in
    # particular). Measured 1.74 and 1.80 on two runs of this seed (oneDNN's summation order varies);
    # 1.4 is far above 1 for 64 images and below what learning reaches.
    assert dominance > 1.4, by_source
    assert np.all(np.argmax(by_source, axis=1) == np.arange(4)), (
        by_source
    )  # every row peaks on its own source


def test_critic_and_autoencoder_steps_take_minibatches_of_their_own():
    """As the official code: each iteration's critic step and auto-encoder step draw separate minibatches
    (the loop's batch holds both), and the training accuracy still covers every image of it."""
    method = VisNetAttributor(["a", "b"], 16, VisNetConfig(width=0.0625, batch_size=8))
    method.network = method.build_network()
    seen = {"critic": [], "ae": []}
    critic_forward, reconstruct = method.network.critic.forward, method.network.ae.reconstruct
    method.network.critic.forward = lambda x: seen["critic"].append(x.detach().clone()) or critic_forward(x)
    method.network.ae.reconstruct = lambda x: seen["ae"].append(x.detach().clone()) or reconstruct(x)
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    y = torch.tensor([0, 1] * 4)
    loss, logits, skipped = method.train_step(
        x, y, method.make_optimizers(), torch.Generator().manual_seed(0)
    )
    assert torch.equal(seen["critic"][0], x[0::2])  # the critic's real images: every other one
    assert torch.equal(seen["ae"][-1], x[1::2])  # the auto-encoder's step: the others
    assert logits.shape == (8, 2) and torch.isfinite(loss) and skipped == 0


def test_to_rgb_has_the_official_gain():
    to_rgb = VisNetAE(16, 2, width=0.0625).decoder[-2]
    assert to_rgb.weight.shape[0] == 3
    assert to_rgb.scale == pytest.approx(2**0.5 / (to_rgb.weight[0].numel()) ** 0.5)
