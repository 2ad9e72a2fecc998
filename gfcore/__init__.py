"""gfp core: the contract every plugin implements, and the machinery gfp and plugins share.

This namespace is the public API for plugin authors: everything a third-party method, baseline, GAN
family, attack or command needs is importable from here (``from gfcore import Attributor, hookimpl``), and
nothing else is promised. The layout underneath (``gfcore.data``, ``gfcore.runs``, ``gfcore.training``, ...)
may move between versions. Studies (bench, audit, figures) have their own public face, :mod:`gfcore.studies`,
and plugin tests have the conformance kit, :mod:`gfcore.testing`.

Names load on first use, so ``from gfcore import hookimpl`` in a plugin's ``__init__`` costs no torch import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``@hookimpl def gfp_register_extractors(register): ...``
hookimpl = pluggy.HookimplMarker("gfp")

#: public name -> the module that defines it (imported on first access)
_EXPORTS: dict[str, str] = {
    # the contract: interfaces, configs, errors, registries
    **dict.fromkeys(
        ("Attack", "Attributor", "FitContext", "GanSource", "RealSource", "ROLES", "Split"),
        "gfcore.interfaces",
    ),
    **dict.fromkeys(
        (
            "bounded",
            "build_config",
            "changed_default",
            "check_seed",
            "config_from_dict",
            "config_to_dict",
            "describe_config",
            "non_negative",
            "one_of",
            "parse_spec",
            "positive",
        ),
        "gfcore.config",
    ),
    **dict.fromkeys(("GfpError", "NothingToDo", "UnknownNameError"), "gfcore.errors"),
    "get_registries": "gfcore.plugins",
    # neural methods: the shared training loop and its building blocks
    **dict.fromkeys(("NeuralAttributor", "NeuralConfig"), "gfcore.training.neural"),
    "step_if_finite": "gfcore.training.loop",
    **dict.fromkeys(
        ("AttributionNetAttributor", "AttributionNetConfig"), "gfcore.training.attribution_method"
    ),
    **dict.fromkeys(("optimizer_from_tensors", "optimizer_to_tensors"), "gfcore.training.optim_state"),
    **dict.fromkeys(("SQRT2", "EqualizedConv2d", "EqualizedLinear"), "gfcore.nn.equalized"),
    **dict.fromkeys(("downscale2x", "minibatch_stddev", "pixel_norm", "upscale2x"), "gfcore.nn.progan_ops"),
    **dict.fromkeys(
        ("AttributionNet", "check_resolution", "down_blocks", "reflect_conv", "stage_channels"),
        "gfcore.nn.attribution_net",
    ),
    **dict.fromkeys(
        ("gradient_penalty", "interpolate", "safe_norm", "wgan_critic_loss", "wgan_generator_loss"),
        "gfcore.nn.losses",
    ),
    # where tensors run
    "resolve_device": "gfcore.execution.device",
    "distributed": "gfcore.execution.distributed",  # the module: rank, shard, all_sum, ...
    # images, datasets, files
    **dict.fromkeys(
        ("BadImageError", "decode_each", "expand_paths", "fit_to_size", "load_rgb", "save_png"),
        "gfcore.data.images",
    ),
    **dict.fromkeys(("SPLITS", "load_dataset", "write_dataset"), "gfcore.data.dataset"),
    **dict.fromkeys(("atomic_path", "write_bytes", "write_json", "write_text"), "gfcore.storage.atomic"),
    "read_document": "gfcore.storage.jsonio",
    "claim_out_folder": "gfcore.storage.outfolder",
    # trained runs and generators
    **dict.fromkeys(("load_run", "read_run_json", "shipped_runs"), "gfcore.runs.attributor"),
    "train_run": "gfcore.runs.training",
    "load_gan": "gfcore.runs.gan",
    **dict.fromkeys(("load_shipped_gan", "shipped_gans"), "gfcore.runs.shipped_gans"),
    "package_versions": "gfcore.runs.folder",
    "build_attack": "gfcore.inference.attacks",
    **dict.fromkeys(("Model", "Prediction"), "gfcore.inference.model"),
    "load_model": "gfcore.inference.model",
    # what a user sees: progress on stderr, numbers, the options every command shares
    **dict.fromkeys(("NullReporter", "Reporter", "progress_reporter"), "gfcore.terminal.progress"),
    **dict.fromkeys(("fmt_num", "fmt_pct"), "gfcore.terminal.formatting"),
    **dict.fromkeys(
        (
            "FiniteFloatRange",
            "MAX_BATCH",
            "MAX_EPOCHS",
            "MAX_IMAGES",
            "MAX_ITERS",
            "MAX_REPEATS",
            "MAX_WIDTH",
            "MAX_WORKERS",
            "count_option",
            "device_option",
            "emit_json",
            "json_option",
            "out_option",
            "progress_option",
            "repeats_option",
            "runs_dir_option",
            "seed_option",
        ),
        "gfcore.terminal.options",
    ),
}

#: public names that differ from the defining module's own
_RENAMED = {"load_model": "load"}

__all__ = ["__version__", "hookimpl", *sorted(_EXPORTS)]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gfcore' has no attribute {name!r}")
    if module.rsplit(".", 1)[-1] == name:  # a module exported as such
        value = importlib.import_module(module)
    else:
        value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from gfcore.config import (  # noqa: F401
        bounded,
        build_config,
        changed_default,
        check_seed,
        config_from_dict,
        config_to_dict,
        non_negative,
        parse_spec,
        positive,
    )
    from gfcore.errors import GfpError, NothingToDo, UnknownNameError  # noqa: F401
    from gfcore.interfaces import ROLES, Attack, Attributor, FitContext, GanSource, Split  # noqa: F401
    from gfcore.training.loop import step_if_finite  # noqa: F401
    from gfcore.training.neural import NeuralAttributor, NeuralConfig  # noqa: F401
