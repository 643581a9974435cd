"""The :class:`AffineTensor`: a tensor whose value is an affine function of the sources.

The sources are the flattened network input (source 0) and the outputs of the layers created so
far (sources 1, 2, ...). This module holds the tensor, the dense/sparse storage of its
coefficient terms (thresholds ``SPARSE_*``/``DENSE_*``, :func:`_term`), and the small
constructors the importer and the handlers share (:func:`_identity`, :func:`_stack`,
:func:`_weights`). It knows nothing about ONNX.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod

import numpy as np

from ..ir.sparse import issparse

# Dense and sparse coefficients: a term is dense, shape (n_s, *shape), unless it is large and
# sparse; then it is a scipy.sparse csr_array of shape (size, n_s), oriented like a weight
# matrix W[s] (row = flattened element of the tensor, column = unit of source s).
SPARSE_MIN_ENTRIES = 1_000_000   # terms with more entries than this may be stored sparse ...
SPARSE_MAX_DENSITY = 0.10        # ... when at most this fraction of them is nonzero
DENSE_MAX_ENTRIES = 20_000_000   # a term this large stays sparse whatever its density
_CHUNK_ENTRIES = 4_000_000       # dense working set of the generic sparse fallback


def _mat(t, n: int):
    """A term as an (n_elements, n_s) matrix: the csr_array itself, or a view of the dense one."""
    return t if issparse(t) else t.reshape(t.shape[0], n).T


def _term(M, shape: tuple[int, ...]):
    """Store an (n_elements, n_s) matrix (dense or sparse) as a term of a tensor of ``shape``:
    sparse when it has more than SPARSE_MIN_ENTRIES entries and at most SPARSE_MAX_DENSITY of
    them are nonzero (or more than DENSE_MAX_ENTRIES), dense otherwise."""
    n, n_s = M.shape
    entries = n * n_s
    if issparse(M):
        import scipy.sparse as sp

        if entries <= SPARSE_MIN_ENTRIES or (M.nnz > SPARSE_MAX_DENSITY * entries
                                             and entries <= DENSE_MAX_ENTRIES):
            return np.ascontiguousarray(M.toarray().T).reshape((n_s,) + tuple(shape))
        return M if isinstance(M, sp.csr_array) else sp.csr_array(M)
    M = np.asarray(M)
    if entries > SPARSE_MIN_ENTRIES and np.count_nonzero(M) <= SPARSE_MAX_DENSITY * entries:
        import scipy.sparse as sp

        return sp.csr_array(M)
    return np.ascontiguousarray(M.T).reshape((n_s,) + tuple(shape))


def _renormalize(t, shape: tuple[int, ...]):
    """A dense term that grew large (e.g. by broadcasting) becomes sparse if it is sparse."""
    if issparse(t) or t.size <= SPARSE_MIN_ENTRIES:
        return t
    return _term(_mat(t, prod(shape)), shape)


def _is_eye(t) -> bool:
    """True for a sparse identity matrix (the output of a layer, read by the next op)."""
    if not issparse(t):
        return False
    import scipy.sparse as sp

    if not isinstance(t, sp.csr_array) or t.shape[0] != t.shape[1] or t.nnz != t.shape[0]:
        return False
    r = np.arange(t.shape[0])
    return bool(np.array_equal(t.indptr, np.arange(t.shape[0] + 1)) and np.array_equal(t.indices, r)
                and np.all(t.data == 1.0))


def _selection(idx: np.ndarray, n: int):
    """The 0/1 matrix (idx.size, n) whose row e picks element idx[e] (no element if -1)."""
    import scipy.sparse as sp

    flat = idx.reshape(-1)
    rows = np.flatnonzero(flat >= 0)
    return sp.csr_array((np.ones(rows.size), (rows, flat[rows])), shape=(flat.size, n))


class AffineTensor:
    """A tensor affine in the sources: ``value = bias + sum_s tensordot(v_s, terms[s], 1)``.

    ``bias`` has the tensor's shape (ONNX layout, batch axis as size 1). ``terms[s]`` holds the
    coefficients on source s, in one of two forms (see :func:`_term`):

    * dense, shape ``(n_s, *shape)``: ``terms[s][j]`` is the coefficient tensor of unit j;
    * sparse, a ``scipy.sparse.csr_array`` of shape ``(size, n_s)``: row e holds the
      coefficients of the flattened element e, the orientation of a weight matrix ``W[s]``.

    Large sparse terms (convolutions over images) use the second form. Ops are either shape
    maps given as a function on arrays with a leading batch axis (:meth:`linear`; with
    ``index=True`` the function only moves or copies elements, and on sparse terms it is
    applied to an index grid), element gathers (:meth:`take`) or explicit linear maps on the
    flattened tensor (:meth:`map`).
    """

    __slots__ = ("terms", "bias")

    def __init__(self, terms: dict, bias: np.ndarray) -> None:
        self.terms = terms
        self.bias = bias

    @classmethod
    def constant(cls, value: np.ndarray) -> AffineTensor:
        return cls({}, np.asarray(value, dtype=np.float64))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.bias.shape)

    @property
    def size(self) -> int:
        return int(self.bias.size)

    @property
    def is_sparse(self) -> bool:
        return any(issparse(t) for t in self.terms.values())

    def matrices(self) -> dict:
        """Per source, the (size, n_s) coefficient matrix (dense view or csr_array)."""
        return {s: _mat(t, self.size) for s, t in self.terms.items()}

    def linear(self, fn: Callable[[np.ndarray], np.ndarray], index: bool = False) -> AffineTensor:
        """Apply a linear map ``fn`` that acts on arrays with one leading (batch) axis.

        ``index=True`` declares that ``fn`` only moves, copies or drops elements (reshape,
        transpose, slice, gather, broadcast): on sparse terms it is then applied to a grid of
        element numbers. Other maps on sparse terms run on dense column blocks (slow for big
        tensors; the ops that matter have sparse paths of their own).
        """
        if self.is_sparse:
            if index:
                grid = np.arange(self.size).reshape((1,) + self.shape)
                return self.take(np.asarray(fn(grid))[0])
            return self._linear_blocks(fn)
        parts = [self.bias[None]] + list(self.terms.values())
        with np.errstate(all="ignore"):  # non-finite results are reported by the importer
            stacked = fn(np.concatenate(parts, axis=0))
        bias, start, terms = stacked[0], 1, {}
        shape = tuple(bias.shape)
        for s, t in self.terms.items():
            terms[s] = _renormalize(stacked[start:start + t.shape[0]], shape)
            start += t.shape[0]
        return AffineTensor(terms, bias)

    def _linear_blocks(self, fn) -> AffineTensor:
        with np.errstate(all="ignore"):
            bias = np.asarray(fn(self.bias[None]))[0]
        n, shape, terms = self.size, self.shape, {}
        for s, t in self.terms.items():
            if not issparse(t):
                with np.errstate(all="ignore"):
                    terms[s] = _renormalize(fn(t), bias.shape)
                continue
            import scipy.sparse as sp

            step = max(1, _CHUNK_ENTRIES // max(n, 1))
            blocks = []
            for j in range(0, t.shape[1], step):
                dense = t[:, j:j + step].toarray().T.reshape((-1,) + shape)
                with np.errstate(all="ignore"):
                    out = fn(dense)
                blocks.append(sp.csr_array(out.reshape(out.shape[0], -1).T))
            terms[s] = _term(sp.hstack(blocks, format="csr"), bias.shape)
        return AffineTensor(terms, bias)

    def take(self, idx: np.ndarray) -> AffineTensor:
        """The tensor of shape ``idx.shape`` whose element e is element ``idx[e]`` of the
        flattened tensor (0 where ``idx[e] == -1``)."""
        idx = np.asarray(idx, dtype=np.int64)
        flat = idx.reshape(-1)
        valid = flat >= 0
        safe = np.where(valid, flat, 0)
        bias = np.where(valid, self.bias.reshape(-1)[safe], 0.0).reshape(idx.shape)
        terms, P = {}, None
        for s, t in self.terms.items():
            if issparse(t):
                P = _selection(idx, self.size) if P is None else P
                terms[s] = _term(P @ t, idx.shape)
            else:
                d = t.reshape(t.shape[0], self.size)[:, safe]
                if not valid.all():
                    d[:, ~valid] = 0.0
                terms[s] = _renormalize(d.reshape((t.shape[0],) + idx.shape), idx.shape)
        return AffineTensor(terms, bias)

    def map(self, M, shape: tuple[int, ...]) -> AffineTensor:
        """Apply the matrix ``M`` (out_size, size), dense or sparse, to the flattened tensor."""
        shape = tuple(int(d) for d in shape)
        with np.errstate(all="ignore"):
            bias = np.asarray(M @ self.bias.reshape(-1)).reshape(shape)
            terms = {s: _term(M if _is_eye(m) else M @ m, shape)
                     for s, m in self.matrices().items()}
        return AffineTensor(terms, bias)

    def scale(self, c: np.ndarray) -> AffineTensor:
        """Elementwise product with a constant ``c`` of the tensor's shape."""
        c = np.broadcast_to(np.asarray(c, dtype=np.float64), self.shape)
        terms = {}
        with np.errstate(all="ignore"):
            for s, t in self.terms.items():
                if issparse(t):
                    import scipy.sparse as sp

                    terms[s] = _term(sp.diags_array(c.reshape(-1)) @ t, self.shape)
                else:
                    terms[s] = t * c
            return AffineTensor(terms, self.bias * c)

    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.bias))
                    and all(np.all(np.isfinite(t.data if issparse(t) else t))
                            for t in self.terms.values()))


