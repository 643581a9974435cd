"""Pattern -> region index: a sorted array of 64-bit hashes of the packed patterns.

A dict of 10^6 byte strings costs ~150 MB and seconds of Python; here the packed pattern bytes
(``RegionLayout.keys``) are read as 64-bit words and mixed into one uint64 per region, sorted
once (0.1 s at 10^6), and a query is a ``searchsorted`` followed by a comparison of the full
bytes, so hash collisions never give a wrong region. Patterns of at most 8 bytes are their own
hash.
"""

from __future__ import annotations

import numpy as np

_MULT = np.uint64(0x9E3779B97F4A7C15)     # odd: multiplication by it is a bijection mod 2^64


def _words(keys: np.ndarray) -> np.ndarray:
    """(N, b) bytes as (N, ceil(b / 8)) little-endian uint64 words (zero padded)."""
    N, b = keys.shape
    w = max(1, -(-b // 8))
    padded = np.zeros((N, 8 * w), dtype=np.uint8)
    padded[:, :b] = keys
    return padded.view("<u8").reshape(N, w)


def pattern_hash(keys: np.ndarray) -> np.ndarray:
    """One uint64 per row of key bytes (the word itself when the key fits in 8 bytes)."""
    W = _words(keys)
    if W.shape[1] == 1:
        return W[:, 0].copy()
    h = np.zeros(W.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(W.shape[1]):
            h = (h ^ W[:, j]) * _MULT
            h ^= h >> np.uint64(29)
    return h


class PatternIndex:
    """Locate patterns among ``keys`` (R, b): ``find(queries)`` gives each query's row, -1
    where no row has its bytes (the first row of equal ones: a count has no duplicates)."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = np.ascontiguousarray(keys, dtype=np.uint8)
        h = pattern_hash(self.keys)
        self.order = np.argsort(h, kind="stable")
        self.sorted = h[self.order]

    def find(self, queries: np.ndarray) -> np.ndarray:
        q = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, self.keys.shape[1])
        hq = pattern_hash(q)
        lo = np.searchsorted(self.sorted, hq, side="left")
        hi = np.searchsorted(self.sorted, hq, side="right")
        out = np.full(len(q), -1, dtype=np.int64)
        one = np.flatnonzero(hi - lo >= 1)
        if one.size:
            rows = self.order[lo[one]]
            same = (self.keys[rows] == q[one]).all(axis=1)
            out[one[same]] = rows[same]
        for i in np.flatnonzero((hi - lo > 1) & (out < 0)):      # a collision: compare all
            for r in self.order[lo[i]:hi[i]]:
                if np.array_equal(self.keys[r], q[i]):
                    out[i] = r
                    break
        return out
