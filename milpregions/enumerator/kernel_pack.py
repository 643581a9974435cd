"""The layer arrays of the compiled walks (no numba import here): ``compiled_layers`` for the
vertex walk's fast path (chains of dense two-piece layers only), ``general_layers`` for the
general vertex walk and the LP walk (any network of the tree: max groups, several sources per
layer, sparse weights)."""

from __future__ import annotations

from typing import NamedTuple

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


UNITS, GROUPS = 0, 1        # the kind table: two-piece units, max groups
DENSE_SHARE = 0.25          # a dense weight with fewer nonzeros than this share goes as CSR


class PackedNet(NamedTuple):
    """Any network of the tree as flat arrays for the compiled walks (``vertex_kernel.walk``,
    ``lp_kernel.walk``).

    Layer k (0-based) has ``kind[k]`` (``UNITS`` / ``GROUPS``), ``n_pre[k]`` pre-activations at
    ``pre_off[k]`` of ``b`` / ``slope`` and ``n_out[k]`` outputs (pattern entries) at
    ``pat_off[k]`` of ``fixed``. It reads the sources ``src[src_off[k]:src_off[k + 1]]``
    (0 the input, s the output of layer s - 1), each through a weight that is dense
    (``w[w_off[p]:w_off[p + 1]]``, row-major) or CSR (``sparse[p]``: ``indptr[ip_off[p]:...]``
    into ``indices`` / ``data`` from ``nz_off[p]``), so a convolution is never densified.
    ``last_use[s]``: the last layer that reads source s (its map is dropped after it).

    Global stability (``layers.Units`` / ``layers.Groups``): units' ``fixed`` bits,
    candidates ``cand[cand_off[k]:...]`` with weight norms ``wnorm``; groups' (n_groups,
    ``g_width[k]``) piece table ``groups[g_off[k]:...]`` (-1 padded), ``fixed`` argmax (-1:
    not fixed), ``live`` groups (``live[live_off[k]:...]``) and candidate pieces ``gcand``
    (laid out as the piece table). ``rtol[k]``: the layer's rounding level.
    """

    kind: np.ndarray
    n_pre: np.ndarray
    n_out: np.ndarray
    pre_off: np.ndarray
    pat_off: np.ndarray
    b: np.ndarray
    slope: np.ndarray
    rtol: np.ndarray
    src_off: np.ndarray
    src: np.ndarray
    sparse: np.ndarray
    w: np.ndarray
    w_off: np.ndarray
    indptr: np.ndarray
    ip_off: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    nz_off: np.ndarray
    last_use: np.ndarray
    fixed: np.ndarray
    cand: np.ndarray
    cand_off: np.ndarray
    wnorm: np.ndarray
    groups: np.ndarray
    g_off: np.ndarray
    g_width: np.ndarray
    live: np.ndarray
    live_off: np.ndarray
    gcand: np.ndarray


def _offsets(sizes) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))]).astype(np.int64)


def _flat(arrays, dtype) -> np.ndarray:
    arrays = [np.asarray(a).ravel() for a in arrays]
    return np.ascontiguousarray(np.concatenate(arrays).astype(dtype)) if arrays else \
        np.zeros(0, dtype=dtype)


