"""Handlers of the piecewise-linear activations: each creates a layer.

Relu, LeakyRelu, PRelu and Abs become a :class:`~milpregions.ir.network.Layer` (via
``_Importer.activate``); Clip and HardSigmoid become ReLU layers; the elementwise Max/Min a
:class:`~milpregions.ir.network.MaxLayer` (via ``_Importer.max_layer``). (Softmax, LogSoftmax and
Sigmoid on the output are dropped before the walk: see :mod:`milpregions.onnx.heads`.)
"""

from __future__ import annotations

from functools import reduce
from math import prod

import numpy as np

from ..affine_tensor import AffineTensor, Value, _stack
from ..algebra import _add, _broadcast, _f64, _is_affine, _mul, _neg
from ..context import _attrs, _const_arg
from .registry import register


@register("Relu")
def _relu(imp, node, args):
    return [imp.activate(node, args[0], 0.0)]


@register("LeakyRelu")
def _leaky_relu(imp, node, args):
    alpha = float(_attrs(node).get("alpha", 0.01))
    return [args[0] if alpha == 1.0 else imp.activate(node, args[0], alpha)]


@register("PRelu")
def _prelu(imp, node, args):
    x, slope = args[0], _f64(_const_arg(imp, node, args[1], "slope"))
    if not _is_affine(x):
        imp.fail(node, "is not supported", "its input is constant but its slope is not")
    try:
        if np.broadcast_shapes(slope.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        imp.fail(node, "is not supported",
                 f"slope shape {list(slope.shape)} does not broadcast to {list(x.shape)}")
    return [x if np.all(slope == 1.0) else imp.activate(node, x, slope)]


@register("Abs")
def _abs(imp, node, args):
    return [imp.activate(node, args[0], -1.0)]


def _bound(value) -> float | None:
    """A Clip bound as a float; None if absent or beyond the float32 range (no bound)."""
    if value is None:
        return None
    v = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    return None if not np.isfinite(v) or abs(v) >= 3.4e38 else v


def _clip(imp, node, x: AffineTensor, lo: float | None, hi: float | None) -> Value:
    """clip(x, lo, hi) with ReLU units: ``lo + relu(x - lo) - relu(x - hi)``.

    Both bounds: one layer of 2n units for n elements, the n units ``x - lo`` (row-major over
    the elements) first, then the n units ``x - hi``. Only ``lo``: ``lo + relu(x - lo)``; only
    ``hi``: ``hi - relu(hi - x)`` (n units each). ``lo >= hi``: the constant ``hi`` (as ONNX
    and numpy define it). No bound: ``x``.
    """
    if lo is not None and hi is not None and lo >= hi:
        return np.full(x.shape, hi, dtype=np.float32)
    if lo is None and hi is None:
        return x
    if hi is None:
        return _add(imp.activate(node, _add(x, -lo), 0.0), lo)
    if lo is None:
        return _add(_neg(imp.activate(node, _add(_neg(x), hi), 0.0)), hi)
    n, shape = x.size, x.shape
    h = imp.activate(node, _stack([_add(x, -lo), _add(x, -hi)]), 0.0)
    first = h.take(np.arange(n).reshape(shape))
    second = h.take(np.arange(n, 2 * n).reshape(shape))
    return _add(_add(first, _neg(second)), lo)


@register("Clip")
def _clip_node(imp, node, args):
    x = args[0]
    if not _is_affine(x):
        imp.fail(node, "is not supported", "its bounds depend on the network input")
    if imp.opset < 11:
        at = _attrs(node)
        lo, hi = _bound(at.get("min")), _bound(at.get("max"))
    else:
        bounds = [_const_arg(imp, node, a, "bound") if a is not None else None
                  for a in (args[1:3] + [None, None])[:2]]
        for b in bounds:
            if b is not None and b.size != 1:
                imp.fail(node, "is not supported",
                         f"bound of shape {list(b.shape)} is not a scalar")
        lo, hi = (_bound(b) for b in bounds)
    return [_clip(imp, node, x, lo, hi)]


@register("HardSigmoid")
def _hard_sigmoid(imp, node, args):
    at = _attrs(node)
    alpha, beta = float(at.get("alpha", 0.2)), float(at.get("beta", 0.5))
    return [_clip(imp, node, _add(_mul(args[0], alpha), beta), 0.0, 1.0)]


@register("Max", "Min")
def _max_node(imp, node, args):
    """Elementwise maximum of tensors (with broadcasting): one :class:`MaxLayer` group per
    output element, whose pieces are the inputs in order (all constant inputs merged into one
    last piece). ``Min`` is ``-max(-a, -b, ...)``."""
    sign = 1.0 if node.op_type == "Max" else -1.0
    vals = [a for a in args if a is not None]
    shape = tuple(np.broadcast_shapes(*(v.shape for v in vals)))
    const = [_f64(v) for v in vals if not _is_affine(v)]
    pieces = [_broadcast(v if sign > 0 else _neg(v), shape) for v in vals if _is_affine(v)]
    if const:
        c = sign * np.broadcast_to(reduce(np.maximum if sign > 0 else np.minimum, const), shape)
        pieces.append(AffineTensor.constant(c))
    if len(pieces) == 1:
        return [_broadcast(vals[0], shape)]
    n = prod(shape)
    groups = np.arange(n)[:, None] + n * np.arange(len(pieces))[None, :]
    h = imp.max_layer(node, _stack(pieces), groups, shape)
    return [h if sign > 0 else _neg(h)]
