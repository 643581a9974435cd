"""A fixed batch axis: N independent copies of one network, reduced to one.

An ONNX input declared ``[N, ...]`` with N > 1 fixed is either a batch of N samples or a feature
axis. The IR decides which, after the import: axis 0 is a batch iff the network splits into N
*blocks*, block i holding the units and outputs that depend only on row i of the input (the
input coordinates ``[i k, (i + 1) k)``), and every block has exactly the weights, biases,
slopes and max groups of block 0 (floats compared for equality). Then the regions of the
network are the products of the regions of the N copies, which count nothing more than one
copy does, so the copy of sample 0 is what is counted (:func:`reduce_batch`). Otherwise (a unit
that mixes rows, blocks that differ) the network is counted as it is: axis 0 is a feature axis.

Blocks are found from the weights, not from the layout: a unit's block is the one row its
nonzero weights reach through the layers (a transposed layout is found too). A unit with no
nonzero weight from the input's side (a constant, e.g. a ReLU over padding) takes its block
from its position (``j // (n / N)``, the layout of a tensor whose axis 0 is the batch); then the
weights that cross blocks must all be zero and the blocks equal, as for any other unit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..ir.network import Affine, Layer, MaxLayer, Network

#: a unit whose weights reach no input row (a constant), and one that reaches several
NONE, MIXED = -1, -2
#: dense weights are scanned in slices of about this many entries
_CHUNK = 1 << 22


class _Blocks(NamedTuple):
    """The units of one layer (or of the input, or the output map) split into blocks."""

    owner: np.ndarray     # (n,) the block of each unit
    index: np.ndarray     # (N, n / N) the units of block i in increasing order


def reduce_batch(net: Network, batch: int) -> Network | None:
    """The network of one sample if axis 0 of the input (``batch`` rows of ``input_dim /
    batch`` coordinates) is a batch of independent identical copies; else None."""
    if batch < 2 or net.input_dim % batch:
        return None
    k = net.input_dim // batch
    owner = np.repeat(np.arange(batch), k)
    sources = [_Blocks(owner, np.arange(net.input_dim).reshape(batch, k))]
    layers: list[Layer | MaxLayer] = []
    for layer in net.layers:
        pre = _split(layer.affine, sources, batch)
        if pre is None or not _same_affine(layer.affine, pre, sources):
            return None
        if isinstance(layer, MaxLayer):
            out = _group_blocks(layer.groups, pre, batch)
            if out is None:
                return None
            groups = _same_groups(layer.groups, out, pre)
            if groups is None:
                return None
            layers.append(MaxLayer(_block_affine(layer.affine, pre, sources), groups, layer.name))
        else:
            slopes = layer.neg_slope[pre.index]
            if not (slopes == slopes[0]).all():
                return None
            out = pre
            layers.append(Layer(_block_affine(layer.affine, pre, sources),
                                layer.neg_slope[pre.index[0]].copy(), layer.name))
        sources.append(out)
    rows = _split(net.output, sources, batch)
    if rows is None or not _same_affine(net.output, rows, sources):
        return None
    return Network(k, tuple(layers), _block_affine(net.output, rows, sources), dict(net.info))


def _split(aff: Affine, sources: list[_Blocks], batch: int) -> _Blocks | None:
    """The blocks of ``aff``'s rows from the blocks of their nonzero weights' sources; None
    if a row mixes blocks or the blocks are not all the same size."""
    lo = np.full(aff.size, batch, dtype=np.int64)
    hi = np.full(aff.size, -1, dtype=np.int64)
    for s, W in aff.W.items():
        _reach(W, sources[s].owner, lo, hi)
    owner = np.where(hi < 0, NONE, np.where(lo == hi, lo, MIXED))
    if (owner == MIXED).any():
        return None
    const = owner == NONE
    if const.any():
        if aff.size % batch:
            return None
        owner[const] = np.flatnonzero(const) // (aff.size // batch)
    counts = np.bincount(owner, minlength=batch)
    if (counts != counts[0]).any():
        return None
    index = np.argsort(owner, kind="stable").reshape(batch, -1)
    return _Blocks(owner, index)


def _reach(W, owner: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Per row of W, the least and greatest block its nonzero entries read (into lo, hi)."""
    # imported here, not at the top: only a fixed batch needs it, not every count's start-up
    import scipy.sparse as sp

    if sp.issparse(W):
        csr = sp.csr_array(W)
        if csr.nnz == 0:
            return
        nz = csr.data != 0                   # stored zeros read nothing
        blocks = owner[csr.indices]
        rows = np.flatnonzero(np.diff(csr.indptr))
        starts = csr.indptr[:-1][rows]
        far = np.iinfo(np.int64).max
        lo[rows] = np.minimum(lo[rows], np.minimum.reduceat(np.where(nz, blocks, far), starts))
        hi[rows] = np.maximum(hi[rows], np.maximum.reduceat(np.where(nz, blocks, -1), starts))
        return
    W = np.asarray(W)
    step = max(1, _CHUNK // max(1, W.shape[1]))
    for a in range(0, W.shape[0], step):
        nz = W[a:a + step] != 0
        if W.shape[1] == 0:
            return
        far = np.iinfo(np.int64).max
        lo[a:a + step] = np.minimum(lo[a:a + step], np.where(nz, owner, far).min(1))
        hi[a:a + step] = np.maximum(hi[a:a + step], np.where(nz, owner, -1).max(1))


def _diagonal(W, rows: np.ndarray, cols: np.ndarray):
    """The block of W on ``rows`` x ``cols``."""
    import scipy.sparse as sp

    if sp.issparse(W):
        return sp.csr_array(W)[rows][:, cols]
    return np.asarray(W)[np.ix_(rows, cols)]


def _same_affine(aff: Affine, rows: _Blocks, sources: list[_Blocks]) -> bool:
    """Every block of ``aff`` equals block 0 exactly. (No weight crosses blocks: a row's
    block is the one its nonzero weights read, and a row of a constant reads none.)"""
    import scipy.sparse as sp

    b = aff.b[rows.index]
    if not (b == b[0]).all():
        return False
    for s, W in aff.W.items():
        cols = sources[s].index
        first = _diagonal(W, rows.index[0], cols[0])
        for i in range(1, len(cols)):
            block = _diagonal(W, rows.index[i], cols[i])
            if sp.issparse(first):
                if (sp.csr_array(block) != sp.csr_array(first)).nnz:
                    return False
            elif not np.array_equal(block, first):
                return False
    return True


def _block_affine(aff: Affine, rows: _Blocks, sources: list[_Blocks]) -> Affine:
    """Block 0 of ``aff``: its rows read block 0 of each source."""
    import scipy.sparse as sp

    W = {}
    for s, w in aff.W.items():
        d = _diagonal(w, rows.index[0], sources[s].index[0])
        W[s] = d if sp.issparse(d) else np.ascontiguousarray(d)
    return Affine(W, aff.b[rows.index[0]].copy())


def _group_blocks(groups: np.ndarray, pieces: _Blocks, batch: int) -> _Blocks | None:
    """The blocks of a max layer's groups: the block of their pieces (all in one)."""
    g = groups
    owners = np.where(g >= 0, pieces.owner[np.maximum(g, 0)], -1)
    first = owners[:, 0]
    if ((owners != first[:, None]) & (g >= 0)).any():
        return None
    counts = np.bincount(first, minlength=batch)
    if (counts != counts[0]).any():
        return None
    return _Blocks(first, np.argsort(first, kind="stable").reshape(batch, -1))


def _same_groups(groups: np.ndarray, out: _Blocks, pieces: _Blocks) -> np.ndarray | None:
    """Block 0's groups, its pieces numbered within block 0, if every block's groups are the
    same pieces at the same places; else None."""
    position = np.empty(len(pieces.owner), dtype=np.int64)
    for row in pieces.index:
        position[row] = np.arange(len(row))
    g = groups[out.index]                                   # (N, groups per block, k)
    local = np.where(g >= 0, position[np.maximum(g, 0)], -1)
    if not (local == local[0]).all():
        return None
    return np.ascontiguousarray(local[0])
