"""The typed result of a shortcut audit: one :class:`AuditRow` per cue, and the rule that flags a cue.

A cue is a trivial property of an image or its file (global colour statistics, a colour histogram, the
raw pixels, the file format ...). Its row holds the held-out accuracy a simple classifier reaches on that
cue alone, next to chance: the share of the most frequent class in the evaluation set (1/K when balanced).

A cue is **far above chance** when ``accuracy >= chance + FAR_FRACTION * (1 - chance)``: it closes at least
half of the gap between chance and perfect attribution (60% on a balanced 5-way task, 66.7% on a 3-way
task, 75% on a 2-way task). A benchmark on which such a cue works does not need fingerprints to be solved.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

AUDIT_FORMAT = "gfp-audit"
AUDIT_VERSION = 1
FAR_FRACTION = 0.5
FAR_RULE = f"accuracy >= chance + {FAR_FRACTION} * (1 - chance)"


def chance_level(labels, num_classes: int) -> float:
    """The accuracy of always answering the most frequent class of ``labels`` (NaN when there are none)."""
    counts = [0] * num_classes
    for y in labels:
        counts[int(y)] += 1
    total = sum(counts)
    return max(counts) / total if total else float("nan")


def far_threshold(chance: float) -> float:
    return chance + FAR_FRACTION * (1.0 - chance)


def is_far_above_chance(accuracy: float | None, chance: float) -> bool:
    return (
        accuracy is not None
        and math.isfinite(accuracy)
        and math.isfinite(chance)
        and accuracy >= far_threshold(chance) - 1e-12
    )


@dataclass
class AuditRow:
    """One cue: what was measured (``classifier``), on how many held-out images, and how well."""

    cue: str  # e.g. "global stats", "colour histogram", "raw-pixel kNN", "file format"
    classifier: str  # how the cue was turned into a prediction
    n: int = 0  # evaluation images
    accuracy: float | None = None
    chance: float | None = None
    far_above_chance: bool = False
    ci95: float | None = None  # half-width of a normal 95% interval of the accuracy: 1.96 sqrt(p(1-p)/n)
    details: dict[str, Any] = field(default_factory=dict)  # e.g. the chosen k, distinct values of a cue
    error: str | None = None  # why the cue could not be measured

    @property
    def label(self) -> str:
        """How the row is named in a bench table, under the methods."""
        return f"audit: {self.cue}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditRow:
        from gfcore.errors import GfpError

        if not isinstance(data, dict) or not isinstance(data.get("cue"), str):
            raise GfpError("an audit row: expected an object with a cue name")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{"classifier": "", **{k: v for k, v in data.items() if k in names}})


def scored_row(cue: str, classifier: str, predictions, labels, num_classes: int, **details) -> AuditRow:
    """An :class:`AuditRow` from predicted and true labels of the evaluation set."""
    labels = [int(y) for y in labels]
    correct = [int(p) == y for p, y in zip(predictions, labels)]
    return correct_row(cue, classifier, correct, labels, num_classes, **details)


def correct_row(cue: str, classifier: str, correct, labels, num_classes: int, **details) -> AuditRow:
    """An :class:`AuditRow` from each evaluation image's right/wrong (and the true labels, for chance)."""
    labels = [int(y) for y in labels]
    if len(correct) != len(labels):
        raise ValueError(f"{len(correct)} right/wrong flags for {len(labels)} labels")
    n = len(labels)
    chance = chance_level(labels, num_classes)
    accuracy = sum(bool(c) for c in correct) / n if n else float("nan")
    ci95 = 1.96 * math.sqrt(accuracy * (1 - accuracy) / n) if n else None
    return AuditRow(
        cue=cue,
        classifier=classifier,
        n=n,
        accuracy=accuracy,
        chance=chance,
        far_above_chance=is_far_above_chance(accuracy, chance),
        ci95=ci95,
        details=details,
    )


def failed_row(cue: str, classifier: str, error: str) -> AuditRow:
    return AuditRow(cue=cue, classifier=classifier, error=error)


def verdict(row: AuditRow) -> str:
    """The status cell of a row: why it failed; SHORTCUT when far above chance; otherwise whether the
    accuracy is above chance by more than its 95% interval."""
    if row.error:
        return f"failed: {row.error}"
    if row.far_above_chance:
        return "SHORTCUT"
    if row.accuracy is None or row.chance is None:
        return "-"
    return "above chance" if row.accuracy - (row.ci95 or 0.0) > row.chance else "at chance"


def shortcut_warning(row: AuditRow) -> str:
    """The line printed when a cue is far above chance."""
    return (
        f"shortcut: {row.cue} alone attributes {100 * row.accuracy:.1f}% of {row.n} held-out images "
        f"(chance {100 * row.chance:.1f}%, far-above-chance threshold {100 * far_threshold(row.chance):.1f}%): "
        "the sources differ in this trivial property, so accuracy on this data does not show fingerprints"
    )
