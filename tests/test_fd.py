"""Fréchet distance against closed forms, and the FD ratio on distributions of known separability."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gfcore.errors import GfpError
from gfcore.studies.fd import fd_ratio, frechet_distance, gaussian_fit, project_features


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    # for commuting covariances FD = |m1 - m2|^2 + sum (sqrt(a) - sqrt(b))^2
    m1, m2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 4.0, 1.0])
    expected = float((m1 - m2).pow(2).sum() + (a.sqrt() - b.sqrt()).pow(2).sum())
    # float64 throughout: round-off is ~1e-16 relative; the ridge (1e-12 of the mean variance) shifts FD by
    # about 1e-12 relative for these non-singular covariances, so 1e-9 of the magnitude bounds both
    assert math.isclose(frechet_distance(m1, torch.diag(a), m2, torch.diag(b)), expected, rel_tol=1e-9)
    assert frechet_distance(m1, torch.diag(a), m1, torch.diag(a)) <= 1e-9 * float(a.sum())


def test_frechet_distance_is_rotation_invariant_and_handles_singular_covariances():
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=torch.float64))
    a = torch.diag(torch.tensor([1.0, 2.0, 0.0, 0.0], dtype=torch.float64))
    b = torch.diag(torch.tensor([3.0, 0.5, 1.0, 0.0], dtype=torch.float64))
    m1, m2 = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    plain = frechet_distance(m1, a, m2, b)
    rotated = frechet_distance(q @ m1, q @ a @ q.t(), q @ m2, q @ b @ q.t())
    expected = 4 + (1 - 3**0.5) ** 2 + (2**0.5 - 0.5**0.5) ** 2 + 1
    assert math.isclose(plain, expected, rel_tol=1e-4) and math.isclose(rotated, expected, rel_tol=1e-4)


def test_gaussian_fit_and_projection():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(500, 3, generator=gen) * torch.tensor([1.0, 2.0, 3.0]) + torch.tensor([5.0, 0.0, -1.0])
    mean, cov = gaussian_fit(x)
    assert torch.allclose(mean, torch.tensor([5.0, 0.0, -1.0], dtype=torch.float64), atol=0.4)
    assert torch.allclose(torch.diagonal(cov), torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64), rtol=0.2)
    # few samples in many dimensions: the projection keeps the leading directions and every distance
    wide = torch.randn(40, 1000, generator=gen, dtype=torch.float64)
    projected = project_features(wide, max_dim=256)
    assert projected.shape == (40, 40)

    # Distances computed the exact way (differences, not cdist's |x|^2 + |y|^2 - 2xy matrix-multiply path,
    # whose cancellation leaves ~1e-6 where the distance is 0, depending on the CPU's BLAS): the projection
    # is exact up to float64 round-off in a well-conditioned 40x40 eigenproblem, ~1e-13 of the distances.
    def distances(x):
        return torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")

    expected = distances(wide)
    assert torch.allclose(distances(projected), expected, rtol=0, atol=1e-9 * float(expected.max()))
    assert project_features(x, max_dim=256).shape == (500, 3)


def test_fd_ratio_is_near_one_for_one_distribution_and_large_for_separated_ones():
    rng = np.random.default_rng(0)
    same = torch.from_numpy(rng.normal(size=(1200, 8)))
    labels = np.repeat(np.arange(3), 400)
    result = fd_ratio(same, labels, 3, seed=0)
    assert 0.7 < result["fd_ratio"] < 1.4
    assert len(result["matrix"]) == 3 and result["intra_fd"] == [result["matrix"][i][i] for i in range(3)]
    assert result["half_sizes"] == [200, 200, 200] and not result["projected"]

    separated = same + torch.from_numpy(np.repeat(np.eye(3, 8) * 3.0, 400, axis=0))
    result = fd_ratio(separated, labels, 3, seed=0)
    assert result["fd_ratio"] > 10
    assert result["mean_inter_fd"] > 10 * result["mean_intra_fd"]


def test_fd_ratio_projects_high_dimensional_features():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(2), 150)
    features = rng.normal(size=(300, 2000))
    features[:, :5] += labels[:, None] * 10.0  # the classes differ in a few of many dimensions
    result = fd_ratio(torch.from_numpy(features), labels, 2, seed=0, max_dim=64)
    assert result["projected"] and result["dims"] == 64
    assert result["fd_ratio"] > 2


def test_fd_ratio_needs_enough_samples_per_class():
    with pytest.raises(GfpError, match="at least 4 samples"):
        fd_ratio(torch.randn(10, 3), np.array([0] * 8 + [1] * 2), 2)


def test_fd_ratio_with_fewer_samples_per_half_than_dimensions():
    # halves of 20 samples in 100 dimensions: singular covariances, still a finite ratio near 1
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 40)
    result = fd_ratio(torch.from_numpy(rng.normal(size=(120, 100))).float(), labels, 3, seed=1)
    assert 0.8 < result["fd_ratio"] < 1.25


def _three_sources(rng, per_class, dims, shift):
    """Three classes of unit Gaussian noise in ``dims`` dimensions, class c shifted by ``shift`` along
    axis c: the separation lives in 3 dimensions whatever ``dims`` is."""
    labels = np.repeat(np.arange(3), per_class)
    x = rng.normal(size=(3 * per_class, dims))
    x[:, :3] += shift * np.eye(3)[labels]
    return torch.from_numpy(x), labels


def test_fd_ratio_after_pca_to_one_dimension_does_not_depend_on_the_feature_dimension():
    from gfcore.studies.fd import pca_fd_ratio

    rng = np.random.default_rng(0)
    same, separated, raw = [], [], []
    for dims in (16, 64, 256):
        fit, _ = _three_sources(rng, 1000, dims, 0.0)
        test, labels = _three_sources(rng, 400, dims, 0.0)
        result = pca_fd_ratio(fit, test, labels, 3, dim=8, seed=0)
        assert result["dims"] == 8 and result["feature_dims"] == dims and result["half_sizes"] == [200] * 3
        same.append(result["fd_ratio"])
        fit, _ = _three_sources(rng, 1000, dims, 2.0)
        test, labels = _three_sources(rng, 400, dims, 2.0)
        separated.append(pca_fd_ratio(fit, test, labels, 3, dim=8, seed=0)["fd_ratio"])
        raw.append(fd_ratio(test, labels, 3, seed=0, max_dim=dims)["fd_ratio"])
    # one distribution: near 1 at every dimension (measured 0.92, 0.92, 1.10; 200 samples a half in 8 dims)
    assert all(0.75 < r < 1.33 for r in same), same
    # separated sources: clearly above 1, and about the same whatever the dimension (measured 33, 32, 27) ...
    assert all(r > 10 for r in separated) and max(separated) < 1.5 * min(separated), separated
    # ... while without the reduction the same separation fades into the estimation bias (11, 1.8, 1.05)
    assert raw[0] > 5 and raw[-1] < 1.5, raw


@pytest.mark.parametrize("k", [3, 40])  # the LAPACK subset path (4k <= n) and the full eigh
def test_top_eigenpairs_are_the_leading_ones_of_a_full_eigh(k):
    from gfcore.studies.fd import top_eigenpairs

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 60, dtype=torch.float64, generator=gen) * torch.logspace(
        0, -1, 60, dtype=torch.float64
    )
    scatter = x.t() @ x
    values, vectors = top_eigenpairs(scatter, k)
    full_values, full_vectors = torch.linalg.eigh(scatter)
    assert torch.allclose(values, full_values.flip(0)[:k], rtol=1e-10)
    alignment = (vectors * full_vectors.flip(1)[:, :k]).sum(0).abs()  # unit vectors, equal up to sign
    assert torch.allclose(alignment, torch.ones(k, dtype=torch.float64), atol=1e-8)
