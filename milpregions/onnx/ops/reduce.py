"""Handlers of the reductions that are max groups: ReduceMax / ReduceMin over constant axes and
TopK with k = 1 (its values output). PyTorch writes maxout as ``z.view(-1, n, K).max(-1)`` or
``amax``, which export as these. Each output element is one group of a
:class:`~milpregions.ir.network.MaxLayer` whose pieces are the reduced input elements in
row-major order; a minimum is ``-max(-x)``.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..algebra import _neg
from ..context import _attrs, _axis, _const_arg, _ints_from
from .registry import register


def _groups(shape: tuple[int, ...], axes: list[int]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Per output element (row-major over the kept axes) the flat indices it reduces over."""
    idx = np.arange(prod(shape)).reshape(shape)
    kept = [a for a in range(len(shape)) if a not in axes]
    moved = np.transpose(idx, kept + list(axes))
    k = prod(shape[a] for a in axes)
    return moved.reshape(-1, k), tuple(shape[a] for a in kept)


def _reduce_max(imp, node, x, axes: list[int], keepdims: bool, largest: bool):
    shape = tuple(x.shape)
    groups, kept = _groups(shape, axes)
    out_shape = tuple(1 if a in axes else d for a, d in enumerate(shape)) if keepdims else kept
    if groups.shape[1] == 1:
        return x.linear(lambda a: a.reshape(a.shape[:1] + out_shape), index=True)
    z = x if largest else _neg(x)
    h = imp.max_layer(node, z, groups, out_shape)
    return h if largest else _neg(h)


@register("ReduceMax", "ReduceMin")
def _reduce(imp, node, args):
    """The axes come as an attribute (opset < 18) or as the second input (opset 18); none
    means every axis, unless ``noop_with_empty_axes`` asks for the identity."""
    x = args[0]
    at = _attrs(node)
    axes = _ints_from(imp, node, args, 1, "axes")
    if not axes:
        if int(at.get("noop_with_empty_axes", 0)):
            return [x]
        axes = list(range(len(x.shape)))
    axes = sorted({_axis(a, len(x.shape)) for a in axes})
    if any(not 0 <= a < len(x.shape) for a in axes):
        imp.fail(node, "is not supported", f"axes {axes} out of range for shape {list(x.shape)}")
    keepdims = bool(int(at.get("keepdims", 1)))
    return [_reduce_max(imp, node, x, axes, keepdims, node.op_type == "ReduceMax")]


@register("TopK")
def _top_k(imp, node, args):
    """TopK with k = 1: the maximum (``largest=1``) or minimum along ``axis``; its Indices output
    must be unused."""
    used = [o for o in node.output[1:] if o and (o in imp.consumers or o in imp.output_names)]
    if used:
        imp.fail(node, "is not supported", "its Indices output is used")
    x = args[0]
    at = _attrs(node)
    if "k" in at:
        k = int(at["k"])
    else:
        k = int(np.asarray(_const_arg(imp, node, args[1], "k")).reshape(-1)[0])
    if k != 1:
        imp.fail(node, "is not supported", f"k = {k} (only k = 1, a maximum, is piecewise-"
                 "linear as one value)")
    axis = _axis(int(at.get("axis", -1)), len(x.shape))
    return [_reduce_max(imp, node, x, [axis], True, bool(int(at.get("largest", 1))))]
