"""t-SNE of features (paper Fig. 1): a 2-d embedding, and how well neighbours in it agree on the source."""

from __future__ import annotations

import numpy as np

PCA_DIMS = 50  # t-SNE on a few thousand pixels per image is slow and no better: reduce first, as usual


def tsne_2d(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """``[N, ...]`` features (flattened) -> ``[N, 2]`` t-SNE points, deterministic for a seed.

    Each feature is standardised over the images, reduced by PCA to at most 50 dimensions, then embedded;
    the perplexity is lowered for small N (t-SNE needs N > 3 * perplexity)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    n = len(x)
    if n < 2:
        raise ValueError(f"t-SNE needs at least 2 points, got {n}")
    if n < 4:  # too few to embed: spread them on a line, so that every image still gets one point
        return np.stack([np.arange(n, dtype=np.float64), np.zeros(n)], axis=1)
    x = x - x.mean(axis=0)
    std = x.std(axis=0)
    x = x / np.where(std > 0, std, 1.0)
    dims = min(PCA_DIMS, n, x.shape[1])
    if dims < x.shape[1]:
        x = PCA(n_components=dims, random_state=seed).fit_transform(x)
    perplexity = min(perplexity, (n - 1) / 3)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, learning_rate="auto")
    return tsne.fit_transform(x.astype(np.float32)).astype(np.float64)


def neighbour_agreement(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out k-NN accuracy in the embedding: the share of points whose ``k`` nearest other points
    mostly share their source (a number for how separated the clusters of the picture are)."""
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels)
    k = min(k, len(points) - 1)
    knn = KNeighborsClassifier(n_neighbors=k + 1).fit(points, labels)
    _, idx = knn.kneighbors(points)
    votes = labels[idx[:, 1:]]  # the point itself is its own nearest neighbour
    predicted = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in votes])
    return float((predicted == labels).mean())
