"""Shipped small generators: 32x32 GAN runs (``run.json`` + ``generator.safetensors``) trained on the
bundled photo patches, one folder each. ``run.json`` records the command that reproduces the folder.

Each family lists its folders in ``shipped``; :meth:`gfp_gans.base.AdversarialGan.shipped_generators`
hands them to gfp through the documented :meth:`gfcore.interfaces.GanSource.shipped_generators`, the way
a third-party family ships its own (``gfp gan list`` / ``gfp gan sample NAME``). The folders are package
data (``pyproject.toml``), not packages.

* ``progan_seed0`` .. ``progan_seed3``: the same ProGAN, data and settings; only the training seed differs
  (the paper's seed experiment).
* ``sngan``, ``cramergan``, ``mmdgan``: the other three families (the paper's architecture/loss experiment).
"""

from __future__ import annotations

from pathlib import Path

from gfcore import UnknownNameError

PRETRAINED_DIR = Path(__file__).resolve().parent


def pretrained_names() -> list[str]:
    """Names of the shipped generators (folders here that hold a ``run.json``)."""
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "run.json").is_file())


def pretrained_dir(name: str) -> Path:
    if name not in pretrained_names():
        valid = ", ".join(pretrained_names()) or "(none)"
        raise UnknownNameError(f"unknown shipped generator {name!r}; valid names: {valid}")
    return PRETRAINED_DIR / name


def load_pretrained(name: str, device=None):
    """A shipped generator as a :class:`gfcore.interfaces.GanSource`, ready to ``sample(n, seed)``."""
    from gfcore import load_gan

    return load_gan(pretrained_dir(name), device)
