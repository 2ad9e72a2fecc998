"""Weights in safetensors, metadata in JSON: nothing here can execute code from a file."""

from __future__ import annotations

import json
from pathlib import Path

from gfcore.errors import GfpError
from gfcore.storage.atomic import write_bytes
from gfcore.storage.jsonio import loads_document
from gfcore.storage.regular import check_regular


def save_tensors(path, tensors: dict, meta: dict | None = None) -> None:
    """Write named tensors (contiguous CPU copies) atomically; ``meta`` is stored as JSON in the header.

    The file is serialised in memory and written by :func:`gfcore.storage.atomic.write_bytes`, not by
    safetensors' ``save_file``: that one writes a temporary of its own (``.tmpXXXXXX``) that a process
    killed mid-write leaves behind under a name no gfp clean-up knows, and reports a full disk as its own
    error type. One copy of the weights in memory is the price (checkpoints are megabytes)."""
    from safetensors.torch import save

    clean = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    header = {"gfp_meta": json.dumps(meta)} if meta is not None else None
    write_bytes(path, save(clean, metadata=header))


def load_tensors(path) -> tuple[dict, dict]:
    """Read ``(tensors, meta)`` written by :func:`save_tensors`; a bad file is a clear :class:`GfpError`."""
    from safetensors import safe_open

    path = Path(path)
    check_regular(path)  # a FIFO or a device in its place: one line, not a read that never ends
    if not path.is_file():
        raise GfpError(f"{path}: no such weights file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:
        raise GfpError(f"{path}: not a readable safetensors file ({exc})") from exc
    bad = "the gfp metadata in its header is not JSON"
    meta = loads_document(header["gfp_meta"], path, bad) if "gfp_meta" in header else {}
    if not isinstance(meta, dict):
        raise GfpError(f"{path}: the gfp metadata in its header is a {type(meta).__name__}, not an object")
    return tensors, meta
