"""The generators the GAN families ship: listed by name, loaded ready to sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gfcore.errors import GfpError, UnknownNameError
from gfcore.interfaces import GanSource
from gfcore.runs.gan import load_gan


def shipped_gans() -> dict[str, tuple[str, Path]]:
    """The shipped generators every registered family advertises
    (:meth:`~gfcore.interfaces.GanSource.shipped_generators`): name -> (family, GAN-run folder)."""
    from gfcore.plugins import get_registries

    out: dict[str, tuple[str, Path]] = {}
    for entry in get_registries().gan_sources.entries():
        for name, path in entry.item.shipped_generators().items():
            out[name] = (entry.name, Path(path))
    return out


def load_shipped_gan(name: str, device=None, sampling: dict[str, Any] | None = None) -> GanSource:
    """A shipped generator by name (:func:`shipped_gans`), ready to :meth:`~GanSource.sample`."""
    shipped = shipped_gans()
    if name not in shipped:
        raise UnknownNameError(
            f"unknown shipped generator {name!r}; valid names: {', '.join(sorted(shipped)) or '(none)'}"
        )
    return load_gan(shipped[name][1], device, sampling)


def resolve_gan_run(ganrun: str | Path) -> Path:
    """A GAN-run folder, or the name of a shipped generator -> its folder (anything else: one line)."""
    path = Path(ganrun)
    if path.is_dir():
        return path
    shipped = shipped_gans()
    if str(ganrun) in shipped:
        return shipped[str(ganrun)][1]
    names = ", ".join(sorted(shipped)) or "(none)"
    raise GfpError(f"{ganrun}: no such GAN run folder, and not a shipped generator ({names})")


def generators() -> dict[str, str]:
    """The shipped generators by name, each with its family: ``{"progan_seed0": "progan", ...}``."""
    return {name: family for name, (family, _) in sorted(shipped_gans().items())}


def sample(
    generator: str | Path, n: int = 16, seed: int = 0, device="cpu", sampling: dict[str, Any] | None = None
) -> np.ndarray:
    """``n`` images of a generator -- a shipped one by name (:func:`generators`) or a GAN-run folder -- as
    uint8 ``[n, R, R, 3]`` (height x width x channels, as PIL and ``Model.predict`` take them): the images
    ``gfp gan sample GENERATOR -n N --seed SEED`` writes."""
    from gfcore.execution.device import resolve_device
    from gfcore.runs.sampling import iter_samples

    if isinstance(device, str):
        device = resolve_device(device)
    gan = load_gan(resolve_gan_run(generator), device, sampling)
    chw = list(iter_samples(gan, int(n), seed))
    return np.stack(chw).transpose(0, 2, 3, 1).copy() if chw else np.zeros((0, 0, 0, 3), np.uint8)
