"""The typed results of a bench: one :class:`BenchRow` per method inside one :class:`BenchResults`.

``to_dict`` gives exactly the JSON of ``results.json`` (format ``gfp-bench``, version 3)::

    {"format": "gfp-bench", "version": 3, "dataset": {path, hash, classes, resolution, counts},
     "split": "test", "seed": S, "device": D, "runs": R, "max_fd_images": M,
     "repeats": K, "reference": SPEC, "fd_dim": d, "fd_reference": {fd_ratio, dims, ...} | null,
     "methods": [{spec, method, slug, run, reused, n, accuracy, accuracy_ci95, ci_method, macro_f1,
                  per_class_accuracy, confusion_matrix, fd_ratio, fd_ratio_ci95, fd, train_seconds,
                  images_per_second, repeats: [{seed, run, reused, accuracy, macro_f1, fd_ratio,
                  train_seconds, images_per_second, correct}], paired, error}],
     "audit": [{cue, classifier, n, accuracy, chance, far_above_chance, ci95, details, error}],
     "created": ISO time, "versions": {...},
     "robustness": [{spec, attack, clean, atk, dfs, immunized_run, error, scale}],  (only with --attacks)
     "curves": [{spec, attack, parameter, values, accuracy, run}],           (only with --attacks)
     "degradations": [{spec, level, attack, n, clean, clean_ci95, accuracy, accuracy_ci95, error}]}
                                                                             (only with --degradations)

``audit`` (new in version 2) holds what each shortcut cue of :mod:`gfcore.studies.audit` reaches on the same test
split; tables show these rows under the methods as ``audit: <cue>``. Version 1 files read as having none.

Version 3 (repeated runs): a method is trained ``repeats`` times (seeds S, S+1, ...). Its accuracy, macro-F1,
per-class accuracy, FD ratio and timings are means over the repeats, its confusion matrix the sum;
``accuracy_ci95`` is a t-interval over the repeats (K >= 2) or a Wilson interval over the test images
(K = 1), as ``ci_method`` says; ``paired`` is the exact McNemar test against the ``reference`` method
(:mod:`gfcore.studies.bench.repeats`). FD ratios are after a PCA to ``fd_dim`` dimensions fitted on training
features; ``fd_reference`` is the raw pixels' ratio. Older files read with these empty.

and ``from_dict`` reads it back (the bench command, its renderers and the demo all work on these types).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gfcore.errors import GfpError
from gfcore.storage.jsonio import read_document
from gfcore.studies.audit.result import AuditRow

RESULTS_FORMAT = "gfp-bench"
RESULTS_VERSION = 3


@dataclass
class BenchRow:
    """One method's line of a bench: what ran, how it scored, or why it failed (``error``)."""

    spec: str
    method: str | None = None
    slug: str | None = None
    run: str | None = None
    init_from: str | None = None  # the run its training started from (gfp train --init-from), else None
    reused: bool | None = None
    n: int | None = None
    accuracy: float | None = None
    accuracy_ci95: list[float] | None = None  # [low, high]
    ci_method: str | None = None
    macro_f1: float | None = None
    per_class_accuracy: dict[str, float | None] | None = None
    confusion_matrix: list[list[int]] | None = None
    fd_ratio: float | None = None
    fd_ratio_ci95: list[float] | None = None  # t-interval over repeats (K >= 2)
    fd: dict[str, Any] | None = None  # how the FD ratio was measured, or a note why there is none
    train_seconds: float | None = None
    images_per_second: float | None = None
    repeats: list[dict[str, Any]] = field(default_factory=list)  # one entry per seed
    paired: dict[str, Any] | None = None  # exact McNemar against the reference method
    error: str | None = None

    @property
    def status(self) -> str:
        """``trained``, ``reused`` or ``failed``."""
        return "failed" if self.error else ("reused" if self.reused else "trained")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchRow:
        return cls(**_known_fields(cls, data, "a bench row"))


@dataclass
class RobustnessRow:
    """One method under one attack: accuracy on the attacked test split of the original run
    ("Atk") and, for a method that can be fine-tuned, of the run immunized against that attack ("Dfs")."""

    spec: str
    attack: str
    clean: float | None = None
    atk: float | None = None
    dfs: float | None = None
    immunized_run: str | None = None
    immunize_epochs: int | None = None  # fine-tuning epochs of the immunized run (None: not immunized)
    error: str | None = None
    # how the attack's strength relates to the image size ("relative to 128 px", "absolute pixels", ...):
    # Attack.scale_note; None in files written before it was recorded (their blur: absolute pixels)
    scale: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RobustnessRow:
        return cls(**_known_fields(cls, data, "a robustness row"))


@dataclass
class SeverityCurve:
    """Accuracy of one method (or its immunized run) against one attack at a swept fixed parameter."""

    spec: str
    attack: str
    parameter: str
    values: list[float]
    accuracy: list[float | None]
    run: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeverityCurve:
        return cls(**_known_fields(cls, data, "a severity curve"))


