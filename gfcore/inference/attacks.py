"""Attacks by spec (``jpeg:quality=30``) and attacked evaluation: the glue between the attack registry
and the commands, the training loop and the bench. Generic: no attack-specific code."""

from __future__ import annotations

from typing import Any

from gfcore.config import build_config, config_from_dict, config_to_dict, parse_spec
from gfcore.errors import GfpError
from gfcore.plugins import get_registries


def build_attack(spec: str):
    """``"jpeg:quality=30"`` -> an Attack instance; an unknown name or a bad parameter is one GfpError
    line (listing the valid names or the range)."""
    name, params = parse_spec(spec)
    cls = get_registries().attacks.get(name)
    return cls(build_config(cls.Config, params, owner=f"attack {name!r}"))


def describe_attack(attack: Any, spec: str) -> dict:
    """What run.json and reports record of an attack: its spec, name, full config and how its strength
    relates to the image size (``Attack.scale_note``; absent when the attack does not say)."""
    record = {"spec": spec, "name": attack.name, "config": config_to_dict(attack.config)}
    scale = attack.scale_note()
    return record if scale is None else {**record, "scale": scale}


def same_attack(record: dict | None, spec: str) -> bool:
    """Whether ``record`` (what :func:`describe_attack` wrote) is the attack ``spec`` builds today: the
    same spec can mean another attack after a default changed (blur relative to the image size), and an
    immunized run must not be reused or resumed against the other one. A field the record predates takes
    its ``saved_before`` value, as when a run is loaded."""
    if not isinstance(record, dict) or record.get("spec") != spec:
        return False
    attack = build_attack(spec)
    try:
        recorded = config_from_dict(type(attack.config), record.get("config", {}), "recorded attack")
    except GfpError:  # a value today's attack refuses: not the same attack
        return False
    return config_to_dict(recorded) == config_to_dict(attack.config)


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
