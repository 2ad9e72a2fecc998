"""Attribution runs on disk: the folder ``gfp train`` writes and every later command reads and loads.

    run.json               method, spec, config, class order, resolution, preprocessing, dataset hash,
                           package versions, metrics history, status
    weights.safetensors    the best weights (by validation accuracy) -- what evaluate/attribute load
    last.safetensors       the last epoch's weights and optimiser state -- what --resume continues from

Weights are safetensors and metadata JSON: opening a run from a stranger executes nothing. Training into
such a folder is :mod:`gfcore.runs.training`.
"""

from __future__ import annotations

from pathlib import Path

from gfcore.config import build_config, config_from_dict, parse_spec
from gfcore.data.dataset import PreparedDataset
from gfcore.errors import GfpError
from gfcore.interfaces import Attributor
from gfcore.plugins import get_registries
from gfcore.runs.folder import RUN_JSON, RunDir, RunKind
from gfcore.runs.schema import check_run, describe_weight_mismatch
from gfcore.storage.tensorio import load_tensors

ATTRIBUTION_RUN = RunKind(
    format="gfp-run", version=1, weights="weights.safetensors", noun="gfp run", made_by="`gfp train`"
)
WEIGHTS = ATTRIBUTION_RUN.weights
FORMAT, FORMAT_VERSION = ATTRIBUTION_RUN.format, ATTRIBUTION_RUN.version


#: how a shipped run is named wherever a run folder is taken
SHIPPED_PREFIX = "shipped:"


def shipped_runs() -> dict[str, tuple[str, Path]]:
    """The trained runs every registered method ships (:meth:`~gfcore.interfaces.Attributor.shipped_runs`):
    name -> (method, run folder)."""
    registries = get_registries()
    out: dict[str, tuple[str, Path]] = {}
    for reg in (registries.extractors, registries.baselines):
        for entry in reg.entries():
            for name, path in entry.item.shipped_runs().items():
                out[name] = (entry.name, Path(path))
    return out


def resolve_run(run: str | Path) -> Path:
    """A run folder, or ``shipped:NAME`` -> the folder of that shipped run (unknown names: one line)."""
    text = str(run)
    if not text.startswith(SHIPPED_PREFIX):
        return Path(run)
    name = text[len(SHIPPED_PREFIX) :]
    shipped = shipped_runs()
    if name not in shipped:
        valid = ", ".join(SHIPPED_PREFIX + n for n in sorted(shipped)) or "(none installed)"
        raise GfpError(f"no shipped run {name!r}; shipped runs: {valid}")
    return shipped[name][1]


def run_dir_of(path: str | Path) -> RunDir:
    """The :class:`RunDir` of an attribution run folder (or ``shipped:NAME``)."""
    return RunDir(resolve_run(path), ATTRIBUTION_RUN)


def read_run_json(run_dir: str | Path) -> dict:
    """The single reader of an attribution run's run.json (every command goes through here), checked field
    by field: a missing or mistyped field is one line naming the file."""
    folder = run_dir_of(run_dir)
    return check_run(folder.read(), folder.json_path)


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


def load_run(run_dir: str | Path, device=None) -> tuple[Attributor, dict]:
    """The trained attributor of a run (best weights) and its run.json."""
    import torch

    run_dir = resolve_run(run_dir)
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
        hint = (
            f"; the same classes in another order: prepare it with --classes {','.join(info['classes'])}"
            if sorted(info["classes"]) == sorted(dataset.classes)
            else ""
        )
        raise GfpError(
            f"{run_dir} was trained for classes {info['classes']}, but {dataset.path} has {dataset.classes}"
            + hint
        )
    if int(info["resolution"]) != dataset.resolution:
        raise GfpError(
            f"{run_dir} expects {info['resolution']}x{info['resolution']} images, but {dataset.path} "
            f"holds {dataset.resolution}x{dataset.resolution}"
        )


def methods_for_resolution(resolution: int) -> tuple[list[str], dict[str, str]]:
    """The installed methods that can train on ``resolution`` x ``resolution`` images, and why each of the
    others cannot (:meth:`~gfcore.interfaces.Attributor.resolution_problem`)."""
    from gfcore.plugins import get_registries

    registries = get_registries()
    able, problems = [], {}
    for reg in (registries.extractors, registries.baselines):
        for entry in reg.entries():
            why = entry.item.resolution_problem(resolution)
            if why:
                problems[entry.name] = why
            else:
                able.append(entry.name)
    return able, problems
