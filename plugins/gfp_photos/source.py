"""The bundled photographs as a :class:`gfcore.RealSource`: real patches for the demo and any experiment."""

from __future__ import annotations

from dataclasses import dataclass

from gfcore import RealSource

from .patches import sample_patches


class BundledPhotos(RealSource):
    name = "photos"
    description = "Patches of the bundled public-domain / CC0 / CC-BY photographs (`gfp data licences`)."

    @dataclass
    class Config:
        pass

    def sample(self, n: int, resolution: int, seed: int = 0, split: str = "train"):
        return sample_patches(n, resolution, seed=seed, split=split)
