"""onnx_import: every supported spelling against onnxruntime; exact error messages."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from onnx import TensorProto, helper

from milpregions.errors import InputError
from milpregions.onnx import import_model, load_onnx

from onnx_builders import assert_matches_ort, const, make_model, weights

OPSETS = [9, 11, 13, 17, 21]
node = helper.make_node


def rng(seed=0):
    return np.random.default_rng(seed)


def check(model, input_shape=("N", 4), layers=None, **kw):
    net = import_model(model, source="m.onnx")
    if layers is not None:
        assert len(net.layers) == layers
    assert_matches_ort(net, model, input_shape, **kw)
    return net


def mlp_nodes(r, n_in=4, hidden=5, n_out=3, act=("Relu", {})):
    """Gemm -> act -> Gemm with initializers W1, b1, W2, b2 (transB=1, as torch exports)."""
    inits = [const("W1", weights(r, hidden, n_in)), const("b1", weights(r, hidden)),
             const("W2", weights(r, n_out, hidden)), const("b2", weights(r, n_out))]
    nodes = [node("Gemm", ["x", "W1", "b1"], ["z1"], name="fc1", transB=1),
             node(act[0], ["z1"], ["h1"], name="act1", **act[1]),
             node("Gemm", ["h1", "W2", "b2"], ["y"], name="fc2", transB=1)]
    return nodes, inits


# ---------------------------------------------------------------------------------------------
# Gemm, MatMul


@pytest.mark.parametrize("opset", OPSETS)
def test_gemm_relu_gemm(opset):
    nodes, inits = mlp_nodes(rng())
    net = check(make_model(nodes, inits, opset=opset), layers=1)
    assert net.widths == [5] and net.output_dim == 3 and net.input_dim == 4


@pytest.mark.parametrize("transB", [0, 1])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 2.0), (-1.5, 0.0)])
@pytest.mark.parametrize("with_c", [True, False])
def test_gemm_attributes(transB, alpha, beta, with_c):
    r = rng(1)
    W = weights(r, 3, 4)
    inits = [const("W", W if transB else W.T), const("c", weights(r, 3))]
    ins = ["x", "W", "c"] if with_c else ["x", "W"]
    model = make_model([node("Gemm", ins, ["y"], transB=transB, alpha=alpha, beta=beta)], inits,
                       opset=13)
    check(model, layers=0)


def test_gemm_constant_a_transposed_with_input_as_b():
    # input (4, 3) with no batch axis; A' = A.T is (5, 4); C broadcasts over the columns.
    r = rng(2)
    inits = [const("A", weights(r, 4, 5)), const("C", weights(r, 5, 1))]
    model = make_model([node("Gemm", ["A", "x", "C"], ["y"], transA=1, alpha=0.7)], inits,
                       input_shape=(4, 3), opset=11)
    net = check(model, input_shape=(4, 3), layers=0)
    assert net.input_dim == 12 and net.output_dim == 15


@pytest.mark.parametrize("form", ["x@W+b", "b+x@W", "x@W-b", "b-x@W"])
def test_matmul_add_sub_operand_orders(form):
    r = rng(3)
    inits = [const("W", weights(r, 4, 6)), const("b", weights(r, 6))]
    mm = node("MatMul", ["x", "W"], ["t"])
    op = "Add" if "+" in form else "Sub"
    ins = ["t", "b"] if form.startswith("x") else ["b", "t"]
    model = make_model([mm, node(op, ins, ["y"])], inits, opset=17)
    check(model, layers=0)


def test_matmul_constant_times_input():
    r = rng(4)
    model = make_model([node("MatMul", ["W", "x"], ["y"])], [const("W", weights(r, 5, 3))],
                       input_shape=(3, 4), opset=13)
    check(model, input_shape=(3, 4), layers=0)


@pytest.mark.parametrize("order", ["xW", "Wx"])
@pytest.mark.parametrize("opset", [9, 17, 21])
def test_matmul_feature_vector_input(order, opset):
    r = rng(5)
    W = weights(r, 4, 6) if order == "xW" else weights(r, 6, 4)
    ins = ["x", "W"] if order == "xW" else ["W", "x"]
    nodes = [node("MatMul", ins, ["t"]), node("Add", ["t", "b"], ["z"]),
             node("Relu", ["z"], ["h"]), node("MatMul", ["h", "W2"], ["y"])]
    inits = [const("W", W), const("b", weights(r, 6)), const("W2", weights(r, 6, 2))]
    model = make_model(nodes, inits, input_shape=(4,), opset=opset)
    net = check(model, input_shape=(4,), layers=1)
    assert net.info["input_shape"] == [4]


def test_matmul_3d_input_like_torch_linear():
    r = rng(6)
    nodes = [node("MatMul", ["x", "W"], ["t"]), node("Add", ["b", "t"], ["z"]),
             node("Relu", ["z"], ["y"])]
    inits = [const("W", weights(r, 4, 5)), const("b", weights(r, 5))]
    model = make_model(nodes, inits, input_shape=("N", 3, 4), opset=17)
    net = check(model, input_shape=("N", 3, 4), layers=1)
    assert net.widths == [15] and net.info["input_shape"] == [None, 3, 4]


def test_matmul_constant_stack_broadcast():
    # (N, 4) @ (2, 4, 3) -> (2, 3) per sample when the batch is 1: a fixed-shape input.
    r = rng(7)
    model = make_model([node("MatMul", ["x", "W"], ["y"])], [const("W", weights(r, 2, 4, 3))],
                       input_shape=(1, 4), opset=13)
    check(model, input_shape=(1, 4), layers=0)


# ---------------------------------------------------------------------------------------------
# Normalisation, activations


@pytest.mark.parametrize("opset", OPSETS)
def test_gemm_batchnorm_relu_gemm_fuses_to_one_layer(opset):
    r = rng(8)
    nodes, inits = mlp_nodes(r)
    bn = node("BatchNormalization", ["z1", "s", "B", "m", "v"], ["zb"], epsilon=1e-3)
    nodes = [nodes[0], bn, node("Relu", ["zb"], ["h1"]), nodes[2]]
    inits += [const("s", r.uniform(0.5, 2, 5)), const("B", r.normal(size=5)),
              const("m", r.normal(size=5)), const("v", r.uniform(0.1, 2, 5))]
    check(make_model(nodes, inits, opset=opset), layers=1)


@pytest.mark.parametrize("opset", [9, 15, 21])
def test_batchnorm_nchw_then_flatten(opset):
    r = rng(9)
    nodes = [node("BatchNormalization", ["x", "s", "B", "m", "v"], ["zb"]),
             node("Relu", ["zb"], ["h"]), node("Flatten", ["h"], ["f"]),
             node("Gemm", ["f", "W", "c"], ["y"], transB=1)]
    inits = [const("s", r.uniform(0.5, 2, 2)), const("B", r.normal(size=2)),
             const("m", r.normal(size=2)), const("v", r.uniform(0.1, 2, 2)),
             const("W", weights(r, 3, 18)), const("c", weights(r, 3))]
    shape = ("N", 2, 3, 3)
    net = check(make_model(nodes, inits, opset=opset, input_shape=shape), shape, layers=1)
    assert net.widths == [18]


@pytest.mark.parametrize("opset", [9, 16, 21])
@pytest.mark.parametrize("alpha,layers", [(None, 1), (0.2, 1), (1.0, 0)])
def test_leaky_relu(opset, alpha, layers):
    attrs = {} if alpha is None else {"alpha": alpha}
    nodes, inits = mlp_nodes(rng(10), act=("LeakyRelu", attrs))
    net = check(make_model(nodes, inits, opset=opset), layers=layers)
    if layers:
        expected = 0.01 if alpha is None else alpha
        np.testing.assert_allclose(net.layers[0].neg_slope, expected, rtol=1e-6)


@pytest.mark.parametrize("opset", [9, 16, 21])
def test_prelu_per_unit(opset):
    r = rng(11)
    nodes, inits = mlp_nodes(r, act=("PRelu", {}))
    nodes[1] = node("PRelu", ["z1", "slope"], ["h1"])
    inits.append(const("slope", r.uniform(-0.5, 0.5, 5)))
    net = check(make_model(nodes, inits, opset=opset), layers=1)
    assert len(set(net.layers[0].neg_slope)) == 5


def test_prelu_per_channel():
    r = rng(12)
    nodes = [node("PRelu", ["x", "slope"], ["h"]), node("Flatten", ["h"], ["f"]),
             node("Gemm", ["f", "W"], ["y"], transB=1)]
    inits = [const("slope", r.uniform(-0.5, 0.5, (2, 1, 1))), const("W", weights(r, 3, 8))]
    shape = ("N", 2, 2, 2)
    net = check(make_model(nodes, inits, opset=17, input_shape=shape), shape, layers=1)
    assert net.layers[0].neg_slope[0] == net.layers[0].neg_slope[3]


# ---------------------------------------------------------------------------------------------
# Shape ops


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_flatten_axis(axis):
    shape = (2, 3, 2)  # fixed, no batch axis: an offset per element makes the rows differ (two
    # equal rows would be a batch of 2 identical samples, counted as one: onnx/batch.py)
    offset = rng(12).uniform(-1, 1, shape)
    model = make_model([node("Add", ["x", "c"], ["a"]), node("Flatten", ["a"], ["t"], axis=axis),
                        node("Relu", ["t"], ["y"])], [const("c", offset)], opset=13,
                       input_shape=shape)
    net = check(model, shape, layers=1)
    assert net.input_dim == 12


@pytest.mark.parametrize("target", [[0, -1], [-1, 6], [0, 3, 2], [1, -1]])
def test_reshape_constant_shape(target):
    r = rng(13)
    nodes = [node("Reshape", ["x", "shape"], ["t"]), node("Relu", ["t"], ["h"]),
             node("Flatten", ["h"], ["f"]), node("MatMul", ["f", "W"], ["y"])]
    inits = [const("shape", target, np.int64), const("W", weights(r, 6, 2))]
    shape = ("N", 2, 3) if target[0] != 1 else (1, 2, 3)
    check(make_model(nodes, inits, opset=13, input_shape=shape), shape, layers=1)


@pytest.mark.parametrize("opset", [9, 11, 13, 17, 21])
def test_reshape_dynamic_batch_pattern(opset):
    r = rng(14)
    if opset < 13:
        unsq = node("Unsqueeze", ["n"], ["n1"], axes=[0])
        extra = []
    else:
        unsq = node("Unsqueeze", ["n", "ax0"], ["n1"])
        extra = [const("ax0", [0], np.int64)]
    zero = helper.make_tensor("z", TensorProto.INT64, [], [0])
    minus1 = helper.make_tensor("m", TensorProto.INT64, [1], [-1])
    nodes = [node("Relu", ["x"], ["h"]),
             node("Shape", ["h"], ["s"]),
             node("Constant", [], ["zero"], value=zero),
             node("Gather", ["s", "zero"], ["n"], axis=0), unsq,
             node("Constant", [], ["minus1"], value_ints=[-1]) if opset >= 12 else
             node("Constant", [], ["minus1"], value=minus1),
             node("Concat", ["n1", "minus1"], ["target"], axis=0),
             node("Reshape", ["h", "target"], ["f"]),
             node("Gemm", ["f", "W", "c"], ["y"], transB=1)]
    inits = [const("W", weights(r, 3, 12)), const("c", weights(r, 3))] + extra
    shape = ("batch", 3, 2, 2)
    check(make_model(nodes, inits, opset=opset, input_shape=shape), shape, layers=1)


@pytest.mark.parametrize("opset", [9, 11, 13, 21])
def test_squeeze_unsqueeze_attribute_or_input(opset):
    r = rng(15)
    up, last = ([1, 3], 3) if opset < 11 else ([1, -1], -1)  # negative axes from opset 11
    if opset < 13:
        uns = node("Unsqueeze", ["x"], ["u"], axes=up)
        sq_last = node("Squeeze", ["r"], ["t"], axes=[last])
        sq = node("Squeeze", ["t"], ["s"], axes=[1])
        extra = []
    else:
        uns = node("Unsqueeze", ["x", "ax"], ["u"])
        sq_last = node("Squeeze", ["r", "axl"], ["t"])
        sq = node("Squeeze", ["t", "ax1"], ["s"])
        extra = [const("ax", up, np.int64), const("axl", [last], np.int64),
                 const("ax1", [1], np.int64)]
    nodes = [uns, node("Relu", ["u"], ["r"]),  # (N, 1, 4, 1)
             sq_last, sq, node("MatMul", ["s", "W"], ["y"])]
    check(make_model(nodes, [const("W", weights(r, 4, 2))] + extra, opset=opset), layers=1)


def test_squeeze_without_axes():
    model = make_model([node("Squeeze", ["x"], ["s"]), node("Relu", ["s"], ["y"])],
                       opset=13, input_shape=(1, 3, 1))
    net = check(model, (1, 3, 1), layers=1)
    assert net.widths == [3]


def test_transpose_concat_gather_slice():
    r = rng(16)
    nodes = [node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),          # (N, 3, 2)
             node("Concat", ["t", "k"], ["c"], axis=-1),             # (N, 3, 3)
             node("Relu", ["c"], ["h"]),
             node("Gather", ["h", "idx"], ["g"], axis=1),            # (N, 2, 3)
             node("Slice", ["g", "st", "en", "axs", "stp"], ["sl"]),  # (N, 2, 2)
             node("Concat", ["sl", "sl"], ["cc"], axis=1),            # (N, 4, 2)
             node("Flatten", ["cc"], ["y"])]
    inits = [const("k", weights(r, 1, 3, 1)), const("idx", [2, 0], np.int64),
             const("st", [-1], np.int64), const("en", [-10], np.int64),
             const("axs", [2], np.int64), const("stp", [-2], np.int64)]
    shape = (1, 2, 3)
    check(make_model(nodes, inits, opset=13, input_shape=shape), shape, layers=1)


# ---------------------------------------------------------------------------------------------
# Pass-through ops, constants, elementwise arithmetic


@pytest.mark.parametrize("opset", [9, 11, 13, 21])
def test_identity_dropout_cast(opset):
    r = rng(17)
    nodes, inits = mlp_nodes(r)
    outs = ["d", "mask"] if opset >= 11 else ["d"]
    nodes = [node("Identity", ["x"], ["i"]), node("Cast", ["i"], ["c"], to=TensorProto.FLOAT),
             node("Gemm", ["c", "W1", "b1"], ["z1"], transB=1),
             node("Dropout", ["z1"], outs), node("Relu", ["d"], ["h1"]),
             node("Cast", ["h1"], ["h2"], to=TensorProto.DOUBLE),
             node("Cast", ["h2"], ["h3"], to=TensorProto.FLOAT), nodes[2]]
    nodes[-1].input[0] = "h3"
    check(make_model(nodes, inits, opset=opset), layers=1)


def test_cast_of_constants_is_folded():
    r = rng(18)
    nodes = [node("Cast", ["Wd"], ["W"], to=TensorProto.FLOAT),
             node("Cast", ["k"], ["kf"], to=TensorProto.FLOAT),
             node("MatMul", ["x", "W"], ["t"]), node("Mul", ["t", "kf"], ["y"])]
    inits = [const("Wd", weights(r, 4, 3), np.float64), const("k", [2, -3, 4], np.int64)]
    check(make_model(nodes, inits, opset=17), layers=0)


def test_constant_nodes_of_every_kind():
    r = rng(19)
    W = weights(r, 4, 3)
    nodes = [node("Constant", [], ["W"], value=helper.make_tensor("W", TensorProto.FLOAT, [4, 3],
                                                                  W.reshape(-1).tolist())),
             node("Constant", [], ["s"], value_float=0.5),
             node("Constant", [], ["b"], value_floats=[0.1, -0.2, 0.3]),
             node("Constant", [], ["shape"], value_ints=[0, 3, 1]),
             node("Constant", [], ["two"], value_int=2),
             node("MatMul", ["x", "W"], ["t"]), node("Mul", ["t", "s"], ["u"]),
             node("Add", ["u", "b"], ["v"]), node("Reshape", ["v", "shape"], ["w"]),
             node("Squeeze", ["w", "axes"], ["y"])]
    nodes.insert(5, node("Unsqueeze", ["two", "zero"], ["axes"]))
    nodes.insert(5, node("Constant", [], ["zero"], value_ints=[0]))
    check(make_model(nodes, opset=13), layers=0)


def test_initializers_listed_among_graph_inputs():
    nodes, inits = mlp_nodes(rng(20))
    model = make_model(nodes, inits, opset=9, inits_as_inputs=True)
    model.ir_version = 3
    net = check(model, layers=1)
    assert net.info["input_name"] == "x"


@pytest.mark.parametrize("opset", [9, 13, 21])
def test_elementwise_with_constants(opset):
    r = rng(21)
    nodes = [node("Mul", ["x", "scale"], ["a"]), node("Div", ["a", "two"], ["b"]),
             node("Sub", ["shift", "b"], ["c"]), node("Neg", ["c"], ["d"]),
             node("Add", ["d", "grid"], ["e"]),           # broadcasts (N,4) + (3,1) -> (3,4)
             node("Relu", ["e"], ["f"]), node("Mul", ["two", "f"], ["y"])]
    inits = [const("scale", r.normal(size=4)), const("two", 2.0), const("shift", r.normal(size=4)),
             const("grid", r.normal(size=(3, 1)))]
    shape = (1, 4)
    net = check(make_model(nodes, inits, opset=opset, input_shape=shape), shape, layers=1)
    assert net.widths == [12]


def test_residual_add_of_two_affine_tensors():
    r = rng(22)
    nodes = [node("Gemm", ["x", "W1", "b1"], ["z1"], transB=1), node("Relu", ["z1"], ["h1"]),
             node("Gemm", ["h1", "W2", "b2"], ["z2"], transB=1),
             node("Add", ["z2", "h1"], ["s"]), node("Sub", ["s", "x"], ["s2"]),
             node("Relu", ["s2"], ["h2"]),
             node("Add", ["h2", "h1"], ["o"]), node("Gemm", ["o", "W3"], ["y"], transB=1)]
    inits = [const("W1", weights(r, 4, 4)), const("b1", weights(r, 4)),
             const("W2", weights(r, 4, 4)), const("b2", weights(r, 4)),
             const("W3", weights(r, 2, 4))]
    net = check(make_model(nodes, inits, opset=17), layers=2)
    assert sorted(net.layers[1].affine.W) == [0, 1]
    assert sorted(net.output.W) == [1, 2]


def test_several_outputs_concatenated_and_unused_nodes_ignored():
    r = rng(23)
    nodes, inits = mlp_nodes(r)
    nodes += [node("Tanh", ["x"], ["unused"], name="dead"),
              node("Relu", ["x"], ["y0"]), node("Identity", ["z1"], ["y1"])]
    model = make_model(nodes, inits, opset=17, outputs=("y", "y0", "y1"))
    net = check(model, layers=2)
    assert net.output_dim == 3 + 4 + 5
    assert net.info["output_names"] == ["y", "y0", "y1"]
    assert net.info["ops"]["Tanh"] == 1


def test_info_fields():
    nodes, inits = mlp_nodes(rng(24))
    model = make_model(nodes, inits, opset=13, input_shape=("batch", 4), producer="pytorch")
    model.producer_version = "2.13"
    net = import_model(model, source="m.onnx")
    assert net.info == {"source": "m.onnx", "input_name": "x", "input_shape": [None, 4],
                        "output_names": ["y"], "graph_outputs": ["y"], "opset": 13,
                        "ops": {"Gemm": 2, "Relu": 1},
                        "producer": "pytorch 2.13", "notices": []}


def test_load_onnx_from_file(tmp_path):
    nodes, inits = mlp_nodes(rng(25))
    model = make_model(nodes, inits, opset=17)
    path = tmp_path / "mlp.onnx"
    path.write_bytes(model.SerializeToString())
    net = load_onnx(path)
    assert net.info["source"] == str(path)
    assert_matches_ort(net, model, ("N", 4))


# ---------------------------------------------------------------------------------------------
# Trailing ops, non-piecewise-linear ops


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Sigmoid"])
def test_trailing_op_dropped_with_notice(op, caplog):
    nodes, inits = mlp_nodes(rng(26))
    nodes[-1].output[0] = "logits"
    logits_model = make_model(nodes, inits, opset=17, outputs=("logits",))
    model = make_model(nodes + [node(op, ["logits"], ["p"], name="head"),
                                node("Identity", ["p"], ["y"])], inits, opset=17)
    with caplog.at_level(logging.INFO, logger="milpregions"):
        net = import_model(model, source="m.onnx")
    msg = f"m.onnx: dropped trailing node 'head' ({op}, opset 17) and what follows (Identity): " \
          f"applied to the output, it does not change the regions; counting on 'logits'"
    assert net.info["notices"] == [msg]
    assert msg in caplog.text
    assert len(net.layers) == 1
    assert_matches_ort(net, model, ("N", 4), reference=logits_model)


def test_logits_and_their_probabilities_count_on_the_logits():
    nodes, inits = mlp_nodes(rng(26))
    model = make_model(nodes + [node("Softmax", ["y"], ["p"], name="head"),
                                node("ArgMax", ["p"], ["label"], name="am", keepdims=0)],
                       inits, opset=17, outputs=(("label", TensorProto.INT64), "y", "p"))
    net = import_model(model, source="m.onnx")
    assert net.info["output_names"] == ["y"]
    assert net.info["graph_outputs"] == ["label", "y", "p"]
    assert net.info["notices"] == [
        "m.onnx: dropped trailing node 'head' (Softmax, opset 17) and what follows (ArgMax): "
        "applied to the output, it does not change the regions; counting on 'y'"]
    assert_matches_ort(net, make_model(nodes, inits, opset=17), ("N", 4))


def test_post_processing_that_reads_the_network_again_is_not_dropped():
    nodes, inits = mlp_nodes(rng(26))
    nodes[-1].output[0] = "logits"
    model = make_model(nodes + [node("Softmax", ["logits"], ["p"], name="head"),
                                node("Mul", ["p", "h1"], ["y"], name="mix")], inits, opset=17)
    with pytest.raises(InputError) as e:
        import_model(model, source="m.onnx")
    assert str(e.value) == (
        "m.onnx: node 'head' (Softmax, opset 17) is not piecewise-linear: its output reaches "
        "node 'mix' (Mul, opset 17), which also reads the network's tensor 'h1'; --output-tensor NAME "
        "counts on a tensor before it")


def test_output_cuts_the_graph_at_any_tensor():
    nodes, inits = mlp_nodes(rng(26))
    model = make_model(nodes, inits, opset=17)
    net = import_model(model, source="m.onnx", output="h1")
    assert net.info["output_names"] == ["h1"] and len(net.layers) == 1
    with pytest.raises(InputError) as e:
        import_model(model, source="m.onnx", output="W0")
    assert str(e.value) == "m.onnx: cannot count on 'W0': no tensor 'W0' in the graph (its outputs: 'y')"


def test_an_if_on_a_constant_is_inlined_and_on_the_input_refused():
    nodes, inits = mlp_nodes(rng(26))
    nodes[-1].output[0] = "z"
    then = helper.make_graph([node("Relu", ["z"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    other = helper.make_graph([node("Neg", ["z"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    for cond, layers in ((True, 2), (False, 1)):
        model = make_model(nodes + [node("If", ["c"], ["y"], name="branch", then_branch=then,
                                         else_branch=other)],
                           inits + [const("c", np.array(cond), np.bool_)], opset=17)
        net = import_model(model, source="m.onnx")
        assert len(net.layers) == layers
        assert_matches_ort(net, model, ("N", 4))
    # a condition on the input fails where it is made, at the comparison
    bad = make_model(nodes + [node("Greater", ["z", "c0"], ["c"], name="gt"),
                              node("If", ["c"], ["y"], name="branch", then_branch=then,
                                   else_branch=other)],
                     inits + [const("c0", np.array(0.0), np.float32)], opset=17)
    with pytest.raises(InputError) as e:
        import_model(bad, source="m.onnx")
    assert str(e.value) == "m.onnx: node 'gt' (Greater, opset 17) is not supported"


def test_hidden_tanh_is_an_error():
    nodes, inits = mlp_nodes(rng(27), act=("Tanh", {}))
    with pytest.raises(InputError) as e:
        import_model(make_model(nodes, inits, opset=17), source="model.onnx")
    assert str(e.value) == "model.onnx: node 'act1' (Tanh, opset 17) is not piecewise-linear"


def test_softmax_in_hidden_position_is_an_error():
    nodes, inits = mlp_nodes(rng(28), act=("Softmax", {}))
    with pytest.raises(InputError) as e:
        import_model(make_model(nodes, inits, opset=13), source="model.onnx")
    assert str(e.value) == "model.onnx: node 'act1' (Softmax, opset 13) is not piecewise-linear"


def test_product_of_two_input_dependent_tensors_is_an_error():
    model = make_model([node("Mul", ["x", "x"], ["y"], name="sq")], opset=17)
    with pytest.raises(InputError) as e:
        import_model(model, source="model.onnx")
    assert str(e.value) == ("model.onnx: node 'sq' (Mul, opset 17) is not piecewise-linear: "
                            "it multiplies two input-dependent tensors")


def test_non_linear_op_on_constants_is_folded():
    r = rng(29)
    nodes = [node("Tanh", ["W0"], ["W"]), node("Exp", ["c0"], ["c"]),
             node("Gemm", ["x", "W", "c"], ["y"], transB=1)]
    check(make_model(nodes, [const("W0", weights(r, 3, 4)), const("c0", weights(r, 3))],
                     opset=17), layers=0)


# ---------------------------------------------------------------------------------------------
# Bad input: one-line messages


def write(tmp_path, model, name="model.onnx"):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def error_of(path) -> str:
    with pytest.raises(InputError) as e:
        load_onnx(path)
    text = str(e.value)
    assert "\n" not in text
    return text


def test_missing_file(tmp_path):
    path = tmp_path / "nope.onnx"
    assert error_of(path) == f"{path}: no such file"


def test_directory_instead_of_file(tmp_path):
    assert error_of(tmp_path) == f"{tmp_path}: is a directory, not an ONNX file"


def test_garbage_bytes(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"this is not a model \xff\xfe\x00\x01" * 10)
    assert error_of(path) == (f"{path}: not an ONNX model, or the file is truncated "
                              f"(protobuf parse error)")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    assert error_of(path) == f"{path}: not an ONNX model (no graph outputs)"


def test_truncated_file(tmp_path):
    nodes, inits = mlp_nodes(rng(30))
    data = make_model(nodes, inits).SerializeToString()
    path = tmp_path / "half.onnx"
    path.write_bytes(data[: len(data) // 2])
    assert error_of(path) == (f"{path}: not an ONNX model, or the file is truncated "
                              f"(protobuf parse error)")


def test_two_real_inputs(tmp_path):
    extra = [helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 4])]
    model = make_model([node("Add", ["x", "x2"], ["y"])], extra_inputs=extra)
    path = write(tmp_path, model)
    assert error_of(path) == f"{path}: the graph has 2 inputs ('x', 'x2'); exactly one is supported"


def test_integer_input(tmp_path):
    model = make_model([node("Identity", ["x"], ["y"])], input_type=TensorProto.INT64)
    path = write(tmp_path, model)
    assert error_of(path) == f"{path}: input 'x' has element type INT64; a float type is required"


def test_zero_size_input(tmp_path):
    model = make_model([node("Relu", ["x"], ["y"])], input_shape=("N", 0))
    path = write(tmp_path, model)
    assert error_of(path) == f"{path}: input 'x' has shape [N, 0], which has no elements"


def test_symbolic_feature_dimension(tmp_path):
    model = make_model([node("Relu", ["x"], ["y"])], input_shape=("N", "F"))
    path = write(tmp_path, model)
    assert error_of(path) == (f"{path}: input 'x' has shape [N, F]: dimension 1 is symbolic; "
                              f"only the batch axis 0 may be")


def test_nan_weight_names_the_initializer(tmp_path):
    nodes, inits = mlp_nodes(rng(31))
    W2 = weights(rng(31), 3, 5)
    W2[1, 2] = np.nan
    inits[2] = const("W2", W2)
    path = write(tmp_path, make_model(nodes, inits))
    assert error_of(path) == f"{path}: initializer 'W2' has non-finite values"


def test_inf_in_constant_node_names_the_node(tmp_path):
    nodes = [node("Constant", [], ["k"], name="kconst", value_floats=[1.0, np.inf, 0, 0]),
             node("Transpose", ["k"], ["kt"]),
             node("Mul", ["x", "kt"], ["y"])]
    path = write(tmp_path, make_model(nodes, opset=13))
    assert error_of(path) == f"{path}: node 'kconst' (Constant, opset 13) has non-finite values"


def test_unsupported_op(tmp_path):
    nodes = [node("Mod", ["x", "k"], ["y"], name="m1")]
    path = write(tmp_path, make_model(nodes, [const("k", 3.0)], opset=11))
    assert error_of(path) == f"{path}: node 'm1' (Mod, opset 11) is not supported"


def test_unsupported_op_in_custom_domain(tmp_path):
    model = make_model([node("FusedThing", ["x"], ["y"], name="f", domain="com.example")])
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    path = write(tmp_path, model)
    assert error_of(path) == f"{path}: node 'f' (com.example.FusedThing, opset 1) is not supported"


def test_nodes_out_of_topological_order():
    nodes, inits = mlp_nodes(rng(32))
    sorted_model = make_model(nodes, inits, opset=17)
    net = import_model(make_model(list(reversed(nodes)), inits, opset=17))
    assert len(net.layers) == 1
    assert_matches_ort(net, sorted_model, ("N", 4))


def test_division_by_zero_names_the_node(tmp_path):
    nodes = [node("Div", ["x", "k"], ["y"], name="scale")]
    path = write(tmp_path, make_model(nodes, [const("k", [1.0, 0.0, 2.0, 1.0])], opset=13))
    assert error_of(path) == f"{path}: node 'scale' (Div, opset 13) produces non-finite values"
