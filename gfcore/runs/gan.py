"""GAN runs: train a generator family into a run folder, checkpoint it, load it back, sample from it.

A GAN run is a folder::

    run.json               family, config, seed, iterations done, loss history, versions, the command
    generator.safetensors  only what sampling needs (the file that ships)
    last.safetensors       full resumable state: G, D, EMA, optimiser tensors (param_groups/step in meta)
    samples/step_XXXXXX.png  8x8 sample grids at a fixed latent seed, as training goes

Every file is written atomically, so an interrupted run leaves the previous checkpoint intact.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gfcore.config import build_config, config_from_dict, config_to_dict, parse_spec
from gfcore.data.images import image_grid, save_png
from gfcore.errors import GfpError
from gfcore.execution import distributed as dist
from gfcore.interfaces import FitContext, GanSource
from gfcore.runs.folder import LAST, RUN_JSON, RunDir, RunKind, package_versions
from gfcore.runs.schema import check_gan_run
from gfcore.storage.tensorio import load_tensors, save_tensors
from gfcore.terminal.progress import NullReporter, Reporter

GAN_RUN = RunKind(
    format="gfp-ganrun", version=1, weights="generator.safetensors", noun="GAN run", made_by="`gfp gan train`"
)
RUN_FILE, GENERATOR_FILE, LAST_FILE = RUN_JSON, GAN_RUN.weights, LAST
SAMPLES_DIR = "samples"
FORMAT, FORMAT_VERSION = GAN_RUN.format, GAN_RUN.version
PREVIEW_SEED = 1234  # latent seed of the progress grids, fixed so grids of one run are comparable
PREVIEW_COUNT = 64


@dataclass
class FamilySpec:
    """A parsed ``family:key=value,...`` string with its class and config."""

    name: str
    cls: type
    config: Any
    params: dict[str, Any]


def resolve_family(spec: str, overrides: dict[str, Any] | None = None) -> FamilySpec:
    """``"progan:width=0.5"`` plus overrides (``{"iters": 10}``; ``None`` values are ignored) -> class + config."""
    from gfcore.plugins import get_registries

    name, params = parse_spec(spec)
    cls = get_registries().gan_sources.get(name)
    params = {**params, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    config = build_config(cls.Config, params, f"GAN family {name!r}")
    return FamilySpec(name, cls, config, params)


def default_command(argv: list[str] | None = None) -> str:
    """The command line of this process, quoted so that it can be pasted back into a shell."""
    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """``run.json`` of a GAN run; a missing or unreadable file is a one-line :class:`GfpError`."""
    folder = RunDir(run_dir, GAN_RUN)
    return check_gan_run(folder.read(), folder.json_path)


def train_gan(
    family_spec: str,
    real_images: np.ndarray,
    out_dir: str | Path,
    *,
    seed: int = 0,
    device=None,
    resume: bool = False,
    reporter: Reporter | None = None,
    overrides: dict[str, Any] | None = None,
    command: str | None = None,
    real_source: str | None = None,
) -> GanSource:
    """Train a family on uint8 ``[N, 3, R, R]`` real images into the GAN run ``out_dir``.

    ``resume`` continues from ``last.safetensors`` with the run's own family, config and seed; only
    ``iters`` may be changed then (to train longer). Without ``resume`` the folder must be new or empty.
    """
    import torch

    folder = RunDir(Path(out_dir), GAN_RUN)
    device = device or torch.device("cpu")
    with folder.lock("gfp gan train"):  # before the folder is checked: one writer at a time
        if resume:
            family, config, run, resume_state = _resumed(folder, family_spec, overrides)
            seed = int(run["seed"])
        else:
            family, config, run, resume_state = _started(folder, family_spec, overrides, seed)
        gan = family.cls(config, device=device)
        if tuple(real_images.shape[1:]) != (3, config.resolution, config.resolution):
            raise GfpError(
                f"real images are {tuple(real_images.shape[1:])}, the {family.name} config wants "
                f"(3, {config.resolution}, {config.resolution})"
            )
        _describe(run, config, real_images, device, command, real_source, resume)
        dist.barrier()  # torchrun: every rank has checked the folder before rank 0 writes into it
        with dist.main_writes_first() as main:
            if main:
                folder.write(run)
        writer = _GanRunWriter(folder, gan, family.name, run)
        ctx = FitContext(
            device=device,
            progress=reporter or NullReporter(),
            seed=seed,
            checkpoint=writer.checkpoint,
            resume=resume_state,
            history=list(run.get("history", [])),
        )
        writer.ctx = ctx
        gan.train(real_images, ctx, preview=writer.preview)
        if run["iterations_done"] != config.iters:
            # The contract asks for a checkpoint at the last iteration; the generator ships even without one.
            writer.save_progress(config.iters)
        return gan


def _resumed(folder: RunDir, family_spec: str, overrides) -> tuple[FamilySpec, Any, dict, Any]:
    """``--resume``: the run's own family, config (only ``iters`` may change) and ``last.safetensors``."""
    folder.state()  # refuses a file, or a folder gfp did not create
    run = read_run(folder.path)
    family = resolve_family(family_spec, overrides)
    if family.name != run["family"]:
        raise GfpError(f"{folder} is a {run['family']} run; cannot resume it as {family.name}")
    saved = config_from_dict(family.cls.Config, run["config"])
    changed = sorted(
        k for k in family.params if k != "iters" and getattr(family.config, k) != getattr(saved, k)
    )
    if changed:
        raise GfpError(f"cannot change {', '.join(changed)} when resuming {folder}; only iters may change")
    if "iters" in family.params:
        saved.iters = family.config.iters
    return family, saved, run, load_tensors(folder.last_path)


