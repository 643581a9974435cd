"""Import an ONNX model as a piecewise-linear :class:`~milpregions.network.Network`.

The graph is walked in topological order. Every tensor holds either a constant (a numpy array)
or an :class:`AffineTensor`: a tensor whose value is an affine function of the sources (the
flattened network input, source 0, and the outputs of the layers created so far, sources 1, 2,
...). Ops whose inputs are all constant are folded (Shape/Gather/Concat arithmetic, casts of
weights, ...). Affine ops (Gemm, MatMul, Add, BatchNormalization, Reshape, ...) map affine tensors
to affine tensors, so chains of them fuse into one affine map. An activation op (Relu, LeakyRelu,
PRelu, Abs) on an affine tensor creates a new :class:`~milpregions.network.Layer` whose
pre-activation is that affine map; its output becomes the affine tensor "identity on the new
layer". Clip and HardSigmoid become ReLU layers (``clip(z, a, b) = a + relu(z - a) -
relu(z - b)``, the combination folded into the next affine map). MaxPool, GlobalMaxPool and the
elementwise Max/Min of tensors create a :class:`~milpregions.network.MaxLayer` whose
pre-activation stacks the pieces.

Conv, ConvTranspose, AveragePool, GlobalAveragePool and Pad are exact linear maps on the
flattened tensor, built as ``scipy.sparse`` matrices by index arithmetic. Coefficients of large
tensors are stored sparse (see :class:`AffineTensor`), and so are the weight matrices of the
layers they feed (``Affine.W[s]`` is then a ``scipy.sparse.csr_array``); small ones stay dense.

Shapes keep the ONNX layout. A batch axis (axis 0 of an input of rank >= 2 that is symbolic or
1) is kept as a dimension of size 1: the network describes one sample, and ``Shape`` of an
input-dependent tensor folds to its shape with batch size 1. A rank-1 input is a feature vector.

Handlers live in :data:`HANDLERS` (``op_type -> function``); :func:`register` adds one. A handler
is called only when at least one input is an :class:`AffineTensor` and returns the node's outputs.
An op with no handler is an :class:`~milpregions.errors.InputError` naming the file, node, op and
opset.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import reduce
from math import prod

import numpy as np
import onnx
import scipy.sparse as sp
from onnx import TensorProto, helper, numpy_helper

from ..errors import InputError
from ..ir.network import Affine, Layer, MaxLayer, Network

log = logging.getLogger("milpregions")

FLOAT_TYPES = frozenset({TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16,
                         TensorProto.BFLOAT16})

# Ops that are not piecewise-linear in an input-dependent argument (the error says so).
NOT_PIECEWISE_LINEAR = frozenset({
    "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Hardmax", "Exp", "Log", "Sqrt", "Pow",
    "Reciprocal", "Erf", "Gelu", "Softplus", "Softsign", "Elu", "Selu", "Celu", "Mish",
    "HardSwish", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh",
    "Atanh", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
    "LpNormalization", "MeanVarianceNormalization", "LRN", "ReduceL2", "ReduceLogSumExp",
    "ReduceSumSquare", "ReduceProd", "Round", "Floor", "Ceil", "Sign",
})

# Ops dropped with a notice when they are applied to the graph output (after the last affine map).
TRAILING_DROPPABLE = frozenset({"Softmax", "LogSoftmax", "Sigmoid"})

# Pass-through ops that may follow a dropped trailing op on its way to the graph output.
_PASSTHROUGH = frozenset({"Identity", "Dropout", "Cast"})


# Dense and sparse coefficients: a term is dense, shape (n_s, *shape), unless it is large and
# sparse; then it is a scipy.sparse csr_array of shape (size, n_s), oriented like a weight
# matrix W[s] (row = flattened element of the tensor, column = unit of source s).
SPARSE_MIN_ENTRIES = 1_000_000   # terms with more entries than this may be stored sparse ...
SPARSE_MAX_DENSITY = 0.10        # ... when at most this fraction of them is nonzero
DENSE_MAX_ENTRIES = 20_000_000   # a term this large stays sparse whatever its density
_CHUNK_ENTRIES = 4_000_000       # dense working set of the generic sparse fallback


def _mat(t, n: int):
    """A term as an (n_elements, n_s) matrix: the csr_array itself, or a view of the dense one."""
    return t if sp.issparse(t) else t.reshape(t.shape[0], n).T


def _term(M, shape: tuple[int, ...]):
    """Store an (n_elements, n_s) matrix (dense or sparse) as a term of a tensor of ``shape``:
    sparse when it has more than SPARSE_MIN_ENTRIES entries and at most SPARSE_MAX_DENSITY of
    them are nonzero (or more than DENSE_MAX_ENTRIES), dense otherwise."""
    n, n_s = M.shape
    entries = n * n_s
    if sp.issparse(M):
        if entries <= SPARSE_MIN_ENTRIES or (M.nnz > SPARSE_MAX_DENSITY * entries
                                             and entries <= DENSE_MAX_ENTRIES):
            return np.ascontiguousarray(M.toarray().T).reshape((n_s,) + tuple(shape))
        return M if isinstance(M, sp.csr_array) else sp.csr_array(M)
    M = np.asarray(M)
    if entries > SPARSE_MIN_ENTRIES and np.count_nonzero(M) <= SPARSE_MAX_DENSITY * entries:
        return sp.csr_array(M)
    return np.ascontiguousarray(M.T).reshape((n_s,) + tuple(shape))


def _renormalize(t, shape: tuple[int, ...]):
    """A dense term that grew large (e.g. by broadcasting) becomes sparse if it is sparse."""
    if sp.issparse(t) or t.size <= SPARSE_MIN_ENTRIES:
        return t
    return _term(_mat(t, prod(shape)), shape)


def _is_eye(t) -> bool:
    """True for a sparse identity matrix (the output of a layer, read by the next op)."""
    if not isinstance(t, sp.csr_array) or t.shape[0] != t.shape[1] or t.nnz != t.shape[0]:
        return False
    r = np.arange(t.shape[0])
    return bool(np.array_equal(t.indptr, np.arange(t.shape[0] + 1)) and np.array_equal(t.indices, r)
                and np.all(t.data == 1.0))


def _selection(idx: np.ndarray, n: int) -> sp.csr_array:
    """The 0/1 matrix (idx.size, n) whose row e picks element idx[e] (no element if -1)."""
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
    def constant(cls, value: np.ndarray) -> "AffineTensor":
        return cls({}, np.asarray(value, dtype=np.float64))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.bias.shape)

    @property
    def size(self) -> int:
        return int(self.bias.size)

    @property
    def is_sparse(self) -> bool:
        return any(sp.issparse(t) for t in self.terms.values())

    def matrices(self) -> dict:
        """Per source, the (size, n_s) coefficient matrix (dense view or csr_array)."""
        return {s: _mat(t, self.size) for s, t in self.terms.items()}

    def linear(self, fn: Callable[[np.ndarray], np.ndarray], index: bool = False) -> "AffineTensor":
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

    def _linear_blocks(self, fn) -> "AffineTensor":
        with np.errstate(all="ignore"):
            bias = np.asarray(fn(self.bias[None]))[0]
        n, shape, terms = self.size, self.shape, {}
        for s, t in self.terms.items():
            if not sp.issparse(t):
                with np.errstate(all="ignore"):
                    terms[s] = _renormalize(fn(t), bias.shape)
                continue
            step = max(1, _CHUNK_ENTRIES // max(n, 1))
            blocks = []
            for j in range(0, t.shape[1], step):
                dense = t[:, j:j + step].toarray().T.reshape((-1,) + shape)
                with np.errstate(all="ignore"):
                    out = fn(dense)
                blocks.append(sp.csr_array(out.reshape(out.shape[0], -1).T))
            terms[s] = _term(sp.hstack(blocks, format="csr"), bias.shape)
        return AffineTensor(terms, bias)

    def take(self, idx: np.ndarray) -> "AffineTensor":
        """The tensor of shape ``idx.shape`` whose element e is element ``idx[e]`` of the
        flattened tensor (0 where ``idx[e] == -1``)."""
        idx = np.asarray(idx, dtype=np.int64)
        flat = idx.reshape(-1)
        valid = flat >= 0
        safe = np.where(valid, flat, 0)
        bias = np.where(valid, self.bias.reshape(-1)[safe], 0.0).reshape(idx.shape)
        terms, P = {}, None
        for s, t in self.terms.items():
            if sp.issparse(t):
                P = _selection(idx, self.size) if P is None else P
                terms[s] = _term(P @ t, idx.shape)
            else:
                d = t.reshape(t.shape[0], self.size)[:, safe]
                if not valid.all():
                    d[:, ~valid] = 0.0
                terms[s] = _renormalize(d.reshape((t.shape[0],) + idx.shape), idx.shape)
        return AffineTensor(terms, bias)

    def map(self, M, shape: tuple[int, ...]) -> "AffineTensor":
        """Apply the matrix ``M`` (out_size, size), dense or sparse, to the flattened tensor."""
        shape = tuple(int(d) for d in shape)
        with np.errstate(all="ignore"):
            bias = np.asarray(M @ self.bias.reshape(-1)).reshape(shape)
            terms = {s: _term(M if _is_eye(m) else M @ m, shape)
                     for s, m in self.matrices().items()}
        return AffineTensor(terms, bias)

    def scale(self, c: np.ndarray) -> "AffineTensor":
        """Elementwise product with a constant ``c`` of the tensor's shape."""
        c = np.broadcast_to(np.asarray(c, dtype=np.float64), self.shape)
        terms = {}
        with np.errstate(all="ignore"):
            for s, t in self.terms.items():
                if sp.issparse(t):
                    terms[s] = _term(sp.diags_array(c.reshape(-1)) @ t, self.shape)
                else:
                    terms[s] = t * c
            return AffineTensor(terms, self.bias * c)

    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.bias))
                    and all(np.all(np.isfinite(t.data if sp.issparse(t) else t))
                            for t in self.terms.values()))


