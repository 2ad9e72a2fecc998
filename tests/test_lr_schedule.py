"""The neural methods' learning-rate schedule (an option; the paper's constant rate stays the default):
linear warm-up then cosine or step decay, a pure function of the global step, so a resumed run continues it
exactly."""

import math

import pytest
import torch

import gfcore.training.loop as train_module
from gfcore.errors import GfpError
from gfcore.runs.attributor import build_attributor
from gfcore.runs.training import train_run
from gfcore.storage.tensorio import load_tensors
from gfcore.training.loop import lr_factor
from gfcore.training.neural import NeuralConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = "learned:width=0.125,lr_schedule=cosine,warmup_epochs=1"
EPOCHS, BATCH = 3, 8


def test_warm_up_is_linear_then_cosine_decays_to_zero():
    cfg = NeuralConfig(
        epochs=4, lr_schedule="cosine", warmup_epochs=1
    )  # 10 steps an epoch: 10 warm, 30 decay
    factors = [lr_factor(cfg, s, 10) for s in range(40)]
    assert factors[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert factors[10] == 1.0
    assert factors[25] == pytest.approx(0.5 * (1 + math.cos(math.pi * 15 / 30)))  # half-way: 0.5
    assert factors[39] == pytest.approx(0.5 * (1 + math.cos(math.pi * 29 / 30)))
    assert all(a >= b for a, b in zip(factors[10:], factors[11:], strict=False))  # never rises after warm-up


def test_step_decay_and_the_constant_default():
    step = NeuralConfig(epochs=4, lr_schedule="step")  # no warm-up: 0.1x at half, 0.01x at three quarters
    assert [lr_factor(step, s, 10) for s in (0, 19, 20, 29, 30, 39)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01]
    )
    constant = NeuralConfig(epochs=4)
    assert {lr_factor(constant, s, 10) for s in range(40)} == {1.0}
    assert not train_module.scheduled(constant)  # the paper's path is untouched


@pytest.mark.parametrize(
    "params, message",
    [
        ({"lr_schedule": "linear"}, "expected one of constant, cosine, step"),
        ({"warmup_epochs": "30"}, "longer"),
    ],
)
def test_a_bad_schedule_is_one_line(params, message):
    with pytest.raises(GfpError, match=message):
        build_attributor("learned", ["a", "b"], 16, torch.device("cpu"), overrides=params)


def test_training_follows_the_schedule_and_a_resumed_run_continues_it_exactly(
    tiny_dataset, tmp_path, monkeypatch
):
    overrides = {"epochs": EPOCHS, "batch_size": BATCH}
    whole = train_run(tiny_dataset, tmp_path / "whole", SPEC, seed=1, overrides=overrides)
    steps = len(tiny_dataset.split("train")) // BATCH
    tensors, meta = load_tensors(tmp_path / "whole" / "last.safetensors")
    (group,) = meta["optimizer"]["param_groups"]
    cfg = NeuralConfig(epochs=EPOCHS, lr_schedule="cosine", warmup_epochs=1)
    assert group["lr"] == pytest.approx(1e-3 * lr_factor(cfg, EPOCHS * steps - 1, steps))  # the last step's
    assert group["lr"] < 0.1 * 1e-3  # decayed: the constant default would have left 1e-3

    # the same run interrupted in its second epoch (after the first checkpoint), then resumed
    real, calls = train_module.split_accuracy, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "split_accuracy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_run(tiny_dataset, tmp_path / "cut", SPEC, seed=1, overrides=overrides)
    monkeypatch.setattr(train_module, "split_accuracy", real)
    assert load_tensors(tmp_path / "cut" / "last.safetensors")[1]["epoch"] == 1
    resumed = train_run(tiny_dataset, tmp_path / "cut", resume=True)
    again = load_tensors(tmp_path / "cut" / "last.safetensors")[0]
    assert tensors.keys() == again.keys()
    for k in tensors:  # one thread, the same batches and rates: bit for bit
        assert torch.equal(tensors[k], again[k]), k
    untimed = [
        {k: v for k, v in r.items() if k not in ("seconds", "images_per_second")}
        for r in whole.info["history"]
    ]
    assert [{k: r[k] for k in untimed[0]} for r in resumed.info["history"]] == untimed
