"""JSON documents: every file gfp writes is strict JSON (NaN/inf become null) and every one it reads is
checked for its ``format`` field, so a wrong or broken file is one clear line, not a traceback.

Every JSON gfp reads from a file (run.json, manifest.json, results, checkpoint metadata) goes through
:func:`loads_document`: a document nested deeper than :data:`MAX_DEPTH` is refused in one line, where
Python's decoder (or the code walking the result) would raise a ``RecursionError``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from gfcore.errors import GfpError
from gfcore.storage.regular import read_regular_bytes

# gfp's own documents nest at most about 8 levels; 64 leaves room for any plugin's metadata, and is far
# below Python's recursion limit, so nothing that walks a document recursively can exhaust the stack
MAX_DEPTH = 64


def json_safe(obj):
    """NaN and infinities are not JSON: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def depth(obj) -> int:
    """How deeply lists and objects nest in ``obj`` (a scalar: 0), without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def loads_document(text: str | bytes, where, bad: str = "unreadable") -> object:
    """Parse JSON read from ``where`` (named in the messages); bad (``"{where}: {bad} (why)"``) or too deeply
    nested is one line."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise GfpError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels; not a gfp file") from None
    except ValueError as exc:
        raise GfpError(f"{where}: {bad} ({exc})") from None
    if depth(doc) > MAX_DEPTH:
        raise GfpError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels; not a gfp file")
    return doc


def read_document(path: str | Path, fmt: str, missing: str) -> dict:
    """The JSON object in ``path`` whose ``format`` is ``fmt``; ``missing`` is the message when absent."""
    path = Path(path)
    if not path.exists():
        raise GfpError(missing)
    try:
        data = read_regular_bytes(path)  # a FIFO or a device in its place is one line, never a hang
    except OSError as exc:
        raise GfpError(f"{path}: unreadable ({exc.strerror or exc})") from None
    doc = loads_document(data, path)
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise GfpError(f"{path}: not a {fmt} file")
    return doc
