"""Immunisation (the paper's section on robustness): fine-tune a trained network on training images
perturbed on the fly by an attack, validating on perturbed validation images, into a new run that records
the attack and its parent.

The new run is an ordinary run folder (``gfp evaluate`` and ``gfp attribute`` read it as any other): its
``run.json`` adds ``attack`` (spec, name, config) and ``parent`` (the run it started from). Its config is
the parent's with ``epochs`` counting fine-tuning epochs; the optimiser starts fresh with the parent's
settings, as fine-tuning the paper's released code does. ``--resume`` continues it like ``gfp train``.
"""

from __future__ import annotations

from pathlib import Path

from gfcore.config import config_from_dict, config_to_dict
from gfcore.data.dataset import PreparedDataset
from gfcore.errors import GfpError, NothingToDo
from gfcore.inference.attacks import build_attack, describe_attack, same_attack
from gfcore.runs.attributor import check_compatible, load_run, read_run_json, run_dir_of
from gfcore.runs.folder import RUN_JSON
from gfcore.runs.schema import nothing_to_resume
from gfcore.runs.training import TrainResult, fit_into_run
from gfcore.storage.tensorio import load_tensors
from gfcore.terminal.progress import NullReporter, Reporter

DEFAULT_EPOCHS = 5
#: the run.json fields an immunized run copies from its parent
INHERITED = ("format", "version", "method", "spec", "classes", "resolution", "preprocessing")


def neural_methods() -> list[str]:
    """The installed methods that train by gradient descent (:class:`NeuralAttributor` subclasses)."""
    from gfcore.plugins import get_registries
    from gfcore.training.neural import NeuralAttributor

    registries = get_registries()
    return [
        n for n in registries.attributor_names() if issubclass(registries.attributor(n), NeuralAttributor)
    ]


def _fine_tunable(attributor, info: dict, run) -> None:
    from gfcore.training.neural import NeuralAttributor

    if not isinstance(attributor, NeuralAttributor):
        neural = ", ".join(neural_methods()) or "none is installed"
        raise GfpError(
            f"{run}: method {info['method']!r} cannot be fine-tuned (it does not train by gradient "
            f"descent); immunize a run of a neural method ({neural}), or train this method on attacked "
            "images instead"
        )


def _resumed(parent, dataset: PreparedDataset, attack_spec: str | None, out: Path, epochs, device):
    """``(attributor, info, resume state, seed, attack spec)`` to continue the immunized run in ``out``."""
    run = run_dir_of(out)
    info = read_run_json(out)
    if "attack" not in info or "parent" not in info:
        raise GfpError(f"{out} is not an immunized run; continue it with `gfp train --resume`")
    if str(Path(parent).resolve()) != info["parent"]["path"]:
        raise GfpError(f"{out} was immunized from {info['parent']['path']}, not from {parent}")
    if attack_spec is not None and attack_spec != info["attack"]["spec"]:
        raise GfpError(f"{out} was immunized against {info['attack']['spec']!r}, not {attack_spec!r}")
    if not same_attack(info["attack"], info["attack"]["spec"]):  # e.g. a default changed since
        raise GfpError(
            f"{out} was immunized against {info['attack']['spec']!r} as it was defined then (its recorded "
            "config differs from what that spec gives now); start a new run"
        )
    if info["dataset"]["hash"] != dataset.hash:
        raise GfpError(f"{out} was fine-tuned on another dataset (hash differs); cannot resume on it")
    if (reason := nothing_to_resume(info, epochs, out)) is not None:
        raise NothingToDo(reason)
    # the weights to start from: its own (a checkpoint follows) or, killed before one, the parent's
    source = out if run.weights_path.is_file() else Path(info["parent"]["path"])
    attributor, _ = load_run(source, device)
    extra = {"epochs": epochs} if epochs else {}
    config = config_from_dict(type(attributor.config), dict(info["config"], **extra), str(out / RUN_JSON))
    attributor.config = config
    info["config"] = config_to_dict(config)
    resume_state = load_tensors(run.last_path) if run.last_path.is_file() else None
    return attributor, info, resume_state, info["seed"], info["attack"]["spec"]


def _started(parent, dataset: PreparedDataset, attack_spec: str | None, out: Path, epochs, seed, device):
    """``(attributor, info)`` of a new immunized run in ``out``: the parent's weights and settings, with
    ``epochs`` fine-tuning epochs and a record of the parent."""
    if run_dir_of(out).state() == "run":
        raise GfpError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if attack_spec is None:
        raise GfpError("--attack is required for a new immunization")
    attributor, info = load_run(parent, device)
    check_compatible(info, dataset, parent)
    _fine_tunable(attributor, info, parent)
    parent_record = {
        "path": str(Path(parent).resolve()),
        "method": info["method"],
        "spec": info.get("spec"),
        "dataset_hash": info["dataset"]["hash"],
        "best": info.get("best"),
    }
    attributor.config = config_from_dict(
        type(attributor.config), dict(info["config"], epochs=epochs or DEFAULT_EPOCHS), f"{parent}/{RUN_JSON}"
    )
    info = {key: info[key] for key in INHERITED}
    info.update(
        config=config_to_dict(attributor.config),
        dataset={"path": str(dataset.path.resolve()), "hash": dataset.hash},
        seed=seed,
        history=[],
        parent=parent_record,
    )
    return attributor, info


def immunize_run(
    parent: str | Path,
    dataset: PreparedDataset,
    attack_spec: str | None,
    out: str | Path,
    *,
    epochs: int | None = None,
    seed: int = 0,
    device=None,
    resume: bool = False,
    reporter: Reporter | None = None,
    false_unknown_rate: float | None = None,
    precision: str = "fp32",
    compile: bool = False,
) -> TrainResult:
    """Fine-tune the run ``parent`` against ``attack_spec`` into ``out`` (see the module docstring);
    ``resume`` continues the immunized run there, with its own seed and attack."""
    import torch

    reporter = reporter or NullReporter()
    device = device or torch.device("cpu")
    out = Path(out)
    with run_dir_of(out).lock("gfp immunize"):  # before the folder is checked: one writer at a time
        if resume:
            attributor, info, resume_state, seed, attack_spec = _resumed(
                parent, dataset, attack_spec, out, epochs, device
            )
        else:
            attributor, info = _started(parent, dataset, attack_spec, out, epochs, seed, device)
            resume_state = None
        _fine_tunable(attributor, info, out)
        attack = build_attack(attack_spec)
        attributor.attack = attack
        info["attack"] = describe_attack(attack, attack_spec)
        accel = {"precision": precision, "compile": compile}
        return fit_into_run(
            run_dir_of(out),
            info,
            attributor,
            dataset,
            seed,
            device,
            resume_state,
            reporter,
            false_unknown_rate,
            **accel,
        )
