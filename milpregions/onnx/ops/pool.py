"""Handlers of the pooling ops: AveragePool/GlobalAveragePool are a sparse linear map on the
flattened tensor; MaxPool/GlobalMaxPool create a :class:`~milpregions.ir.network.MaxLayer`.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..context import _attrs
from .registry import register
from .windows import _geometry, _spatial, _windows


def _pool_windows(imp, node, x, global_: bool):
    """(N, C, out spatial shape, flat input index per (window, offset), inside mask, in padded
    extent mask) of a pooling node."""
    N, C, in_sp = _spatial(imp, node, x)
    at = _attrs(node)
    if global_:
        kernel, at = tuple(in_sp), {}
    else:
        if "kernel_shape" not in at:
            imp.fail(node, "is not supported", "no kernel_shape")
        kernel = tuple(int(k) for k in at["kernel_shape"])
        if len(kernel) != len(in_sp):
            imp.fail(node, "is not supported", f"kernel_shape {list(kernel)} does not match "
                     f"input shape {list(x.shape)}")
    strides, dil, begin, end, out_sp = _geometry(imp, node, at, in_sp, kernel, pool=True)
    qs, flat, inside = _windows(out_sp, kernel, strides, dil, begin, in_sp)
    padded = np.ones_like(inside)
    for q, b, e, i in zip(qs, begin, end, in_sp):
        padded &= (q >= -b) & (q < i + e)
    return N, C, tuple(out_sp), flat, inside, padded, at


@register("AveragePool", "GlobalAveragePool")
def _average_pool(imp, node, args):
    """Average over each window: count_include_pad=0 divides by the window's input elements,
    count_include_pad=1 by its elements inside the padded input."""
    import scipy.sparse as sp

    x = args[0]
    N, C, out_sp, flat, inside, padded, at = _pool_windows(
        imp, node, x, node.op_type == "GlobalAveragePool")
    count = (padded if int(at.get("count_include_pad", 0)) else inside).sum(axis=1)
    o, k = np.nonzero(inside)  # sorted by window: CSR directly, rows (channel, window)
    nO, nI = prod(out_sp), prod(x.shape[2:])
    cols = (np.arange(N * C)[:, None] * nI + flat[o, k][None, :]).reshape(-1)
    vals = np.tile(1.0 / count[o], N * C)
    indptr = np.concatenate([[0], np.cumsum(np.tile(inside.sum(axis=1), N * C))])
    A = sp.csr_array((vals, cols, indptr), shape=(N * C * nO, x.size))
    return [x.map(A, (N, C) + out_sp)]


@register("MaxPool", "GlobalMaxPool")
def _max_pool(imp, node, args):
    """A :class:`MaxLayer` with one group per output element; its pieces are the window's
    input elements (padded positions are not pieces), numbered channel by channel, window by
    window, in kernel order."""
    used = [o for o in node.output[1:] if o and (o in imp.consumers or o in imp.output_names)]
    if used:
        imp.fail(node, "is not supported", "its Indices output is used")
    x = args[0]
    N, C, out_sp, flat, inside, _, _ = _pool_windows(imp, node, x, node.op_type == "GlobalMaxPool")
    order = np.argsort(~inside, axis=1, kind="stable")  # the window's pieces first
    inside_s = np.take_along_axis(inside, order, axis=1)
    flat_s = np.take_along_axis(flat, order, axis=1)
    width = max(1, int(inside.sum(axis=1).max()))
    inside_s, flat_s = inside_s[:, :width], flat_s[:, :width]
    per_channel = int(inside_s.sum())
    local = np.where(inside_s, np.cumsum(inside_s.reshape(-1)).reshape(inside_s.shape) - 1, -1)
    ch = np.arange(N * C)[:, None, None]
    groups = np.where(local >= 0, ch * per_channel + local, -1).reshape(-1, width)
    nI = prod(x.shape[2:])
    src = (np.arange(N * C)[:, None] * nI + flat_s[inside_s][None, :]).reshape(-1)
    return [imp.max_layer(node, x.take(src), groups, (N, C) + out_sp)]
