"""Handlers of the affine arithmetic ops: Gemm, MatMul, Add, Sub, Sum, Neg, Mul, Div, Mean and
BatchNormalization (inference mode).

Chains of them fuse into one affine map. A product or quotient of two input-dependent tensors
is not piecewise-linear and is rejected.
"""

from __future__ import annotations

import numpy as np

from ..algebra import _add, _f64, _is_affine, _matmul, _mul, _neg, _transpose
from ..context import _attrs, _const_arg
from .registry import register


@register("Gemm")
def _gemm(imp, node, args):
    at = _attrs(node)
    A, B = args[0], args[1]
    C = args[2] if len(args) > 2 else None
    if _is_affine(A) and _is_affine(B):
        imp.fail(node, "is not piecewise-linear", "it multiplies two input-dependent tensors")
    if at.get("transA", 0):
        A = _transpose(A, (1, 0))
    if at.get("transB", 0):
        B = _transpose(B, (1, 0))
    Y = _matmul(A, B)
    alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
    if alpha != 1.0:
        Y = _mul(Y, alpha)
    if C is not None and beta != 0.0:
        Y = _add(Y, C if beta == 1.0 else _mul(C, beta))
    return [Y]


@register("MatMul")
def _matmul_node(imp, node, args):
    if _is_affine(args[0]) and _is_affine(args[1]):
        imp.fail(node, "is not piecewise-linear", "it multiplies two input-dependent tensors")
    return [_matmul(args[0], args[1])]


@register("Add")
def _add_node(imp, node, args):
    return [_add(args[0], args[1])]


@register("Sub")
def _sub_node(imp, node, args):
    return [_add(args[0], _neg(args[1]))]


@register("Sum")
def _sum_node(imp, node, args):
    total = args[0]
    for a in args[1:]:
        total = _add(total, a)
    return [total]


@register("Neg")
def _neg_node(imp, node, args):
    return [_neg(args[0])]


@register("Mul")
def _mul_node(imp, node, args):
    if _is_affine(args[0]) and _is_affine(args[1]):
        imp.fail(node, "is not piecewise-linear", "it multiplies two input-dependent tensors")
    return [_mul(args[0], args[1])]


@register("Div")
def _div_node(imp, node, args):
    if _is_affine(args[1]):
        imp.fail(node, "is not piecewise-linear", "it divides by an input-dependent tensor")
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / _f64(args[1])
    return [_mul(args[0], inv)]


@register("BatchNormalization")
def _batchnorm(imp, node, args):
    at = _attrs(node)
    used = [o for o in node.output[1:] if o and (o in imp.consumers or o in imp.output_names)]
    if at.get("training_mode", 0) or used:
        imp.fail(node, "is not supported", "training mode")
    x = args[0]
    scale, bias, mean, var = (_f64(_const_arg(imp, node, a, "parameter")) for a in args[1:5])
    if len(x.shape) < 2:
        imp.fail(node, "is not supported", f"input shape {list(x.shape)} has no channel axis")
    channels, rank = x.shape[1], len(x.shape)

    def per_channel(p: np.ndarray) -> np.ndarray:
        return p.reshape((channels,) + (1,) * (rank - 2)) if p.size == channels else p

    with np.errstate(divide="ignore", invalid="ignore"):
        g = scale / np.sqrt(var + float(at.get("epsilon", 1e-5)))
    return [_add(_mul(x, per_channel(g)), per_channel(bias - mean * g))]


@register("Mean")
def _mean_node(imp, node, args):
    vals = [a for a in args if a is not None]
    total = vals[0]
    for a in vals[1:]:
        total = _add(total, a)
    return [_mul(total, 1.0 / len(vals))]
