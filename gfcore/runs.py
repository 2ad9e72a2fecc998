"""Run directories: what ``gfp train`` writes and every later command reads.

    run.json               method, spec, config, class order, resolution, preprocessing, dataset hash,
                           package versions, metrics history, status
    weights.safetensors    the best weights (by validation accuracy) -- what evaluate/attribute load
    last.safetensors       the last epoch's weights and optimiser state -- what --resume continues from

Weights are safetensors and metadata JSON: opening a run from a stranger executes nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import distributed as dist
from .atomic import remove_stale_temps
from .config import build_config, check_seed, config_from_dict, config_to_dict, parse_spec
from .dataset import PreparedDataset
from .errors import GfpError, NothingToDo
from .interfaces import Attributor, FitContext
from .plugins import get_registries
from .progress import NullReporter, Reporter
from .rundir import LAST, RUN_JSON, RunDir, RunKind, package_versions
from .runschema import check_run, describe_weight_mismatch, nothing_to_resume
from .tensorio import load_tensors, save_tensors

ATTRIBUTION_RUN = RunKind(
    format="gfp-run", version=1, weights="weights.safetensors", noun="gfp run", made_by="`gfp train`"
)
WEIGHTS = ATTRIBUTION_RUN.weights
FORMAT, FORMAT_VERSION = ATTRIBUTION_RUN.format, ATTRIBUTION_RUN.version


def run_dir_of(path: str | Path) -> RunDir:
    """The :class:`RunDir` of an attribution run folder."""
    return RunDir(path, ATTRIBUTION_RUN)


def read_run_json(run_dir: str | Path) -> dict:
    """The single reader of an attribution run's run.json (every command goes through here), checked field
    by field: a missing or mistyped field is one line naming the file."""
    folder = run_dir_of(run_dir)
    return check_run(folder.read(), folder.json_path)


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
    ``init_from``, a :func:`gfcore.warmstart.init_record` or None for a random start) asked for:
    ``"new"`` (nothing yet), ``"complete"`` (that run, finished) or ``"unfinished"`` (that run, to resume).
    Another run there, or a folder gfp did not create, is a :class:`GfpError` -- never overwritten."""
    from .warmstart import same_source

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


