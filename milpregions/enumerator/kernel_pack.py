"""Which networks the compiled walk takes, and its layer arrays (no numba import here)."""

from __future__ import annotations

from math import comb, prod

import numpy as np

from .layers import TreeLayer, Units

#: below this many regions (an upper bound) the Python walk finishes before the compiled one
#: has loaded: loading it from the cache costs ~0.8 s per process, which the Python vertex path
#: spends on ~10,000 regions (benchmarks/README.md, "Start-up").
COMPILE_MIN_REGIONS = 10_000


def region_bound(layers: list[TreeLayer], d: int) -> int:
    """An upper bound on the regions: per layer, the regions of an arrangement of its unstable
    units in R^d (Zaslavsky), multiplied over the layers."""
    return prod(sum(comb(L.cand.size, j) for j in range(min(d, L.cand.size) + 1))
                for L in layers)


def worth_compiling(layers: list[TreeLayer], d: int) -> bool:
    """Whether the compiled walk pays for its loading on this network."""
    return region_bound(layers, d) >= COMPILE_MIN_REGIONS


def compiled_layers(layers: list[TreeLayer]):
    """The layers as flat arrays for the compiled walk (``kernel.walk``), or None when the
    network is not a chain of dense two-piece layers each reading the layer before it."""
    if not layers:
        return None
    for k, L in enumerate(layers):
        if not isinstance(L, Units) or len(L.sources) != 1:
            return None
        s, W = L.sources[0]
        if s != k or not isinstance(W, np.ndarray):
            return None
    sizes = np.array([L.fixed.size for L in layers], dtype=np.int64)
    Ws = [np.ascontiguousarray(L.sources[0][1], dtype=np.float64).ravel() for L in layers]
    W_off = np.concatenate([[0], np.cumsum([w.size for w in Ws])]).astype(np.int64)
    u_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    cand_off = np.concatenate([[0], np.cumsum([L.cand.size for L in layers])]).astype(np.int64)

    def flat(arrays, dtype):
        return np.ascontiguousarray(np.concatenate(arrays).astype(dtype)) if arrays else \
            np.zeros(0, dtype=dtype)

    return (sizes, flat(Ws, np.float64), W_off, flat([L.b for L in layers], np.float64),
            flat([L.neg_slope for L in layers], np.float64),
            flat([L.fixed for L in layers], np.int16), u_off,
            flat([L.cand for L in layers], np.int64), cand_off,
            flat([L.wnorm for L in layers], np.float64),
            np.array([L.rtol for L in layers], dtype=np.float64))
