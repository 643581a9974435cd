"""Which networks the compiled walk takes, and its layer arrays (no numba import here)."""

from __future__ import annotations

import numpy as np

from .layers import TreeLayer, Units


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