def _identity(source: int, shape: tuple[int, ...]) -> AffineTensor:
    """The tensor whose elements are the units of ``source`` (row-major), shape ``shape``."""
    n = prod(shape)
    eye = (sp.eye_array(n, format="csr") if n * n > SPARSE_MIN_ENTRIES
           else np.eye(n).reshape((n,) + tuple(shape)))
    return AffineTensor({source: eye}, np.zeros(shape))


def _stack(parts: list[AffineTensor]) -> AffineTensor:
    """The flattened tensors one after the other: a rank-1 tensor of the summed size."""
    sizes = {}
    for p in parts:
        for s, t in p.terms.items():
            sizes[s] = t.shape[1] if sp.issparse(t) else t.shape[0]
    bias = np.concatenate([p.bias.reshape(-1) for p in parts])
    total = bias.shape[0]
    terms = {}
    for s, n_s in sizes.items():
        mats = [p.matrices().get(s) for p in parts]
        if any(m is not None and sp.issparse(m) for m in mats):
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
    return {s: (t if sp.issparse(t) else np.ascontiguousarray(_mat(t, x.size)))
            for s, t in x.terms.items()}


Value = np.ndarray | AffineTensor
Handler = Callable[["_Importer", onnx.NodeProto, list], list]
HANDLERS: dict[str, Handler] = {}


