"""What gfp counts as a number in its documents and tables: one test, shared by every layer (it sits
beside the contract, below the machinery, and imports nothing heavy)."""

from __future__ import annotations

import math


def is_finite_number(value) -> bool:
    """A real number that is neither NaN nor infinite (``None`` and booleans are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
