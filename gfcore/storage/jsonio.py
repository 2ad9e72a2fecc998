"""JSON documents: every file gfp writes is strict JSON (NaN/inf become null) and every one it reads is
checked for its ``format`` field, so a wrong or broken file is one clear line, not a traceback."""

from __future__ import annotations

import json
import math
from pathlib import Path

from gfcore.errors import GfpError


def json_safe(obj):
    """NaN and infinities are not JSON: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def read_document(path: str | Path, fmt: str, missing: str) -> dict:
    """The JSON object in ``path`` whose ``format`` is ``fmt``; ``missing`` is the message when absent."""
    path = Path(path)
    if not path.is_file():
        raise GfpError(missing)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GfpError(f"{path}: unreadable ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise GfpError(f"{path}: not a {fmt} file")
    return doc
