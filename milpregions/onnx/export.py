"""Export a :class:`~milpregions.ir.network.Network` to a real ONNX model (opset 17, float32).

The graph looks like what an exporter writes: per layer a ``Gemm`` (transB=1) reading the
previous layer, or, for a layer reading several sources (residual / dense connections), one
``Gemm`` for the first source plus ``MatMul`` + ``Add`` for each further source; then ``Relu``
(all negative slopes 0), ``LeakyRelu`` (one common nonzero slope) or ``PRelu`` (per-unit
slopes); a max layer is its pieces (``Gather``ed into group order if needed), ``Reshape``d to
(batch, groups, k) and ``ReduceMax``ed over the pieces. The output map is built the same way
without an activation. The batch axis is the
symbolic dimension ``"batch"``.

Weights are stored as float32, so the exported function equals ``net.forward`` up to float32
rounding (exactly, for the networks of :mod:`milpregions.testing.constructions`, whose parameters are
float32-representable). String-valued or numeric ``net.info`` entries are kept as
``metadata_props``.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..ir.network import Affine, MaxLayer, Network

OPSET = 17
IR_VERSION = 8


def _affine_nodes(aff: Affine, names: list[str], prefix: str, out: str, n_in: list[int],
                  nodes: list, inits: list) -> None:
    """Append nodes computing ``out = sum_s names[s] @ W[s].T + b``."""
    sources = sorted(aff.W)
    if not sources:  # constant map: read the input with zero weights to keep the batch axis
        sources = [0]
        W_of = {0: np.zeros((aff.size, n_in[0]))}
    else:
        W_of = aff.W
    first = sources[0]
    w_name, b_name = f"{prefix}.weight", f"{prefix}.bias"
    inits.append(numpy_helper.from_array(np.asarray(W_of[first], dtype=np.float32), w_name))
    inits.append(numpy_helper.from_array(np.asarray(aff.b, dtype=np.float32), b_name))
    acc = out if len(sources) == 1 else f"{prefix}.gemm{first}"
    nodes.append(helper.make_node("Gemm", [names[first], w_name, b_name], [acc],
                                  name=f"{prefix}/Gemm", transB=1))
    for i, s in enumerate(sources[1:], start=1):
        wt_name = f"{prefix}.weight_from{s}"
        inits.append(numpy_helper.from_array(np.ascontiguousarray(W_of[s].T, dtype=np.float32),
                                             wt_name))
        mm = f"{prefix}.matmul{s}"
        nodes.append(helper.make_node("MatMul", [names[s], wt_name], [mm],
                                      name=f"{prefix}/MatMul{s}"))
        nxt = out if i == len(sources) - 1 else f"{prefix}.sum{s}"
        nodes.append(helper.make_node("Add", [acc, mm], [nxt], name=f"{prefix}/Add{s}"))
        acc = nxt


def _max_nodes(layer: MaxLayer, z: str, h: str, prefix: str, opset: int, nodes: list,
               inits: list) -> None:
    """Append nodes computing ``h`` = the max of each group of ``z``: the pieces gathered in
    group order (skipped when they are in order already), reshaped to (batch, groups, k),
    ReduceMax over the last axis (which keeps the first largest piece's value: ties agree)."""
    G = np.asarray(layer.groups)
    if (G < 0).any():
        raise ValueError("to_onnx: max groups with padding (-1) are not exported")
    g, k = G.shape
    src = z
    if not np.array_equal(G.ravel(), np.arange(G.size)):
        inits.append(numpy_helper.from_array(G.ravel().astype(np.int64), f"{prefix}.pieces"))
        src = f"{prefix}.gathered"
        nodes.append(helper.make_node("Gather", [z, f"{prefix}.pieces"], [src],
                                      name=f"{prefix}/Gather", axis=1))
    inits.append(numpy_helper.from_array(np.array([-1, g, k], dtype=np.int64),
                                         f"{prefix}.groups"))
    nodes.append(helper.make_node("Reshape", [src, f"{prefix}.groups"], [f"{prefix}.r"],
                                  name=f"{prefix}/Reshape"))
    if opset >= 18:
        inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), f"{prefix}.axes"))
        nodes.append(helper.make_node("ReduceMax", [f"{prefix}.r", f"{prefix}.axes"], [h],
                                      name=f"{prefix}/ReduceMax", keepdims=0))
    else:
        nodes.append(helper.make_node("ReduceMax", [f"{prefix}.r"], [h],
                                      name=f"{prefix}/ReduceMax", axes=[-1], keepdims=0))


def _metadata(info: dict) -> dict[str, str]:
    meta = {}
    for key, value in info.items():
        if isinstance(value, str):
            meta[str(key)] = value
        else:
            try:
                meta[str(key)] = json.dumps(value)
            except TypeError:
                continue
    return meta


def to_onnx(net: Network, path=None, opset: int = OPSET, input_name: str = "input",
            output_name: str = "output", graph_name: str = "milpregions") -> onnx.ModelProto:
    """Build an ONNX model computing ``net`` (float32, symbolic batch axis); write it to
    ``path`` if given. The model passes ``onnx.checker.check_model``."""
    nodes: list = []
    inits: list = []
    names = [input_name]
    sizes = [net.input_dim]
    for k, layer in enumerate(net.layers, start=1):
        prefix = f"layer{k}"
        z = f"{prefix}.z"
        _affine_nodes(layer.affine, names, prefix, z, sizes, nodes, inits)
        h = f"{prefix}.h"
        if isinstance(layer, MaxLayer):
            _max_nodes(layer, z, h, prefix, opset, nodes, inits)
            names.append(h)
            sizes.append(layer.size)
            continue
        slopes = np.asarray(layer.neg_slope, dtype=np.float64)
        if np.all(slopes == 0):
            nodes.append(helper.make_node("Relu", [z], [h], name=f"{prefix}/Relu"))
        elif np.all(slopes == slopes[0]):
            nodes.append(helper.make_node("LeakyRelu", [z], [h], name=f"{prefix}/LeakyRelu",
                                          alpha=float(slopes[0])))
        else:
            s_name = f"{prefix}.slope"
            inits.append(numpy_helper.from_array(slopes.astype(np.float32), s_name))
            nodes.append(helper.make_node("PRelu", [z, s_name], [h], name=f"{prefix}/PRelu"))
        names.append(h)
        sizes.append(layer.size)
    _affine_nodes(net.output, names, "output_layer", output_name, sizes, nodes, inits)

    graph = helper.make_graph(
        nodes, graph_name,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", net.input_dim])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", net.output_dim])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="milpregions", ir_version=IR_VERSION)
    if net.info:
        helper.set_model_props(model, _metadata(net.info))
    onnx.checker.check_model(model)
    if path is not None:
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
    return model
