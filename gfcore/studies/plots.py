"""The confusion-matrix picture of a bench (``confusion_<method>.png``), drawn with matplotlib in the
shared style of :mod:`gfcore.studies.figures`.

Rows are true sources, columns predicted ones; each cell shows its count and its share of the row and is
shaded by that share (so the diagonal reads as per-class accuracy whatever the class sizes). The
diagonal is outlined, so correct attributions stand out on any shade. A source with no test images is a
grey row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gfcore.studies.figures import SEQUENTIAL, pyplot, save_figure

MAX_LABEL_CHARS = 28
FOOTER = "cells: count and share of the true class; shading: share of the row"
DIAGONAL = "#e6550d"


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 3] + "..."


def confusion_figure(
    matrix: Sequence[Sequence[int]] | np.ndarray, classes: Sequence[str], title: str | None = None
):
    """The confusion matrix ``[L, L]`` (rows true, columns predicted) as a matplotlib figure."""
    cm = np.asarray(matrix, dtype=np.int64)
    n = len(classes)
    if cm.shape != (n, n):
        raise ValueError(f"confusion matrix of shape {cm.shape} for {n} classes")
    plt = pyplot()
    totals = cm.sum(axis=1)
    shares = np.divide(cm, totals[:, None], out=np.zeros(cm.shape), where=totals[:, None] > 0)
    labels = [_short(str(c)) for c in classes]
    side = max(3.2, 0.75 * n + 1.6)
    fig, ax = plt.subplots(figsize=(side + 0.6, side))
    shown = np.ma.masked_where(np.repeat(totals[:, None] == 0, n, axis=1), shares)
    cmap = plt.get_cmap(SEQUENTIAL).with_extremes(bad="#e1e1e1")  # grey: a source without test images
    ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            text = f"{cm[i, j]:,}" + (f"\n{100 * shares[i, j]:.0f}%" if totals[i] else "")
            colour = "white" if shares[i, j] > 0.5 else "#141414"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=8 if n <= 8 else 6)
        ax.add_patch(plt.Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, ec=DIAGONAL, lw=1.6))
    ax.set_xticks(range(n), labels, rotation=45 if max(map(len, labels)) > 6 else 0, ha="right")
    ax.set_yticks(range(n), labels)
    if max(map(len, labels)) <= 6:
        for tick in ax.get_xticklabels():
            tick.set_ha("center")
    ax.set_xlabel(f"predicted\n\n{FOOTER}", fontsize=8)
    ax.set_ylabel("true")
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    return fig


def save_confusion_png(path: str | Path, matrix, classes: Sequence[str], title: str | None = None) -> None:
    """Write :func:`confusion_figure` as a PNG, atomically."""
    save_figure(confusion_figure(matrix, classes, title), path)