def register(*op_types: str) -> Callable[[Handler], Handler]:
    """Decorator: make ``fn`` the handler of ``op_types`` (``domain.op`` outside the default
    domain)."""
    def deco(fn: Handler) -> Handler:
        for op in op_types:
            HANDLERS[op] = fn
        return fn
    return deco


# ----------------------------------------------------------------------------------------------
# Public entry points


def load_onnx(path: str | os.PathLike) -> Network:
    """Read an ONNX file and import it (see :func:`import_model`)."""
    src = os.fspath(path)
    try:
        with open(src, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"{src}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{src}: is a directory, not an ONNX file") from None
    except OSError as e:
        raise InputError(f"{src}: cannot read ({e.strerror or e})") from None
    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # google.protobuf.message.DecodeError and friends
        raise InputError(f"{src}: not an ONNX model, or the file is truncated "
                         f"(protobuf parse error)") from None
    try:
        from onnx.external_data_helper import (load_external_data_for_model,
                                               uses_external_data)
        if any(uses_external_data(t) for t in model.graph.initializer):
            load_external_data_for_model(model, os.path.dirname(os.path.abspath(src)))
    except Exception as e:
        raise InputError(f"{src}: cannot load external weight data ({_one_line(e)})") from None
    return import_model(model, source=src)


def import_model(model: onnx.ModelProto, source: str = "<model>") -> Network:
    """Convert a parsed ONNX model into a :class:`Network`; errors name ``source``."""
    return _Importer(model, source).run()


# ----------------------------------------------------------------------------------------------
# The graph walk


