"""Samples of a generator, in bounded chunks and reproducibly: for ``gfp gan sample`` and ``gfp.sample``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gfcore.data.images import save_png
from gfcore.interfaces import GanSource
from gfcore.terminal.progress import NullReporter, Reporter

SAMPLE_FOLDER_CHUNK = 500  # images per generator call

#: the file name :func:`sample_to_folder` gives sample ``i``
SAMPLE_NAME = "{:06d}.png"


def sample_to_folder(
    gan: GanSource, n: int, out_dir: str | Path, seed: int = 0, reporter: Reporter | None = None
) -> list[Path]:
    """Write ``n`` samples (:func:`iter_samples`: file ``i`` is the same whatever ``n`` is) as
    ``000000.png``, ``000001.png``, ... into ``out_dir``."""
    reporter = reporter or NullReporter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    task = reporter.task("write samples", total=n)
    paths = []
    for i, image in enumerate(iter_samples(gan, n, seed)):
        path = out / SAMPLE_NAME.format(i)
        save_png(path, image)
        paths.append(path)
        task.advance()
    task.done()
    return paths


def iter_samples(gan: GanSource, n: int, seed: int = 0):
    """``n`` samples as uint8 ``[3, R, R]`` arrays, drawn in chunks of :data:`SAMPLE_FOLDER_CHUNK`, chunk
    ``k`` with a latent seed derived from ``(seed, k)``: memory stays bounded, and image ``i`` is the same
    whatever ``n`` is."""
    for k, start in enumerate(range(0, n, SAMPLE_FOLDER_CHUNK)):
        chunk_seed = int(np.random.SeedSequence([seed, k]).generate_state(1)[0])
        yield from gan.sample(SAMPLE_FOLDER_CHUNK, chunk_seed).numpy()[: n - start]
