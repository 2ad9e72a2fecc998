"""Run directories: what ``gfp train`` writes and every later command reads.

    run.json               method, spec, config, class order, resolution, preprocessing, dataset hash,
                           package versions, metrics history, status
    weights.safetensors    the best weights (by validation accuracy) -- what evaluate/attribute load
    last.safetensors       the last epoch's weights and optimiser state -- what --resume continues from

Weights are safetensors and metadata JSON: opening a run from a stranger executes nothing.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import remove_stale_temps, write_json
from .config import build_config, check_seed, config_from_dict, config_to_dict, parse_spec
from .dataset import PreparedDataset
from .errors import GfpError, NothingToDo
from .interfaces import Attributor, FitContext
from .jsonio import read_document
from .plugins import get_registries
from .progress import NullReporter, Reporter
from .runschema import check_run, describe_weight_mismatch, nothing_to_resume
from .tensorio import load_tensors, save_tensors

RUN_JSON, WEIGHTS, LAST = "run.json", "weights.safetensors", "last.safetensors"
FORMAT = "gfp-run"
FORMAT_VERSION = 1


def package_versions() -> dict[str, str]:
    import numpy
    import torch

    from . import __version__

    return {"gfp": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def read_run_json(run_dir: Path) -> dict:
    missing = f"{run_dir}: not a gfp run (no {RUN_JSON}); train one with `gfp train`"
    return check_run(read_document(Path(run_dir) / RUN_JSON, FORMAT, missing), Path(run_dir) / RUN_JSON)


def build_attributor(spec: str, classes: list[str], resolution: int, device, overrides: dict | None = None):
    """``"learned:width=0.25"`` (+ overrides such as epochs) -> (attributor, method name, config)."""
    name, params = parse_spec(spec)
    cls = get_registries().attributor(name)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    fields = set(cls.Config.__dataclass_fields__)
    for key in overrides:
        if key not in fields:  # a command-line flag such as --epochs given to a non-neural method
            raise GfpError(f"--{key.replace('_', '-')} does not apply to method {name!r}; its parameters: "
                           f"{', '.join(sorted(fields)) or '(none)'}")
    params = {**params, **overrides}
    config = build_config(cls.Config, params, owner=f"method {name!r}")
    return cls(classes, resolution, config, device), name, config


@dataclass
class TrainResult:
    run_dir: Path
    info: dict
    attributor: Attributor


def train_run(
    dataset: PreparedDataset,
    out: str | Path,
    spec: str = "learned",
    *,
    seed: int = 0,
    device=None,
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
) -> TrainResult:
    """Train a method on a prepared dataset into a run directory (or continue one with ``resume``)."""
    import torch

    reporter = reporter or NullReporter()
    device = device or torch.device("cpu")
    out = Path(out)
    resume_state = None
    if resume:
        info = read_run_json(out)
        if info["dataset"]["hash"] != dataset.hash:
            raise GfpError(f"{out} was trained on another dataset (hash differs); cannot resume on {dataset.path}")
        if (reason := nothing_to_resume(info, (overrides or {}).get("epochs"), out)) is not None:
            raise NothingToDo(reason)  # the CLI says so and exits 0; nothing is rewritten
        saved = dict(info["config"], **{k: v for k, v in (overrides or {}).items() if v is not None})
        cls = get_registries().attributor(info["method"])
        config = config_from_dict(cls.Config, saved, f"{out / RUN_JSON} (with the flags given)")
        torch.manual_seed(info["seed"])
        attributor = cls(info["classes"], info["resolution"], config, device)
        if (out / LAST).is_file():
            resume_state = load_tensors(out / LAST)
        seed = info["seed"]
        info["config"] = config_to_dict(config)
    else:
        if (out / RUN_JSON).exists():
            raise GfpError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
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
    info.update(status="running", device=str(device), versions=package_versions())
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out, (RUN_JSON, WEIGHTS, LAST))  # of a killed run; one trainer per run folder
    write_json(out / RUN_JSON, info)

    def checkpoint(step, tensors, meta, metrics, is_best):
        save_tensors(out / LAST, tensors, meta)
        if is_best:
            save_tensors(out / WEIGHTS, attributor.state_dict())
            info["best"] = metrics
        info["history"] = list(ctx.history)
        info["epochs_done"] = step
        write_json(out / RUN_JSON, info)

    ctx = FitContext(device=device, progress=reporter, seed=seed, checkpoint=checkpoint, resume=resume_state,
                     history=list(info.get("history", [])))
    train, val = dataset.split("train"), dataset.split("val")
    t0 = time.perf_counter()
    attributor.fit(train, val, ctx)
    info["train_seconds"] = round(info.get("train_seconds", 0.0) + time.perf_counter() - t0, 3)
    if not (out / WEIGHTS).exists() or not ctx.history or "best" not in info:
        # methods that do not checkpoint per epoch (kNN, PCA, ...): their fitted state is the result
        save_tensors(out / WEIGHTS, attributor.state_dict())
    info.update(status="complete", history=list(ctx.history))
    write_json(out / RUN_JSON, info)
    return TrainResult(out, info, attributor)


def load_run(run_dir: str | Path, device=None) -> tuple[Attributor, dict]:
    """The trained attributor of a run (best weights) and its run.json."""
    import torch

    run_dir = Path(run_dir)
    info = read_run_json(run_dir)
    try:
        cls = get_registries().attributor(info["method"])
    except GfpError:
        raise GfpError(f"{run_dir} was trained with method {info.get('method')!r}, which no installed plugin "
                       "provides") from None
    config = config_from_dict(cls.Config, info.get("config", {}), str(run_dir / RUN_JSON))
    attributor = cls(info["classes"], info["resolution"], config, device or torch.device("cpu"))
    tensors, _ = load_tensors(run_dir / WEIGHTS)
    try:
        attributor.load_state_dict(tensors)
    except (RuntimeError, KeyError, ValueError) as exc:
        why = describe_weight_mismatch(attributor.state_dict(), tensors, len(info["classes"]))
        why = why or str(exc).strip().replace("\n", " ")
        raise GfpError(f"{run_dir / WEIGHTS}: weights do not fit method {info['method']!r} ({why})") from None
    return attributor, info


def check_compatible(info: dict, dataset: PreparedDataset, run_dir) -> None:
    """A run only evaluates on data with its own class order and resolution."""
    if list(info["classes"]) != dataset.classes:
        raise GfpError(f"{run_dir} was trained for classes {info['classes']}, but {dataset.path} has "
                       f"{dataset.classes}")
    if int(info["resolution"]) != dataset.resolution:
        raise GfpError(f"{run_dir} expects {info['resolution']}x{info['resolution']} images, but {dataset.path} "
                       f"holds {dataset.resolution}x{dataset.resolution}")