class _Importer:
    def __init__(self, model: onnx.ModelProto, source: str) -> None:
        self.model = model
        self.source = source
        self.graph = model.graph
        self.opsets = {("" if o.domain == "ai.onnx" else o.domain): int(o.version)
                       for o in model.opset_import}
        self.opset = self.opsets.get("", 1)
        self.layers: list[Layer | MaxLayer] = []
        self.values: dict[str, Value] = {}
        self.initializers = {t.name: t for t in self.graph.initializer}
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        self.output_names = [o.name for o in self.graph.output]
        self.notices: list[str] = []

    # -- messages

    def label(self, node: onnx.NodeProto) -> str:
        name = node.name or (node.output[0] if node.output else "?")
        domain = "" if node.domain == "ai.onnx" else node.domain
        op = f"{domain}.{node.op_type}" if domain else node.op_type
        return f"node '{name}' ({op}, opset {self.opsets.get(domain, self.opset)})"

    def fail(self, node: onnx.NodeProto, what: str, detail: str = "") -> None:
        msg = f"{self.source}: {self.label(node)} {what}"
        raise InputError(msg + (f": {detail}" if detail else ""))

    def error(self, what: str) -> InputError:
        return InputError(f"{self.source}: {what}")

    def notice(self, msg: str) -> None:
        log.info("%s", msg)
        self.notices.append(msg)

    # -- main

    def run(self) -> Network:
        if not self.model.HasField("graph") or not self.graph.output:
            raise self.error("not an ONNX model (no graph outputs)")
        input_name, input_shape, full_shape = self._input()
        n0 = prod(full_shape)
        self.values[input_name] = _identity(0, full_shape)
        for node in self._schedule():
            self._evaluate(node)
        output = self._output(n0)
        ops: dict[str, int] = {}
        for node in self.graph.node:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
        info = {
            "source": self.source,
            "input_name": input_name,
            "input_shape": input_shape,
            "output_names": list(self.output_names),
            "opset": self.opset,
            "ops": ops,
            "producer": f"{self.model.producer_name} {self.model.producer_version}".strip(),
            "notices": list(self.notices),
        }
        return Network(n0, tuple(self.layers), output, info)

    def _input(self) -> tuple[str, list, tuple[int, ...]]:
        real = [i for i in self.graph.input if i.name not in self.initializers]
        if not real:
            raise self.error("the graph has no input")
        if len(real) > 1:
            names = ", ".join(f"'{i.name}'" for i in real)
            raise self.error(f"the graph has {len(real)} inputs ({names}); "
                             f"exactly one is supported")
        inp = real[0]
        if not inp.type.HasField("tensor_type"):
            raise self.error(f"input '{inp.name}' is not a tensor")
        tt = inp.type.tensor_type
        if tt.elem_type not in FLOAT_TYPES:
            raise self.error(f"input '{inp.name}' has element type "
                             f"{_type_name(tt.elem_type)}; a float type is required")
        if not tt.HasField("shape"):
            raise self.error(f"input '{inp.name}' has no shape")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        text = "[" + ", ".join(str(v) if v is not None else (d.dim_param or "?")
                               for v, d in zip(dims, tt.shape.dim)) + "]"
        if any(v == 0 for v in dims):
            raise self.error(f"input '{inp.name}' has shape {text}, which has no elements")
        for i, v in enumerate(dims):
            if v is None and not (i == 0 and len(dims) >= 2):
                raise self.error(f"input '{inp.name}' has shape {text}: dimension {i} is "
                                 f"symbolic; only the batch axis 0 may be")
        return inp.name, dims, tuple(1 if v is None else v for v in dims)

    def _schedule(self) -> list[onnx.NodeProto]:
        """The nodes that some graph output depends on, in topological order."""
        for node in self.graph.node:
            for o in node.output:
                if o:
                    self.producer[o] = node
        order: list[onnx.NodeProto] = []
        state: dict[int, int] = {}  # id(node) -> 1 visiting, 2 done
        for out in self.output_names:
            stack = [(self.producer.get(out), False)]
            while stack:
                node, expanded = stack.pop()
                if node is None or (state.get(id(node)) == 2):
                    continue
                if expanded:
                    state[id(node)] = 2
                    order.append(node)
                    continue
                if state.get(id(node)) == 1:
                    raise self.error(f"the graph has a cycle through {self.label(node)}")
                state[id(node)] = 1
                stack.append((node, True))
                for name in reversed(node.input):
                    if name and name not in self.values:
                        dep = self.producer.get(name)
                        if dep is not None and state.get(id(dep)) != 2:
                            if state.get(id(dep)) == 1:
                                raise self.error(f"the graph has a cycle through {self.label(dep)}")
                            stack.append((dep, False))
        for node in order:
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(node)
        return order

    def _get(self, name: str, user: onnx.NodeProto | None = None) -> Value:
        if name in self.values:
            return self.values[name]
        if name in self.initializers:
            try:
                value = numpy_helper.to_array(self.initializers[name])
            except Exception as e:
                raise self.error(f"initializer '{name}' cannot be read ({_one_line(e)})") from None
            self.values[name] = value
            return value
        if name in self.producer:
            self.fail(self.producer[name], f"does not produce output '{name}'",
                      "this output is not supported")
        where = f" (used by {self.label(user)})" if user is not None else ""
        raise self.error(f"tensor '{name}'{where} is not defined in the graph")

    def _evaluate(self, node: onnx.NodeProto) -> None:
        args = [self._get(name, node) if name else None for name in node.input]
        default_domain = node.domain in ("", "ai.onnx")
        if node.op_type == "Constant" and default_domain:
            outs = [_constant_node(self, node)]
        elif not any(isinstance(a, AffineTensor) for a in args):
            outs = _fold(self, node, args)
        else:
            key = node.op_type if default_domain else f"{node.domain}.{node.op_type}"
            handler = HANDLERS.get(key)
            if handler is None:
                if default_domain and node.op_type in NOT_PIECEWISE_LINEAR:
                    self.fail(node, "is not piecewise-linear")
                self.fail(node, "is not supported")
            outs = handler(self, node, args)
        for name, value in zip(node.output, outs):
            if not name:
                continue
            if isinstance(value, AffineTensor) and not value.is_finite():
                raise self.error(self._blame(node))
            self.values[name] = value

    def _blame(self, node: onnx.NodeProto, seen: set | None = None) -> str:
        """Describe where the non-finite numbers that reached ``node`` come from."""
        seen = set() if seen is None else seen
        for name in node.input:
            value = self.values.get(name)
            if (not name or name in seen or not isinstance(value, np.ndarray)
                    or value.dtype.kind not in "fc" or np.all(np.isfinite(value))):
                continue
            seen.add(name)
            if name in self.initializers:
                return f"initializer '{name}' has non-finite values"
            src = self.producer.get(name)
            if src is not None:
                if src.op_type == "Constant" or not any(src.input):
                    return f"{self.label(src)} has non-finite values"
                return self._blame(src, seen)
        return f"{self.label(node)} produces non-finite values"

    def is_terminal(self, name: str) -> bool:
        """True if ``name`` reaches graph outputs only, through pass-through ops."""
        users = self.consumers.get(name, [])
        if not users:
            return name in self.output_names
        return all(u.op_type in _PASSTHROUGH and u.output and self.is_terminal(u.output[0])
                   for u in users)

    def activate(self, node: onnx.NodeProto, x: AffineTensor, neg_slope) -> AffineTensor:
        """Make a new layer with pre-activation ``x``; return its output as an affine tensor."""
        n, shape = x.size, x.shape
        slope = np.broadcast_to(np.asarray(neg_slope, dtype=np.float64), shape).reshape(n).copy()
        name = node.name or node.output[0]
        self.layers.append(Layer(Affine(_weights(x), x.bias.reshape(n).copy()), slope, name))
        return _identity(len(self.layers), shape)

    def max_layer(self, node: onnx.NodeProto, z: AffineTensor, groups: np.ndarray,
                  shape: tuple[int, ...]) -> AffineTensor:
        """Make a :class:`MaxLayer` whose pieces are the elements of ``z`` and whose group g
        (row-major over ``shape``) takes the maximum of ``z[groups[g]]``; return its output."""
        name = node.name or node.output[0]
        groups = np.ascontiguousarray(groups, dtype=np.int64).reshape(prod(shape), -1)
        if not (groups[:, 0] >= 0).all():
            self.fail(node, "is not supported", "a window lies entirely in the padding")
        self.layers.append(MaxLayer(Affine(_weights(z), z.bias.reshape(-1).copy()), groups, name))
        return _identity(len(self.layers), shape)

    def _output(self, n0: int) -> Affine:
        parts = []
        for name in self.output_names:
            value = self._get(name)
            if not isinstance(value, AffineTensor):
                value = AffineTensor.constant(_f64(value))
                if not value.is_finite():
                    raise self.error(f"output '{name}' is a constant with non-finite values")
            parts.append(value)
        out = _stack(parts)
        return Affine(_weights(out) or {0: np.zeros((out.size, n0))}, out.bias)


