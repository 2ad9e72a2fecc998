"""Adversarial losses shared by the GAN families and visNet's reconstruction critic: WGAN with a drift
term (ProGAN) and the gradient penalty of Gulrajani et al. 2017."""

from __future__ import annotations

from collections.abc import Callable

import torch


def safe_norm(x: torch.Tensor, dim: int = 1, eps: float = 1e-12) -> torch.Tensor:
    """Euclidean norm with a finite gradient at zero (a plain norm's gradient there is NaN)."""
    return x.pow(2).sum(dim=dim).add(eps).sqrt()


def interpolate(real: torch.Tensor, fake: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Points on straight lines between real and fake samples, ``u`` ~ U(0, 1) per sample."""
    return (u * real + (1 - u) * fake).detach().requires_grad_(True)


def gradient_penalty(
    fn: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor, over: str = "image"
) -> torch.Tensor:
    """Mean of ``(||grad_x fn(x)|| - 1)^2`` at ``points`` (Gulrajani et al. 2017), differentiable in the
    critic's parameters. ``over="image"`` takes the norm over each whole image; ``over="height"`` over the
    height axis alone, one norm per (image, channel, column), as the MMD-GAN code does (its
    ``safer_norm(gradients, axis=1)`` on NHWC tensors, with 1e-5 inside the root)."""
    (grad,) = torch.autograd.grad(fn(points).sum(), points, create_graph=True)
    if over == "height":
        return (safe_norm(grad, dim=2, eps=1e-5) - 1).pow(2).mean()
    return (safe_norm(grad.flatten(1)) - 1).pow(2).mean()


# --- WGAN with a drift term (ProGAN) -------------------------------------------------------------------


def wgan_critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor, drift: float) -> torch.Tensor:
    """``D(fake) - D(real) + drift * D(real)^2``; the drift keeps the critic's output near zero."""
    return (d_fake - d_real).mean() + drift * d_real.pow(2).mean()


def wgan_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    return -d_fake.mean()