@dataclass
class DegradationRow:
    """One method at one fixed degradation level (``--degradations``): accuracy on the degraded test split
    next to its clean accuracy, each with the Wilson 95% interval over the ``n`` test images."""

    spec: str
    level: str  # the level's label, e.g. "JPEG 30"
    attack: str  # the spec that makes it, e.g. "degrade:quality=30"
    n: int | None = None
    clean: float | None = None
    clean_ci95: list[float] | None = None
    accuracy: float | None = None
    accuracy_ci95: list[float] | None = None
    error: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DegradationRow:
        return cls(**_known_fields(cls, data, "a degradation row"))


@dataclass
class BenchResults:
    """Every method of one bench on one dataset split, and how the bench was run."""

    dataset: dict[str, Any]  # path, hash, classes, resolution, counts
    split: str
    seed: int
    methods: list[BenchRow]
    created: str
    versions: dict[str, str]
    device: str | None = None
    runs: str | None = None
    max_fd_images: int | None = None
    repeats: int = 1
    reference: str | None = None  # the method every other one is paired against
    fd_dim: int | None = None
    fd_reference: dict[str, Any] | None = None  # the raw pixels' FD ratio
    audit: list[AuditRow] = field(
        default_factory=list
    )  # shortcut cues on the same split (gfcore.studies.audit)
    format: str = RESULTS_FORMAT
    version: int = RESULTS_VERSION
    # robustness (``--attacks``): one row per method and attack, and the accuracy-versus-severity curves
    robustness: list[RobustnessRow] = field(default_factory=list)
    curves: list[SeverityCurve] = field(default_factory=list)
    degradations: list[DegradationRow] = field(default_factory=list)  # the fixed levels (--degradations)
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer writer added, kept on a round trip

    @property
    def classes(self) -> list[str]:
        return list(self.dataset["classes"])

    @property
    def failed(self) -> list[BenchRow]:
        return [row for row in self.methods if row.error]

    def row(self, spec: str) -> BenchRow:
        for row in self.methods:
            if row.spec == spec:
                return row
        raise GfpError(f"no method {spec!r} in these bench results")

    def to_dict(self) -> dict[str, Any]:
        out = {
            "format": self.format,
            "version": self.version,
            "dataset": self.dataset,
            "split": self.split,
            "seed": self.seed,
            "device": self.device,
            "runs": self.runs,
            "max_fd_images": self.max_fd_images,
            "repeats": self.repeats,
            "reference": self.reference,
            "fd_dim": self.fd_dim,
            "fd_reference": self.fd_reference,
            "methods": [row.to_dict() for row in self.methods],
            "audit": [row.to_dict() for row in self.audit],
            "created": self.created,
            "versions": self.versions,
        }
        if self.robustness or self.curves:
            out["robustness"] = [dataclasses.asdict(r) for r in self.robustness]
            out["curves"] = [dataclasses.asdict(c) for c in self.curves]
        if self.degradations:
            out["degradations"] = [dataclasses.asdict(d) for d in self.degradations]
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResults:
        known = _known_fields(cls, data, "bench results", keep_unknown=True)
        extra = {k: v for k, v in data.items() if k not in known}
        known["methods"] = [BenchRow.from_dict(m) for m in known.get("methods", [])]
        audit = known.get("audit") or []
        if not isinstance(audit, list) or not all(isinstance(a, dict) for a in audit):
            raise GfpError("bench results: audit must be a list of objects")
        known["audit"] = [AuditRow.from_dict(a) for a in audit]
        known["robustness"] = [RobustnessRow.from_dict(r) for r in known.get("robustness", [])]
        known["curves"] = [SeverityCurve.from_dict(c) for c in known.get("curves", [])]
        known["degradations"] = [DegradationRow.from_dict(d) for d in known.get("degradations", [])]
        return cls(**known, extra=extra)

    @classmethod
    def read(cls, path: str | Path) -> BenchResults:
        """A ``results.json`` written by ``gfp bench``."""
        doc = read_document(path, RESULTS_FORMAT, f"{path}: no such bench results file")
        if not isinstance(doc.get("version"), int) or doc["version"] > RESULTS_VERSION:
            raise GfpError(f"{path}: bench results version {doc.get('version')!r} is not one this gfp reads")
        return cls.from_dict(doc)


def _known_fields(cls, data: dict[str, Any], what: str, keep_unknown: bool = False) -> dict[str, Any]:
    """The entries of ``data`` that are fields of ``cls``; a missing required field is a :class:`GfpError`."""
    if not isinstance(data, dict):
        raise GfpError(f"{what}: expected a JSON object, found {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}
    required = [
        name
        for name, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in data]
    if missing:
        raise GfpError(f"{what}: missing {', '.join(missing)}")
    unknown = [k for k in data if k not in fields]
    if unknown and not keep_unknown:
        raise GfpError(f"{what}: unknown field(s) {', '.join(sorted(unknown))}")
    return {k: v for k, v in data.items() if k in fields}
