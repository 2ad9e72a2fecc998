"""Optimiser state as named tensors plus JSON (never pickle): tensors go to safetensors, the rest
(param_groups, any non-tensor per-parameter values) to the checkpoint's JSON meta."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch


def optimizer_to_tensors(
    opt: torch.optim.Optimizer, prefix: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for param_id, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{param_id}.{key}"] = value
            else:
                scalars[f"{param_id}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_tensors(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any], prefix: str
) -> None:
    state: dict[int, dict[str, Any]] = defaultdict(dict)
    head = prefix + "."
    for name, value in tensors.items():
        if name.startswith(head):
            param_id, key = name[len(head) :].split(".", 1)
            state[int(param_id)][key] = value
    for name, value in meta.get("scalars", {}).items():
        param_id, key = name.split(".", 1)
        state[int(param_id)][key] = value
    groups = []
    for group in meta["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):  # JSON turned the tuple into a list
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    opt.load_state_dict({"state": dict(state), "param_groups": groups})
