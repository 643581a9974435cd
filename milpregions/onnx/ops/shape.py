"""Handlers of ops that move, copy or relabel elements: no arithmetic on the values.

Pass-through ops (Identity, Dropout in inference mode, Cast to a float type), shape maps
(Flatten, Reshape, Squeeze, Unsqueeze, Transpose), element selection (Concat, Gather, Slice,
Pad: index grids on the flattened tensor) and Shape/Size, which fold to constants.
"""

from __future__ import annotations

from math import prod

import numpy as np
from onnx import TensorProto, helper

from ..affine_tensor import AffineTensor, _stack
from ..algebra import _add, _f64, _is_affine, _transpose
from ..context import FLOAT_TYPES, _attrs, _axis, _const_arg, _ints_from, _type_name
from .registry import register


@register("Identity")
def _identity_node(imp, node, args):
    return [args[0]]


@register("Dropout")
def _dropout(imp, node, args):
    if len(args) > 2 and args[2] is not None and bool(np.asarray(args[2]).reshape(-1)[0]):
        imp.fail(node, "is not supported", "training_mode is true")
    x = args[0]
    return [x, np.ones(x.shape, dtype=bool)]


@register("Cast", "CastLike")
def _cast(imp, node, args):
    if node.op_type == "Cast":
        to = int(_attrs(node)["to"])
    else:
        to = (TensorProto.FLOAT if _is_affine(args[1])
              else helper.np_dtype_to_tensor_dtype(np.asarray(args[1]).dtype))
    if not _is_affine(args[0]):  # CastLike of a constant to an input-dependent tensor's type
        return [np.asarray(args[0]).astype(helper.tensor_dtype_to_np_dtype(to))]
    if to not in FLOAT_TYPES:
        imp.fail(node, "is not supported",
                 f"it casts an input-dependent tensor to {_type_name(to)}")
    return [args[0]]


@register("Flatten")
def _flatten(imp, node, args):
    x = args[0]
    axis = _axis(int(_attrs(node).get("axis", 1)), len(x.shape))
    shape = (prod(x.shape[:axis]), prod(x.shape[axis:]))
    return [x.linear(lambda a: a.reshape(a.shape[:1] + shape), index=True)]


@register("Reshape")
def _reshape(imp, node, args):
    x = args[0]
    target = _ints_from(imp, node, args, 1, "shape")
    if target is None:
        imp.fail(node, "is not supported", "no target shape")
    allowzero = int(_attrs(node).get("allowzero", 0))
    out = [x.shape[i] if (d == 0 and not allowzero) else d for i, d in enumerate(target)]
    if out.count(-1) == 1:
        known = prod(d for d in out if d != -1)
        if known == 0 or x.size % known:
            imp.fail(node, "is not supported",
                     f"cannot reshape {list(x.shape)} to {list(target)}")
        out[out.index(-1)] = x.size // known
    if prod(out) != x.size or any(d < 0 for d in out):
        imp.fail(node, "is not supported", f"cannot reshape {list(x.shape)} to {list(target)}")
    shape = tuple(out)
    return [x.linear(lambda a: a.reshape(a.shape[:1] + shape), index=True)]


@register("Squeeze")
def _squeeze(imp, node, args):
    x = args[0]
    axes = _ints_from(imp, node, args, 1, "axes")
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    axes = tuple(sorted(_axis(a, len(x.shape)) for a in axes))
    if any(x.shape[a] != 1 for a in axes):
        imp.fail(node, "is not supported", f"cannot squeeze axes {list(axes)} of {list(x.shape)}")
    return [x.linear(lambda a: np.squeeze(a, axis=tuple(i + 1 for i in axes)), index=True)]


@register("Unsqueeze")
def _unsqueeze(imp, node, args):
    x = args[0]
    axes = _ints_from(imp, node, args, 1, "axes")
    if axes is None:
        imp.fail(node, "is not supported", "no axes")
    rank = len(x.shape) + len(axes)
    axes = tuple(sorted(_axis(a, rank) for a in axes))
    return [x.linear(lambda a: np.expand_dims(a, tuple(i + 1 for i in axes)), index=True)]


@register("Transpose")
def _transpose_node(imp, node, args):
    x = args[0]
    perm = _attrs(node).get("perm") or list(reversed(range(len(x.shape))))
    return [_transpose(x, perm)]


