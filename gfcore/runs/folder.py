"""The run-folder base class, :class:`RunDir`: one run folder, whatever kind of run it holds.

A run folder holds ``run.json`` (a ``format``-tagged JSON document), the weights that ship and
``last.safetensors`` (the resumable state); this module also holds the rule for what gfp may write into one.

Attribution runs (:mod:`gfcore.runs.attributor`) and GAN runs (:mod:`gfcore.runs.gan`) differ only in their
:class:`RunKind`: the ``format`` string of their run.json, the name of their weights file and the command
that makes one. A folder is one of three things for a kind: new (missing or empty), a run of that kind, or
something gfp did not create there -- which is refused, never overwritten.
"""

from __future__ import annotations

import platform
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gfcore.errors import GfpError
from gfcore.storage.atomic import write_json
from gfcore.storage.jsonio import read_document
from gfcore.storage.lock import LOCK_NAME, folder_lock

RUN_JSON = "run.json"
LAST = "last.safetensors"


@dataclass(frozen=True)
class RunKind:
    """What tells one kind of run folder from another."""

    format: str  # the ``format`` field of its run.json
    version: int  # the newest run.json version this gfp reads and writes
    weights: str  # file name of the weights the run ships
    noun: str  # how messages name it: "gfp run", "GAN run"
    made_by: str  # the command that makes one, for messages: "`gfp train`"


def package_versions() -> dict[str, str]:
    """The versions that produced a file: gfp, torch, numpy and Python."""
    import numpy
    import torch

    from gfcore import __version__

    return {
        "gfp": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


class RunDir:
    """The paths of a run folder of one :class:`RunKind`, and the reading and writing of its run.json."""

    def __init__(self, path: str | Path, kind: RunKind):
        self.path, self.kind = Path(path), kind

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r}, {self.kind.format!r})"

    def __str__(self) -> str:
        return str(self.path)

    @property
    def json_path(self) -> Path:
        return self.path / RUN_JSON

    @property
    def weights_path(self) -> Path:
        return self.path / self.kind.weights

    @property
    def last_path(self) -> Path:
        return self.path / LAST

    def has_run(self) -> bool:
        return self.json_path.is_file()

    def is_new(self) -> bool:
        """Missing, or an empty folder (but for the lock file of the writer checking it): a place gfp may
        start a run in."""
        return not self.path.exists() or (
            self.path.is_dir() and not any(p.name != LOCK_NAME for p in self.path.iterdir())
        )

    def lock(self, what: str):
        """The write lock of this folder (:func:`gfcore.storage.lock.folder_lock`), taken before the folder
        is checked; under torchrun only rank 0, the one writer, takes it (the other ranks are its job)."""
        from gfcore.execution import distributed as dist

        return folder_lock(self.path, what) if dist.is_main() else nullcontext()

    def state(self) -> str:
        """``"new"`` (missing or empty) or ``"run"`` (holds a run.json of this kind).

        Anything else -- a file, a folder of other things, a run.json of another kind or a broken one -- is
        a :class:`GfpError`: gfp never writes into what it did not create."""
        if self.path.exists() and not self.path.is_dir():
            raise GfpError(f"{self.path} exists and is not a folder")
        if self.has_run():
            self.read()  # a run.json of another kind, or unreadable: one line saying so
            return "run"
        if self.is_new():
            return "new"
        raise GfpError(
            f"{self.path} is not empty and is not a {self.kind.noun} (no {RUN_JSON}); "
            "gfp does not write into folders it did not create: choose another folder"
        )

    def read(self) -> dict[str, Any]:
        """run.json, checked for its ``format`` and ``version``; any problem is one :class:`GfpError` line."""
        missing = f"{self.path}: not a {self.kind.noun} (no {RUN_JSON}); make one with {self.kind.made_by}"
        info = read_document(self.json_path, self.kind.format, missing)
        version = info.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise GfpError(f"{self.json_path}: no valid version (found {version!r})")
        if version > self.kind.version:
            raise GfpError(
                f"{self.json_path}: {self.kind.format} version {version} was written by a newer gfp; "
                f"this one reads up to version {self.kind.version}"
            )
        return info

    def write(self, info: dict[str, Any]) -> None:
        """run.json, atomically, tagged with this kind's format and version (creates the folder)."""
        info["format"], info["version"] = self.kind.format, self.kind.version
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.json_path, info)
