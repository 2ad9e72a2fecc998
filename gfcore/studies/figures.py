"""One look for every figure gfp draws: matplotlib without a display, a shared style, one colour per
source, and atomic PNG writes.

Use it as::

    from gfcore.studies.figures import pyplot, save_figure, source_colours

    plt = pyplot()  # matplotlib.pyplot on the Agg backend, the shared style applied
    fig, ax = plt.subplots(...)
    save_figure(fig, path)  # atomic; closes the figure
"""

from __future__ import annotations

from pathlib import Path

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
