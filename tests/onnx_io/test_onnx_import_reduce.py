"""ReduceMax / ReduceMin over constant axes and TopK with k = 1 become max groups: checked
against onnxruntime, and counted like the same maxout written as a MaxLayer by hand."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from milpregions.api import count_regions
from milpregions.errors import InputError
from milpregions.ir.network import Affine, MaxLayer, Network
from milpregions.onnx import import_model

from onnx_builders import assert_matches_ort, const, make_model, weights

node = helper.make_node
W = weights(np.random.default_rng(3), 8, 2)
B = weights(np.random.default_rng(4), 8)


def maxout_by_hand(sign: float = 1.0) -> Network:
    """4 maxout units of 2 pieces on 2 inputs, output their sum (pieces 2g, 2g+1)."""
    L = MaxLayer(Affine({0: sign * W.astype(np.float64)}, sign * B.astype(np.float64)),
                 np.arange(8).reshape(4, 2))
    return Network(2, (L,), Affine({1: np.full((1, 4), sign)}, np.zeros(1)))


def reduce_model(op: str, opset: int, keepdims: int | None, axes_as_input: bool, axes=(-1,)):
    inits = [const("W", W), const("b", B), const("shp", np.array([-1, 4, 2]), np.int64),
             const("one", np.ones((4, 1)))]
    attrs = {} if keepdims is None else {"keepdims": keepdims}
    ins = ["r"]
    if axes_as_input:
        inits.append(const("ax", np.array(axes), np.int64))
        ins.append("ax")
    else:
        attrs["axes"] = list(axes)
    nodes = [node("Gemm", ["x", "W", "b"], ["z"], transB=1),
             node("Reshape", ["z", "shp"], ["r"]),
             node(op, ins, ["m"], name="red", **attrs),
             node("Reshape", ["m", "shp4"], ["f"]),
             node("MatMul", ["f", "one"], ["y"])]
    inits.append(const("shp4", np.array([-1, 4]), np.int64))
    return make_model(nodes, inits, opset=opset, input_shape=("N", 2))


@pytest.mark.parametrize("opset,axes_as_input", [(13, False), (17, False), (18, True)])
@pytest.mark.parametrize("keepdims", [None, 1, 0])
@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_reduce_is_a_max_layer(op, opset, axes_as_input, keepdims):
    model = reduce_model(op, opset, keepdims, axes_as_input)
    net = import_model(model, source="m.onnx")
    assert [type(layer) for layer in net.layers] == [MaxLayer]
    assert_matches_ort(net, model, ("N", 2), n=64)
    want = count_regions(maxout_by_hand(1.0 if op == "ReduceMax" else -1.0), (-1, 1)).regions
    assert count_regions(net, (-1, 1)).regions == want


def test_reduce_over_two_axes_and_noop():
    # (N, 2, 2, 2): the max over axes 1 and 2 leaves 2 groups of 4 pieces
    inits = [const("W", W), const("b", B), const("shp", np.array([-1, 2, 2, 2]), np.int64),
             const("ax", np.array([1, 2]), np.int64), const("none", np.zeros(0), np.int64)]
    nodes = [node("Gemm", ["x", "W", "b"], ["z"], transB=1),
             node("Reshape", ["z", "shp"], ["r"]),
             node("ReduceMax", ["r", "ax"], ["m"], keepdims=0),
             node("ReduceMax", ["m", "none"], ["y"], noop_with_empty_axes=1)]
    model = make_model(nodes, inits, opset=18, input_shape=("N", 2))
    net = import_model(model, source="m.onnx")
    assert net.layers[0].groups.shape == (2, 4)
    assert_matches_ort(net, model, ("N", 2), n=64)


@pytest.mark.parametrize("opset,largest", [(11, 1), (11, 0), (17, 1)])
def test_top_k_one_is_a_max_layer(opset, largest):
    inits = [const("W", W), const("b", B), const("shp", np.array([-1, 4, 2]), np.int64),
             const("k", np.array([1]), np.int64), const("shp4", np.array([-1, 4]), np.int64)]
    nodes = [node("Gemm", ["x", "W", "b"], ["z"], transB=1),
             node("Reshape", ["z", "shp"], ["r"]),
             node("TopK", ["r", "k"], ["v", "i"], axis=-1, largest=largest),
             node("Reshape", ["v", "shp4"], ["y"])]
    model = make_model(nodes, inits, opset=opset, input_shape=("N", 2))
    net = import_model(model, source="m.onnx")
    assert [type(layer) for layer in net.layers] == [MaxLayer]
    assert_matches_ort(net, model, ("N", 2), n=64)


def _error(model) -> str:
    with pytest.raises(InputError) as e:
        import_model(model, source="m.onnx")
    return str(e.value)


def test_top_k_errors():
    inits = [const("W", W), const("b", B), const("k", np.array([2]), np.int64)]
    nodes = [node("Gemm", ["x", "W", "b"], ["z"], transB=1),
             node("TopK", ["z", "k"], ["y", "i"], name="tk")]
    model = make_model(nodes, inits, opset=11, input_shape=("N", 2))
    assert _error(model) == ("m.onnx: node 'tk' (TopK, opset 11) is not supported: k = 2 "
                             "(only k = 1, a maximum, is piecewise-linear as one value)")
    inits[2] = const("k", np.array([1]), np.int64)
    nodes.append(node("Cast", ["i"], ["f"], to=1))
    model = make_model(nodes, inits, opset=11, input_shape=("N", 2), outputs=("y", "f"))
    assert _error(model) == ("m.onnx: node 'tk' (TopK, opset 11) is not supported: its Indices "
                             "output is used")
