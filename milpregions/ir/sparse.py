"""Sparse weights without paying for scipy when there are none.

Importing ``scipy.sparse`` costs ~0.2 s, more than a small count; a dense model never needs it.
A sparse array can only exist once scipy.sparse has been imported, so ``issparse`` asks it
only then, and code that builds sparse arrays imports scipy.sparse where it builds them.
"""

from __future__ import annotations

import sys


def issparse(x) -> bool:
    """Whether ``x`` is a scipy.sparse array or matrix."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(x)
