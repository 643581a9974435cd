"""How an estimate is printed: never like a count.

A count is an integer with thousands separators (``2,157,728``); an estimate always carries one
decimal (``385.6``, ``401.0``, ``12,345.7``) and, from 10^7 on, four significant digits
(``2.448e+09``), so that one run cannot print ``385.6`` and the next ``401`` for the same
quantity (issue 24).
"""

from __future__ import annotations

import math


def estimate_text(v: float | None) -> str:
    """``385.6``; ``n/a`` for None, ``inf`` past the float range."""
    if v is None:
        return "n/a"
    if not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    if abs(v) >= 1e7:
        return f"{v:.4g}"
    return f"{v:,.1f}"