@register("Concat")
def _concat(imp, node, args):
    parts = [a if _is_affine(a) else AffineTensor.constant(_f64(a)) for a in args if a is not None]
    axis = _axis(int(_attrs(node)["axis"]), len(parts[0].shape))
    if any(p.is_sparse for p in parts):
        stacked, grids, start = _stack(parts), [], 0
        for p in parts:
            grids.append(np.arange(start, start + p.size).reshape(p.shape))
            start += p.size
        return [stacked.take(np.concatenate(grids, axis=axis))]
    widths = {s: t.shape[0] for p in parts for s, t in p.terms.items()}
    terms = {s: np.concatenate([p.terms.get(s, np.zeros((n,) + p.shape)) for p in parts],
                               axis=axis + 1) for s, n in widths.items()}
    return [AffineTensor(terms, np.concatenate([p.bias for p in parts], axis=axis))]


@register("Gather")
def _gather(imp, node, args):
    x, idx = args[0], _const_arg(imp, node, args[1], "indices").astype(np.int64)
    axis = _axis(int(_attrs(node).get("axis", 0)), len(x.shape))
    return [x.linear(lambda a: np.take(a, idx, axis=axis + 1), index=True)]


@register("Slice")
def _slice(imp, node, args):
    x = args[0]
    starts = _ints_from(imp, node, args, 1, "starts")
    ends = _ints_from(imp, node, args, 2, "ends")
    axes = _ints_from(imp, node, args, 3, "axes") or list(range(len(starts)))
    steps = _ints_from(imp, node, args, 4, "steps") or [1] * len(starts)
    index = [slice(None)] * (len(x.shape) + 1)
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[_axis(a, len(x.shape)) + 1] = slice(s, e, st)
    index = tuple(index)
    return [x.linear(lambda a: a[index], index=True)]


@register("Pad")
def _pad(imp, node, args):
    """Pad: constant mode (any constant value: the padded elements are constant biases) and
    the gather modes reflect, edge and wrap; negative pads crop (constant mode)."""
    x, at = args[0], _attrs(node)
    mode = at.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    rank = len(x.shape)
    if imp.opset < 11:
        pads = [int(v) for v in at.get("pads", at.get("paddings", []))]
        value = float(at.get("value", 0.0))
        axes = list(range(rank))
    else:
        pads = _ints_from(imp, node, args, 1, "pads")
        value = 0.0
        if len(args) > 2 and args[2] is not None:
            cv = _const_arg(imp, node, args[2], "constant_value").reshape(-1)
            value = float(cv[0]) if cv.size else 0.0
        axes = _ints_from(imp, node, args, 3, "axes") or list(range(rank))
    axes = [_axis(a, rank) for a in axes]
    if pads is None or len(pads) != 2 * len(axes):
        imp.fail(node, "is not supported", f"pads {pads} do not match {len(axes)} axes")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        imp.fail(node, "is not supported", f"mode '{mode}'")
    width = [(0, 0)] * rank
    for a, b, e in zip(axes, pads[:len(axes)], pads[len(axes):]):
        width[a] = (b, e)
    if mode != "constant" and min(pads) < 0:
        imp.fail(node, "is not supported", f"negative pads {pads} in mode '{mode}'")
    grid = np.arange(x.size).reshape(x.shape)
    if mode == "constant":
        grid = np.pad(grid, [(max(b, 0), max(e, 0)) for b, e in width], constant_values=-1)
        grid = grid[tuple(slice(-min(b, 0), grid.shape[d] + min(e, 0))
                          for d, (b, e) in enumerate(width))]
    else:
        grid = np.pad(grid, width, mode=mode)
    y = x.take(grid)
    if value != 0.0:
        y = _add(y, np.where(grid < 0, value, 0.0))
    return [y]


@register("Shape")
def _shape(imp, node, args):
    shape = list(args[0].shape)
    at = _attrs(node)
    start, end = int(at.get("start", 0)), at.get("end")
    return [np.array(shape[start:None if end is None else int(end)], dtype=np.int64)]


@register("Size")
def _size(imp, node, args):
    return [np.array(args[0].size, dtype=np.int64)]
