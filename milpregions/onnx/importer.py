"""Import an ONNX model as a piecewise-linear :class:`~milpregions.ir.network.Network`: reading the
file, the graph walk, constant folding and the creation of layers.

The nodes that some graph output depends on are walked in topological order (the tensor
representation is described in :mod:`milpregions.onnx`). A ``Constant`` node, or a node whose
inputs are all constant, is folded with the ONNX reference evaluator. Any other node goes to
its handler in :data:`HANDLERS` (the modules of :mod:`milpregions.onnx.ops`, all registered by
importing that package); activation handlers call :meth:`_Importer.activate` or
:meth:`_Importer.max_layer`, which append a layer and return its output as an affine tensor.
An op with no handler is an :class:`~milpregions.errors.InputError` naming the file, node, op
and opset; so is a tensor with non-finite values.

:data:`HANDLERS`, :data:`Handler` and :func:`register` are re-exported from
:mod:`milpregions.onnx.ops.registry`.
"""

from __future__ import annotations

import logging
import os
from math import prod
from typing import NoReturn

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import InputError
from ..ir.network import Affine, Layer, MaxLayer, Network
from . import validate
from .affine_tensor import AffineTensor, Value, _identity, _stack, _weights
from .algebra import _f64
from .batch import reduce_batch
from .context import FLOAT_TYPES, _one_line, _type_name
from .heads import check_output_name, cut_notice, find_cut, op_key, outer_names
from .ops import HANDLERS, Handler, register  # noqa: F401  (importing ops registers every handler)

log = logging.getLogger("milpregions")

# Ops that are not piecewise-linear in an input-dependent argument (the error says so).
NOT_PIECEWISE_LINEAR = frozenset({
    "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Hardmax", "Exp", "Log", "Sqrt", "Pow",
    "Reciprocal", "Erf", "Gelu", "Softplus", "Softsign", "Elu", "Selu", "Celu", "Mish",
    "HardSwish", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh",
    "Atanh", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
    "LpNormalization", "MeanVarianceNormalization", "LRN", "ReduceL2", "ReduceLogSumExp",
    "ReduceSumSquare", "ReduceProd", "Round", "Floor", "Ceil", "Sign",
})


# ----------------------------------------------------------------------------------------------
# Public entry points


def load_onnx(path: str | os.PathLike, output: str | None = None) -> Network:
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
        # every tensor (initializers, Constant nodes' attributes, subgraphs), from files in the
        # model's folder; onnx refuses locations that leave it
        from onnx.external_data_helper import load_external_data_for_model
        load_external_data_for_model(model, os.path.dirname(os.path.abspath(src)))
    except Exception as e:
        raise InputError(f"{src}: cannot load external weight data ({_one_line(e)})") from None
    return import_model(model, source=src, output=output)


def import_model(model: onnx.ModelProto, source: str = "<model>",
                 output: str | None = None) -> Network:
    """Convert a parsed ONNX model into a :class:`Network`; errors name ``source``.

    ``output``: the name of the tensor whose regions are counted (any tensor of the graph; the
    graph is cut there). None: the graph outputs, less the classifier post-processing that
    ``heads.find_cut`` finds (dropped with a notice)."""
    return _Importer(model, source, output).run()


# ----------------------------------------------------------------------------------------------
# The graph walk


