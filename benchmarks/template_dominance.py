"""How far fixed per-source patterns alone carry visNet's response grid on a dataset: the diagonal dominance
(as `gfp visualize` measures it) of the simplest image and model fingerprints, with no network at all.

The image fingerprint is the finest Laplacian band of the image (I - Up(Down(I)), the persistence study's
`residual` input at full size: what is left once the image's smooth content is taken away) and the model
fingerprint of a source is the mean of that band over the source's training images, less the mean over
sources (softmax ignores what every model fingerprint shares). So the model fingerprints are exactly
the patterns fixed in place in each source's images, and the number says how strongly one test image
shows its source's pattern against its own content. Printed beside it:

* the same with the model fingerprints made left-right symmetric, which is all a template can learn
  under horizontal-flip augmentation (the paper's, on by default in `gfp train`);
* the four-GAN sub-grid without the first class, when that class is called "real" (the paper's figure
  has one real and four GAN rows, so this is the number to hold beside its 4.52);
* the per-pixel correlation between a test image's band and its own source's pattern, and the accuracy of
  attributing by the nearest pattern (inner product), which a learned network should beat.

    python benchmarks/template_dominance.py gfp-demo/datasets/existence [--per-source 200] [--json]
        [--png patterns.png]    # the patterns drawn as visNet's model fingerprints are (a new file)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from gfcore.data.dataset import load_dataset
from gfcore.errors import GfpError
from gfcore.inference.responses import diagonal_dominance, mean_by_source, response_strengths
from gfcore.studies.figures import save_figure
from gfcore.studies.visualize.drawing import model_fingerprints_figure
from gfcore.studies.visualize.report import first_per_source
from gfp_persistence.pyramid import laplacian_band


def fine_band(images: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """uint8 ``[N, 3, R, R]`` -> the finest Laplacian band of the image in [-1, 1], float64."""
    out = []
    for start in range(0, len(images), chunk):
        x = torch.from_numpy(np.array(images[start : start + chunk])).float() / 127.5 - 1
        out.append(laplacian_band(x, x.shape[-1]).double().numpy())
    return np.concatenate(out)


def source_means(bands: np.ndarray, labels: np.ndarray, num_sources: int) -> np.ndarray:
    """``[L, 3, R, R]``: each source's mean band."""
    return np.stack([bands[labels == s].mean(axis=0) for s in range(num_sources)])


def source_patterns(bands: np.ndarray, labels: np.ndarray, num_sources: int) -> np.ndarray:
    """``[L, 3, R, R]``: each source's mean band, less the mean over sources."""
    means = source_means(bands, labels, num_sources)
    return means - means.mean(axis=0, keepdims=True)


def grid_numbers(bands, labels, patterns, real_first: bool) -> dict:
    matrix = mean_by_source(response_strengths(bands, patterns), labels, len(patterns))
    numbers = {"dominance": diagonal_dominance(matrix), "mean_strengths": matrix.round(6).tolist()}
    if real_first and len(patterns) >= 3:
        numbers["dominance_gans_only"] = diagonal_dominance(matrix[1:, 1:])
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--per-source", type=int, default=200, help="test images per source (default 200)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--png", type=Path, help="draw the patterns into this new PNG file")
    args = parser.parse_args()
    if args.png and args.png.exists():
        parser.error(f"{args.png} exists; give a new file")

    try:
        dataset = load_dataset(args.dataset)
    except GfpError as exc:
        parser.exit(1, f"{exc}\n")
    classes = dataset.classes
    train, test = dataset.split("train"), dataset.split("test")
    means = source_means(fine_band(train.images), np.asarray(train.labels), len(classes))
    patterns = means - means.mean(axis=0, keepdims=True)
    test_labels = np.asarray(test.labels)
    test_bands = fine_band(test.images)
    sample = first_per_source(test_labels, len(classes), args.per_source)
    real_first = classes[0].lower() == "real"

    flat = test_bands.reshape(len(test_bands), -1)
    templates = patterns.reshape(len(patterns), -1)
    nearest = (flat @ templates.T - 0.5 * (templates**2).sum(axis=1)).argmax(axis=1)
    own = patterns[test_labels]
    report = {
        "dataset": str(args.dataset),
        "classes": classes,
        "test_images_per_source": args.per_source,
        "patterns": grid_numbers(test_bands[sample], test_labels[sample], patterns, real_first),
        "flip_symmetric_patterns": grid_numbers(
            test_bands[sample], test_labels[sample], (patterns + patterns[..., ::-1]) / 2, real_first
        ),
        "per_pixel_correlation_with_own_pattern": float(np.corrcoef(test_bands.ravel(), own.ravel())[0, 1]),
        "nearest_pattern_accuracy": float((nearest == test_labels).mean()),
    }
    if args.png:
        title = "mean finest band per source (no network)"
        figure = model_fingerprints_figure(means, classes, title, top_label="mean band")
        report["png"] = str(save_figure(figure, args.png))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, label in (
        ("patterns", "source patterns"),
        ("flip_symmetric_patterns", "flip-symmetric patterns"),
    ):
        numbers = report[key]
        gans = numbers.get("dominance_gans_only")
        extra = f" (GANs only: {gans:.2f})" if gans is not None else ""
        print(f"diagonal dominance, {label}: {numbers['dominance']:.2f}{extra}")
    print(
        f"per-pixel correlation with the own source's pattern: {report['per_pixel_correlation_with_own_pattern']:.3f}"
    )
    print(
        f"nearest-pattern attribution accuracy (test split): {100 * report['nearest_pattern_accuracy']:.2f}%"
    )
    if args.png:
        print(f"wrote {report['png']}")


if __name__ == "__main__":
    main()
