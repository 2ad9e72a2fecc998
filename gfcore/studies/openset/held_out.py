"""The datasets of a leave-one-out evaluation: a K-source dataset without one of its sources, or without
a group of them (a family: every sampler of one diffusion model), all three splits with labels
renumbered, written once and reused."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gfcore.data.dataset import SPLITS, PreparedDataset, load_dataset, write_dataset
from gfcore.errors import GfpError


def slug(name: str) -> str:
    """The folder name of the dataset and run without source ``name``."""
    return "without-" + re.sub(r"[^A-Za-z0-9._-]", "_", name)


def without_source(data: PreparedDataset, held_out: int | list[int], folder: Path) -> PreparedDataset:
    """The dataset without class ``held_out`` (or each class of a list), written once, then reused when its
    classes match."""
    left_out = {held_out} if isinstance(held_out, int) else set(held_out)
    known = [c for i, c in enumerate(data.classes) if i not in left_out]
    if (folder / "manifest.json").is_file():
        existing = load_dataset(folder)
        if (
            existing.classes == known
            and existing.manifest.get("provenance", {}).get("parent_hash") == data.hash
        ):
            return existing
        raise GfpError(f"{folder} holds another dataset; delete it or choose another --out")
    renumber = np.full(len(data.classes), -1)
    renumber[[i for i in range(len(data.classes)) if i not in left_out]] = np.arange(len(known))
    splits = {}
    for name in SPLITS:
        split = data.split(name)
        rows = np.flatnonzero(renumber[split.labels] >= 0)
        splits[name] = (np.asarray(split.images[rows]), renumber[split.labels[rows]])
    provenance = {
        "parent": str(data.path.resolve()),
        "parent_hash": data.hash,
        "held_out": ", ".join(data.classes[i] for i in sorted(left_out)),
    }
    return write_dataset(folder, known, splits, provenance)


def held_out_units(
    classes: list[str], groups: dict[str, list[str]] | None = None, keep: list[str] = ()
) -> list[tuple[str, list[int]]]:
    """What is left out in turn: each group (a family of sources, left out together, under its name) and
    each source in no group, except the ``keep`` sources, which every run knows (the real class)."""
    groups = groups or {}
    named = [s for members in groups.values() for s in members] + list(keep)
    unknown = sorted(set(named) - set(classes))
    if unknown:
        raise GfpError(f"no source {', '.join(unknown)} in the dataset; its sources: {', '.join(classes)}")
    if len(named) != len(set(named)):
        raise GfpError("a source is named twice in the groups and kept sources; name each once")
    grouped = {s for members in groups.values() for s in members}
    units = [(name, sorted(classes.index(s) for s in members)) for name, members in groups.items()]
    units += [(c, [i]) for i, c in enumerate(classes) if c not in grouped and c not in keep]
    for name, members in units:
        if len(classes) - len(members) < 2:
            raise GfpError(f"leaving out {name} leaves fewer than 2 known sources")
    if len(units) < 2:
        raise GfpError("fewer than 2 sources or groups to leave out in turn")
    return units
