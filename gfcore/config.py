"""Method specs (``knn:k=5,metric=l2``) and hyper-parameter dataclasses built from strings."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from .errors import GfpError


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"knn:k=5,x=1"`` -> ``("knn", {"k": "5", "x": "1"})``."""
    name, _, rest = spec.strip().partition(":")
    params: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise GfpError(f"bad parameter {item!r} in {spec!r}: write key=value")
        params[key.strip().replace("-", "_")] = value.strip()
    if not name:
        raise GfpError(f"bad method spec {spec!r}: expected NAME or NAME:key=value,...")
    return name, params


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    if not isinstance(value, str):
        return value
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value.lower() in ("none", "null", ""):
            return None
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(annotation) or (str,)
        items = [_coerce(v, inner, key) for v in value.replace(";", " ").replace("/", " ").split()]
        return tuple(items) if origin is tuple else items
    try:
        if annotation is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if annotation in (int, float, str):
            return annotation(value)
    except ValueError:
        raise GfpError(f"parameter {key}={value!r} is not a valid {annotation.__name__}") from None
    return value


def build_config(config_cls: type, params: dict[str, Any], owner: str) -> Any:
    """Instantiate ``config_cls`` from defaults overridden by ``params`` (strings are parsed by field type)."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    unknown = sorted(set(params) - set(fields))
    if unknown:
        valid = ", ".join(fields) or "(none)"
        raise GfpError(f"{owner} has no parameter {', '.join(map(repr, unknown))}; its parameters: {valid}")
    values = {k: _coerce(v, hints[k], k) for k, v in params.items()}
    return config_cls(**values)


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_dict(config_cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a saved config, ignoring keys a newer/older version does not know."""
    fields = {f.name for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    values = {}
    for k, v in data.items():
        if k in fields:
            if typing.get_origin(hints[k]) is tuple and isinstance(v, list):
                v = tuple(v)
            values[k] = v
    return config_cls(**values)
