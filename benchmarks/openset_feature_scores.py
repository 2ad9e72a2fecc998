"""Would a feature-space score tell an unseen source better than the logit scores `gfp openset` measures?

For each held-out source of a finished `gfp openset` folder (an extractor, e.g. the learned network),
compares the AUROC of known against unseen test images by two scores of the run's image fingerprints:
the negative Mahalanobis distance to the nearest class mean (shared covariance; Lee et al. 2018) and the
cosine similarity to the k-th nearest training fingerprint (Sun et al. 2022), fitted on a seeded sample of
the training split. Prints one line per held-out source and the means, next to results.json's msp AUROC.

    python benchmarks/openset_feature_scores.py LOSO_FOLDER [--train-sample 4000] [--k 10]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from gfcore.data.dataset import load_dataset
from gfcore.inference.evaluation import map_split
from gfcore.inference.openset import auroc
from gfcore.interfaces import Split
from gfcore.runs.attributor import load_run


def fingerprints(attributor, split, rows=None) -> np.ndarray:
    return (
        map_split(attributor.image_fingerprints, split, indices=rows)[0].flatten(1).numpy().astype(np.float64)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loso")
    parser.add_argument("--train-sample", type=int, default=4000)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = json.loads((Path(args.loso) / "results.json").read_text())
    full = load_dataset(results["dataset"]["path"])
    test = full.split("test")
    table = []
    for row in results["held_out"]:
        attributor, _ = load_run(row["run"])
        known = load_dataset(Path(args.loso) / "datasets" / Path(row["run"]).name)
        train = known.split("train")
        rows = np.sort(
            np.random.default_rng(0).choice(len(train), min(args.train_sample, len(train)), replace=False)
        )
        f_train, y_train = fingerprints(attributor, train, rows), train.labels[rows]
        f_known = fingerprints(attributor, known.split("test"))
        unseen = np.flatnonzero(test.labels == full.classes.index(row["held_out"]))
        f_unseen = fingerprints(attributor, Split(images=test.images, labels=test.labels), unseen)
        means = np.stack([f_train[y_train == c].mean(0) for c in range(len(known.classes))])
        centred = f_train - means[y_train]
        precision = np.linalg.inv(centred.T @ centred / len(centred) + 1e-6 * np.eye(f_train.shape[1]))

        def mahalanobis(x, means=means, precision=precision):
            return -np.stack([np.einsum("ij,jk,ik->i", x - m, precision, x - m) for m in means], 1).min(1)

        unit = f_train / np.linalg.norm(f_train, axis=1, keepdims=True)

        def knn_cosine(x, unit=unit):
            return np.sort((x / np.linalg.norm(x, axis=1, keepdims=True)) @ unit.T, axis=1)[:, -args.k]

        line = [row["held_out"], row["scores"]["msp"]["auroc"]]
        line += [auroc(score(f_known), score(f_unseen)) for score in (mahalanobis, knn_cosine)]
        table.append(line)
        print(
            f"{line[0]}: AUROC msp {line[1]:.4f}, Mahalanobis {line[2]:.4f}, kNN cosine {line[3]:.4f}",
            flush=True,
        )
    means = np.mean([t[1:] for t in table], axis=0)
    print(f"mean: AUROC msp {means[0]:.4f}, Mahalanobis {means[1]:.4f}, kNN cosine {means[2]:.4f}")


if __name__ == "__main__":
    main()
