"""Synthetic attribution tasks for tests, benchmarks and plugin authors: every source draws the same kind
of smooth random content and adds its own fixed, zero-mean, high-frequency pattern -- a fingerprint in
the paper's sense, a few percent of the intensity range and invisible to a colour histogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gfcore.data.images import save_png


def smooth_content(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """uint8 [n, 3, size, size] of smooth random colour fields (low-frequency noise, bilinear upsampled)."""
    coarse = rng.uniform(40, 215, size=(n, 3, 5, 5))
    grid = np.linspace(0, 4, size)
    i0 = np.clip(np.floor(grid).astype(int), 0, 3)
    t = grid - i0
    rows = (
        coarse[:, :, i0, :] * (1 - t)[None, None, :, None] + coarse[:, :, i0 + 1, :] * t[None, None, :, None]
    )
    out = rows[:, :, :, i0] * (1 - t) + rows[:, :, :, i0 + 1] * t
    return np.clip(out, 0, 255).astype(np.uint8)


def source_patterns(
    num_sources: int, size: int, amplitude: float, period: int = 4, seed: int = 1234, matched: bool = False
) -> np.ndarray:
    """float [S, 3, size, size]: a fixed random +-amplitude tile of ``period`` pixels per source, zero-mean.

    Independent random tiles differ in energy and in how much neighbours differ, so global sharpness
    statistics can tell such sources apart. With ``matched`` every source uses one balanced tile (as many
    +1 as -1 per channel) with the sign of each colour channel flipped by the bits of the source's index
    (at most 8 sources): every source's pattern has the same values and the same neighbour differences at
    every pixel, so the sources differ only in the pattern itself."""
    rng = np.random.default_rng(seed)
    if not matched:
        tiles = rng.choice([-1.0, 1.0], size=(num_sources, 3, period, period))
    else:
        if num_sources > 8 or period % 2:
            raise ValueError("matched patterns: at most 8 sources, and an even period")
        half = period * period // 2
        base = np.stack([rng.permutation([1.0] * half + [-1.0] * half) for _ in range(3)])
        base = base.reshape(3, period, period)
        signs = np.array([[-1.0 if (s >> c) & 1 else 1.0 for c in range(3)] for s in range(num_sources)])
        tiles = signs[:, :, None, None] * base[None]
    tiles -= tiles.mean(axis=(2, 3), keepdims=True)
    reps = -(-size // period)
    return amplitude * np.tile(tiles, (1, 1, reps, reps))[:, :, :size, :size]


def fingerprint_task(
    num_sources: int,
    per_source: int,
    size: int = 32,
    amplitude: float = 16.0,
    seed: int = 0,
    matched: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [S*per_source, 3, size, size], labels) of the synthetic task.

    With ``matched`` (see :func:`source_patterns`) each image's content is also cyclically shifted by a
    random offset: the bilinear content is more variable at its grid points than between them, and a pattern
    that always put its bright pixels on the grid points would change the histogram. Shifted content looks
    the same at every position, so the sources differ only in the phase of the pattern."""
    rng = np.random.default_rng(seed)
    patterns = source_patterns(num_sources, size, amplitude, matched=matched)
    images, labels = [], []
    for s in range(num_sources):
        content = smooth_content(rng, per_source, size).astype(np.float64)
        if matched:
            offsets = rng.integers(0, size, size=(per_source, 2))
            content = np.stack([np.roll(c, tuple(o), axis=(1, 2)) for c, o in zip(content, offsets)])
        images.append(np.clip(np.rint(content + patterns[s]), 0, 255).astype(np.uint8))
        labels.append(np.full(per_source, s, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def write_fingerprint_folders(
    root: str | Path,
    num_sources: int = 3,
    per_source: int = 100,
    size: int = 32,
    amplitude: float = 16.0,
    seed: int = 0,
) -> list[str]:
    """Write the task as ``root/source_<i>/<j>.png`` (the layout ``gfp prepare`` reads); returns class names."""
    images, labels = fingerprint_task(num_sources, per_source, size, amplitude, seed)
    names = [f"source_{s}" for s in range(num_sources)]
    counters = [0] * num_sources
    for img, label in zip(images, labels):
        save_png(Path(root) / names[label] / f"{counters[label]:05d}.png", img)
        counters[label] += 1
    return names