def general_layers(layers: list[TreeLayer]) -> PackedNet | None:
    """The layers as a ``PackedNet`` (any kind, any sources, dense or sparse weights), or None
    for a network without layers."""
    if not layers:
        return None
    from scipy.sparse import csr_matrix

    kinds, n_pre, n_out, bs, slopes, rtol = [], [], [], [], [], []
    srcs, sparse, dense, csr = [], [], [], []
    fixed, cand, wnorm, groups, g_width, live, gcand = [], [], [], [], [], [], []
    last_use = np.full(len(layers) + 1, -1, dtype=np.int64)
    for k, L in enumerate(layers):
        n = int(L.b.size)
        n_pre.append(n)
        bs.append(L.b)
        rtol.append(L.rtol)
        for s, W in L.sources:
            srcs.append(s)
            last_use[s] = k
            if isinstance(W, np.ndarray) and np.count_nonzero(W) > DENSE_SHARE * W.size:
                sparse.append(False)
                dense.append(np.ascontiguousarray(W, dtype=np.float64))
                csr.append((np.zeros(n + 1, dtype=np.int64), np.zeros(0), np.zeros(0)))
            else:                   # sparse, or a dense array of mostly zeros (a selection)
                M = csr_matrix(W) if isinstance(W, np.ndarray) else W.tocsr()
                M.sort_indices()
                sparse.append(True)
                dense.append(np.zeros(0))
                csr.append((M.indptr.astype(np.int64), M.indices.astype(np.int64),
                            M.data.astype(np.float64)))
        fixed.append(L.fixed)
        if isinstance(L, Units):
            kinds.append(UNITS)
            n_out.append(n)
            slopes.append(L.neg_slope)
            cand.append(L.cand)
            wnorm.append(L.wnorm)
            groups.append(np.zeros(0))
            g_width.append(0)
            live.append(np.zeros(0))
            gcand.append(np.zeros(0))
        else:
            kinds.append(GROUPS)
            n_out.append(int(L.groups.shape[0]))
            slopes.append(np.zeros(n))
            cand.append(np.zeros(0))
            wnorm.append(np.zeros(0))
            groups.append(L.groups)
            g_width.append(int(L.groups.shape[1]))
            live.append(L.live)
            gcand.append(L.cand)
    return PackedNet(
        kind=np.array(kinds, dtype=np.int64), n_pre=np.array(n_pre, dtype=np.int64),
        n_out=np.array(n_out, dtype=np.int64), pre_off=_offsets(n_pre),
        pat_off=_offsets(n_out), b=_flat(bs, np.float64), slope=_flat(slopes, np.float64),
        rtol=np.array(rtol, dtype=np.float64),
        src_off=_offsets([len(L.sources) for L in layers]), src=np.array(srcs, dtype=np.int64),
        sparse=np.array(sparse, dtype=np.bool_), w=_flat(dense, np.float64),
        w_off=_offsets([w.size for w in dense]), indptr=_flat([c[0] for c in csr], np.int64),
        ip_off=_offsets([c[0].size for c in csr]), indices=_flat([c[1] for c in csr], np.int64),
        data=_flat([c[2] for c in csr], np.float64), nz_off=_offsets([c[1].size for c in csr]),
        last_use=last_use, fixed=_flat(fixed, np.int16), cand=_flat(cand, np.int64),
        cand_off=_offsets([c.size for c in cand]), wnorm=_flat(wnorm, np.float64),
        groups=_flat(groups, np.int64), g_off=_offsets([g.size for g in groups]),
        g_width=np.array(g_width, dtype=np.int64), live=_flat(live, np.int64),
        live_off=_offsets([x.size for x in live]), gcand=_flat(gcand, np.bool_))


class PackedMaps(NamedTuple):
    """The affine maps of the sources a layer k and its successors read, on one cell: source s's
    outputs are ``A[off[s]:off[s] + size_s] u + c[...]`` (``off[s]`` = -1: not kept), and
    ``norm[s]`` the Frobenius norm of its A (the ``scale`` of ``layers.layer_affine``)."""

    A: np.ndarray
    c: np.ndarray
    off: np.ndarray
    norm: np.ndarray


def pack_maps(net: PackedNet, k: int, maps) -> PackedMaps:
    """The maps (``layers.Maps``, one per source 0..k) that layers k.. read, packed."""
    keep = [s for s in range(len(maps)) if net.last_use[s] >= k]
    d = maps[0][0].shape[1]
    off = np.full(net.last_use.size, -1, dtype=np.int64)
    norm = np.zeros(net.last_use.size)
    rows = 0
    for s in keep:
        off[s] = rows
        rows += maps[s][0].shape[0]
        norm[s] = float(np.linalg.norm(maps[s][0]))
    A = np.ascontiguousarray(np.vstack([maps[s][0] for s in keep]) if keep else np.zeros((0, d)),
                             dtype=np.float64)
    c = np.ascontiguousarray(np.concatenate([maps[s][1] for s in keep]) if keep else np.zeros(0),
                             dtype=np.float64)
    return PackedMaps(A, c, off, norm)
