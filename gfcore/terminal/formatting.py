"""Display strings for numbers: the one percent formatter and the one fixed-point formatter that every
table of gfp uses (results.md, the terminal tables, the demo's tables). No heavy imports here."""

from __future__ import annotations

from gfcore.values import is_finite_number


def fmt_pct(value) -> str:
    """``0.8125`` -> ``"81.25%"``; a missing or non-finite value -> ``"-"``."""
    return f"{100 * value:.2f}%" if is_finite_number(value) else "-"


def fmt_num(value, digits: int) -> str:
    """``value`` with ``digits`` decimals; a missing or non-finite value -> ``"-"``."""
    return f"{value:.{digits}f}" if is_finite_number(value) else "-"
