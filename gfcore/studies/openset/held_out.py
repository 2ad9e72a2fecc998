"""The datasets of a leave-one-source-out evaluation: a K-source dataset without one of its sources (all
three splits, labels renumbered), written once and reused."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gfcore.data.dataset import SPLITS, PreparedDataset, load_dataset, write_dataset
from gfcore.errors import GfpError


def slug(name: str) -> str:
    """The folder name of the dataset and run without source ``name``."""
    return "without-" + re.sub(r"[^A-Za-z0-9._-]", "_", name)


def without_source(data: PreparedDataset, held_out: int, folder: Path) -> PreparedDataset:
    """The dataset without class ``held_out`` (written once, then reused when its classes match)."""
    known = [c for i, c in enumerate(data.classes) if i != held_out]
    if (folder / "manifest.json").is_file():
        existing = load_dataset(folder)
        if (
            existing.classes == known
            and existing.manifest.get("provenance", {}).get("parent_hash") == data.hash
        ):
            return existing
        raise GfpError(f"{folder} holds another dataset; delete it or choose another --out")
    renumber = np.array([-1 if i == held_out else i - (i > held_out) for i in range(len(data.classes))])
    splits = {}
    for name in SPLITS:
        split = data.split(name)
        rows = np.flatnonzero(split.labels != held_out)
        splits[name] = (np.asarray(split.images[rows]), renumber[split.labels[rows]])
    provenance = {
        "parent": str(data.path.resolve()),
        "parent_hash": data.hash,
        "held_out": data.classes[held_out],
    }
    return write_dataset(folder, known, splits, provenance)
