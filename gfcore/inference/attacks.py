"""Attacks by spec (``jpeg:quality=30``) and attacked evaluation: the glue between the attack registry
and the commands, the training loop and the bench. Generic: no attack-specific code."""

from __future__ import annotations

from typing import Any

from gfcore.config import build_config, config_to_dict, parse_spec
from gfcore.plugins import get_registries


def build_attack(spec: str):
    """``"jpeg:quality=30"`` -> an Attack instance; an unknown name or a bad parameter is one GfpError
    line (listing the valid names or the range)."""
    name, params = parse_spec(spec)
    cls = get_registries().attacks.get(name)
    return cls(build_config(cls.Config, params, owner=f"attack {name!r}"))


def describe_attack(attack: Any, spec: str) -> dict:
    """What run.json and reports record of an attack: its spec, name and full config."""
    return {"spec": spec, "name": attack.name, "config": config_to_dict(attack.config)}


def attack_generator(seed: int, *salt: int):
    """The CPU generator an attack draws from, for a seed (and optional salt such as an epoch)."""
    import numpy as np
    import torch

    return torch.Generator().manual_seed(int(np.random.default_rng([seed, *salt]).integers(2**62)))


def attacked(fn, attack, seed: int):
    """``fn`` (uint8 images -> outputs) applied to attacked images. The generator is seeded once and read
    chunk after chunk, so the same seed, split and chunk size give the same attacked images."""
    if attack is None:
        return fn
    generator = attack_generator(seed, 0x61747461636B)  # "attack": apart from the training streams

    def run(images):
        return fn(attack.apply(images, generator))

    return run
