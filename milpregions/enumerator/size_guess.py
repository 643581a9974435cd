"""How large a count looks before walking: the distinct activation patterns of a few points
spread over the normalised box.

The driver uses it to pick a walk once: a count that plainly has many regions loads the compiled
walk at once, instead of first walking in Python until a node limit and throwing that away. It is
only a guess about cost; the count never depends on it.
"""

from __future__ import annotations

import numpy as np

from ..ir.network import Network

#: points of the normalised box whose patterns are looked at
SAMPLE_POINTS = 512


def spread_points(points: int, d: int) -> np.ndarray:
    """``points`` points of [-1, 1]^d from the Kronecker sequence ``frac(i * alpha)``, alpha the
    fractional parts of square roots of primes: spread evenly, the same on every run, and with
    no random generator to import (numpy.random costs a small count ~20 ms)."""
    primes: list[int] = []
    k = 2
    while len(primes) < d:
        if all(k % p for p in primes):
            primes.append(k)
        k += 1
    alpha = np.sqrt(np.array(primes, dtype=np.float64)) % 1.0
    i = np.arange(1, points + 1, dtype=np.float64)[:, None]
    return 2.0 * ((i * alpha[None, :] + 0.5) % 1.0) - 1.0


def distinct_patterns(net: Network, points: int = SAMPLE_POINTS) -> int:
    """The number of distinct activation patterns among ``points`` spread points of
    [-1, 1]^d: a lower bound on the number of regions."""
    X = spread_points(points, net.input_dim)
    bits = [np.asarray(p).reshape(points, -1).astype(np.int16) for p in net.pattern(X)]
    if not bits:
        return 1
    rows = np.ascontiguousarray(np.concatenate(bits, axis=1))
    return len({row.tobytes() for row in rows})
