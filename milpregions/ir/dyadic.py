"""Exact arithmetic on floats: a float array as one object array of Python ints and one
exponent (every float is m 2^e, and so is every sum and product of floats)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dyadic:
    """The matrix ``M * 2**e``: M an object array of Python ints."""

    M: np.ndarray
    e: int

    def shifted(self, e: int) -> np.ndarray:
        """M scaled to exponent e <= self.e."""
        k = self.e - e
        return self.M if k == 0 else self.M * (1 << k)


def _ratio(v: float) -> tuple[int, int]:
    """(m, k) with v = m / 2**k exactly (k >= 0)."""
    num, den = float(v).as_integer_ratio()
    return num, den.bit_length() - 1


def dyadic(a) -> Dyadic:
    """A float array as a Dyadic, exactly."""
    a = np.asarray(a, dtype=np.float64)
    flat = [_ratio(v) for v in a.ravel()]
    k = max((k for _, k in flat), default=0)
    M = np.array([m << (k - kk) for m, kk in flat] or [], dtype=object).reshape(a.shape)
    return Dyadic(M, -k)


def add(parts: list[Dyadic]) -> Dyadic:
    """The exact sum of Dyadics of one shape."""
    e = min(p.e for p in parts)
    out = parts[0].shifted(e)
    for p in parts[1:]:
        out = out + p.shifted(e)
    return Dyadic(out, e)


def matmul(W: Dyadic, V: Dyadic) -> Dyadic:
    return Dyadic(W.M.dot(V.M), W.e + V.e)
