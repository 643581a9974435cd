"""Window geometry shared by the convolution and pooling handlers.

Spatial shape of an (N, C, D1, ...) tensor, per-axis attributes, ``auto_pad``/``pads``/
``ceil_mode`` as ONNX defines them, and the input index of every (position, kernel offset).
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..affine_tensor import AffineTensor


def _spatial(imp, node, x: AffineTensor) -> tuple[int, int, tuple[int, ...]]:
    """(N, C, spatial shape) of an (N, C, D1, ...) tensor."""
    if len(x.shape) < 3:
        imp.fail(node, "is not supported", f"input shape {list(x.shape)} has no spatial axes")
    return x.shape[0], x.shape[1], tuple(x.shape[2:])


def _per_axis(imp, node, at: dict, name: str, nd: int, default: int) -> list[int]:
    v = [int(e) for e in at.get(name, [default] * nd)]
    if len(v) != nd:
        imp.fail(node, "is not supported", f"{name} {v} does not have {nd} values")
    return v


def _auto_pad(at: dict) -> str:
    v = at.get("auto_pad", b"NOTSET")
    return (v.decode() if isinstance(v, bytes) else str(v)) or "NOTSET"


def _geometry(imp, node, at: dict, in_sp, kernel, *, pool: bool):
    """Strides, dilations, begin/end pads and output spatial shape of a Conv or pooling node
    (auto_pad, pads, ceil_mode as ONNX defines them)."""
    nd = len(in_sp)
    strides = _per_axis(imp, node, at, "strides", nd, 1)
    dil = _per_axis(imp, node, at, "dilations", nd, 1)
    if min(strides + dil + list(kernel)) < 1:
        imp.fail(node, "is not supported", "strides, dilations and kernel must be positive")
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    mode = _auto_pad(at)
    ceil_mode = bool(at.get("ceil_mode", 0)) if pool else False
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-i // s) for i, s in zip(in_sp, strides)]
        total = [max(0, (o - 1) * s + e - i) for o, s, e, i in zip(out, strides, eff, in_sp)]
        begin = [t // 2 if mode == "SAME_UPPER" else t - t // 2 for t in total]
        end = [t - b for t, b in zip(total, begin)]
        return strides, dil, begin, end, out
    if mode == "VALID":
        begin = end = [0] * nd
    elif mode == "NOTSET":
        pads = _per_axis(imp, node, at, "pads", 2 * nd, 0)
        begin, end = pads[:nd], pads[nd:]
        if min(pads) < 0:
            imp.fail(node, "is not supported", f"negative pads {pads}")
    else:
        imp.fail(node, "is not supported", f"auto_pad '{mode}'")
    out = []
    for i, s, e, b, f in zip(in_sp, strides, eff, begin, end):
        span = i + b + f - e
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= i + b:  # the last window must start inside the input
            o -= 1
        out.append(o)
    if min(out) < 1:
        imp.fail(node, "is not supported", f"kernel larger than the padded input {list(in_sp)}")
    return strides, dil, begin, end, out


def _windows(pos, kernel, strides, dil, begin, extent):
    """For every position p (row-major over ``pos``) and kernel offset k (row-major over
    ``kernel``): the index ``q_d = p_d * stride_d - begin_d + k_d * dil_d`` in a grid of shape
    ``extent``. Returns (q per axis, each (P, K)) and the flat q (clipped) and a mask of the
    q inside the grid."""
    nd, P, K = len(pos), prod(pos), prod(kernel)
    qs = []
    for d in range(nd):
        p = np.arange(pos[d]).reshape([-1 if e == d else 1 for e in range(nd)] + [1] * nd)
        k = np.arange(kernel[d]).reshape([1] * nd + [-1 if e == d else 1 for e in range(nd)])
        q = p * strides[d] - begin[d] + k * dil[d]
        qs.append(np.broadcast_to(q, tuple(pos) + tuple(kernel)).reshape(P, K))
    inside = np.ones((P, K), dtype=bool)
    for q, e in zip(qs, extent):
        inside &= (q >= 0) & (q < e)
    flat = np.ravel_multi_index(qs, tuple(extent), mode="clip") if nd else np.zeros((P, K), int)
    return qs, flat, inside
