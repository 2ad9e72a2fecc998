"""Training into an attribution run folder (``gfp train``, ``gfp immunize``).

A new run, or the same run resumed; each epoch checkpointed, the best weights calibrated at the end."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gfcore.config import build_config, check_seed, config_from_dict, config_to_dict, parse_spec
from gfcore.data.dataset import PreparedDataset
from gfcore.errors import GfpError, NothingToDo
from gfcore.execution import distributed as dist
from gfcore.execution.accel import configure
from gfcore.inference.openset import calibrate_run
from gfcore.interfaces import Attributor, FitContext
from gfcore.plugins import get_registries
from gfcore.runs.attributor import FORMAT, FORMAT_VERSION, build_attributor, read_run_json, run_dir_of
from gfcore.runs.folder import LAST, RUN_JSON, RunDir, package_versions
from gfcore.runs.schema import nothing_to_resume
from gfcore.runs.warmstart import init_record, same_source, warm_start
from gfcore.storage.atomic import remove_stale_temps
from gfcore.storage.tensorio import load_tensors, save_tensors
from gfcore.terminal.progress import NullReporter, Reporter


def _normalised(config_dict: dict) -> Any:
    return json.loads(json.dumps(config_dict))  # tuples -> lists, as run.json stores them


def run_differences(
    info: dict,
    dataset: PreparedDataset,
    *,
    method: str | None = None,
    config: Any = None,
    seed: int | None = None,
) -> list[str]:
    """How the run described by ``info`` differs from the one asked for: its dataset, and -- where given --
    its method, parameters and seed. Empty when it is the same run."""
    differences = []
    if info.get("dataset", {}).get("hash") != dataset.hash:
        differences.append("another dataset")
    if method is not None and info.get("method") != method:
        differences.append(f"method {info.get('method')!r}")
    elif config is not None:
        saved = config_from_dict(type(config), info.get("config", {}))
        if _normalised(config_to_dict(saved)) != _normalised(config_to_dict(config)):
            differences.append("other parameters")
    if seed is not None and info.get("seed") != seed:
        differences.append(f"seed {info.get('seed')}")
    return differences


def existing_run_state(
    out: str | Path,
    dataset: PreparedDataset,
    *,
    method: str,
    config: Any,
    seed: int,
    init_from: dict | None = None,
) -> str:
    """What ``out`` holds for the run (dataset, method, config, seed, and the weights it started from:
    ``init_from``, a :func:`gfcore.runs.warmstart.init_record` or None for a random start) asked for:
    ``"new"`` (nothing yet), ``"complete"`` (that run, finished) or ``"unfinished"`` (that run, to resume).
    Another run there, or a folder gfp did not create, is a :class:`GfpError` -- never overwritten."""

    if run_dir_of(out).state() == "new":
        return "new"
    info = read_run_json(out)
    differences = run_differences(info, dataset, method=method, config=config, seed=seed)
    if not same_source(info.get("init_from"), init_from):
        recorded = info.get("init_from")
        differences.append(f"a start from {recorded['path']}" if recorded else "a random start")
    if differences:
        raise GfpError(
            f"{out} holds a run with {', '.join(differences)} (spec {info.get('spec')!r}); "
            "delete it or choose another folder"
        )
    return "complete" if info.get("status") == "complete" else "unfinished"


def _check_resumable(info: dict, out: Path, dataset: PreparedDataset, spec: str | None, seed: int | None):
    """Resuming continues the same run: same dataset, and the spec and seed (when given) of the run."""
    name, params = parse_spec(spec) if spec is not None else (None, {})
    differences = run_differences(info, dataset, method=name, seed=seed)
    if "another dataset" in differences:
        raise GfpError(
            f"{out} was trained on another dataset (hash differs); cannot resume on {dataset.path}"
        )
    if not differences and params:
        cls = get_registries().attributor(info["method"])
        saved = _normalised(config_to_dict(config_from_dict(cls.Config, info.get("config", {}))))
        asked = _normalised(config_to_dict(build_config(cls.Config, {**saved, **params}, f"method {name!r}")))
        differences = [f"{k}={saved[k]}" for k in sorted(params) if k != "epochs" and asked[k] != saved[k]]
    if differences:
        raise GfpError(
            f"{out} holds a run with {', '.join(differences)}; --resume continues that run as it "
            "is (only --epochs may grow): drop the other options, or train into another --out"
        )


@dataclass
class TrainResult:
    run_dir: Path
    info: dict
    attributor: Attributor


def train_run(
    dataset: PreparedDataset,
    out: str | Path,
    spec: str | None = None,
    *,
    seed: int | None = None,
    device=None,
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
    false_unknown_rate: float | None = None,
    precision: str = "fp32",
    compile: bool = False,
    init_from: str | Path | None = None,
) -> TrainResult:
    """Train a method on a prepared dataset into a run directory (or continue one with ``resume``).

    A new run uses ``spec`` (default: the installed method with the ``reference`` role) and ``seed``
    (default 0), and starts from the weights of the run ``init_from`` when given (:mod:`gfcore.runs.warmstart`).
    A resumed run keeps its own method, parameters, seed and start: a ``spec``, ``seed`` or ``init_from``
    given then must match them (only ``epochs``, in the spec or in ``overrides``, may grow), else it is a
    :class:`GfpError`."""
    import torch

    device = device or torch.device("cpu")
    out = Path(out)
    # locked before the folder is checked: a second `gfp train` (or --resume) on it is refused meanwhile
    with run_dir_of(out).lock("gfp train --resume" if resume else "gfp train"):
        if resume:
            info, attributor, resume_state = _resumed(dataset, out, spec, seed, overrides, init_from, device)
        else:
            info, attributor = _new_run(dataset, out, spec, seed, overrides, init_from, device)
            resume_state = None
        accel = {"precision": precision, "compile": compile}
        return fit_into_run(
            run_dir_of(out),
            info,
            attributor,
            dataset,
            info["seed"],
            device,
            resume_state,
            reporter or NullReporter(),
            false_unknown_rate,
            **accel,
        )


def _resumed(dataset, out: Path, spec, seed, overrides, init_from, device):
    """The run.json, the rebuilt attributor and the last checkpoint (or None) of the run in ``out``."""
    import torch

    info = read_run_json(out)
    _check_resumable(info, out, dataset, spec, seed)
    if (reason := nothing_to_resume(info, (overrides or {}).get("epochs"), out)) is not None:
        raise NothingToDo(reason)  # the CLI says so and exits 0; nothing is rewritten
    saved = dict(info["config"], **{k: v for k, v in (overrides or {}).items() if v is not None})
    cls = get_registries().attributor(info["method"])
    config = config_from_dict(cls.Config, saved, f"{out / RUN_JSON} (with the flags given)")
    start = info.get("init_from")
    if init_from is not None and not same_source(start, init_record(init_from)):
        began = f"from {start['path']}" if start else "from a random initialisation"
        raise GfpError(f"{out} started {began}, not from {init_from}; resume it without --init-from")
    torch.manual_seed(info["seed"])
    attributor = cls(info["classes"], info["resolution"], config, device)
    run, resume_state = run_dir_of(out), None
    if run.last_path.is_file():
        resume_state = load_tensors(run.last_path)
    elif start:  # killed before its first checkpoint: start from the same weights again
        warm_start(attributor, info["method"], start)
    info["config"] = config_to_dict(config)
    return info, attributor, resume_state


def _new_run(dataset, out: Path, spec, seed, overrides, init_from, device):
    """The run.json and the freshly built (and seeded, possibly warm-started) attributor of a new run."""
    import torch

    if run_dir_of(out).state() == "run":
        raise GfpError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    spec = get_registries().with_role("reference") if spec is None else spec
    seed = 0 if seed is None else seed
    check_seed(seed)
    torch.manual_seed(seed)  # only weight initialisation draws from the global generator
    attributor, name, config = build_attributor(spec, dataset.classes, dataset.resolution, device, overrides)
    info = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "method": name,
        "spec": spec,
        "config": config_to_dict(config),
        "classes": dataset.classes,
        "resolution": dataset.resolution,
        "preprocessing": dataset.manifest.get("preprocessing", {}),
        "dataset": {"path": str(dataset.path.resolve()), "hash": dataset.hash},
        "seed": seed,
        "history": [],
    }
    if init_from is not None:
        info["init_from"] = init_record(init_from)
        warm_start(attributor, name, info["init_from"])
    return info, attributor


def fit_into_run(
    run: RunDir,
    info: dict,
    attributor,
    dataset,
    seed,
    device,
    resume_state,
    reporter,
    false_unknown_rate=None,
    **accel,
):
    """Fit ``attributor`` on the dataset's train/val splits into ``run``, checkpointing each epoch and
    keeping ``info`` (the run.json being written) up to date, then calibrate the best weights on the
    validation split (:func:`calibrate_run`). Shared by ``gfp train`` and ``gfp immunize``.
    ``accel``: ``precision`` and ``compile`` for :func:`gfcore.execution.accel.configure` (bf16 is noted in
    run.json)."""
    train, val = dataset.split("train"), dataset.split("val")  # a bad array is refused before any write
    configure(attributor, **accel)
    _begin(run, info, device, accel)
    ctx = FitContext(
        device=device,
        progress=reporter,
        seed=seed,
        checkpoint=_checkpointer(run, info, attributor, lambda: ctx.history),
        resume=resume_state,
        history=list(info.get("history", [])),
    )
    t0 = time.perf_counter()
    attributor.fit(train, val, ctx)
    info["train_seconds"] = round(info.get("train_seconds", 0.0) + time.perf_counter() - t0, 3)
    info.update(status="complete", history=list(ctx.history))
    with dist.main_writes_first() as main:
        if main:
            if not run.weights_path.exists() or not ctx.history or "best" not in info:
                # methods that do not checkpoint per epoch (kNN, PCA, ...): their fitted state is the result
                save_tensors(run.weights_path, attributor.state_dict())
            run.write(info)
    # the temperature and open-set threshold of the best weights; every rank: it gathers
    calibrate_run(run.path, dataset, device, false_unknown_rate, reporter=reporter)
    return TrainResult(run.path, read_run_json(run.path), attributor)


def _begin(run: RunDir, info: dict, device, accel: dict) -> None:
    """Record what this (part of the) run runs with and write run.json as ``running``."""
    # absent: fp32, one process
    info.pop("precision", None), info.pop("processes", None)
    if accel.get("precision", "fp32") != "fp32":
        info["precision"] = accel["precision"]
    if dist.world_size() > 1:
        info["processes"] = dist.world_size()
    info.update(status="running", device=str(device), versions=package_versions())
    # Distributed: every rank has read and checked the folder (and the checkpoint it resumes) before rank 0
    # writes anything; rank 0 alone writes, and the others wait for each write to land.
    dist.barrier()
    with dist.main_writes_first() as main:
        if main:
            run.path.mkdir(parents=True, exist_ok=True)
            # of a killed run; one trainer per folder
            remove_stale_temps(run.path, (RUN_JSON, run.weights_path.name, LAST))
            run.write(info)


def _checkpointer(run: RunDir, info: dict, attributor, history):
    """The ``FitContext.checkpoint`` callback: last weights and optimiser state each epoch, the best
    weights when they improve, and run.json kept up to date (``history()``: the context's history)."""

    def checkpoint(step, tensors, meta, metrics, is_best):
        if is_best:
            info["best"] = metrics
        info["history"] = list(history())
        info["epochs_done"] = step
        with dist.main_writes_first() as main:
            if main:
                save_tensors(run.last_path, tensors, meta)
                if is_best:
                    save_tensors(run.weights_path, attributor.state_dict())
                run.write(info)

    return checkpoint
