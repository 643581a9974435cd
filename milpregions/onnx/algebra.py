"""The value algebra used by the op handlers.

A value is a constant (a numpy array) or an :class:`~.affine_tensor.AffineTensor`; each helper
here accepts both and keeps constants constant (add, negate, multiply by a constant, matmul by
a constant, transpose, broadcast, shape maps). Callers reject the products of two affine
operands with their own error messages.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod

import numpy as np

from ..ir.sparse import issparse
from .affine_tensor import AffineTensor, Value, _mat, _term


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _is_affine(x) -> bool:
    return isinstance(x, AffineTensor)


def _align(a: np.ndarray, rank: int) -> np.ndarray:
    """Insert unit axes after the leading batch axis so that ``a`` has ``rank`` data axes."""
    extra = rank - (a.ndim - 1)
    return a.reshape(a.shape[:1] + (1,) * extra + a.shape[1:]) if extra > 0 else a


def _apply(x: Value, fn: Callable[[np.ndarray], np.ndarray], index: bool = False) -> Value:
    """Apply a linear shape map (acting on arrays with a leading batch axis) to any value."""
    if _is_affine(x):
        return x.linear(fn, index=index)
    return fn(np.asarray(x)[None])[0]


def _broadcast(x: AffineTensor, shape: tuple[int, ...]) -> AffineTensor:
    if x.shape == tuple(shape):
        return x
    return x.linear(lambda a: np.broadcast_to(_align(a, len(shape)), a.shape[:1] + tuple(shape)),
                    index=True)


def _neg(x: Value) -> Value:
    if _is_affine(x):
        return AffineTensor({s: -t for s, t in x.terms.items()}, -x.bias)
    return -_f64(x)


def _add(a: Value, b: Value) -> Value:
    if not _is_affine(a) and not _is_affine(b):
        return _f64(a) + _f64(b)
    if not _is_affine(a):
        a, b = b, a
    if not _is_affine(b):
        c = _f64(b)
        a = _broadcast(a, np.broadcast_shapes(a.shape, c.shape))
        with np.errstate(all="ignore"):
            return AffineTensor(a.terms, a.bias + c)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = _broadcast(a, shape), _broadcast(b, shape)
    terms = dict(a.terms)
    for s, t in b.terms.items():
        if s not in terms:
            terms[s] = t
        elif issparse(t) or issparse(terms[s]):
            A, B = _mat(terms[s], a.size), _mat(t, a.size)
            if issparse(A) != issparse(B):  # densify: no larger than the dense one
                A = A.toarray() if issparse(A) else A
                B = B.toarray() if issparse(B) else B
            terms[s] = _term(A + B, shape)
        else:
            terms[s] = terms[s] + t
    return AffineTensor(terms, a.bias + b.bias)


def _mul(a: Value, b: Value) -> Value:
    """Product with at most one affine factor (the caller rejects two)."""
    if not _is_affine(a) and not _is_affine(b):
        return _f64(a) * _f64(b)
    if not _is_affine(a):
        a, b = b, a
    c = _f64(b)
    if a.is_sparse:
        shape = np.broadcast_shapes(a.shape, c.shape)
        return _broadcast(a, shape).scale(np.broadcast_to(c, shape))
    rank = max(len(a.shape), c.ndim)
    return a.linear(lambda s: _align(s, rank) * c)


def _transpose(x: Value, perm) -> Value:
    perm = tuple(int(p) for p in perm)
    return _apply(x, lambda a: a.transpose((0,) + tuple(p + 1 for p in perm)), index=True)


def _matmul(a: Value, b: Value) -> Value:
    """numpy/ONNX matmul with at most one affine operand."""
    if not _is_affine(a) and not _is_affine(b):
        return _f64(a) @ _f64(b)
    if (_is_affine(a) and a.is_sparse) or (_is_affine(b) and b.is_sparse):
        out = _matmul_sparse(a, b)
        if out is not None:
            return out
    if _is_affine(a):
        B, ra = _f64(b), len(a.shape)
        if B.ndim == 1 or ra >= 2:
            rank = max(ra, B.ndim)
            return a.linear(lambda s: np.matmul(_align(s, rank) if ra >= 2 else s, B))
        # 1-D affine vector times a stack of matrices: (K, F) @ (..., F, N) -> (K, ..., N)
        return a.linear(lambda s: np.moveaxis(np.matmul(s, B), -2, 0))
    A, rb = _f64(a), len(b.shape)
    if rb == 1:
        if A.ndim == 1:
            return b.linear(lambda s: s @ A)
        return b.linear(lambda s: np.moveaxis(np.matmul(A, s.T), -1, 0))
    rank = max(A.ndim, rb)
    return b.linear(lambda s: np.matmul(A, _align(s, rank)))


def _matmul_sparse(a: Value, b: Value) -> AffineTensor | None:
    """Matmul of a sparse affine tensor by a constant matrix as one sparse map on the flattened
    tensor, for the shapes exporters write (None for the other ones)."""
    import scipy.sparse as sp

    if _is_affine(a):
        B = _f64(b)
        if B.ndim == 2 and len(a.shape) >= 1 and a.shape[-1] == B.shape[0]:
            rows = prod(a.shape[:-1])
            M = sp.kron(sp.eye_array(rows), sp.csr_array(B.T), format="csr")
            return a.map(M, a.shape[:-1] + (B.shape[1],))
        if B.ndim == 1 and len(a.shape) >= 2 and a.shape[-1] == B.shape[0]:
            rows = prod(a.shape[:-1])
            M = sp.kron(sp.eye_array(rows), sp.csr_array(B[None, :]), format="csr")
            return a.map(M, a.shape[:-1])
        return None
    A = _f64(a)
    if A.ndim == 2 and len(b.shape) >= 2 and b.shape[-2] == A.shape[1]:
        batch, n = prod(b.shape[:-2]), b.shape[-1]
        M = sp.kron(sp.eye_array(batch), sp.kron(sp.csr_array(A), sp.eye_array(n)), format="csr")
        return b.map(M, b.shape[:-2] + (A.shape[0], n))
    return None
