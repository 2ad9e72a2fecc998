"""The combination attack of the paper's robustness study: each single attack, with its own default
(the paper's) ranges, is applied independently with probability ``p`` in the fixed order relight, crop,
blur, jpeg, noise. Built from the registered attacks, so a replaced single attack changes the combination too.

``reference_size`` is handed to every single attack that takes one (of the built-in ones, blur), so
``combo:reference_size=none`` is the combination with every pixel parameter in the image's own pixels."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from gfcore import Attack, bounded

from .scale import PAPER_SIZE, reference_size_field

ORDER = ("relight", "crop", "blur", "jpeg", "noise")


class Combo(Attack):
    name = "combo"
    description = "relight, crop, blur, jpeg, noise in this order, each with probability 0.5 (the paper's)."

    @dataclass
    class Config:
        p: float = bounded(0.5, min=0, max=1)  # probability of each attack, independently per image
        # given to each single attack that has a reference_size (blur); none: absolute pixels
        reference_size: int | None = reference_size_field(PAPER_SIZE)

    def __init__(self, config):
        super().__init__(config)
        from gfcore import get_registries

        registry = get_registries().attacks
        self.attacks = [self._member(registry.get(name)) for name in ORDER]

    def _member(self, cls) -> Attack:
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        if "reference_size" in fields:
            return cls(cls.Config(reference_size=self.config.reference_size))
        return cls(cls.Config())

    def scale_note(self) -> str:
        """Each single attack's form, grouped: "blur relative to 128 px; jpeg absolute pixels; ..."."""
        groups: dict[str, list[str]] = {}
        for attack in self.attacks:
            groups.setdefault(attack.scale_note() or "not stated", []).append(attack.name)
        return "; ".join(f"{', '.join(names)} {note}" for note, names in groups.items())

    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = images.clone()
        for attack in self.attacks:
            chosen = torch.rand(len(images), generator=generator) < self.config.p
            if chosen.any():
                rows = chosen.nonzero().flatten().to(images.device)
                out[rows] = attack.apply(out[rows], generator)
        return out
