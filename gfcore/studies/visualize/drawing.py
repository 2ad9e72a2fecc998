"""The figures of ``gfp visualize``, each a function returning a matplotlib figure (saved by the caller
with :func:`gfcore.studies.figures.save_figure`). Arrays are numpy: images uint8 ``[3, H, W]``, fingerprints
float ``[3, H, W]``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gfcore.inference.responses import (
    hwc,
    joint_unit_range,
    response_maps,
    robust_scale,
    signed_display,
)
from gfcore.studies.figures import hide_axes, pyplot, source_colours

PANEL = 1.25  # inches per image panel


def _image(ax, chw: np.ndarray, title: str | None = None) -> None:
    ax.imshow(hwc(chw) if chw.dtype == np.uint8 else np.clip(hwc(chw), 0, 1))
    hide_axes(ax)
    if title:
        ax.set_title(title, fontsize=8)


def model_fingerprints_figure(
    model_fps: np.ndarray, classes: Sequence[str], method: str, top_label: str = "as learned"
):
    """Top: the model fingerprints, min-max normalised jointly (as the paper's visNet figures do). Bottom:
    each minus their mean over sources, jointly normalised too: what tells the sources apart (softmax
    ignores what all of them share)."""
    plt = pyplot()
    n = len(classes)
    fig, axes = plt.subplots(2, n, figsize=(PANEL * n + 0.4, 2 * PANEL + 0.9), squeeze=False)
    raw = joint_unit_range(model_fps)
    deviation = joint_unit_range(model_fps - model_fps.mean(axis=0, keepdims=True))
    for j, name in enumerate(classes):
        _image(axes[0][j], raw[j], str(name))
        _image(axes[1][j], deviation[j])
    axes[0][0].set_ylabel(top_label, fontsize=8)
    axes[1][0].set_ylabel("minus the mean", fontsize=8)
    fig.suptitle(f"{method}: model fingerprints (one colour scale for all sources)")
    fig.tight_layout()
    return fig


def _response_panels(axes, image_fp: np.ndarray, model_fps: np.ndarray, scale: float) -> None:
    maps = response_maps(image_fp[None], model_fps)[0]
    for ax, response in zip(axes, maps):
        _image(ax, signed_display(response, scale))


def image_figure(
    image: np.ndarray,
    image_fp: np.ndarray,
    model_fps: np.ndarray,
    strengths: np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    name: str,
):
    """One image: the image, its fingerprint, its response to each model fingerprint, and a bar chart of
    the response strength per source (the predicted source's bar outlined, its probability on top)."""
    plt = pyplot()
    n = len(classes)
    fig = plt.figure(figsize=(PANEL * (n + 2) + 0.4, 2 * PANEL + 2.2))
    grid = fig.add_gridspec(2, n + 2, height_ratios=[1, 1.25])
    top = [fig.add_subplot(grid[0, j]) for j in range(n + 2)]
    _image(top[0], image, "image")
    fp_scale = robust_scale(image_fp)
    _image(top[1], signed_display(image_fp, fp_scale), "fingerprint")
    _response_panels(top[2:], image_fp, model_fps, robust_scale(response_maps(image_fp[None], model_fps)))
    for ax, label in zip(top[2:], classes):
        ax.set_title(f"x {label}", fontsize=8)
    bars = fig.add_subplot(grid[1, :])
    predicted = int(np.argmax(probabilities))
    colours = source_colours(n)
    drawn = bars.bar(range(n), strengths, color=colours)
    drawn[predicted].set_edgecolor("black")
    drawn[predicted].set_linewidth(1.5)
    for j, bar in enumerate(drawn):
        bars.annotate(
            f"p={probabilities[j]:.2f}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    bars.set_xticks(range(n), [str(c) for c in classes])
    bars.set_ylabel("response strength")
    bars.margins(y=0.2)
    fig.suptitle(f"{name}: attributed to {classes[predicted]} (p = {probabilities[predicted]:.2f})")
    fig.tight_layout()
    return fig


def response_grid_figure(
    images: np.ndarray,
    image_fps: np.ndarray,
    model_fps: np.ndarray,
    strengths: np.ndarray,
    classes: Sequence[str],
    dominance: float | None,
    method: str,
):
    """The paper's grid: model fingerprints as the header row; one example image per source as the rows,
    with its fingerprint and its response to each model fingerprint (one colour scale for all cells)."""
    plt = pyplot()
    n = len(classes)
    fig, axes = plt.subplots(n + 1, n + 2, figsize=(PANEL * (n + 2), PANEL * (n + 1) + 0.8), squeeze=False)
    for ax in axes[0][:2]:
        ax.axis("off")
    raw = joint_unit_range(model_fps)
    for j, name in enumerate(classes):
        _image(axes[0][j + 2], raw[j], f"W: {name}")
    fp_scale = robust_scale(image_fps)
    response_scale = robust_scale(response_maps(image_fps, model_fps))
    for i, name in enumerate(classes):
        row = axes[i + 1]
        _image(row[0], images[i], "input image" if i == 0 else None)
        _image(row[1], signed_display(image_fps[i], fp_scale), "image fingerprint" if i == 0 else None)
        row[0].set_ylabel(f"from {name}", fontsize=8)
        _response_panels(row[2:], image_fps[i], model_fps, response_scale)
        for j in range(n):
            row[j + 2].set_xlabel(f"{strengths[i, j]:.3g}", fontsize=7, color="black" if i == j else "grey")
            if i == j:
                for spine in row[j + 2].spines.values():
                    spine.set_visible(True)
                    spine.set_color("#e6550d")
                    spine.set_linewidth(1.5)
    shown = "n/a" if dominance is None else f"{dominance:.2f}"
    fig.suptitle(
        f"{method}: image fingerprints responding to model fingerprints\n"
        f"diagonal dominance (mean diagonal / mean off-diagonal strength) = {shown}"
    )
    fig.tight_layout()
    return fig


def tsne_figure(panels: Sequence[tuple[str, np.ndarray, float]], labels: np.ndarray, classes: Sequence[str]):
    """Side-by-side t-SNE scatters, one per ``(title, points [N, 2], neighbour agreement)``, coloured by
    source (paper Fig. 1)."""
    plt = pyplot()
    colours = source_colours(len(classes))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4), squeeze=False)
    for ax, (title, points, agreement) in zip(axes[0], panels):
        for s, name in enumerate(classes):
            mine = labels == s
            ax.scatter(
                points[mine, 0], points[mine, 1], s=6, color=colours[s], label=str(name), alpha=0.8, lw=0
            )
        ax.set_title(f"{title}\n5-NN agreement in the plane: {100 * agreement:.1f}%")
        hide_axes(ax)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 6), markerscale=3, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
