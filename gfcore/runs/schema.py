"""Validation, field by field, of the JSON documents gfp reads back from disk.

They are a run's ``run.json``, a GAN run's ``run.json``, a dataset's ``manifest.json`` and the metadata in
a ``last.safetensors`` header.

Those files may come from a stranger or be edited by hand, so each field the code relies on is checked
for presence and type before use, and the first problem becomes one line naming the file and the field
(never a ``KeyError``, and never ``"xyz"`` taken for the classes x, y and z).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from gfcore.config import MAX_SEED
from gfcore.errors import GfpError

Check = Callable[[object], bool]


def _int(low=None, high=None) -> Check:
    return lambda v: (
        isinstance(v, int)
        and not isinstance(v, bool)
        and (low is None or v >= low)
        and (high is None or v <= high)
    )


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _text(v) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _class_names(v) -> bool:
    return isinstance(v, list) and len(v) >= 2 and all(_text(c) for c in v) and len(set(v)) == len(v)


def _list_of_objects(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, dict) for x in v)


def _object(v) -> bool:
    return isinstance(v, dict)


def _optional(check: Check) -> Check:
    return lambda v: v is None or check(v)


def _accuracy(v) -> bool:  # NaN (nothing to validate on) is stored as null in JSON, NaN in a header
    return v is None or (isinstance(v, float) and math.isnan(v)) or (_number(v) and -1 <= v <= 1)


# field -> (check, what it must be, required)
RUN_FIELDS = {
    "method": (_text, "a method name", True),
    "config": (_object, "an object of parameters", True),
    "classes": (_class_names, "a list of at least 2 distinct class names", True),
    "resolution": (_int(1, 65536), "a positive integer", True),
    "seed": (_int(0, MAX_SEED), "a non-negative integer", True),
    "dataset": (lambda v: isinstance(v, dict) and _text(v.get("hash")), 'an object with a "hash"', True),
    "history": (_list_of_objects, "a list of objects", False),
    "spec": (_text, "a method spec string", False),
    "status": (lambda v: v in ("running", "complete"), '"running" or "complete"', False),
    "preprocessing": (_object, "an object", False),
    "best": (_optional(_object), "an object or null", False),
    "epochs_done": (_int(0), "a non-negative integer", False),
    "train_seconds": (_number, "a number", False),
    # an immunized run (`gfp immunize`): the attack it was fine-tuned against and the run it started from
    "attack": (lambda v: isinstance(v, dict) and _text(v.get("spec")), 'an object with a "spec"', False),
    "parent": (lambda v: isinstance(v, dict) and _text(v.get("path")), 'an object with a "path"', False),
    # a warm-started run (`gfp train --init-from`): the run whose weights it started from
    "init_from": (
        lambda v: isinstance(v, dict) and _text(v.get("path")) and _text(v.get("weights_sha256")),
        'an object with a "path" and a "weights_sha256"',
        False,
    ),
    # temperature and open-set threshold fitted on the validation split (gfcore.inference.openset checks inside)
    "calibration": (_optional(_object), "an object or null", False),
}

GAN_RUN_FIELDS = {
    "family": (_text, "a GAN family name", True),
    "config": (_object, "an object of parameters", True),
    "seed": (_int(0, MAX_SEED), "a non-negative integer", True),
    "iterations_done": (_int(0), "a non-negative integer", False),
    "iterations_total": (_int(0), "a non-negative integer", False),
    "history": (_list_of_objects, "a list of objects", False),
    "resolution": (_int(1, 65536), "a positive integer", False),
    "train_seconds": (_number, "a number", False),
    "real": (_object, "an object", False),
}

MANIFEST_FIELDS = {
    "classes": (_class_names, "a list of at least 2 distinct class names", True),
    "resolution": (_int(4, 4096), "an integer from 4 to 4096", True),
    "counts": (
        lambda v: (
            isinstance(v, dict)
            and all(isinstance(c, dict) and all(_int(0)(n) for n in c.values()) for c in v.values())
        ),
        "an object of per-class image counts per split",
        True,
    ),
    "hash": (_text, "a hash string", True),
    "preprocessing": (_object, "an object", False),
    "files": (_list_of_objects, "a list of objects", False),
    "skipped": (_list_of_objects, "a list of objects", False),
}

CHECKPOINT_FIELDS = {
    "epoch": (_int(0), "a non-negative integer", True),
    "best_val_accuracy": (_accuracy, "a number from -1 to 1 or null", True),
    "best_epoch": (_int(0), "a non-negative integer", False),
    "history": (_list_of_objects, "a list of objects", True),
    "optimizer": (_object, "an object", True),
}


def check_fields(doc, fields: dict, where: str | Path) -> dict:
    """``doc`` if every field in ``fields`` is as described, else a one-line :class:`GfpError`."""
    if not isinstance(doc, dict):
        raise GfpError(f"{where}: expected a JSON object, found {type(doc).__name__}")
    for name, (check, what, required) in fields.items():
        if name not in doc:
            if required:
                raise GfpError(f"{where}: field {name!r} is missing (expected {what})")
            continue
        value = doc[name]
        if not check(value):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise GfpError(f"{where}: field {name!r} must be {what}, not {type(value).__name__} {shown}")
    return doc


def check_run(doc, path) -> dict:
    return check_fields(doc, RUN_FIELDS, path)


def check_gan_run(doc, path) -> dict:
    return check_fields(doc, GAN_RUN_FIELDS, path)


def check_manifest(doc, path) -> dict:
    check_fields(doc, MANIFEST_FIELDS, path)
    extra = [name for c in doc["counts"].values() for name in c if name not in doc["classes"]]
    if extra:
        raise GfpError(f"{path}: field 'counts' names class {extra[0]!r}, which 'classes' does not list")
    return doc


def check_checkpoint_meta(meta, where="last.safetensors") -> dict:
    """The training state a neural method's ``last.safetensors`` header holds (see gfcore.training.loop)."""
    return check_fields(meta, CHECKPOINT_FIELDS, f"{where} (checkpoint metadata)")


