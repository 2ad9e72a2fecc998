"""The paper's combination attack: each single attack, with its own default (the paper's)
ranges, is applied independently with probability ``p`` in the fixed order relight, crop, blur, jpeg,
noise. Built from the registered attacks, so a replaced single attack changes the combination too."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gfcore import Attack, bounded

ORDER = ("relight", "crop", "blur", "jpeg", "noise")


class Combo(Attack):
    name = "combo"
    description = "relight, crop, blur, jpeg, noise in this order, each with probability 0.5 (the paper's)."

    @dataclass
    class Config:
        p: float = bounded(0.5, min=0, max=1)  # probability of each attack, independently per image

    def __init__(self, config):
        super().__init__(config)
        from gfcore import get_registries

        registry = get_registries().attacks
        self.attacks = [registry.get(name)(registry.get(name).Config()) for name in ORDER]

    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = images.clone()
        for attack in self.attacks:
            chosen = torch.rand(len(images), generator=generator) < self.config.p
            if chosen.any():
                rows = chosen.nonzero().flatten().to(images.device)
                out[rows] = attack.apply(out[rows], generator)
        return out
