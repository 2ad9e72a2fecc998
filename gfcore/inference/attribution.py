"""Attributing loose image files at scale: decoding in worker processes, the model in batches.

Files are decoded (``load_rgb`` through ``decode_each``, then the run's size policy) by a torch
``DataLoader`` over the file list, in ``workers`` processes (0: in this one), while this process runs the
model on the previous batch. At most ``workers * 2 + 1`` batches of pixels exist at any time, whatever the
number of files. Batches arrive in file order, so results, warnings and skipped files keep the order of the
files. Under torchrun each rank takes a contiguous block of the files and rank 0 gathers the rows.

The per-batch decision is one function slot, ``decide(classes, paths, logits) -> [Attribution]``
(:func:`softmax_decision` by default), so a post-processing of the scores changes one argument.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gfcore.data.images import decode_each, fit_to_size
from gfcore.interfaces import Attributor
from gfcore.terminal.progress import NullReporter, Reporter

DEFAULT_BATCH_SIZE = 64


@dataclass
class Attribution:
    path: str
    predicted: str
    probabilities: dict[str, float]
    logits: list[float] = field(default_factory=list)  # what calibration and the open-set rule start from
    score: float | None = None  # the open-set score, when the rule was applied (gfcore.inference.openset)


@dataclass
class AttributionBatch:
    results: list[Attribution] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"}

    def shares(self, classes: list[str]) -> dict[str, float]:
        n = len(self.results)
        return {c: (sum(r.predicted == c for r in self.results) / n if n else 0.0) for c in classes}


def default_workers(n_files: int, batch_size: int) -> int:
    """Decoding processes for ``n_files``: none for a handful of files (starting a worker costs more than
    decoding them), else one per spare core (the model keeps one), at most 8."""
    if n_files <= 2 * batch_size:
        return 0
    return max(1, min(8, (os.cpu_count() or 1) - 1))


class DecodedFiles:
    """A map-style dataset over a list of files: item ``i`` is ``(i, uint8 [3, R, R] array or None, reason)``.
    A file that does not decode gives ``None`` and the reason ``decode_each`` words for it."""

    def __init__(self, files: list[Path], resolution: int, size_policy: str):
        self.files, self.resolution, self.size_policy = files, resolution, size_policy

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        skipped: list[dict] = []
        for _, rgb in decode_each([self.files[i]], skipped):
            return i, fit_to_size(rgb, self.resolution, self.size_policy).transpose(2, 0, 1), ""
        return i, None, skipped[0]["reason"]


def collate_decoded(items):
    """A batch of items -> (indices of the decoded files, uint8 tensor of them or None, [(index, reason)])."""
    import numpy as np
    import torch

    kept = [(i, arr) for i, arr, _ in items if arr is not None]
    bad = [(i, reason) for i, arr, reason in items if arr is None]
    images = torch.from_numpy(np.stack([arr for _, arr in kept])) if kept else None
    return [i for i, _ in kept], images, bad


def softmax_decision(classes: list[str], paths: list[str], logits) -> list[Attribution]:
    """The default decision: softmax probabilities, the most probable class."""
    import torch

    probs = torch.softmax(logits.float(), dim=1).numpy()
    return [  # the logits stay: calibration and the open-set rule start from them (gfcore.inference.openset)
        Attribution(path, classes[int(p.argmax())], {c: float(v) for c, v in zip(classes, p)}, logits=z)
        for path, p, z in zip(paths, probs, logits.float().tolist())
    ]


def attribute_stream(
    attributor: Attributor,
    files: list[Path],
    size_policy: str = "crop",
    reporter: Reporter | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    decide: Callable[..., list[Attribution]] = softmax_decision,
) -> AttributionBatch:
    """Decode, size-fit and attribute each file, in batches; undecodable files are skipped with one warning
    line each and the rest finish. Under torchrun every rank returns the whole (gathered) batch."""
    from torch.utils.data import DataLoader

    from gfcore.execution import distributed as dist

    reporter = reporter or NullReporter()
    mine = dist.shard(len(files))
    local_files = files[mine.start : mine.stop]
    workers = default_workers(len(local_files), batch_size) if workers is None else workers
    loader = DataLoader(
        DecodedFiles(local_files, attributor.resolution, size_policy),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate_decoded,
        pin_memory=attributor.device.type == "cuda",
        prefetch_factor=2 if workers else None,
    )
    batch = AttributionBatch()
    task = reporter.task("attributing", total=len(local_files))
    for indices, images, bad in loader:
        for i, reason in bad:
            batch.skipped.append({"path": str(local_files[i]), "reason": reason})
            reporter.warn(f"skipped {local_files[i]}: {reason}")
        if images is not None:
            paths = [str(local_files[i]) for i in indices]
            batch.results.extend(decide(attributor.classes, paths, attributor.logits(images)))
        task.advance(len(indices) + len(bad))
    task.done()
    if dist.world_size() == 1:
        return batch
    gathered = dist.gather_json({"results": [vars(r) for r in batch.results], "skipped": batch.skipped})
    return AttributionBatch(
        results=[Attribution(**r) for part in gathered for r in part["results"]],
        skipped=[s for part in gathered for s in part["skipped"]],
    )
