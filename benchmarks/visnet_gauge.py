"""Why visNet's response grid is as diagonal-dominant as it is: how strongly a test image's fingerprint
``F = x - R(x)`` carries its source's model fingerprint, pixel by pixel.

The response strength (`gfp visualize`) grows with the per-pixel correlation between an image fingerprint
and its source's model fingerprint: with Gaussian fingerprints, a correlation of 0.1 gives a diagonal
dominance of about 1.4, 0.2 about 2.0, 0.3 about 2.7 and 0.5 about 5 (`--rho-table` prints that table).
This prints, over ``--per-source`` test images of each source:

* the share of the model fingerprints' energy that all of them share (softmax ignores it: adding one
  image to every W_y shifts every logit by the same amount) and the test-image dominance with the raw and
  with the centred model fingerprints;
* F's size (RMS, images in [-1, 1]) and its per-pixel correlation with the own source's centred model
  fingerprint, and with the source's fixed pattern in the data (the mean of the finest Laplacian band over
  the source's training images, centred; see template_dominance.py), and the same for that band itself:
  when F correlates with the pattern far less than the band does, the auto-encoder reconstructs the
  pattern along with the content and the fingerprint is lost in ``x - R(x)``.

    python benchmarks/visnet_gauge.py RUN DATASET [--per-source 200]
    python benchmarks/visnet_gauge.py --rho-table
"""

from __future__ import annotations

import argparse

import numpy as np


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def rho_table(sources: int = 5, resolution: int = 32, per_source: int = 100, seed: int = 0) -> None:
    """Dominance of Gaussian image fingerprints ``rho * W_y + sqrt(1 - rho^2) * noise`` against Gaussian
    (centred) model fingerprints W: what a given per-pixel correlation is worth on this measure."""
    from gfcore.inference.responses import diagonal_dominance, mean_by_source, response_strengths

    rng = np.random.default_rng(seed)
    models = rng.standard_normal((sources, 3, resolution, resolution))
    models -= models.mean(axis=0, keepdims=True)
    models /= models.std()
    labels = np.repeat(np.arange(sources), per_source)
    print("per-pixel correlation -> diagonal dominance (Gaussian fingerprints)")
    for rho in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5):
        noise = rng.standard_normal((len(labels), 3, resolution, resolution))
        image_fps = rho * models[labels] + np.sqrt(1 - rho**2) * noise
        matrix = mean_by_source(response_strengths(image_fps, models), labels, sources)
        print(f"  {rho:.2f} -> {diagonal_dominance(matrix):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?")
    parser.add_argument("dataset", nargs="?")
    parser.add_argument("--per-source", type=int, default=200)
    parser.add_argument("--rho-table", action="store_true", help="print the correlation-to-dominance table")
    args = parser.parse_args()
    if args.rho_table:
        rho_table()
        return
    if not (args.run and args.dataset):
        parser.error("RUN and DATASET are required (or --rho-table)")

    from template_dominance import fine_band, source_patterns

    from gfcore.data.dataset import load_dataset
    from gfcore.errors import GfpError
    from gfcore.inference.evaluation import map_split
    from gfcore.inference.responses import diagonal_dominance, mean_by_source, response_strengths
    from gfcore.runs.attributor import load_run
    from gfcore.studies.visualize.report import first_per_source
    from gfcore.terminal.progress import NullReporter

    try:
        attributor, _ = load_run(args.run)
        dataset = load_dataset(args.dataset)
    except GfpError as exc:
        parser.exit(1, f"{exc}\n")
    split = dataset.split("test")
    labels = np.asarray(split.labels)
    sample = first_per_source(labels, len(attributor.classes), args.per_source)
    fps, _ = map_split(
        attributor.image_fingerprints, split, NullReporter(), indices=sample, label="fingerprints"
    )
    fps = fps.numpy().astype(np.float64)
    models = attributor.model_fingerprints().numpy().astype(np.float64)
    shared = models.mean(axis=0, keepdims=True)
    share = float((shared**2).sum() * len(models) / (models**2).sum())
    print(f"shared part of the model fingerprints: {100 * share:.1f}% of their energy")
    for name, w in (("raw", models), ("centred", models - shared)):
        by_source = mean_by_source(response_strengths(fps, w), labels[sample], len(models))
        print(
            f"test-image diagonal dominance, {name} model fingerprints: {diagonal_dominance(by_source):.2f}"
        )

    train = dataset.split("train")
    patterns = source_patterns(fine_band(train.images), np.asarray(train.labels), len(models))
    band = fine_band(split.images[sample])
    own = labels[sample]
    print(f"image fingerprint F = x - R(x): RMS {fps.std():.4f} (the finest band of x: {band.std():.4f})")
    print("per-pixel correlation with the own source's ...   centred model fingerprint | fixed pattern")
    print(
        f"  F                                               {correlation(fps, (models - shared)[own]):8.3f} | "
        f"{correlation(fps, patterns[own]):.3f}"
    )
    print(
        f"  the finest band of x (no network)               {'':>8} | {correlation(band, patterns[own]):.3f}"
    )


if __name__ == "__main__":
    main()