# ----------------------------------------------------------------------------------------------
# Constants


def _constant_node(imp: _Importer, node: onnx.NodeProto) -> np.ndarray:
    attrs = {a.name: a for a in node.attribute}
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"].t)
    if "value_float" in attrs:
        return np.array(attrs["value_float"].f, dtype=np.float32)
    if "value_floats" in attrs:
        return np.array(list(attrs["value_floats"].floats), dtype=np.float32)
    if "value_int" in attrs:
        return np.array(attrs["value_int"].i, dtype=np.int64)
    if "value_ints" in attrs:
        return np.array(list(attrs["value_ints"].ints), dtype=np.int64)
    return _fold(imp, node, [])[0]


def _fold(imp: _Importer, node: onnx.NodeProto, args: list) -> list:
    """Evaluate a node whose inputs are all constant with the ONNX reference evaluator."""
    from onnx.reference import ReferenceEvaluator

    feeds = {name: a for name, a in zip(node.input, args) if name}
    inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype),
                                            a.shape) for name, a in feeds.items()]
    outputs = [helper.make_value_info(o, onnx.TypeProto()) for o in node.output if o]
    graph = helper.make_graph([node], "fold", inputs, outputs)
    opsets = [helper.make_opsetid(d, v) for d, v in imp.opsets.items()]
    model = helper.make_model(graph, opset_imports=opsets)
    try:
        with np.errstate(all="ignore"):
            results = ReferenceEvaluator(model).run(None, feeds)
    except Exception as e:
        imp.fail(node, "is not supported", f"constant folding failed ({_one_line(e)})")
    out, it = [], iter(results)
    for o in node.output:
        out.append(np.asarray(next(it)) if o else None)
    return out


