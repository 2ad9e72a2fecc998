"""The generators the GAN families ship: listed by name, loaded ready to sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gfcore.errors import UnknownNameError
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
