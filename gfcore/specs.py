"""The text of a spec: ``NAME`` or ``NAME:key=value,key=value`` (methods, attacks, GAN families and their
sampling). Values stay strings here; :mod:`gfcore.config` turns them into a ``Config``'s types."""

from __future__ import annotations

from gfcore.errors import GfpError


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"knn:k=5,x=1"`` -> ``("knn", {"k": "5", "x": "1"})``; an empty value or a repeated key is refused."""
    name, _, rest = spec.strip().partition(":")
    params: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise GfpError(f"bad parameter {item!r} in {spec!r}: write key=value")
        key = key.strip().replace("-", "_")
        # an empty value would silently mean the default, a repeated key silently the last one
        if not value.strip():
            raise GfpError(f"parameter {key!r} in {spec!r} has no value; give one, or leave the key out")
        if key in params:
            raise GfpError(f"parameter {key!r} is given twice in {spec!r}")
        params[key] = value.strip()
    if not name:
        raise GfpError(f"bad method spec {spec!r}: expected NAME or NAME:key=value,...")
    return name, params