# ----------------------------------------------------------------------------------------------
# Helpers shared by handlers: each accepts constants and affine tensors alike


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
        elif sp.issparse(t) or sp.issparse(terms[s]):
            A, B = _mat(terms[s], a.size), _mat(t, a.size)
            if sp.issparse(A) != sp.issparse(B):  # densify: no larger than the dense one
                A = A.toarray() if sp.issparse(A) else A
                B = B.toarray() if sp.issparse(B) else B
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


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _const_arg(imp: _Importer, node: onnx.NodeProto, value, what: str) -> np.ndarray:
    if _is_affine(value):
        imp.fail(node, "is not supported", f"its {what} depends on the network input")
    return np.asarray(value)


def _ints_from(imp: _Importer, node: onnx.NodeProto, args: list, index: int, attr: str):
    """An int list given as attribute ``attr`` (old opsets) or as input ``index`` (new)."""
    attrs = _attrs(node)
    if attr in attrs:
        return [int(v) for v in attrs[attr]]
    if len(args) > index and args[index] is not None:
        return [int(v) for v in _const_arg(imp, node, args[index], attr).reshape(-1)]
    return None


# ----------------------------------------------------------------------------------------------
# Handlers (called when at least one input is an AffineTensor)


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


@register(*sorted(TRAILING_DROPPABLE))
def _trailing(imp, node, args):
    if not imp.is_terminal(node.output[0]):
        imp.fail(node, "is not piecewise-linear")
    imp.notice(f"{imp.source}: dropped trailing {imp.label(node)}: applied to the output, "
               f"it does not change the regions")
    return [args[0]]


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


# ----------------------------------------------------------------------------------------------
# Piecewise-linear activations beyond ReLU


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


@register("Mean")
def _mean_node(imp, node, args):
    vals = [a for a in args if a is not None]
    total = vals[0]
    for a in vals[1:]:
        total = _add(total, a)
    return [_mul(total, 1.0 / len(vals))]


# ----------------------------------------------------------------------------------------------
# Convolution and pooling: sparse linear maps on the flattened tensor


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


# ----------------------------------------------------------------------------------------------


def _type_name(elem_type: int) -> str:
    try:
        return TensorProto.DataType.Name(elem_type)
    except ValueError:
        return str(elem_type)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
