"""Device choice: ``auto`` picks CUDA, then MPS, then CPU."""

from __future__ import annotations

from gfcore.errors import GfpError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto"):
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GfpError("--device cuda was asked for, but no CUDA device is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise GfpError("--device mps was asked for, but MPS is not available")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise GfpError(f"unknown device {name!r}; use one of {', '.join(DEVICE_CHOICES)}") from exc
