"""The file cues of a folder of images: what a file says about its source before any pixel is looked at.

Read from the file's header with Pillow (only the formats of :data:`gfcore.data.images.READ_FORMATS`, as every
decode in gfp): the format, the file size, the image dimensions, the JPEG quantisation tables
(``im.quantization``; "none" for other formats), whether EXIF data is present, and the colour mode.

Each cue alone is a classifier:

* categorical cues (format, dimensions, quantisation tables, EXIF, mode) predict, for each value seen in
  training, the most frequent source among the training files with that value; an unseen value gets the
  most frequent source overall. This is the best any classifier can do with that cue on the training set
  (a decision tree on the one-hot value grows exactly these leaves);
* the file size goes to a decision tree on log2(bytes) (scikit-learn, at least 5 files per leaf).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np

from gfcore.studies.audit.result import AuditRow, scored_row

CATEGORICAL = "majority source per value"
TREE = "decision tree on log2(bytes)"
CUES = (
    "file format",
    "file size",
    "image dimensions",
    "JPEG quantisation tables",
    "EXIF present",
    "colour mode",
)


def file_cues(path: str | os.PathLike) -> dict:
    """The file cues of one image file (its header only; the caller has decoded it already)."""
    from PIL import Image

    from gfcore.data.images import READ_FORMATS

    with Image.open(path, formats=READ_FORMATS) as im:
        quant = getattr(im, "quantization", None)
        if quant:
            tables = "|".join(f"{k}:{','.join(map(str, v))}" for k, v in sorted(quant.items()))
            quant_key = "jpeg:" + hashlib.sha256(tables.encode()).hexdigest()[:12]
        else:
            quant_key = "none"
        exif = bool(im.info.get("exif")) or len(im.getexif()) > 0
        return {
            "file format": im.format or "unknown",
            "file size": Path(path).stat().st_size,
            "image dimensions": f"{im.size[0]}x{im.size[1]}",
            "JPEG quantisation tables": quant_key,
            "EXIF present": "yes" if exif else "no",
            "colour mode": im.mode,
        }


class MajorityPerValue:
    """Predicts the most frequent training label among the training items with the same value."""

    def fit(self, values: list, labels: list[int]) -> MajorityPerValue:
        by_value: dict = {}
        for v, y in zip(values, labels):
            by_value.setdefault(v, Counter())[y] += 1
        # ties go to the smaller label, so the result does not depend on the order of the files
        self.table = {v: min(c, key=lambda y: (-c[y], y)) for v, c in by_value.items()}
        overall = Counter(labels)
        self.fallback = min(overall, key=lambda y: (-overall[y], y))
        return self

    def predict(self, values: list) -> list[int]:
        return [self.table.get(v, self.fallback) for v in values]


def file_rows(
    train: list[dict], train_y, test: list[dict], test_y, num_classes: int, seed: int
) -> list[AuditRow]:
    """One row per file cue, fitted on the ``train`` records and scored on the ``test`` records."""
    from sklearn.tree import DecisionTreeClassifier

    rows = []
    train_y, test_y = [int(y) for y in train_y], [int(y) for y in test_y]
    for cue in CUES:
        train_v, test_v = [r[cue] for r in train], [r[cue] for r in test]
        distinct = len(set(train_v) | set(test_v))
        if cue == "file size":
            tree = DecisionTreeClassifier(min_samples_leaf=5, random_state=seed)
            tree.fit(np.log2(np.asarray(train_v, dtype=np.float64))[:, None], train_y)
            predicted = tree.predict(np.log2(np.asarray(test_v, dtype=np.float64))[:, None])
            rows.append(scored_row(cue, TREE, predicted, test_y, num_classes, distinct_values=distinct))
        else:
            predicted = MajorityPerValue().fit(train_v, train_y).predict(test_v)
            rows.append(
                scored_row(cue, CATEGORICAL, predicted, test_y, num_classes, distinct_values=distinct)
            )
    return rows


def stratified_split(
    labels: list[int], fractions: tuple[float, float, float], seed: int
) -> dict[str, np.ndarray]:
    """Indices of ``train``, ``val`` and ``test``: each class shuffled with ``seed`` and cut by ``fractions``
    (at least one file per class in train and test when the class has two or more)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        idx = idx[rng.permutation(len(idx))]
        n_test = max(1, math.floor(len(idx) * fractions[2])) if len(idx) > 1 else 0
        n_val = math.floor(len(idx) * fractions[1]) if len(idx) - n_test > 1 else 0
        n_train = len(idx) - n_test - n_val
        parts["train"] += idx[:n_train].tolist()
        parts["val"] += idx[n_train : n_train + n_val].tolist()
        parts["test"] += idx[n_train + n_val :].tolist()
    return {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in parts.items()}
