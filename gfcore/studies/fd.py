"""Fréchet distance between feature distributions, and the paper's FD ratio (how separable sources are).

``FD(N(m1, S1), N(m2, S2)) = |m1 - m2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))`` -- FID when the
features are Inception's. The trace of the matrix square root is computed without ``sqrtm``: with
``A = S1^(1/2)`` (eigendecomposition, negative round-off eigenvalues clamped to 0), ``A S2 A`` is symmetric
positive semi-definite and has the same eigenvalues as ``S1 S2``, so ``tr((S1 S2)^(1/2))`` is the sum of the
square roots of its eigenvalues. Everything is float64. Singular covariances (fewer samples than
dimensions) need no special case: eigenvalues are clamped at zero before every square root. A tiny ridge
(1e-12 times the mean variance) on both diagonals guards the eigendecompositions against round-off; it is
kept that small because the square root magnifies it -- a ridge r shifts FD by about 2 sqrt(r) for every
direction in which one covariance is singular.

FD ratio (paper §7, as in the official code's FD matrix): each class's features are split into two
disjoint random halves A_c and B_c of equal size. ``matrix[i][j] = FD(A_i, B_j)``: the diagonal is the
intra-class FD, the rest inter-class. The ratio is mean(off-diagonal) / mean(diagonal). Comparing halves
everywhere (not whole classes off the diagonal) gives every distance the same sample size and so the
same estimation bias: features that do not separate the classes give a ratio near 1, separable ones more.

Very high-dimensional features (PRNU residuals have H*W dimensions) cannot have their covariance estimated
from a few hundred images, so features with more than ``max_dim`` (256) dimensions are first projected
onto their top ``max_dim`` principal components, fitted on all features of all classes together (one
shared projection, so distances stay comparable). The result says whether and to how many dims.

Comparable ratios (:func:`pca_fd_ratio`): the estimation bias of every FD grows with the dimension (about
d^2 / n for the covariance term), and it sits in both the numerator and the denominator, so the ratio of
two well-separated sources falls towards 1 as d grows. Ratios of feature spaces of different dimension
(64-d fingerprints against 256-d residuals) are therefore not comparable. The bench reduces every
method's features to the same ``d`` by a PCA fitted on *training* features (the test images are only
projected) and measures every method on the same test images, so the bias is the same for all.
"""

from __future__ import annotations

import numpy as np
import torch

from gfcore.errors import GfpError

DEFAULT_MAX_DIM = 256
RIDGE = 1e-12  # added to covariance diagonals, times the mean variance


