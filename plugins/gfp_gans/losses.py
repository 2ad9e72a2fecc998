"""The adversarial losses of the four families: WGAN-GP with drift (ProGAN, shared in gfcore.nn), hinge (SNGAN), the Cramér
distance (CramerGAN, Bellemare et al. 2017) and MMD with a mixed rational-quadratic kernel (MMDGAN,
Bińkowski et al. 2018)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from gfcore import safe_norm

#: ``_mix_rq_1dot_kernel``'s default alphas in the MMD-GAN code (``core/mmd.py``); the MMD-GAN paper's
#: experiments list 0.2, 0.5, 1, 2, 5, which the first shipped MMDGAN run used (its run.json says so).
MIX_RQ_ALPHAS = (0.1, 1.0, 10.0)


# --- SNGAN: hinge loss ----------------------------------------------------------------------------------


def hinge_critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()


def hinge_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    return -d_fake.mean()


# --- CramerGAN ------------------------------------------------------------------------------------------


def cramer_surrogate(h_x: torch.Tensor, h_anchor: torch.Tensor) -> torch.Tensor:
    """The surrogate critic ``f(x) = ||h(x) - h(x_g')|| - ||h(x)||`` per sample, with ``h_anchor`` the
    features of the second, independent generator batch x_g'."""
    return safe_norm(h_x - h_anchor) - safe_norm(h_x)


def cramer_generator_loss(h_real: torch.Tensor, h_fake: torch.Tensor, h_fake2: torch.Tensor) -> torch.Tensor:
    """The energy distance between the real and generated feature distributions, estimated with two
    independent generator batches: ``||h(x_r)-h(x_g)|| + ||h(x_r)-h(x_g')|| - ||h(x_g)-h(x_g')||``."""
    return (safe_norm(h_real - h_fake) + safe_norm(h_real - h_fake2) - safe_norm(h_fake - h_fake2)).mean()


def cramer_critic_loss(h_real: torch.Tensor, h_fake: torch.Tensor, h_fake2: torch.Tensor) -> torch.Tensor:
    """Minus the surrogate objective ``E f(x_r) - E f(x_g)`` (the gradient penalty is added by the caller)."""
    return -(cramer_surrogate(h_real, h_fake2) - cramer_surrogate(h_fake, h_fake2)).mean()


# --- MMDGAN: mixed rational-quadratic kernel plus a linear term ("mix_rq_1dot") --------------------------


def mix_rq_dot_kernel(
    x: torch.Tensor, y: torch.Tensor, alphas: Sequence[float] = MIX_RQ_ALPHAS
) -> torch.Tensor:
    """``k(x, y) = sum_a (1 + ||x - y||^2 / (2a))^-a + <x, y>`` for every pair of rows -> ``[len(x), len(y)]``
    (``mix_rq_1dot``: the RQ mixture with unit weights plus the dot product with weight 1)."""
    dot = x @ y.T
    sq_dist = (x.pow(2).sum(1, keepdim=True) + y.pow(2).sum(1)[None, :] - 2 * dot).clamp_min(0)
    rq = sum((1 + sq_dist / (2 * a)).pow(-a) for a in alphas)
    return rq + dot


def mmd2_unbiased(
    h_real: torch.Tensor,
    h_fake: torch.Tensor,
    alphas: Sequence[float] = MIX_RQ_ALPHAS,
    constant_diagonal: bool = False,
) -> torch.Tensor:
    """The unbiased estimate of MMD^2 between two samples of features (diagonal terms excluded).

    ``constant_diagonal`` does what the MMD-GAN code does for its ``mix_rq`` kernels: it removes
    ``len(alphas)`` per diagonal entry (each RQ term is 1 at distance 0) rather than the true diagonal, so
    the dot term's ``||h||^2`` on the diagonal stays in the estimate."""
    m, n = len(h_real), len(h_fake)
    k_rr = mix_rq_dot_kernel(h_real, h_real, alphas)
    k_ff = mix_rq_dot_kernel(h_fake, h_fake, alphas)
    k_rf = mix_rq_dot_kernel(h_real, h_fake, alphas)
    if constant_diagonal:
        trace_rr, trace_ff = m * float(len(alphas)), n * float(len(alphas))
    else:
        trace_rr, trace_ff = k_rr.diagonal().sum(), k_ff.diagonal().sum()
    term_rr = (k_rr.sum() - trace_rr) / (m * (m - 1))
    term_ff = (k_ff.sum() - trace_ff) / (n * (n - 1))
    return term_rr + term_ff - 2 * k_rf.mean()


def mmd_witness(
    h_points: torch.Tensor,
    h_real: torch.Tensor,
    h_fake: torch.Tensor,
    alphas: Sequence[float] = MIX_RQ_ALPHAS,
) -> torch.Tensor:
    """The MMD witness function at ``h_points``: mean kernel to the real sample minus mean to the fake one.
    MMD-GAN's gradient penalty constrains this function's gradient, as WGAN-GP does the critic's."""
    return mix_rq_dot_kernel(h_points, h_real, alphas).mean(1) - mix_rq_dot_kernel(
        h_points, h_fake, alphas
    ).mean(1)
