"""The float half of ``ir.pattern.verify_patterns``, compiled: which witnesses does a forward
pass with the same proven rounding bound settle? ``settled`` for chains of dense two-piece
layers (a matrix product per layer), ``settled_general`` for any network of the importer (max
groups, layers reading several sources, sparse weights as CSR), a point at a time.

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

from ..ir.network import Layer, MaxLayer, Network
from ..ir.pattern import fan_in, rounding_level
from . import compiled_cache

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
            o = u_off[k]
            out = np.empty_like(z)
            smax = 1.0
            for j in range(n):
                smax = max(smax, abs(slope[o + j]))
            for i in range(stop - start):
                emax = 0.0
                vmax = 0.0
                vin = 0.0                   # the largest input: sum |w| |v| <= rows * vin
                for q in range(n_in):
                    vin = max(vin, abs(vals[i, q]))
                for j in range(n):
                    x = z[i, j] + b[o + j]
                    on = P[start + i, o + j] > 0
                    # the bound from an upper bound of the terms' magnitude first (O(1)); the
                    # magnitude itself (O(n_in)) only where that does not settle the unit
                    a = rows[o + j] * vin * (1 + 1e-12) + abs(b[o + j])
                    E = (a * factor[k] + rows[o + j] * err[i] + tiny[k]) * (1 + 1e-6)
                    if on == (x > 0) and abs(x) <= max(E, level[k] * a):
                        t = 0.0
                        for q in range(n_in):
                            t += aW[q, j] * abs(vals[i, q])
                        a = t + abs(b[o + j])
                        E = (a * factor[k] + rows[o + j] * err[i] + tiny[k]) * (1 + 1e-6)
                    if abs(x) <= max(E, level[k] * a) or on != (x > 0):
                        ok[start + i] = False
                    v = x if on else slope[o + j] * x
                    out[i, j] = v
                    emax = max(emax, E)
                    vmax = max(vmax, abs(v))
                err[i] = (smax * emax + 2 * _U * vmax) * (1 + 1e-6)
            vals = out
    return ok


class GeneralArrays(NamedTuple):
    """Any network as flat arrays for ``settled_general``. Layer k: ``kind[k]`` (0 two-piece
    units, 1 max groups), pre-activations ``pre_off[k]:pre_off[k + 1]`` of ``b`` / ``slope``,
    outputs at ``val_off[k + 1]`` of a point's value buffer (``val_off[0]``: the input) and at
    ``pat_off[k]`` of its pattern; sources ``src[src_off[k]:src_off[k + 1]]``, each a CSR
    weight (``indptr[ip_off[p]:]`` into ``indices`` / ``data`` / ``adata`` = |data|) with its
    rows' |W| sums at ``rsum[pre_off[k]...]`` per source slot ``rs_off[p]``; groups
    ``groups[g_off[k]:]`` ((n, ``g_width[k]``), -1 padded); the bound's factor, tiny term,
    rounding level and largest |slope| per layer."""

    kind: np.ndarray
    pre_off: np.ndarray
    val_off: np.ndarray
    pat_off: np.ndarray
    b: np.ndarray
    slope: np.ndarray
    src_off: np.ndarray
    src: np.ndarray
    ip_off: np.ndarray
    indptr: np.ndarray
    nz_off: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    adata: np.ndarray
    rs_off: np.ndarray
    rsum: np.ndarray
    g_off: np.ndarray
    g_width: np.ndarray
    groups: np.ndarray
    factor: np.ndarray
    tiny: np.ndarray
    level: np.ndarray
    smax: np.ndarray


def general_arrays(net: Network) -> GeneralArrays | None:
    """The arrays of ``net`` for ``settled_general`` (None for a network without layers)."""
    if not net.layers:
        return None
    from scipy.sparse import csr_matrix

    kind, n_pre, n_out, bs, slopes, smax = [], [], [], [], [], []
    src_n, srcs, indptr, indices, data, rsum, groups, g_width, factor, tiny = \
        [], [], [], [], [], [], [], [], [], []
    for layer in net.layers:
        aff = layer.affine
        n = int(aff.b.size)
        n_pre.append(n)
        bs.append(np.asarray(aff.b, dtype=np.float64))
        m = fan_in(aff)
        factor.append(2 * (m + 4) * _U)
        tiny.append((m + 1) * _TINY)
        src_n.append(len(aff.W))
        for s, W in aff.W.items():
            M = csr_matrix(W) if isinstance(W, np.ndarray) else W.tocsr()
            M.sort_indices()
            srcs.append(s)
            indptr.append(M.indptr.astype(np.int64))
            indices.append(M.indices.astype(np.int64))
            data.append(M.data.astype(np.float64))
            rsum.append(np.asarray(abs(M).sum(axis=1), dtype=np.float64).ravel())
        if isinstance(layer, MaxLayer):
            kind.append(1)
            G = np.asarray(layer.groups, dtype=np.int64)
            n_out.append(G.shape[0])
            groups.append(G.ravel())
            g_width.append(G.shape[1])
            slopes.append(np.zeros(n))
            smax.append(1.0)
        else:
            kind.append(0)
            n_out.append(n)
            groups.append(np.zeros(0, dtype=np.int64))
            g_width.append(0)
            ns = np.asarray(layer.neg_slope, dtype=np.float64)
            slopes.append(ns)
            smax.append(max(1.0, float(np.abs(ns).max(initial=0.0))))

    def off(sizes) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))]).astype(np.int64)

    def cat(arrays, dtype) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate(arrays).astype(dtype)) if arrays else \
            np.zeros(0, dtype=dtype)

    return GeneralArrays(
        np.array(kind, dtype=np.int64), off(n_pre), off([net.input_dim] + n_out), off(n_out),
        cat(bs, np.float64), cat(slopes, np.float64), off(src_n), np.array(srcs, dtype=np.int64),
        off([p.size for p in indptr]), cat(indptr, np.int64), off([i.size for i in indices]),
        cat(indices, np.int64), cat(data, np.float64), np.abs(cat(data, np.float64)),
        off([r.size for r in rsum]), cat(rsum, np.float64), off([g.size for g in groups]),
        np.array(g_width, dtype=np.int64), cat(groups, np.int64), np.array(factor),
        np.array(tiny), np.array(rounding_level(net)), np.array(smax))


@njit(cache=True)
def settled_general(kind, pre_off, val_off, pat_off, b, slope, src_off, src, ip_off, indptr,
                    nz_off, indices, data, adata, rs_off, rsum, g_off, g_width, groups, factor,
                    tiny, level, smax, U, P):
    """Per point: True if floats with the proven bound settle its pattern P[i] (the checks of
    ``verify_patterns``: a unit clears its bound and its rounding level on the pattern's side;
    a max group's chosen piece clears every other piece by both their bounds and both their
    rounding levels, except a later piece that is, like it, identically zero on the region:
    zero bias and every weight reading an output identically zero there, as MaxPool over ReLUs
    that are off; the first piece wins that tie)."""
    N = U.shape[0]
    d = U.shape[1]
    L = kind.size
    ok = np.ones(N, dtype=np.bool_)
    vals = np.empty(val_off[L + 1])
    err = np.zeros(L + 1)
    n_max = 0
    for k in range(L):
        n_max = max(n_max, pre_off[k + 1] - pre_off[k])
    z = np.empty(n_max)
    za = np.empty(n_max)
    E = np.empty(n_max)
    zpre = np.empty(n_max, dtype=np.bool_)
    zval = np.zeros(val_off[L + 1], dtype=np.bool_)     # outputs identically 0 on the region
    for i in range(N):
        vals[:d] = U[i]
        err[0] = 0.0
        good = True
        for k in range(L):
            p0 = pre_off[k]
            n = pre_off[k + 1] - p0
            for j in range(n):
                z[j] = b[p0 + j]
                za[j] = abs(b[p0 + j])
                E[j] = tiny[k]
                zpre[j] = b[p0 + j] == 0.0
            for q in range(src_off[k], src_off[k + 1]):
                s = src[q]
                v0 = val_off[s]
                ip = ip_off[q]
                nz = nz_off[q]
                r0 = rs_off[q]
                for j in range(n):
                    acc = 0.0
                    aacc = 0.0
                    for t in range(indptr[ip + j], indptr[ip + j + 1]):
                        x = vals[v0 + indices[nz + t]]
                        acc += data[nz + t] * x
                        aacc += adata[nz + t] * abs(x)
                        if not zval[v0 + indices[nz + t]] and data[nz + t] != 0.0:
                            zpre[j] = False
                    z[j] += acc
                    za[j] += aacc
                    if s > 0:
                        E[j] += err[s] * rsum[r0 + j]
            for j in range(n):
                E[j] = (E[j] + za[j] * factor[k]) * (1 + 1e-6)
            o = val_off[k + 1]
            c0 = pat_off[k]
            if kind[k] == 0:
                emax = 0.0
                vmax = 0.0
                for j in range(n):
                    on = P[i, c0 + j] > 0
                    if abs(z[j]) <= max(E[j], level[k] * za[j]) or on != (z[j] > 0):
                        good = False
                        break
                    v = z[j] if on else slope[p0 + j] * z[j]
                    vals[o + j] = v
                    zval[o + j] = not on and slope[p0 + j] == 0.0
                    emax = max(emax, E[j])
                    vmax = max(vmax, abs(v))
                err[k + 1] = (smax[k] * emax + 2 * _U * vmax) * (1 + 1e-6)
            else:
                w = g_width[k]
                ng = pat_off[k + 1] - c0
                g0 = g_off[k]
                cmax = 0.0
                for g in range(ng):
                    want = P[i, c0 + g]
                    if want < 0 or want >= w or groups[g0 + g * w + want] < 0:
                        good = False
                        break
                    c = groups[g0 + g * w + want]
                    for m in range(w):
                        pm = groups[g0 + g * w + m]
                        if m == want or pm < 0:
                            continue
                        if m > want and zpre[c] and zpre[pm]:
                            continue        # both identically 0: the first piece wins the tie
                        diff = z[c] - z[pm]
                        tol = (E[c] + E[pm]) * (1 + 1e-6) + 4 * _U * abs(diff)
                        if diff <= max(tol, level[k] * (za[c] + za[pm])):
                            good = False
                            break
                    if not good:
                        break
                    vals[o + g] = z[c]
                    zval[o + g] = False
                    cmax = max(cmax, E[c])
                err[k + 1] = cmax
            if not good:
                break
        ok[i] = good
    return ok


class WitnessFilter(NamedTuple):
    """``settled`` on a chain's arrays, else ``settled_general`` on the general arrays (both
    None for a network without layers, whose empty pattern ``verify_patterns`` settles)."""

    chain: ChainArrays | None
    general: GeneralArrays | None

    def __call__(self, U: np.ndarray, P: np.ndarray) -> np.ndarray:
        """Which points (rows of U, patterns P) floats settle."""
        if self.chain is not None:
            return settled(*self.chain, U, P)
        if self.general is not None:
            return settled_general(*self.general, U, P)
        return np.zeros(U.shape[0], dtype=np.bool_)


def witness_filter(net: Network) -> WitnessFilter:
    """The compiled witness filter of ``net``."""
    chain = chain_arrays(net)
    return WitnessFilter(chain, None if chain is not None else general_arrays(net))


#: the compiled filters, as numba names their cache entries
FILTERS = ("settled", "settled_general")


def cache_is_warm() -> bool:
    """Whether both filters are in numba's cache (else the first count that checks witnesses
    after loading a compiled walk compiles them)."""
    from pathlib import Path

    cache = Path(str(settled._cache.cache_path))
    return all(any(cache.glob(f"witness_kernel.{name}-*.nbi")) for name in FILTERS)


@compiled_cache.one_at_a_time(settled)           # other processes wait, then load it
def warm_up(parallel: bool = True) -> None:
    """Compile (first run after install) or load (from the cache) both filters, on a one-unit
    chain (``settled``) and a one-group max layer (``settled_general``), with the array types
    a count passes. ``parallel`` is there for the walks' signature: every count calls both."""
    from ..ir.network import Affine
    from . import kernel  # noqa: F401  (its import drops stale cache entries first)

    one, zero = np.ones((1, 1)), np.zeros(1)
    head = Affine({1: one}, zero)
    U, P = np.zeros((1, 1)), np.zeros((1, 1), dtype=np.int16)
    for layer in (Layer(Affine({0: one}, zero), zero),
                  MaxLayer(Affine({0: one}, zero), np.zeros((1, 1), dtype=np.int64))):
        witness_filter(Network(1, (layer,), head))(U, P)
