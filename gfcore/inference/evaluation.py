"""Evaluating an Attributor on a prepared split, and attributing loose image files."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gfcore.data.images import decode_each, fit_to_size
from gfcore.execution import distributed as dist
from gfcore.inference.metrics import classification_report
from gfcore.interfaces import Attributor, Split
from gfcore.terminal.progress import NullReporter, Reporter

REPORT_VERSION = 1


def map_split(
    fn,
    split: Split,
    reporter: Reporter | None = None,
    *,
    indices: np.ndarray | None = None,
    chunk: int = 512,
    label: str = "evaluating",
):
    """``fn`` (uint8 ``[n, 3, R, R]`` tensor -> ``[n, ...]`` tensor) over ``split.images``, or over its rows
    ``indices``, read from the memory map a chunk at a time.

    Returns (the outputs concatenated on the CPU, or ``None`` for no images; seconds spent inside ``fn``,
    which leaves out the reading, so that speeds measure the method and not the disk)."""
    import torch

    reporter = reporter or NullReporter()
    total = len(split) if indices is None else len(indices)
    task = reporter.task(label, total=total)
    outs, seconds = [], 0.0
    for start in range(0, total, chunk):
        rows = slice(start, start + chunk) if indices is None else indices[start : start + chunk]
        images = torch.from_numpy(np.array(split.images[rows]))  # a copy: memmaps are read-only
        t0 = time.perf_counter()
        outs.append(fn(images).detach().cpu())
        seconds += time.perf_counter() - t0
        task.advance(len(images))
    task.done()
    return (torch.cat(outs) if outs else None), seconds


def split_accuracy(
    attributor: Attributor, split: Split, chunk: int = 512, attack=None, seed: int = 0
) -> float:
    """Top-1 accuracy over a (memory-mapped) split, read in chunks; with ``attack``, on attacked images
    (the same ones for the same seed: see :func:`gfcore.inference.attacks.attacked`)."""
    import torch

    from gfcore.inference.attacks import attacked

    if len(split) == 0:
        return float("nan")
    correct = 0
    logits = attacked(attributor.logits, attack, seed)
    # distributed: each rank its block, counts summed. An attack's draws run chunk after chunk from one
    # seeded generator, so attacked validation stays whole on every rank to stay the same images.
    rows = dist.shard(len(split)) if attack is None else range(len(split))
    for start in range(rows.start, rows.stop, chunk):
        stop = min(start + chunk, rows.stop)
        images = torch.from_numpy(np.array(split.images[start:stop]))  # copy: memmaps are read-only
        preds = logits(images).argmax(1).numpy()
        correct += int((preds == split.labels[start:stop]).sum())
    if attack is None:
        (correct,) = dist.all_sum(correct)
    return correct / len(split)


def predict_split(
    attributor: Attributor,
    split: Split,
    reporter: Reporter | None = None,
    chunk: int = 512,
    attack=None,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Logits for a (memory-mapped) split, read in chunks, on images perturbed by ``attack`` when given
    (seeded: :func:`gfcore.inference.attacks.attacked`); returns (logits [N, L], seconds spent).

    Under torchrun each rank computes a contiguous block and every rank gets all the logits, in order (the
    seconds: the slowest rank's). An attack's draws run chunk after chunk from one generator, so attacked
    images stay unsharded: every rank computes them all, and they stay the images one process attacks."""
    from gfcore.inference.attacks import attacked

    indices = None
    if attack is None and dist.world_size() > 1:
        mine = dist.shard(len(split))
        indices = np.arange(mine.start, mine.stop)
    logits, seconds = map_split(
        attacked(attributor.logits, attack, seed), split, reporter, indices=indices, chunk=chunk
    )
    if indices is not None:
        import torch

        mine = logits if logits is not None else torch.zeros((0, len(attributor.classes)))
        logits, seconds = dist.gather_rows(mine.float()), max(dist.gather_json(seconds))
    return (logits.numpy() if logits is not None else np.zeros((0, len(attributor.classes)))), seconds


def evaluate_split(
    attributor: Attributor, split: Split, reporter: Reporter | None = None, attack=None, seed: int = 0
) -> dict:
    """Accuracy, per-class accuracy, confusion matrix, macro-F1 and attribution speed (with ``attack``:
    on attacked images, the attack's time included)."""
    return evaluate_logits(attributor, split, reporter, attack=attack, seed=seed)[0]


def evaluate_logits(
    attributor: Attributor, split: Split, reporter: Reporter | None = None, attack=None, seed: int = 0
) -> tuple[dict, np.ndarray]:
    """:func:`evaluate_split`'s report and the logits ``[N, L]`` it was computed from."""
    logits, seconds = predict_split(attributor, split, reporter, attack=attack, seed=seed)
    report = classification_report(split.labels, logits.argmax(1), attributor.classes)
    report["images_per_second"] = round(len(split) / seconds, 1) if seconds > 0 else None
    return report, logits


def decode_files(
    files: list[Path], resolution: int, size_policy: str = "crop", reporter: Reporter | None = None
) -> tuple[np.ndarray, list[Path], list[dict]]:
    """Files -> uint8 [N,3,R,R] of the decodable ones, their paths, and the skipped ones."""
    reporter = reporter or NullReporter()
    arrays, kept, skipped = [], [], []
    for path, rgb in decode_each(files, skipped, reporter):
        arrays.append(fit_to_size(rgb, resolution, size_policy).transpose(2, 0, 1))
        kept.append(path)
    images = np.stack(arrays) if arrays else np.zeros((0, 3, resolution, resolution), np.uint8)
    return images, kept, skipped
