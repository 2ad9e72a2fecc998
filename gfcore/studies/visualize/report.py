"""Everything ``gfp visualize`` can draw for one run, written into a claimed output folder.

What applies depends on the method: image-sized model and image fingerprints (visNet) give the model
fingerprint picture, one figure per given image and the response grid; any image fingerprints (visNet,
the learned network, ...) give the t-SNE beside raw pixels. What does not apply is skipped with one line
(``notes``). The grid and the t-SNE need a prepared dataset with the run's classes: its test split gives
the grid's example images (the first test image of each source, not chosen by how it scores) and the
t-SNE's images (the first ``per_source`` of each source).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gfcore.inference.responses import (
    diagonal_dominance,
    is_image_shaped,
    mean_by_source,
    response_strengths,
)
from gfcore.studies.figures import save_figure
from gfcore.studies.visualize import drawing
from gfcore.studies.visualize.tsne import neighbour_agreement, tsne_2d
from gfcore.terminal.progress import NullReporter, Reporter

MODEL_PNG = "model_fingerprints.png"
GRID_PNG = "response_grid.png"
TSNE_PNG = "tsne.png"


def image_png_name(index: int, path: Path) -> str:
    """The per-image figure's name: its position among the inputs and its file name, kept to safe
    characters (two inputs named alike never share a figure)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem)[:60] or "image"
    return f"image_{index:03d}_{stem}.png"


@dataclass
class Visuals:
    """What was written (``files``, in order) and measured, and what was skipped and why (``notes``)."""

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)
    images: list[dict] = field(default_factory=list)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def first_per_source(labels: np.ndarray, num_sources: int, per_source: int) -> np.ndarray:
    """Indices of the first ``per_source`` test images of each source, source by source."""
    return np.concatenate([np.flatnonzero(labels == s)[:per_source] for s in range(num_sources)])


def write_visuals(
    attributor,
    method: str,
    out: Path,
    images: np.ndarray,
    files: list[Path],
    test_split=None,
    per_source: int = 200,
    seed: int = 0,
    reporter: Reporter | None = None,
) -> Visuals:
    """Draw what applies to ``attributor`` into ``out``. ``images``/``files`` are the decoded inputs
    (uint8 ``[N, 3, R, R]`` and their paths); ``test_split`` a dataset's test :class:`~gfcore.interfaces.Split`
    (or None)."""
    reporter = reporter or NullReporter()
    classes = list(attributor.classes)
    visuals = Visuals()
    if not getattr(attributor, "has_fingerprints", False):
        visuals.notes.append(f"method {method!r} has no fingerprints: nothing to draw")
        return visuals
    model_fps = attributor.model_fingerprints().numpy()
    image_sized = is_image_shaped(model_fps, attributor.resolution)
    if image_sized:
        save_figure(drawing.model_fingerprints_figure(model_fps, classes, method), out / MODEL_PNG)
        visuals.files.append(out / MODEL_PNG)
    else:
        visuals.notes.append(
            f"method {method!r} has model fingerprints of shape {list(model_fps.shape)}, not images: "
            "skipped the model fingerprint picture, the per-image responses and the response grid"
        )
    if len(images) and image_sized:
        _per_image(attributor, out, images, files, model_fps, reporter, visuals)
    if test_split is None:
        visuals.notes.append("no dataset (give --dataset): skipped the response grid and the t-SNE")
        return visuals
    labels = np.asarray(test_split.labels)
    missing = [classes[s] for s in range(len(classes)) if not np.any(labels == s)]
    if image_sized:
        if missing:
            visuals.notes.append(f"no test image of {', '.join(missing)}: skipped the response grid")
        else:
            _grid(attributor, method, out, test_split, labels, model_fps, per_source, reporter, visuals)
    _tsne(attributor, method, out, test_split, labels, per_source, seed, reporter, visuals)
    return visuals


