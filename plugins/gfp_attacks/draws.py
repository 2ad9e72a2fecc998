"""Per-image parameter draws shared by the attacks.

Every draw is made on the CPU from the caller's ``torch.Generator`` (one value per image, before any work
on the device), so an attack gives the same output for the same generator state on any device."""

from __future__ import annotations

import torch


def uniform(generator: torch.Generator, n: int, low: float, high: float, fixed: float | None) -> torch.Tensor:
    """``n`` values from U[low, high] (float64, CPU), or ``fixed`` for all of them when it is given. The
    draw is made either way, so a fixed parameter does not shift the generator for the next attack."""
    draws = torch.rand(n, generator=generator, dtype=torch.float64)
    if fixed is not None:
        return torch.full((n,), float(fixed), dtype=torch.float64)
    return low + (high - low) * draws


def choice(generator: torch.Generator, n: int, options: tuple, fixed=None) -> list:
    """``n`` items drawn uniformly from ``options`` (or ``fixed`` for all of them)."""
    picks = torch.randint(len(options), (n,), generator=generator).tolist()
    return [fixed if fixed is not None else options[i] for i in picks]


def check_range(low: float, high: float, what: str) -> None:
    if low > high:
        raise ValueError(f"{what}_min={low} is larger than {what}_max={high}")


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N,3,H,W] -> float32 on the same device, 0-255 scale."""
    return images.float()


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float 0-255 -> uint8, rounded and clipped (a new tensor)."""
    return x.round().clamp_(0, 255).to(torch.uint8)
