"""Method specs (``learned:width=0.25``, ``knn:k=5``): their canonical text and run-folder names.

A bench takes a list of specs, one per ``--method`` option, so no spec is ever split out of a longer text
(parameters contain commas, and ``;`` separates tuple values)."""

from __future__ import annotations

import hashlib
import re

from gfcore.config import parse_spec


def canonical_spec(spec: str) -> str:
    """A spec with its parameters sorted: ``knn:max_k=9,k=5`` and ``knn: k=5, max_k=9`` read the same."""
    name, params = parse_spec(spec)
    if not params:
        return name
    return name + ":" + ",".join(f"{k}={params[k]}" for k in sorted(params))


def spec_slug(spec: str) -> str:
    """A file-name-safe name for a spec's run folder and plot: ``knn:k=5,max_k=9`` -> ``knn-k=5-max_k=9``."""
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "-", canonical_spec(spec)).strip("-.")
    if len(slug) > 96:  # keep paths short; the digest keeps long specs apart
        slug = slug[:80].rstrip("-.") + "-" + hashlib.sha1(slug.encode()).hexdigest()[:10]
    return slug or "method"