class _Importer:
    def __init__(self, model: onnx.ModelProto, source: str, output: str | None = None) -> None:
        self.model = model
        self.requested_output = output
        self.refused: dict[str, str] = {}   # head node name -> why it was not dropped
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

    def fail(self, node: onnx.NodeProto, what: str, detail: str = "") -> NoReturn:
        msg = f"{self.source}: {self.label(node)} {what}"
        raise InputError(msg + (f": {detail}" if detail else ""))

    def error(self, what: str) -> InputError:
        return InputError(f"{self.source}: {what}")

    def notice(self, msg: str) -> None:
        log.info("%s", msg, extra={"model_notice": True})    # the CLI shows it once
        self.notices.append(msg)

    # -- main

    def run(self) -> Network:
        if not self.model.HasField("graph") or not self.graph.output:
            raise self.error("not an ONNX model (no graph outputs)")
        validate.check_versions(self.model, self.source)
        input_name, input_shape, full_shape = self._input()
        n0 = prod(full_shape)
        try:
            self._choose_outputs(input_name)
            self.values[input_name] = _identity(0, full_shape)
            for node in self._schedule():
                self._evaluate(node)
            output = self._output(n0)
        except InputError:
            raise                       # what the walk names is more precise than the checker
        except Exception as e:
            validate.check_model(self.model, self.source)      # an invalid model, said so
            raise self.error(f"cannot be imported ({type(e).__name__}: {_one_line(e)})") \
                from None
        # a model the walk read may still be one onnxruntime refuses (a MatMul with a third
        # input, int8 weights): it is not counted
        validate.check_model(self.model, self.source)
        ops: dict[str, int] = {}
        for node in self.graph.node:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
        info = {
            "source": self.source,
            "input_name": input_name,
            "input_shape": input_shape,
            "output_names": list(self.output_names),
            "graph_outputs": [o.name for o in self.graph.output],
            "opset": self.opset,
            "ops": ops,
            "producer": f"{self.model.producer_name} {self.model.producer_version}".strip(),
            "notices": list(self.notices),
        }
        net = Network(n0, tuple(self.layers), output, info)
        return self._one_sample(net, input_name, input_shape)

    def _one_sample(self, net: Network, input_name: str, dims: list) -> Network:
        """A fixed batch of N > 1 whose samples are independent copies of one network: that
        network (with a notice); anything else as it is (axis 0 is a feature axis)."""
        batch = dims[0] if len(dims) >= 2 and dims[0] is not None else 1
        if batch < 2:
            return net
        one = reduce_batch(net, batch)
        if one is None:
            return net
        msg = (f"{self.source}: input '{input_name}' has a fixed batch of {batch}; its {batch} "
               f"samples are independent copies of one network, counted once (the regions of "
               f"one sample)")
        self.notice(msg)
        one.info["notices"].append(msg)
        one.info["batch"] = batch
        return one

    def _choose_outputs(self, input_name: str) -> None:
        """The tensors counted on: the one asked for, or the graph outputs less their
        post-processing (with a notice)."""
        name = self.requested_output
        if name is not None:
            why = check_output_name(self.graph, name, input_name)
            if why is not None:
                raise self.error(f"cannot count on '{name}': {why}")
            self.output_names = [name]
            return
        cut = find_cut(self.graph, input_name, self.label)
        self.refused = cut.refused
        if cut.heads:
            self.output_names = cut.outputs
            self.notice(cut_notice(self.source, cut, self.label))

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
        full = tuple(1 if v is None else v for v in dims)
        validate.check_input_size(inp.name, text, prod(full), self.source)
        return inp.name, dims, full

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
                for name in reversed(list(node.input) + outer_names(node)):
                    if name and name not in self.values:
                        dep = self.producer.get(name)
                        if dep is not None and state.get(id(dep)) != 2:
                            if state.get(id(dep)) == 1:
                                raise self.error(f"the graph has a cycle through {self.label(dep)}")
                            stack.append((dep, False))
        for node in order:
            for name in list(node.input) + outer_names(node):
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
        elif node.op_type == "If" and default_domain:
            outs = self._inline_if(node, args[0])
        elif not any(isinstance(a, AffineTensor) for a in args):
            outs = _fold(self, node, args)
        else:
            handler = HANDLERS.get(op_key(node))
            if handler is None:
                why = self.refused.get(node.name or (node.output[0] if node.output else "?"), "")
                if default_domain and node.op_type in NOT_PIECEWISE_LINEAR:
                    self.fail(node, "is not piecewise-linear", why)
                self.fail(node, "is not supported", why)
            try:
                outs = handler(self, node, args)
            except InputError:
                raise
            except (ValueError, IndexError, TypeError, KeyError) as e:
                # shapes or attributes that do not fit together (e.g. a declared input shape
                # the weights do not match): what onnxruntime would refuse at load time
                self.fail(node, "cannot be imported", f"{type(e).__name__}: {_one_line(e)}")
        for name, value in zip(node.output, outs):
            if not name:
                continue
            if isinstance(value, AffineTensor) and not value.is_finite():
                raise self.error(self._blame(node))
            self.values[name] = value

    def _inline_if(self, node: onnx.NodeProto, cond) -> list:
        """An ``If`` on a constant condition (torch writes ``squeeze(dim)`` so): the branch it
        takes, walked like the graph; its nodes read the enclosing tensors by name."""
        if isinstance(cond, AffineTensor):
            self.fail(node, "is not piecewise-linear", "its condition depends on the input")
        attrs = {a.name: a for a in node.attribute}
        branch = attrs["then_branch" if bool(np.asarray(cond).reshape(-1)[0]) else "else_branch"].g
        for t in branch.initializer:
            self.initializers.setdefault(t.name, t)
        for inner in branch.node:
            for o in inner.output:
                if o:
                    self.producer.setdefault(o, inner)
            self._evaluate(inner)
        return [self._get(o.name, node) for o in branch.output]

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

    if node.op_type == "Loop" and node.domain in ("", "ai.onnx"):
        trip = args[0] if args and args[0] is not None else None
        validate.check_loop(None if trip is None else int(np.asarray(trip).reshape(-1)[0]),
                            imp.label(node), imp.source)
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