def _per_image(attributor, out, images, files, model_fps, reporter, visuals) -> None:
    """One figure per given image: its fingerprint, its response to each model fingerprint and the
    probabilities; the numbers go into ``visuals.images``."""
    import torch

    classes = list(attributor.classes)
    task = reporter.task("per-image figures", total=len(images))
    tensors = torch.from_numpy(images)
    image_fps = attributor.image_fingerprints(tensors).numpy()
    probabilities = _softmax(attributor.logits(tensors).numpy().astype(np.float64))
    strengths = response_strengths(image_fps, model_fps)
    for k, path in enumerate(files):
        name = image_png_name(k, path)
        fig = drawing.image_figure(
            images[k], image_fps[k], model_fps, strengths[k], probabilities[k], classes, Path(path).name
        )
        save_figure(fig, out / name)
        visuals.files.append(out / name)
        visuals.images.append(
            {
                "path": str(path),
                "figure": str(out / name),
                "predicted": classes[int(probabilities[k].argmax())],
                "probabilities": dict(zip(classes, probabilities[k].tolist())),
                "response_strength": dict(zip(classes, strengths[k].tolist())),
            }
        )
        task.advance()
    task.done()


def _fingerprints_of(attributor, split, indices, reporter, label) -> np.ndarray:
    from gfcore.inference.evaluation import map_split

    fps, _ = map_split(attributor.image_fingerprints, split, reporter, indices=indices, label=label)
    return fps.numpy()


def _grid(attributor, method, out, split, labels, model_fps, per_source, reporter, visuals) -> None:
    classes = list(attributor.classes)
    sample = first_per_source(labels, len(classes), per_source)
    image_fps = _fingerprints_of(attributor, split, sample, reporter, "fingerprints of test images")
    strengths = response_strengths(image_fps, model_fps)
    by_source = mean_by_source(strengths, labels[sample], len(classes))
    examples = np.array([np.flatnonzero(labels[sample] == s)[0] for s in range(len(classes))])
    shown = strengths[examples]
    dominance = diagonal_dominance(shown)
    images = np.asarray(split.images[sample[examples]])
    fig = drawing.response_grid_figure(
        images, image_fps[examples], model_fps, shown, classes, dominance, method
    )
    save_figure(fig, out / GRID_PNG)
    visuals.files.append(out / GRID_PNG)
    visuals.numbers["response_grid"] = {
        "diagonal_dominance": dominance,
        "strengths": shown.tolist(),
        "example_test_indices": sample[examples].tolist(),
        # the same number over many test images per source, so it does not rest on one example each
        "test_diagonal_dominance": diagonal_dominance(by_source),
        "test_mean_strengths": by_source.tolist(),
        "test_images": int(len(sample)),
    }


def _tsne(attributor, method, out, split, labels, per_source, seed, reporter, visuals) -> None:
    classes = list(attributor.classes)
    sample = first_per_source(labels, len(classes), per_source)
    if len(sample) < 2:
        visuals.notes.append("fewer than 2 test images: skipped the t-SNE")
        return
    fps = _fingerprints_of(attributor, split, sample, reporter, "fingerprints for t-SNE")
    pixels = np.asarray(split.images[sample], dtype=np.float32)
    sample_labels = labels[sample]
    task = reporter.task("t-SNE", total=2)
    panels, numbers = [], {}
    for title, key, features in (
        ("raw pixels", "pixels", pixels),
        (f"{method} image fingerprints", "fingerprints", fps),
    ):
        points = tsne_2d(features, seed=seed)
        agreement = neighbour_agreement(points, sample_labels)
        panels.append((title, points, agreement))
        numbers[f"{key}_neighbour_agreement"] = agreement
        task.advance()
    task.done()
    save_figure(drawing.tsne_figure(panels, sample_labels, classes), out / TSNE_PNG)
    visuals.files.append(out / TSNE_PNG)
    visuals.numbers["tsne"] = {"images": int(len(sample)), "per_source": per_source, "seed": seed, **numbers}
