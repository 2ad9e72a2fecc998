"""What every check of the conformance kit shares: :class:`ConformanceError`, configs from the checks'
small defaults, a recording ``ctx.checkpoint`` and the safetensors round trip; see :mod:`gfcore.testing`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from gfcore.config import build_config
from gfcore.interfaces import FitContext, config_fields
from gfcore.storage.tensorio import load_tensors, save_tensors
from gfcore.terminal.progress import NullReporter


class ConformanceError(AssertionError):
    """A class or command that breaks the plugin contract."""


def expect(condition: Any, owner: Any, message: str) -> None:
    if not condition:
        raise ConformanceError(f"{getattr(owner, '__name__', owner)}: {message}")


def make_config(cls: type, overrides: dict[str, Any] | None = None, defaults: dict[str, Any] | None = None):
    """``cls.Config`` from the check's ``defaults``, then ``cls.conformance_overrides``, then ``overrides``."""
    known = config_fields(cls.Config)
    params = {k: v for k, v in (defaults or {}).items() if k in known}
    params.update({**getattr(cls, "conformance_overrides", {}), **(overrides or {})})
    return build_config(cls.Config, params, cls.__name__)


def named_tensors(tensors: Any, owner: type, what: str) -> dict:
    import torch

    expect(isinstance(tensors, dict) and tensors, owner, f"{what} must be a non-empty dict of named tensors")
    for key, value in tensors.items():
        expect(
            isinstance(key, str) and isinstance(value, torch.Tensor),
            owner,
            f"{what} must map str to torch.Tensor, got {key!r}: {type(value).__name__}",
        )
    return tensors


def safetensors_round_trip(tensors: dict, owner: type, what: str) -> dict:
    """The tensors as a run would read them back (also proves they can be saved without pickling)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.safetensors"
        try:
            save_tensors(path, tensors)
        except Exception as exc:
            raise ConformanceError(
                f"{owner.__name__}: {what} cannot be saved as safetensors ({exc})"
            ) from exc
        return load_tensors(path)[0]


class Recorder:
    """A ``ctx.checkpoint`` that keeps copies of what it is given and checks it can be saved."""

    def __init__(self, owner: type):
        self.owner, self.calls = owner, []

    def __call__(self, step, tensors, meta, metrics=None, is_best=False):
        named_tensors(tensors, self.owner, "the tensors given to ctx.checkpoint")
        try:
            meta = json.loads(json.dumps(meta))
        except (TypeError, ValueError) as exc:
            raise ConformanceError(f"{self.owner.__name__}: checkpoint meta is not JSON ({exc})") from None
        self.calls.append((int(step), {k: v.detach().clone() for k, v in tensors.items()}, meta))


def fit_context(recorder: Recorder, seed: int = 0, resume=None) -> FitContext:
    import torch

    return FitContext(
        device=torch.device("cpu"), progress=NullReporter(), seed=seed, checkpoint=recorder, resume=resume
    )


def check_uint8_unchanged(before, after, owner: type, what: str) -> None:
    import torch

    expect(torch.equal(before, after), owner, f"{what} changed its input images in place")
