"""How much of visNet's response-grid dominance the shared part of the model fingerprints explains.

Softmax ignores what all model fingerprints share (adding one image to every W_y shifts every logit by the
same amount), so that shared part is set by the initialisation and the optimiser, not by the loss. This
prints its share of the fingerprints' energy and the test-image diagonal dominance (as `gfp visualize`
computes it) with the raw and with the centred model fingerprints.

    python benchmarks/visnet_gauge.py RUN DATASET [--per-source 200]
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("dataset")
    parser.add_argument("--per-source", type=int, default=200)
    args = parser.parse_args()

    from gfcore.dataset import load_dataset
    from gfcore.evaluation import map_split
    from gfcore.progress import NullReporter
    from gfcore.runs import load_run
    from gfcore.visualize.report import first_per_source
    from gfcore.visualize.responses import diagonal_dominance, mean_by_source, response_strengths

    attributor, _ = load_run(args.run)
    split = load_dataset(args.dataset).split("test")
    labels = np.asarray(split.labels)
    sample = first_per_source(labels, len(attributor.classes), args.per_source)
    fps, _ = map_split(
        attributor.image_fingerprints, split, NullReporter(), indices=sample, label="fingerprints"
    )
    fps = fps.numpy()
    models = attributor.model_fingerprints().numpy().astype(np.float64)
    shared = models.mean(axis=0, keepdims=True)
    share = float((shared**2).sum() * len(models) / (models**2).sum())
    print(f"shared part of the model fingerprints: {100 * share:.1f}% of their energy")
    for name, w in (("raw", models), ("centred", models - shared)):
        by_source = mean_by_source(response_strengths(fps, w), labels[sample], len(models))
        print(
            f"test-image diagonal dominance, {name} model fingerprints: {diagonal_dominance(by_source):.2f}"
        )


if __name__ == "__main__":
    main()
