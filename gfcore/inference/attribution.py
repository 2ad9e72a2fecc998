"""Attributing loose image files at scale: decoding in worker processes, the model in batches.

Files are decoded (``load_rgb`` through ``decode_each``) and cut into the run's R x R inputs by the
attribution policy (:mod:`gfcore.data.tiling`: by default tiles covering the whole image at its own scale)
by a torch ``DataLoader`` over the file list, in ``workers`` processes (0: in this one), while this process
runs the model on the previous batch, ``batch_size`` inputs per forward pass. An image's result is the mean
of its tiles' logits: averaging logits pools the evidence of every tile with equal weight (a product of the
tiles' softmax likelihoods, renormalised), so a large image is judged by all of its pixels and not by its
most confident corner; the paper's post-pooling variant pools patch logits the same way. At most
``workers * 2 + 1`` batches of files exist at any time, whatever the number of files. Batches arrive in file order, so results, warnings and skipped files keep the order of the
files. Under torchrun each rank takes a contiguous block of the files and rank 0 gathers the rows.

The per-batch decision is one function slot, ``decide(classes, paths, logits) -> [Attribution]``
(:func:`softmax_decision` by default), so a post-processing of the scores changes one argument.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gfcore.data.images import decode_each
from gfcore.data.tiling import TooSmallError, attribution_inputs
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
    view: dict | None = None  # which pixels the result comes from (gfcore.data.tiling.View.as_dict())


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
    """A map-style dataset over a list of files: item ``i`` is ``(i, uint8 [K, 3, R, R] inputs or None, view
    dict or reason)``. A file that does not decode, or is too small for the policy, gives ``None`` and the
    reason, worded as ``decode_each`` words it."""

    def __init__(self, files: list[Path], resolution: int, policy: str, upsample_small: bool = False):
        self.files, self.resolution, self.policy = files, resolution, policy
        self.upsample_small = upsample_small

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        skipped: list[dict] = []
        for _, rgb in decode_each([self.files[i]], skipped):
            try:
                inputs, view = attribution_inputs(rgb, self.resolution, self.policy, self.upsample_small)
            except TooSmallError as exc:
                return i, None, str(exc)
            return i, inputs, view.as_dict()
        return i, None, skipped[0]["reason"]


def collate_decoded(items):
    """A batch of items -> (indices of the usable files, uint8 tensor of all their inputs or None, the
    number of inputs of each, their views, [(index, reason)] of the others)."""
    import numpy as np
    import torch

    kept = [(i, arr, view) for i, arr, view in items if arr is not None]
    bad = [(i, reason) for i, arr, reason in items if arr is None]
    images = torch.from_numpy(np.concatenate([arr for _, arr, _ in kept])) if kept else None
    return [i for i, _, _ in kept], images, [len(a) for _, a, _ in kept], [v for _, _, v in kept], bad


def mean_logits(attributor: Attributor, inputs, counts: list[int], batch_size: int):
    """Logits of every input, ``batch_size`` per forward pass, averaged over each image's ``counts``."""
    import torch

    logits = torch.cat(
        [attributor.logits(inputs[s : s + batch_size]) for s in range(0, len(inputs), batch_size)]
    )
    return torch.stack([part.float().mean(0) for part in torch.split(logits, counts)])


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
    policy: str = "tiles",
    reporter: Reporter | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    decide: Callable[..., list[Attribution]] = softmax_decision,
    upsample_small: bool = False,
) -> AttributionBatch:
    """Decode each file, cut it into inputs by ``policy`` (:data:`gfcore.data.tiling.ATTRIBUTION_POLICIES`)
    and attribute it from the mean of their logits; files that do not decode (or are too small for the
    policy) are skipped with one warning line each and the rest finish. Under torchrun every rank returns
    the whole (gathered) batch."""
    from torch.utils.data import DataLoader

    from gfcore.execution import distributed as dist

    reporter = reporter or NullReporter()
    mine = dist.shard(len(files))
    local_files = files[mine.start : mine.stop]
    workers = default_workers(len(local_files), batch_size) if workers is None else workers
    loader = DataLoader(
        DecodedFiles(local_files, attributor.resolution, policy, upsample_small),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate_decoded,
        pin_memory=attributor.device.type == "cuda",
        prefetch_factor=2 if workers else None,
    )
    batch = AttributionBatch()
    task = reporter.task("attributing", total=len(local_files))
    for indices, images, counts, views, bad in loader:
        for i, reason in bad:
            batch.skipped.append({"path": str(local_files[i]), "reason": reason})
            reporter.warn(f"skipped {local_files[i]}: {reason}")
        if images is not None:
            paths = [str(local_files[i]) for i in indices]
            results = decide(attributor.classes, paths, mean_logits(attributor, images, counts, batch_size))
            for result, view in zip(results, views):
                result.view = view
            batch.results.extend(results)
        task.advance(len(indices) + len(bad))
    task.done()
    if dist.world_size() == 1:
        return batch
    gathered = dist.gather_json({"results": [vars(r) for r in batch.results], "skipped": batch.skipped})
    return AttributionBatch(
        results=[Attribution(**r) for part in gathered for r in part["results"]],
        skipped=[s for part in gathered for s in part["skipped"]],
    )