def build_attributor(spec: str, classes: list[str], resolution: int, device, overrides: dict | None = None):
    """``"learned:width=0.25"`` (+ overrides such as epochs) -> (attributor, method name, config)."""
    name, params = parse_spec(spec)
    cls = get_registries().attributor(name)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    fields = set(cls.Config.__dataclass_fields__)
    for key in overrides:
        if key not in fields:  # a command-line flag such as --epochs given to a non-neural method
            raise GfpError(
                f"--{key.replace('_', '-')} does not apply to method {name!r}; its parameters: "
                f"{', '.join(sorted(fields)) or '(none)'}"
            )
    params = {**params, **overrides}
    config = build_config(cls.Config, params, owner=f"method {name!r}")
    return cls(classes, resolution, config, device), name, config


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

    A new run uses ``spec`` (default ``learned``) and ``seed`` (default 0), and starts from the weights of
    the run ``init_from`` when given (:mod:`gfcore.warmstart`). A resumed run keeps its own method,
    parameters, seed and start: a ``spec``, ``seed`` or ``init_from`` given then must match them (only
    ``epochs``, in the spec or in ``overrides``, may grow), else it is a :class:`GfpError`."""
    import torch

    from .warmstart import init_record, same_source, warm_start

    reporter = reporter or NullReporter()
    device = device or torch.device("cpu")
    out = Path(out)
    run = run_dir_of(out)
    resume_state = None
    if resume:
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
        if run.last_path.is_file():
            resume_state = load_tensors(run.last_path)
        elif start:  # killed before its first checkpoint: start from the same weights again
            warm_start(attributor, info["method"], start)
        seed = info["seed"]
        info["config"] = config_to_dict(config)
    else:
        if run.state() == "run":
            raise GfpError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
        spec = "learned" if spec is None else spec
        seed = 0 if seed is None else seed
        check_seed(seed)
        torch.manual_seed(seed)  # only weight initialisation draws from the global generator
        attributor, name, config = build_attributor(
            spec, dataset.classes, dataset.resolution, device, overrides
        )
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
    accel = {"precision": precision, "compile": compile}
    return fit_into_run(
        run, info, attributor, dataset, seed, device, resume_state, reporter, false_unknown_rate, **accel
    )


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
    ``accel``: ``precision`` and ``compile`` for :func:`gfcore.accel.configure` (bf16 is noted in run.json)."""
    from .accel import configure

    configure(attributor, **accel)
    # what this (part of the) run ran with; absent: fp32, one process
    info.pop("precision", None), info.pop("processes", None)
    if accel.get("precision", "fp32") != "fp32":
        info["precision"] = accel["precision"]
    if dist.world_size() > 1:
        info["processes"] = dist.world_size()
    out = run.path
    info.update(status="running", device=str(device), versions=package_versions())
    # Distributed: every rank has read and checked the folder (and the checkpoint it resumes) before rank 0
    # writes anything; rank 0 alone writes, and the others wait for each write to land.
    dist.barrier()
    with dist.main_writes_first() as main:
        if main:
            out.mkdir(parents=True, exist_ok=True)
            # of a killed run; one trainer per folder
            remove_stale_temps(out, (RUN_JSON, run.weights_path.name, LAST))
            run.write(info)

    def checkpoint(step, tensors, meta, metrics, is_best):
        if is_best:
            info["best"] = metrics
        info["history"] = list(ctx.history)
        info["epochs_done"] = step
        with dist.main_writes_first() as main:
            if main:
                save_tensors(run.last_path, tensors, meta)
                if is_best:
                    save_tensors(run.weights_path, attributor.state_dict())
                run.write(info)

    ctx = FitContext(
        device=device,
        progress=reporter,
        seed=seed,
        checkpoint=checkpoint,
        resume=resume_state,
        history=list(info.get("history", [])),
    )
    train, val = dataset.split("train"), dataset.split("val")
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
    from .openset import calibrate_run  # the temperature and open-set threshold of the best weights

    calibrate_run(out, dataset, device, false_unknown_rate, reporter=reporter)  # every rank: it gathers
    return TrainResult(out, read_run_json(out), attributor)


def load_run(run_dir: str | Path, device=None) -> tuple[Attributor, dict]:
    """The trained attributor of a run (best weights) and its run.json."""
    import torch

    run_dir = Path(run_dir)
    info = read_run_json(run_dir)
    try:
        cls = get_registries().attributor(info["method"])
    except GfpError:
        raise GfpError(
            f"{run_dir} was trained with method {info.get('method')!r}, which no installed plugin provides"
        ) from None
    config = config_from_dict(cls.Config, info.get("config", {}), str(run_dir / RUN_JSON))
    attributor = cls(info["classes"], info["resolution"], config, device or torch.device("cpu"))
    weights = run_dir_of(run_dir).weights_path
    tensors, _ = load_tensors(weights)
    try:
        attributor.load_state_dict(tensors)
    except (RuntimeError, KeyError, ValueError) as exc:
        why = describe_weight_mismatch(attributor.state_dict(), tensors, len(info["classes"]))
        why = why or str(exc).strip().replace("\n", " ")
        raise GfpError(f"{weights}: weights do not fit method {info['method']!r} ({why})") from None
    return attributor, info


def check_compatible(info: dict, dataset: PreparedDataset, run_dir) -> None:
    """A run only evaluates on data with its own class order and resolution."""
    if list(info["classes"]) != dataset.classes:
        raise GfpError(
            f"{run_dir} was trained for classes {info['classes']}, but {dataset.path} has {dataset.classes}"
        )
    if int(info["resolution"]) != dataset.resolution:
        raise GfpError(
            f"{run_dir} expects {info['resolution']}x{info['resolution']} images, but {dataset.path} "
            f"holds {dataset.resolution}x{dataset.resolution}"
        )
