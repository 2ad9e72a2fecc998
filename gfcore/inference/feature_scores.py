"""Known-ness scores of image fingerprints (the penultimate features), beside the logit scores of
:mod:`gfcore.inference.openset`: fitted on a sample of the training images' fingerprints, higher for an image
more like a known source.

* ``mahalanobis``: minus the smallest Mahalanobis distance to a class mean, under one covariance shared by
  the classes (Lee et al. 2018), shrunk towards its diagonal so that it stays invertible for fingerprints
  of more dimensions than images;
* ``neighbour``: the cosine similarity of the L2-normalised fingerprint to its k-th nearest training fingerprint
  (Sun et al. 2022): no assumption about the shape of a class.
"""

from __future__ import annotations

import numpy as np

FEATURE_SCORES = ("mahalanobis", "neighbour")
#: training fingerprints the scores are fitted on (a seeded sample when there are more)
FIT_SAMPLE = 4000
KNN_K = 10
SHRINKAGE = 0.1  # share of the covariance replaced by its diagonal


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fit_feature_scores(fingerprints: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    """What the scores need of the training fingerprints ``[N, D]`` with their labels: class means, the
    shrunk shared precision matrix, and the normalised fingerprints for the neighbours."""
    f = np.asarray(fingerprints, np.float64).reshape(len(fingerprints), -1)
    labels = np.asarray(labels)
    present = [c for c in range(num_classes) if np.any(labels == c)]
    means = np.stack([f[labels == c].mean(0) for c in present])
    centred = f - means[np.searchsorted(present, labels)]
    covariance = centred.T @ centred / max(len(f) - len(present), 1)
    covariance = (1 - SHRINKAGE) * covariance + SHRINKAGE * np.diag(np.diag(covariance))
    covariance += 1e-6 * max(float(np.trace(covariance)) / len(covariance), 1e-12) * np.eye(len(covariance))
    return {"means": means, "precision": np.linalg.inv(covariance), "bank": _unit(f)}


def feature_score(fingerprints: np.ndarray, fitted: dict, score: str, chunk: int = 1024) -> np.ndarray:
    """float64 ``[N]``: the ``score`` (one of :data:`FEATURE_SCORES`) of each fingerprint."""
    f = np.asarray(fingerprints, np.float64).reshape(len(fingerprints), -1)
    out = []
    for start in range(0, len(f), chunk):
        part = f[start : start + chunk]
        if score == "mahalanobis":
            diff = part[:, None, :] - fitted["means"][None]
            distances = np.einsum("ncd,de,nce->nc", diff, fitted["precision"], diff)
            out.append(-distances.min(axis=1))
        elif score == "neighbour":
            similarity = _unit(part) @ fitted["bank"].T
            k = min(KNN_K, similarity.shape[1])
            out.append(-np.partition(-similarity, k - 1, axis=1)[:, k - 1])
        else:
            raise ValueError(f"unknown feature score {score!r}")
    return np.concatenate(out) if out else np.zeros(0)