def nothing_to_resume(info: dict, requested_epochs: int | None, run_dir) -> str | None:
    """Why resuming a run with ``--epochs requested_epochs`` (None: not given) would do nothing, or None.

    A finished run has nothing to do unless more epochs than it was trained for are asked; any run has
    nothing to do when fewer epochs are asked than it has already done."""
    trained, done = info["config"].get("epochs"), info.get("epochs_done", 0)
    finished = info.get("status") == "complete" and (
        requested_epochs is None or not isinstance(trained, int) or requested_epochs <= trained
    )
    if not finished and (requested_epochs is None or requested_epochs >= done):
        return None
    if not isinstance(trained, int):
        return f"{run_dir} is complete: nothing to do"
    return (
        f"{run_dir} has {done} trained epoch(s) of {trained}: nothing to do (pass --epochs N above "
        f"{max(done, trained)} to train it further)"
    )


def describe_weight_mismatch(expected: dict, found: dict, n_classes: int) -> str | None:
    """One line on why ``found`` tensors do not fit a model whose state dict is ``expected``: the class
    counts when a shape differs only in a dimension equal to the number of classes, else the first
    missing, unexpected or differently shaped tensor. None when the shapes all fit."""
    for name, tensor in expected.items():
        if name not in found:
            continue
        want, got = tuple(tensor.shape), tuple(found[name].shape)
        if want == got:
            continue
        diff = [i for i in range(len(want)) if len(want) == len(got) and want[i] != got[i]]
        if len(diff) == 1 and want[diff[0]] == n_classes:
            return f"the weights are for {got[diff[0]]} classes, but the run lists {n_classes}"
        return f"tensor {name!r} has shape {list(got)}, the method expects {list(want)}"
    missing = sorted(set(expected) - set(found))
    if missing:
        return f"tensor {missing[0]!r} is missing ({len(missing)} missing in all)"
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        return f"unexpected tensor {unexpected[0]!r} ({len(unexpected)} unexpected in all)"
    return None
