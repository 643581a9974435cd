"""The float half of ``ir.pattern.verify_patterns``, compiled, for chains of dense two-piece
layers: which witnesses does a forward pass with the same proven rounding bound settle?

A point passes when every unit has the pattern's sign and clears both its proven bound and
the tree's rounding level (the bound of ``verify_patterns``: ``2 (m + 4) 2^-53`` times the sum
of its terms' magnitudes, plus the row sum of |W| times the largest error of the layer's
inputs). Every other point goes to ``verify_patterns`` itself, which raises, decides exactly or
reports it undecided; so this filter only has to be sound where it says yes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ..ir.network import Layer, Network
from ..ir.pattern import rounding_level

_U = 2.0 ** -53
_TINY = 2.0 ** -1060


class ChainArrays(NamedTuple):
    """A chain's layers as flat arrays: W^T and |W|^T per layer (row-major, n_in x n),
    biases, slopes, |W| row sums, the bound's factor and the rounding level per layer."""

    sizes: np.ndarray       # (L + 1,) input size, then each layer's
    Wt: np.ndarray          # concatenated W^T
    aWt: np.ndarray         # concatenated |W|^T
    w_off: np.ndarray       # (L + 1,) offsets into Wt
    b: np.ndarray           # concatenated biases
    slope: np.ndarray       # concatenated slopes
    rows: np.ndarray        # concatenated row sums of |W|
    u_off: np.ndarray       # (L + 1,) offsets into b, slope, rows
    factor: np.ndarray      # (L,) 2 (m + 4) 2^-53
    tiny: np.ndarray        # (L,) (m + 1) 2^-1060
    level: np.ndarray       # (L,) rounding level


def chain_arrays(net: Network) -> ChainArrays | None:
    """The arrays of ``net`` if it is a chain of dense two-piece layers, else None."""
    sizes = [net.input_dim]
    Wt, aWt, b, slope, rows, factor, tiny = [], [], [], [], [], [], []
    for k, layer in enumerate(net.layers):
        aff = layer.affine
        if not isinstance(layer, Layer) or set(aff.W) != {k}:
            return None
        W = aff.W[k]
        if not isinstance(W, np.ndarray):
            return None
        m = W.shape[1] + 2
        Wt.append(np.ascontiguousarray(W.T).ravel())
        aWt.append(np.ascontiguousarray(np.abs(W).T).ravel())
        b.append(aff.b)
        slope.append(layer.neg_slope)
        rows.append(np.abs(W).sum(axis=1))
        factor.append(2 * (m + 4) * _U)
        tiny.append((m + 1) * _TINY)
        sizes.append(W.shape[0])
    if not net.layers:
        return None
    cat = np.concatenate
    w_off = np.concatenate([[0], np.cumsum([w.size for w in Wt])]).astype(np.int64)
    u_off = np.concatenate([[0], np.cumsum(sizes[1:])]).astype(np.int64)
    return ChainArrays(np.array(sizes, dtype=np.int64), cat(Wt), cat(aWt), w_off,
                       cat(b).astype(np.float64), cat(slope).astype(np.float64),
                       cat(rows), u_off, np.array(factor), np.array(tiny),
                       np.array(rounding_level(net)))


@njit(cache=True)
def settled(sizes, Wt, aWt, w_off, b, slope, rows, u_off, factor, tiny, level, U, P):
    """Per point: True if floats with the proven bound settle its pattern P[i]."""
    N = U.shape[0]
    ok = np.ones(N, dtype=np.bool_)
    chunk = 256
    for start in range(0, N, chunk):
        stop = min(N, start + chunk)
        vals = U[start:stop].copy()
        err = np.zeros(stop - start)
        for k in range(sizes.size - 1):
            n_in, n = sizes[k], sizes[k + 1]
            W = Wt[w_off[k]:w_off[k + 1]].reshape((n_in, n))
            aW = aWt[w_off[k]:w_off[k + 1]].reshape((n_in, n))
            z = np.dot(vals, W)
            za = np.dot(np.abs(vals), aW)
            o = u_off[k]
            out = np.empty_like(z)
            smax = 1.0
            for j in range(n):
                smax = max(smax, abs(slope[o + j]))
            for i in range(stop - start):
                emax = 0.0
                vmax = 0.0
                for j in range(n):
                    x = z[i, j] + b[o + j]
                    a = za[i, j] + abs(b[o + j])
                    E = (a * factor[k] + rows[o + j] * err[i] + tiny[k]) * (1 + 1e-6)
                    on = P[start + i, o + j] > 0
                    if abs(x) <= max(E, level[k] * a) or on != (x > 0):
                        ok[start + i] = False
                    v = x if on else slope[o + j] * x
                    out[i, j] = v
                    emax = max(emax, E)
                    vmax = max(vmax, abs(v))
                err[i] = (smax * emax + 2 * _U * vmax) * (1 + 1e-6)
            vals = out
    return ok
