"""Handlers of Conv and ConvTranspose: each is one sparse matrix on the flattened tensor, built
by index arithmetic.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..algebra import _add, _f64, _is_affine
from ..context import _attrs, _const_arg
from .registry import register
from .windows import _auto_pad, _geometry, _per_axis, _spatial, _windows


def _kernel_weight(imp, node, args, x, transpose: bool):
    W = _f64(_const_arg(imp, node, args[1], "weight"))
    at = _attrs(node)
    N, C, in_sp = _spatial(imp, node, x)
    G = int(at.get("group", 1))
    if W.ndim != len(x.shape):
        imp.fail(node, "is not supported", f"weight shape {list(W.shape)} does not match input "
                 f"shape {list(x.shape)}")
    kernel = tuple(W.shape[2:])
    if "kernel_shape" in at and tuple(int(k) for k in at["kernel_shape"]) != kernel:
        imp.fail(node, "is not supported", f"kernel_shape {list(at['kernel_shape'])} differs "
                 f"from the weight shape {list(W.shape)}")
    cin = W.shape[0] if transpose else W.shape[1] * G
    if G < 1 or C % G or cin != C or (not transpose and W.shape[0] % G):
        imp.fail(node, "is not supported", f"weight shape {list(W.shape)} and group {G} do not "
                 f"match input shape {list(x.shape)}")
    B = None
    if len(args) > 2 and args[2] is not None:
        B = _f64(_const_arg(imp, node, args[2], "bias")).reshape(-1)
    return W, B, G, kernel, at, N, C, in_sp


@register("Conv")
def _conv(imp, node, args):
    """Conv as one sparse matrix: output (n, m, o) reads input (n, c, o * s - pad + k * dil)
    with weight W[m, c - g * C/G, k], for the input channels c of the group g of m."""
    import scipy.sparse as sp

    x = args[0]
    if not _is_affine(x):  # the input is constant: the weight or the bias is not
        what = "weight" if _is_affine(args[1]) else "bias"
        imp.fail(node, "is not supported", f"its {what} depends on the network input")
    W, B, G, kernel, at, N, C, in_sp = _kernel_weight(imp, node, args, x, transpose=False)
    strides, dil, begin, _, out_sp = _geometry(imp, node, at, in_sp, kernel, pool=False)
    M, Cg = W.shape[0], W.shape[1]
    _, flat, inside = _windows(out_sp, kernel, strides, dil, begin, in_sp)
    o, k = np.nonzero(inside)  # sorted by output position o
    nO, nI = prod(out_sp), prod(in_sp)
    itype = np.int32 if max(x.size, N * M * Cg * len(o)) < 2**31 else np.int64
    i = flat[o, k].astype(itype)
    # entries in row order (n, m, o) and within a row (o's kernel offsets, c'): CSR directly
    n = np.arange(N, dtype=itype)[:, None, None, None]
    first = (np.arange(M, dtype=itype) // (M // G)) * Cg
    c = first[None, :, None, None] + np.arange(Cg, dtype=itype)[None, None, None, :]
    cols = ((n * C + c) * nI + i[None, None, :, None]).reshape(-1)
    vals = np.ascontiguousarray(W.reshape(M, Cg, -1).transpose(0, 2, 1))[:, k, :]
    vals = (np.broadcast_to(vals[None], (N,) + vals.shape) if N > 1 else vals).reshape(-1)
    per_row = np.bincount(o, minlength=nO) * Cg
    indptr = np.concatenate([[0], np.cumsum(np.tile(per_row, N * M))]).astype(itype)
    A = sp.csr_array((vals, cols, indptr), shape=(N * M * nO, x.size))
    A.eliminate_zeros()
    y = x.map(A, (N, M) + tuple(out_sp))
    if B is not None:
        y = _add(y, B.reshape((M,) + (1,) * len(out_sp)))
    return [y]


@register("ConvTranspose")
def _conv_transpose(imp, node, args):
    """ConvTranspose as one sparse matrix: input (n, c, p) adds W[c, m, k] times itself to
    output (n, g * M/G + m, p * s - pad + k * dil), g the group of c."""
    import scipy.sparse as sp

    x = args[0]
    if not _is_affine(x):  # the input is constant: the weight or the bias is not
        what = "weight" if _is_affine(args[1]) else "bias"
        imp.fail(node, "is not supported", f"its {what} depends on the network input")
    W, B, G, kernel, at, N, C, in_sp = _kernel_weight(imp, node, args, x, transpose=True)
    nd = len(in_sp)
    strides = _per_axis(imp, node, at, "strides", nd, 1)
    dil = _per_axis(imp, node, at, "dilations", nd, 1)
    adj = _per_axis(imp, node, at, "output_padding", nd, 0)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    full = [s * (i - 1) + a + e for s, i, a, e in zip(strides, in_sp, adj, eff)]
    mode = _auto_pad(at)
    if mode not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        imp.fail(node, "is not supported", f"auto_pad '{mode}'")
    if "output_shape" in at or mode in ("SAME_UPPER", "SAME_LOWER"):
        out_sp = ([int(v) for v in at["output_shape"]][-nd:] if "output_shape" in at
                  else [i * s for i, s in zip(in_sp, strides)])
        total = [f - o for f, o in zip(full, out_sp)]
        begin = [t // 2 if mode == "SAME_UPPER" else t - t // 2 for t in total]
    else:
        pads = [0] * (2 * nd) if mode == "VALID" else _per_axis(imp, node, at, "pads", 2 * nd, 0)
        begin = pads[:nd]
        out_sp = [f - b - e for f, b, e in zip(full, pads[:nd], pads[nd:])]
    if min(out_sp) < 1:
        imp.fail(node, "is not supported", f"output shape {out_sp} is empty")
    Mg = W.shape[1]
    M, Cg = Mg * G, C // G
    _, flat, inside = _windows(in_sp, kernel, strides, dil, begin, out_sp)
    p, k = np.nonzero(inside)
    q = flat[p, k]
    nO, nI = prod(out_sp), prod(in_sp)
    n = np.arange(N)[:, None, None, None]
    c = np.arange(C)[None, :, None, None]
    m = (np.arange(C) // Cg)[None, :, None, None] * Mg + np.arange(Mg)[None, None, :, None]
    rows = (n * M + m) * nO + q
    cols = (n * C + c) * nI + p
    vals = W.reshape(C, Mg, -1)[:, :, k][None]
    rows, cols, vals = np.broadcast_arrays(rows, cols, vals)
    keep = vals != 0
    A = sp.csr_array((vals[keep], (rows[keep], cols[keep])), shape=(N * M * nO, x.size))
    y = x.map(A, (N, M) + tuple(out_sp))
    if B is not None:
        y = _add(y, B.reshape((M,) + (1,) * nd))
    return [y]
