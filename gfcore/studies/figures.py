"""One look for every figure gfp draws -- matplotlib without a display, a shared style, one colour per
source, atomic PNG writes -- and the generic plots drawn in it: the confusion matrix of a method
(``confusion_<method>.png`` of a bench) and the reliability diagram of a calibrated run (``gfp evaluate
--reliability-png``).

Use it as::

    from gfcore.studies.figures import pyplot, save_figure, source_colours

    plt = pyplot()  # matplotlib.pyplot on the Agg backend, the shared style applied
    fig, ax = plt.subplots(...)
    save_figure(fig, path)  # atomic; closes the figure
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gfcore.storage.atomic import atomic_path

DPI = 110
# small, plain and legible at the size a PNG is viewed in a browser or a README
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.alpha": 0.3,
    "image.interpolation": "nearest",  # fingerprints are pixel patterns: never smooth them
    "savefig.bbox": "tight",
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
}
SEQUENTIAL = "Blues"  # shares and accuracies (confusion matrices)


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed) with :data:`STYLE` applied."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return plt


def source_colours(n: int) -> list:
    """One distinct colour per source, the same for source ``i`` in every figure."""
    plt = pyplot()
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def hide_axes(ax) -> None:
    """An image panel: no ticks and no frame."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def save_figure(fig, path: str | Path, dpi: int = DPI) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically, then close it."""
    plt = pyplot()
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path


MAX_LABEL_CHARS = 28
FOOTER = "cells: count and share of the true class; shading: share of the row"
DIAGONAL = "#e6550d"


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 3] + "..."


def confusion_figure(
    matrix: Sequence[Sequence[int]] | np.ndarray, classes: Sequence[str], title: str | None = None
):
    """The confusion matrix ``[L, L]`` (rows true, columns predicted) as a matplotlib figure. Each cell
    shows its count and its share of the row and is shaded by that share (so the diagonal reads as
    per-class accuracy whatever the class sizes); the diagonal is outlined, so correct attributions stand
    out on any shade; a source with no test images is a grey row."""
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


def reliability_figure(logits: np.ndarray, labels: np.ndarray, temperature: float, title: str):
    """A reliability diagram: accuracy against confidence per bin (:func:`reliability_bins`), before and
    after dividing the logits by ``temperature``, with each curve's ECE."""
    from gfcore.inference.calibration import expected_calibration_error, reliability_bins, softmax

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect calibration")
    for t, name, colour in (
        (1.0, "before (T = 1)", "tab:red"),
        (temperature, f"after (T = {temperature:.3g})", "tab:blue"),
    ):
        probs = softmax(logits, t)
        rows = [r for r in reliability_bins(probs, labels) if r["n"]]
        ece = expected_calibration_error(probs, labels)
        ax.plot(
            [r["confidence"] for r in rows],
            [r["accuracy"] for r in rows],
            marker="o",
            color=colour,
            label=f"{name}: ECE {100 * ece:.2f}%",
        )
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top probability)", ylabel="accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save_reliability_png(
    path: str | Path, logits: np.ndarray, labels: np.ndarray, temperature: float, title: str
):
    """Write :func:`reliability_figure` as a PNG, atomically."""
    save_figure(reliability_figure(logits, labels, temperature, title), path, dpi=100)
