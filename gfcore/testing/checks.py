"""The checks of the conformance kit, one per kind (the harness they share is :mod:`gfcore.testing.harness`);
see :mod:`gfcore.testing`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from gfcore.config import config_from_dict
from gfcore.data.synthetic import fingerprint_task, smooth_content
from gfcore.interfaces import (
    GAN_REQUIRED_FIELDS,
    Attack,
    Attributor,
    GanSource,
    RealSource,
    Split,
    config_fields,
)
from gfcore.storage.tensorio import load_tensors
from gfcore.testing.harness import (
    ConformanceError,
    Recorder,
    check_uint8_unchanged,
    expect,
    fit_context,
    make_config,
    named_tensors,
    safetensors_round_trip,
)


def check_attributor(
    cls: type,
    overrides: dict[str, Any] | None = None,
    *,
    resolution: int = 16,
    num_classes: int = 3,
    per_class: int = 12,
) -> None:
    """Construct, fit on a tiny synthetic task, then check logits, the safetensors round trip into a fresh
    instance (identical logits) and, when ``has_fingerprints``, the fingerprint shapes."""
    import torch

    expect(isinstance(cls, type) and issubclass(cls, Attributor), cls, "is not an Attributor subclass")
    train, val, test = _tiny_task(num_classes, per_class, resolution)
    classes = [f"source_{i}" for i in range(num_classes)]
    config = make_config(cls, overrides)

    method = cls(classes, resolution, config, device=torch.device("cpu"))
    ctx = fit_context(Recorder(cls))
    method.fit(train, val, ctx)
    try:
        json.dumps(ctx.history)
    except (TypeError, ValueError) as exc:
        raise ConformanceError(f"{cls.__name__}: ctx.history is not JSON ({exc})") from None
    logits = _check_logits(method, cls, test, num_classes)

    tensors = safetensors_round_trip(
        named_tensors(method.state_dict(), cls, "state_dict()"), cls, "state_dict()"
    )
    fresh = cls(classes, resolution, config, device=torch.device("cpu"))
    fresh.load_state_dict(tensors)
    expect(
        torch.equal(fresh.logits(test), logits),
        cls,
        "a fresh instance given state_dict() (through safetensors) predicts differently",
    )
    if cls.has_fingerprints:
        _check_fingerprints(fresh, cls, test, num_classes)


def _tiny_task(num_classes: int, per_class: int, resolution: int):
    """A shuffled synthetic task cut in half for training, a quarter for validation and the rest for test
    (a uint8 tensor)."""
    import torch

    images, labels = fingerprint_task(num_classes, per_class, size=resolution, amplitude=24.0, seed=0)
    order = np.random.default_rng(0).permutation(len(labels))
    images, labels = images[order], labels[order]
    n_train, n_val = len(labels) // 2, len(labels) // 4
    train = Split(images[:n_train], labels[:n_train])
    val = Split(images[n_train : n_train + n_val], labels[n_train : n_train + n_val])
    return train, val, torch.from_numpy(images[n_train + n_val :].copy())


def _check_logits(method: Attributor, cls: type, test, num_classes: int):
    """The logits of ``test``: float, ``[N, L]``, on the CPU, finite, and the input left as it was."""
    import torch

    before = test.clone()
    logits = method.logits(test)
    check_uint8_unchanged(before, test, cls, "logits")
    expect(
        isinstance(logits, torch.Tensor) and logits.is_floating_point(), cls, "logits must be a float tensor"
    )
    expect(
        tuple(logits.shape) == (len(test), num_classes),
        cls,
        f"logits shape is {tuple(logits.shape)}, expected {(len(test), num_classes)}",
    )
    expect(logits.device.type == "cpu", cls, f"logits are on {logits.device}, expected the CPU")
    expect(torch.isfinite(logits).all(), cls, "logits are not all finite")
    return logits


def _check_fingerprints(method: Attributor, cls: type, test, num_classes: int) -> None:
    import torch

    prints = method.image_fingerprints(test)
    expect(
        isinstance(prints, torch.Tensor) and prints.shape[0] == len(test) and prints.device.type == "cpu",
        cls,
        f"image_fingerprints must be a CPU tensor [N, ...], got {getattr(prints, 'shape', prints)}",
    )
    models = method.model_fingerprints()
    expect(
        isinstance(models, torch.Tensor) and models.shape[0] == num_classes and models.device.type == "cpu",
        cls,
        f"model_fingerprints must be a CPU tensor [L, ...], got {getattr(models, 'shape', models)}",
    )


def _check_sample(gan: GanSource, cls: type, n: int, seed: int):
    import torch

    r = gan.config.resolution
    images = gan.sample(n, seed)
    expect(isinstance(images, torch.Tensor) and images.dtype == torch.uint8, cls, "sample() must give uint8")
    expect(
        tuple(images.shape) == (n, 3, r, r),
        cls,
        f"sample shape {tuple(images.shape)}, expected {(n, 3, r, r)}",
    )
    expect(images.device.type == "cpu", cls, f"samples are on {images.device}, expected the CPU")
    return images


def check_gan_source(cls: type, overrides: dict[str, Any] | None = None, *, num_real: int = 16) -> None:
    """Config has ``resolution`` and ``iters``; train a couple of iterations on tiny images (checkpoints are
    named tensors with JSON meta, the last at ``iters``); samples are uint8 ``[n, 3, R, R]`` and the same
    for a seed; :meth:`~GanSource.generator_state_dict` and :meth:`~GanSource.state_dict` round-trip through
    safetensors; resuming from a middle checkpoint ends as the straight run; shipped generators load."""
    import torch

    expect(isinstance(cls, type) and issubclass(cls, GanSource), cls, "is not a GanSource subclass")
    missing = [k for k in GAN_REQUIRED_FIELDS if k not in config_fields(cls.Config)]
    expect(not missing, cls, f"Config has no {' and '.join(missing)} field")
    config = make_config(cls, overrides, defaults={"iters": 2})
    real = smooth_content(np.random.default_rng(0), num_real, config.resolution)

    gan = cls(config, device=torch.device("cpu"))
    recorder = Recorder(cls)
    gan.train(real, fit_context(recorder, seed=1), preview=lambda step: None)
    steps = [step for step, _, _ in recorder.calls]
    expect(
        steps and steps[-1] == config.iters,
        cls,
        f"train() must call ctx.checkpoint at the last iteration ({config.iters}); it did at {steps}",
    )
    first = _check_sample(gan, cls, 5, seed=3)
    expect(torch.equal(_check_sample(gan, cls, 5, seed=3), first), cls, "the same seed gave other samples")

    for what, tensors in (
        ("generator_state_dict()", gan.generator_state_dict()),
        ("state_dict()", gan.state_dict()),
    ):
        fresh = cls(config, device=torch.device("cpu"))
        fresh.load_state_dict(safetensors_round_trip(named_tensors(tensors, cls, what), cls, what))
        expect(
            torch.equal(_check_sample(fresh, cls, 5, seed=3), first),
            cls,
            f"a fresh instance given {what} (through safetensors) samples differently",
        )

    middle = [(s, t, m) for s, t, m in recorder.calls if 0 < s < config.iters]
    if middle:
        resumed = cls(config, device=torch.device("cpu"))
        resumed.train(real, fit_context(Recorder(cls), seed=1, resume=middle[-1][1:]), preview=None)
        expect(
            torch.equal(_check_sample(resumed, cls, 5, seed=3), first),
            cls,
            f"resuming from the checkpoint of iteration {middle[-1][0]} ends elsewhere than the straight run",
        )

    shipped = cls.shipped_generators()
    expect(isinstance(shipped, dict), cls, "shipped_generators() must return a dict of name -> folder")
    for name, folder in shipped.items():
        _check_shipped(cls, name, Path(folder))


def _check_shipped(cls: type, name: str, folder: Path) -> None:
    from gfcore.runs.gan import GENERATOR_FILE, read_run

    run = read_run(folder)
    expect(run["family"] == cls.name, cls, f"shipped generator {name!r} is a {run['family']!r} run")
    gan = cls(config_from_dict(cls.Config, run["config"]))
    gan.load_state_dict(load_tensors(folder / GENERATOR_FILE)[0])
    _check_sample(gan, cls, 2, seed=0)


def check_attack(cls: type, overrides: dict[str, Any] | None = None, *, resolution: int = 32) -> None:
    """uint8 in, uint8 out of the same shape and device, input untouched, same output for the same seed."""
    import torch

    expect(isinstance(cls, type) and issubclass(cls, Attack), cls, "is not an Attack subclass")
    attack = cls(make_config(cls, overrides))
    images = torch.from_numpy(smooth_content(np.random.default_rng(0), 4, resolution))
    before = images.clone()
    out = attack.apply(images, torch.Generator().manual_seed(0))
    check_uint8_unchanged(before, images, cls, "apply")
    expect(isinstance(out, torch.Tensor) and out.dtype == torch.uint8, cls, "apply() must return uint8")
    expect(
        out.shape == images.shape and out.device == images.device,
        cls,
        f"apply() gave {tuple(out.shape)} on {out.device}, expected {tuple(images.shape)} on {images.device}",
    )
    again = attack.apply(images, torch.Generator().manual_seed(0))
    expect(torch.equal(out, again), cls, "the same generator seed gave another output")


def check_real_source(cls: type, overrides: dict[str, Any] | None = None, *, resolution: int = 16) -> None:
    """uint8 ``[n, 3, R, R]`` images, the same for the same arguments, and splits that differ."""
    expect(isinstance(cls, type) and issubclass(cls, RealSource), cls, "is not a RealSource subclass")
    source = cls(make_config(cls, overrides))
    images = source.sample(3, resolution, seed=0, split="train")
    expect(
        isinstance(images, np.ndarray) and images.dtype == np.uint8,
        cls,
        "sample() must return a uint8 numpy array",
    )
    expect(
        images.shape == (3, 3, resolution, resolution),
        cls,
        f"sample(3, {resolution}) gave shape {images.shape}, expected (3, 3, {resolution}, {resolution})",
    )
    again = source.sample(3, resolution, seed=0, split="train")
    expect(np.array_equal(images, again), cls, "the same arguments gave other images")
    test = source.sample(3, resolution, seed=0, split="test")
    expect(not np.array_equal(images, test), cls, "the train and test splits gave the same images")


def check_command(command: Any, name: str | None = None) -> None:
    """A :class:`click.Command` whose ``--help`` (and every subcommand's) exits 0."""
    import click
    from click.testing import CliRunner

    label = name or getattr(command, "name", command)
    expect(isinstance(command, click.Command), label, "is not a click.Command")

    def walk(cmd: click.Command, path: list[str]) -> None:
        result = CliRunner().invoke(command, [*path, "--help"], prog_name=str(label))
        expect(
            result.exit_code == 0,
            label,
            f"`{' '.join([str(label), *path])} --help` exited {result.exit_code}: {result.output[-300:]}",
        )
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(click.Context(cmd)):
                walk(cmd.get_command(click.Context(cmd), sub), [*path, sub])

    walk(command, [])