def _identity(source: int, shape: tuple[int, ...]) -> AffineTensor:
    """The tensor whose elements are the units of ``source`` (row-major), shape ``shape``."""
    n = prod(shape)
    if n * n > SPARSE_MIN_ENTRIES:
        import scipy.sparse as sp

        eye = sp.eye_array(n, format="csr")
    else:
        eye = np.eye(n).reshape((n,) + tuple(shape))
    return AffineTensor({source: eye}, np.zeros(shape))


def _stack(parts: list[AffineTensor]) -> AffineTensor:
    """The flattened tensors one after the other: a rank-1 tensor of the summed size."""
    sizes = {}
    for p in parts:
        for s, t in p.terms.items():
            sizes[s] = t.shape[1] if issparse(t) else t.shape[0]
    bias = np.concatenate([p.bias.reshape(-1) for p in parts])
    total = bias.shape[0]
    terms = {}
    for s, n_s in sizes.items():
        mats = [p.matrices().get(s) for p in parts]
        if any(m is not None and issparse(m) for m in mats):
            import scipy.sparse as sp

            blocks = [sp.csr_array((p.size, n_s)) if m is None else sp.csr_array(m)
                      for p, m in zip(parts, mats)]
            terms[s] = _term(sp.vstack(blocks, format="csr"), (total,))
        else:
            blocks = [np.zeros((p.size, n_s)) if m is None else m for p, m in zip(parts, mats)]
            terms[s] = _term(np.vstack(blocks), (total,))
    return AffineTensor(terms, bias)


def _weights(x: AffineTensor) -> dict:
    """Per source, the weight matrix (size, n_s) of the flattened tensor: a csr_array if the
    term is stored sparse, else a contiguous dense array."""
    return {s: (t if issparse(t) else np.ascontiguousarray(_mat(t, x.size)))
            for s, t in x.terms.items()}


# A tensor in the graph walk: a constant or an affine tensor.
Value = np.ndarray | AffineTensor