def gaussian_fit(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[n, D]`` -> mean ``[D]`` and unbiased covariance ``[D, D]``, in float64."""
    x = features.double()
    mean = x.mean(0)
    centred = x - mean
    cov = centred.t() @ centred / max(len(x) - 1, 1)
    return mean, cov


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.t()


def frechet_distance(
    mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor, cov2: torch.Tensor, ridge: float = RIDGE
) -> float:
    """Fréchet distance between two Gaussians (float64 throughout; see the module docstring)."""
    mean1, cov1, mean2, cov2 = (t.double() for t in (mean1, cov1, mean2, cov2))
    dim = cov1.shape[0]
    eye = torch.eye(dim, dtype=torch.float64, device=cov1.device)
    scale = float((torch.diagonal(cov1).mean() + torch.diagonal(cov2).mean()) / 2)
    eps = ridge * scale if scale > 0 else ridge
    cov1, cov2 = cov1 + eps * eye, cov2 + eps * eye
    root1 = _sqrt_psd(cov1)
    product = root1 @ cov2 @ root1
    product = (product + product.t()) / 2  # symmetric up to round-off; make it exactly so for eigvalsh
    trace_sqrt = torch.linalg.eigvalsh(product).clamp_min(0).sqrt().sum()
    fd = (mean1 - mean2).pow(2).sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * trace_sqrt
    return max(float(fd), 0.0)


def project_features(features: torch.Tensor, max_dim: int = DEFAULT_MAX_DIM) -> torch.Tensor:
    """``[n, D]`` -> ``[n, min(D, max_dim)]``: coordinates on the top principal components (float64).

    Exact PCA through whichever of the ``n x n`` Gram matrix or the ``D x D`` covariance is smaller.
    Features already of at most ``max_dim`` dimensions are returned unchanged (as float64).
    """
    x = features.double()
    if x.shape[1] <= max_dim:
        return x
    x = x - x.mean(0)
    k = min(max_dim, x.shape[0])
    if x.shape[0] <= x.shape[1]:
        values, vectors = top_eigenpairs(x @ x.t(), k)  # X X^T = U L U^T, and X V = U L^(1/2)
        return vectors * values.clamp_min(0).sqrt()
    _, vectors = top_eigenpairs(x.t() @ x, k)
    return x @ vectors


def fit_pca(features: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean ``[D]`` and the top ``dim`` principal directions ``[D, dim]`` of ``features [n, D]``
    (float64, exact: through the smaller of the ``n x n`` Gram matrix and the ``D x D`` scatter matrix)."""
    x = features.double().reshape(len(features), -1)
    mean = x.mean(0)
    x = x - mean
    k = min(dim, x.shape[1], max(x.shape[0] - 1, 1))
    if x.shape[0] <= x.shape[1]:
        values, vectors = top_eigenpairs(x @ x.t(), k)  # X X^T u = l u  =>  X^T u / sqrt(l) is a direction
        basis = x.t() @ vectors / values.clamp_min(1e-300).sqrt()
    else:
        _, basis = top_eigenpairs(x.t() @ x, k)
    return mean, basis


def top_eigenpairs(matrix: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest eigenvalues (descending) and their eigenvectors ``[n, k]`` of a symmetric float64
    matrix. For a few of many (the bench's 32 directions of 3,072 pixels) LAPACK's ``syevx`` computes only
    those, about 3x faster than a full ``eigh`` on a CPU and as exact; otherwise a full ``eigh``."""
    n = matrix.shape[0]
    if 4 * k <= n and matrix.device.type == "cpu":
        from scipy.linalg import eigh  # scikit-learn's own dependency

        values, vectors = eigh(matrix.numpy(), subset_by_index=[n - k, n - 1], driver="evx")
        return torch.from_numpy(values[::-1].copy()), torch.from_numpy(vectors[:, ::-1].copy())
    values, vectors = torch.linalg.eigh(matrix)
    top = values.argsort(descending=True)[:k]
    return values[top], vectors[:, top]


def pca_fd_ratio(
    fit_features: torch.Tensor,
    features: torch.Tensor,
    labels,
    num_classes: int,
    dim: int,
    seed: int = 0,
) -> dict:
    """:func:`fd_ratio` of ``features`` after projecting them onto the top ``dim`` principal directions
    of ``fit_features`` (the training split's features), so that every feature space is compared at one
    dimension (see the module docstring). Adds ``fit_images`` and ``feature_dims`` (before projection)."""
    features = torch.as_tensor(features).detach().reshape(len(features), -1).cpu()
    fit_features = torch.as_tensor(fit_features).detach().reshape(len(fit_features), -1).cpu()
    if fit_features.shape[1] != features.shape[1]:
        raise GfpError(f"PCA fitted on {fit_features.shape[1]}-d features, applied to {features.shape[1]}-d")
    mean, basis = fit_pca(fit_features, dim)
    result = fd_ratio((features.double() - mean) @ basis, labels, num_classes, seed=seed, max_dim=dim)
    return {
        **result,
        "projected": True,
        "fit_images": int(len(fit_features)),
        "feature_dims": features.shape[1],
    }


def fd_ratio(
    features: torch.Tensor,
    labels: torch.Tensor | np.ndarray,
    num_classes: int,
    seed: int = 0,
    max_dim: int = DEFAULT_MAX_DIM,
) -> dict:
    """FD ratio of ``features [N, D]`` with integer ``labels [N]`` (see the module docstring).

    Returns JSON-able values: ``fd_ratio``, ``mean_inter_fd``, ``mean_intra_fd``, ``matrix`` (``[L][L]``,
    rows = first halves, columns = second halves), ``intra_fd`` (its diagonal), ``dims`` (after
    projection), ``projected`` and ``half_sizes``.
    """
    features = torch.as_tensor(features).detach().reshape(len(features), -1)
    if features.device.type == "mps":  # no float64 there
        features = features.cpu()
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(labels) != len(features):
        raise GfpError(f"{len(features)} feature rows but {len(labels)} labels")
    if num_classes < 2:
        raise GfpError("the FD ratio needs at least two classes")
    original_dim = features.shape[1]
    x = project_features(features, max_dim)
    rng = np.random.default_rng(seed)
    halves, sizes = [], []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        if len(members) < 4:
            raise GfpError(
                f"the FD ratio needs at least 4 samples of every class; class {c} has {len(members)}"
            )
        members = rng.permutation(members)
        half = len(members) // 2  # equal halves: an odd one out is left unused
        first = torch.as_tensor(members[:half], device=x.device)
        second = torch.as_tensor(members[half : 2 * half], device=x.device)
        halves.append((gaussian_fit(x[first]), gaussian_fit(x[second])))
        sizes.append(half)
    matrix = np.zeros((num_classes, num_classes))
    for i in range(num_classes):
        for j in range(num_classes):
            (mean_i, cov_i), (mean_j, cov_j) = halves[i][0], halves[j][1]
            matrix[i, j] = frechet_distance(mean_i, cov_i, mean_j, cov_j)
    intra = np.diag(matrix)
    inter = matrix[~np.eye(num_classes, dtype=bool)]
    mean_intra, mean_inter = float(intra.mean()), float(inter.mean())
    return {
        "fd_ratio": mean_inter / mean_intra if mean_intra > 0 else float("inf"),
        "mean_inter_fd": mean_inter,
        "mean_intra_fd": mean_intra,
        "matrix": matrix.tolist(),
        "intra_fd": intra.tolist(),
        "dims": int(x.shape[1]),
        "projected": bool(original_dim > max_dim),
        "half_sizes": sizes,
    }