def _started(folder: RunDir, family_spec: str, overrides, seed: int) -> tuple[FamilySpec, Any, dict, None]:
    """A new run into a new or empty folder: the family's config and a fresh ``run.json``."""
    if folder.state() != "new":  # refuses a file, or a folder gfp did not create
        raise GfpError(
            f"{folder} already exists and is not empty; pass --resume to continue it, or choose another --out"
        )
    family = resolve_family(family_spec, overrides)
    run = {
        "family": family.name,
        "seed": seed,
        "iterations_done": 0,
        "history": [],
        "train_seconds": 0.0,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return family, family.config, run, None


def _describe(run: dict, config, real_images, device, command, real_source, resume: bool) -> None:
    """What ``run.json`` says of this training: config, sizes, versions, command line, real images, device."""
    run.update(
        config=config_to_dict(config),
        resolution=config.resolution,
        iterations_total=config.iters,
        versions=package_versions(),
        command=run.get("command") or command or default_command(),
        real={"count": int(len(real_images)), "source": real_source or run.get("real", {}).get("source")},
        device=str(device),
    )
    if resume:  # the original command still describes the run; record how it was continued
        run.setdefault("resumed_with", []).append(command or default_command())
    if dist.world_size() > 1:
        run["processes"] = dist.world_size()


class _GanRunWriter:
    """The ``ctx.checkpoint`` and ``preview`` of a GAN training: rank 0 alone writes into the run folder."""

    def __init__(self, folder: RunDir, gan: GanSource, family: str, run: dict):
        self.folder, self.gan, self.family, self.run = folder, gan, family, run
        self.started, self.seconds_before = time.monotonic(), float(run.get("train_seconds", 0.0))
        self.ctx: FitContext | None = None

    def save_progress(self, step) -> None:
        if not dist.is_main():  # rank 0 alone writes
            return
        save_generator(self.gan, self.folder.weights_path, self.family, step)
        self.run["iterations_done"] = int(step)
        self.run["history"] = list(self.ctx.history)
        self.run["train_seconds"] = round(self.seconds_before + time.monotonic() - self.started, 1)
        self.run["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.folder.write(self.run)

    def checkpoint(self, step, tensors, meta, metrics=None, is_best=False) -> None:
        # The resumable state first: if the process dies between the writes, run.json still points at
        # an iteration count that last.safetensors holds.
        with dist.main_writes_first() as main:
            if main:
                save_tensors(self.folder.last_path, tensors, meta)
                self.save_progress(step)

    def preview(self, step) -> None:
        if not dist.is_main():
            return
        write_grid(self.gan, self.folder.path / SAMPLES_DIR / f"step_{step:06d}.png")


def save_generator(gan: GanSource, path: str | Path, family: str, step: int) -> None:
    """What sampling needs (:meth:`GanSource.generator_state_dict`), with the family, step and config."""
    tensors = gan.generator_state_dict()
    save_tensors(path, tensors, {"family": family, "step": int(step), "config": config_to_dict(gan.config)})


def write_grid(gan: GanSource, path: str | Path, n: int = PREVIEW_COUNT, seed: int = PREVIEW_SEED) -> None:
    images = gan.sample(n, seed).numpy()
    save_png(path, image_grid(images, ncols=int(np.ceil(np.sqrt(n)))))


def with_sampling(cls: type, config: Any, sampling: dict[str, Any], family: str) -> Any:
    """``config`` with the family's sampling parameters (:attr:`GanSource.sampling_fields`) set from
    ``sampling`` (strings are parsed by field type); any other field is refused in one line."""
    allowed = tuple(getattr(cls, "sampling_fields", ()))
    other = sorted(set(sampling) - set(allowed))
    if other:
        valid = ", ".join(allowed) or "(none)"
        raise GfpError(
            f"cannot change {', '.join(other)} when sampling a {family} run; its sampling parameters: {valid}"
        )
    return build_config(cls.Config, {**config_to_dict(config), **sampling}, f"GAN family {family!r}")


def load_gan(run_dir: str | Path, device=None, sampling: dict[str, Any] | None = None) -> GanSource:
    """A trained generator from ``run.json`` + ``generator.safetensors``, ready to :meth:`~GanSource.sample`;
    ``sampling`` sets the family's sampling parameters (``{"sampler": "ddim", "sample_steps": 50}``)."""
    import torch

    from gfcore.plugins import get_registries

    folder = RunDir(run_dir, GAN_RUN)
    run = read_run(run_dir)
    cls = get_registries().gan_sources.get(run["family"])
    try:
        config = config_from_dict(cls.Config, run["config"])
    except (TypeError, ValueError) as exc:
        raise GfpError(f"{folder.json_path}: bad config for {run['family']} ({exc})") from None
    if sampling:
        config = with_sampling(cls, config, sampling, run["family"])
    gan = cls(config, device=device or torch.device("cpu"))
    tensors, _ = load_tensors(folder.weights_path)
    try:
        gan.load_state_dict(tensors)
    except (RuntimeError, KeyError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GfpError(
            f"{folder.weights_path}: weights do not fit the {run['family']} config ({first})"
        ) from None
    return gan
