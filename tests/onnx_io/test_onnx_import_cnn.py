"""onnx_import of CNN ops, pooling, Pad, Max/Min, Clip, HardSigmoid and Abs against onnxruntime."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
import scipy.sparse as sp
from onnx import helper

from milpregions.errors import InputError
from milpregions.ir.network import Layer, MaxLayer
from milpregions.onnx import import_model

from onnx_builders import assert_batch_matches_ort, assert_matches_ort, const, make_model, weights

node = helper.make_node
log = logging.getLogger(__name__)


def rng(seed=0):
    return np.random.default_rng(seed)


def check(model, input_shape, layers=None, **kw):
    net = import_model(model, source="m.onnx")
    if layers is not None:
        assert len(net.layers) == layers
    assert_matches_ort(net, model, input_shape, **kw)
    return net


def error_of(model) -> str:
    with pytest.raises(InputError) as e:
        import_model(model, source="m.onnx")
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def single(op, inits=(), opset=17, shape=("N", 3, 7, 6), ins=None, relu=True, **attrs):
    """x -> op -> (Relu) -> y."""
    ins = ins or ["x"] + [t.name for t in inits]
    nodes = [node(op, ins, ["t" if relu else "y"], name="op", **attrs)]
    if relu:
        nodes.append(node("Relu", ["t"], ["y"], name="relu"))
    return make_model(nodes, list(inits), opset=opset, input_shape=shape)


# ---------------------------------------------------------------------------------------------
# Conv


CONV2D = [
    dict(),
    dict(pads=[1, 2, 0, 1]),
    dict(pads=[1, 1, 1, 1], strides=[2, 1], dilations=[1, 2]),
    dict(auto_pad="SAME_UPPER", strides=[2, 2]),
    dict(auto_pad="SAME_LOWER", strides=[2, 3]),
    dict(auto_pad="SAME_UPPER", strides=[3, 1]),
    dict(auto_pad="VALID", strides=[2, 2]),
    dict(auto_pad="NOTSET", pads=[0, 1, 2, 0], strides=[3, 2]),
]


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("attrs", CONV2D, ids=lambda a: "-".join(f"{k}{v}" for k, v in a.items()))
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_padding_strides_dilations(opset, attrs, bias):
    r = rng(1)
    inits = [const("W", weights(r, 4, 3, 3, 2))] + ([const("B", weights(r, 4))] if bias else [])
    model = single("Conv", inits, opset=opset, kernel_shape=[3, 2], **attrs)
    net = check(model, ("N", 3, 7, 6), layers=1)
    assert net.input_dim == 3 * 7 * 6


@pytest.mark.parametrize("group,cin,cout", [(2, 4, 6), (4, 4, 4), (4, 4, 8)])
def test_conv2d_group_and_depthwise(group, cin, cout):
    r = rng(2)
    inits = [const("W", weights(r, cout, cin // group, 3, 3)), const("B", weights(r, cout))]
    model = single("Conv", inits, group=group, pads=[1, 1, 1, 1], shape=("N", cin, 5, 6))
    net = check(model, ("N", cin, 5, 6), layers=1)
    assert net.widths == [cout * 5 * 6]


@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("attrs", [dict(), dict(pads=[2, 1], strides=[2]), dict(dilations=[3]),
                                   dict(auto_pad="SAME_UPPER", strides=[2]),
                                   dict(auto_pad="SAME_LOWER", strides=[2]),
                                   dict(auto_pad="VALID", strides=[3])])
def test_conv1d(opset, attrs):
    r = rng(3)
    inits = [const("W", weights(r, 3, 2, 3)), const("B", weights(r, 3))]
    check(single("Conv", inits, opset=opset, shape=("N", 2, 11), **attrs), ("N", 2, 11), layers=1)


def test_conv3d():
    r = rng(4)
    inits = [const("W", weights(r, 2, 2, 2, 3, 2)), const("B", weights(r, 2))]
    model = single("Conv", inits, shape=(1, 2, 3, 5, 4), pads=[0, 1, 1, 1, 0, 0], strides=[1, 2, 1])
    check(model, (1, 2, 3, 5, 4), layers=1)


def test_conv_batchnorm_relu_fuses_into_one_layer():
    r = rng(5)
    nodes = [node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             node("BatchNormalization", ["c", "s", "B", "m", "v"], ["b"]),
             node("Relu", ["b"], ["y"])]
    inits = [const("W", weights(r, 4, 3, 3, 3)), const("s", r.uniform(0.5, 2, 4)),
             const("B", r.normal(size=4)), const("m", r.normal(size=4)),
             const("v", r.uniform(0.1, 2, 4))]
    check(make_model(nodes, inits, opset=13, input_shape=("N", 3, 6, 6)), ("N", 3, 6, 6),
          layers=1)


# ---------------------------------------------------------------------------------------------
# ConvTranspose


CONVT = [
    dict(),
    dict(strides=[2, 2]),
    dict(strides=[2, 3], pads=[1, 0, 0, 2]),
    dict(strides=[2, 2], output_padding=[1, 0], pads=[1, 1, 1, 1]),
    dict(strides=[2, 1], dilations=[2, 2]),
    dict(strides=[2, 2], output_shape=[9, 10]),
    dict(strides=[2, 2], auto_pad="SAME_UPPER"),
    dict(strides=[2, 2], auto_pad="SAME_LOWER"),
    dict(strides=[2, 2], auto_pad="VALID"),
]


@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("attrs", CONVT, ids=lambda a: "-".join(f"{k}{v}" for k, v in a.items()))
def test_conv_transpose(opset, attrs):
    r = rng(6)
    inits = [const("W", weights(r, 4, 3, 3, 3)), const("B", weights(r, 3))]
    check(single("ConvTranspose", inits, opset=opset, shape=("N", 4, 4, 5), **attrs),
          ("N", 4, 4, 5), layers=1)


@pytest.mark.parametrize("group", [2, 4])
def test_conv_transpose_group_1d(group):
    r = rng(7)
    inits = [const("W", weights(r, 4, 2, 3))]
    model = single("ConvTranspose", inits, shape=("N", 4, 6), group=group, strides=[2],
                   pads=[1, 0])
    net = check(model, ("N", 4, 6), layers=1)
    assert net.widths == [2 * group * 12]


# ---------------------------------------------------------------------------------------------
# Pooling


POOLS = [
    dict(kernel_shape=[2, 2]),
    dict(kernel_shape=[2, 2], strides=[2, 2]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 0, 1], ceil_mode=1),
    dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    dict(kernel_shape=[2, 3], strides=[3, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    dict(kernel_shape=[2, 3], strides=[2, 2], auto_pad="SAME_LOWER"),
    dict(kernel_shape=[3, 3], auto_pad="VALID"),
]
POOL_IDS = ["-".join(f"{k}{v}" for k, v in a.items()) for a in POOLS]


@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("include_pad", [0, 1])
@pytest.mark.parametrize("attrs", POOLS, ids=POOL_IDS)
def test_average_pool(opset, include_pad, attrs):
    model = single("AveragePool", (), opset=opset, count_include_pad=include_pad, **attrs)
    check(model, ("N", 3, 7, 6), layers=1)


@pytest.mark.parametrize("include_pad", [0, 1])
def test_average_pool_dilations_1d(include_pad):
    model = single("AveragePool", (), opset=19, shape=("N", 2, 9), kernel_shape=[3],
                   dilations=[2], pads=[1, 2], count_include_pad=include_pad)
    check(model, ("N", 2, 9), layers=1)


@pytest.mark.parametrize("opset", [11, 17])
def test_global_average_pool(opset):
    model = single("GlobalAveragePool", (), opset=opset)
    net = check(model, ("N", 3, 7, 6), layers=1)
    assert net.widths == [3]


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("attrs", POOLS, ids=POOL_IDS)
def test_max_pool(opset, attrs):
    net = check(single("MaxPool", (), opset=opset, relu=False, **attrs), ("N", 3, 7, 6),
                layers=1)
    layer = net.layers[0]
    assert isinstance(layer, MaxLayer)
    k = np.prod(attrs["kernel_shape"])
    assert layer.groups.shape == (net.output_dim, k)
    # padded positions are not pieces: every input element of every window is one piece
    assert layer.affine.size == int((layer.groups >= 0).sum())


@pytest.mark.parametrize("opset", [11, 17])
def test_max_pool_dilations_and_overlap(opset):
    model = single("MaxPool", (), opset=opset, kernel_shape=[3, 2], strides=[1, 2],
                   dilations=[2, 2], pads=[2, 1, 1, 1], ceil_mode=1)
    check(model, ("N", 3, 7, 6), layers=2)


def test_max_pool_1d_and_relu_after_it_is_a_separate_layer():
    model = single("MaxPool", (), shape=("N", 2, 9), kernel_shape=[3], strides=[2], pads=[1, 1])
    net = check(model, ("N", 2, 9), layers=2)
    assert isinstance(net.layers[0], MaxLayer) and isinstance(net.layers[1], Layer)
    g = net.layers[0].groups
    # window 0 covers [-1, 1]: two pieces (x0, x1) and the -1 padding last
    assert g.shape == (10, 3) and list(g[0]) == [0, 1, -1] and list(g[1]) == [2, 3, 4]


@pytest.mark.parametrize("opset", [11, 17])
def test_global_max_pool(opset):
    net = check(single("GlobalMaxPool", (), opset=opset, relu=False), ("N", 3, 7, 6), layers=1)
    assert net.layers[0].groups.shape == (3, 42)


def test_max_pool_indices_output_is_an_error():
    nodes = [node("MaxPool", ["x"], ["y", "i"], name="mp", kernel_shape=[2, 2]),
             node("Cast", ["i"], ["f"], to=1)]
    model = make_model(nodes, opset=13, input_shape=("N", 1, 4, 4), outputs=("y", "f"))
    assert error_of(model) == ("m.onnx: node 'mp' (MaxPool, opset 13) is not supported: "
                               "its Indices output is used")


def test_max_pool_unused_indices_output_is_fine():
    nodes = [node("MaxPool", ["x"], ["y", "i"], kernel_shape=[2, 2])]
    check(make_model(nodes, opset=13, input_shape=("N", 1, 4, 4)), ("N", 1, 4, 4), layers=1)


# ---------------------------------------------------------------------------------------------
# Pad


@pytest.mark.parametrize("opset", [9, 10])
@pytest.mark.parametrize("mode,value", [("constant", 0.0), ("constant", 1.5), ("reflect", 0.0),
                                        ("edge", 0.0)])
def test_pad_attribute_form(opset, mode, value):
    attrs = dict(mode=mode, pads=[0, 0, 1, 2, 0, 0, 2, 1])
    if mode == "constant":
        attrs["value"] = value
    check(single("Pad", (), opset=opset, **attrs), ("N", 3, 7, 6), layers=1)


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("mode,value", [("constant", None), ("constant", 0.0),
                                        ("constant", -0.75), ("reflect", None), ("edge", None)])
def test_pad_input_form(opset, mode, value):
    inits = [const("p", [0, 0, 2, 1, 0, 0, 1, 2], np.int64)]
    if value is not None:
        inits.append(const("v", value))
    check(single("Pad", inits, opset=opset, mode=mode), ("N", 3, 7, 6), layers=1)


def test_pad_negative_crops():
    inits = [const("p", [0, 1, -1, 0, 0, -2, 2, 1], np.int64)]
    net = check(single("Pad", inits, opset=13), ("N", 3, 7, 6), layers=1)
    assert net.widths == [1 * 2 * 8 * 7]


def test_pad_axes_input_and_wrap():
    inits = [const("p", [1, 2, 2, 1], np.int64), const("v", 0.5), const("a", [-1, 2], np.int64)]
    check(single("Pad", inits, opset=18), ("N", 3, 7, 6), layers=1)
    inits = [const("p", [0, 0, 2, 1, 0, 0, 1, 2], np.int64)]
    check(single("Pad", inits, opset=19, mode="wrap"), ("N", 3, 7, 6), layers=1)


def test_pad_unknown_mode_is_an_error():
    model = single("Pad", [const("p", [0, 0, 1, 1, 0, 0, 1, 1], np.int64)], opset=13,
                   mode="mirror")
    assert error_of(model) == "m.onnx: node 'op' (Pad, opset 13) is not supported: mode 'mirror'"


# ---------------------------------------------------------------------------------------------
# Max, Min (maxout)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_max_of_two_and_three_tensors(opset):
    r = rng(8)
    nodes = [node("Gemm", ["x", "W1", "b1"], ["a"], transB=1),
             node("Gemm", ["x", "W2", "b2"], ["b"], transB=1),
             node("Gemm", ["x", "W3", "b3"], ["c"], transB=1),
             node("Max", ["a", "b"], ["m2"], name="max2"),
             node("Max", ["a", "b", "c"], ["m3"], name="max3"),
             node("Add", ["m2", "m3"], ["y"])]
    inits = [const(f"{w}{i}", weights(r, 5, 4) if w == "W" else weights(r, 5))
             for i in (1, 2, 3) for w in "Wb"]
    net = check(make_model(nodes, inits, opset=opset), ("N", 4), layers=2)
    assert [layer.groups.shape for layer in net.layers] == [(5, 2), (5, 3)]


def test_max_broadcasting_and_constants():
    r = rng(9)
    nodes = [node("Gemm", ["x", "W1", "b1"], ["a"], transB=1),          # (N, 5)
             node("Gemm", ["x", "W2", "b2"], ["b"], transB=1),          # (N, 1)
             node("Unsqueeze", ["a", "ax"], ["a3"]),                      # (N, 1, 5)
             node("Max", ["a3", "b", "k1", "k2"], ["y"], name="max")]   # (N, 3, 5)
    inits = [const("W1", weights(r, 5, 4)), const("b1", weights(r, 5)),
             const("W2", weights(r, 1, 4)), const("b2", weights(r, 1)),
             const("ax", [1], np.int64), const("k1", weights(r, 3, 1)),
             const("k2", weights(r, 1, 5))]
    net = check(make_model(nodes, inits, opset=13, input_shape=(1, 4)), (1, 4), layers=1)
    layer = net.layers[0]
    assert layer.groups.shape == (15, 3)        # two affine pieces, one merged constant piece
    assert not np.any(layer.affine.W[0][30:])   # the constant pieces have zero weights


@pytest.mark.parametrize("opset", [11, 17])
def test_min(opset):
    r = rng(10)
    nodes = [node("Gemm", ["x", "W1", "b1"], ["a"], transB=1),
             node("Gemm", ["x", "W2", "b2"], ["b"], transB=1),
             node("Min", ["a", "b", "k"], ["m"]),
             node("Gemm", ["m", "W3", "b3"], ["y"], transB=1)]
    inits = [const("W1", weights(r, 5, 4)), const("b1", weights(r, 5)),
             const("W2", weights(r, 5, 4)), const("b2", weights(r, 5)),
             const("k", 0.3), const("W3", weights(r, 2, 5)), const("b3", weights(r, 2))]
    net = check(make_model(nodes, inits, opset=opset), ("N", 4), layers=1)
    assert net.layers[0].groups.shape == (5, 3)


def test_max_of_one_tensor_is_identity():
    check(make_model([node("Max", ["x"], ["y"])], opset=13), ("N", 4), layers=0)


def test_maxout_mlp():
    # maxout with k=3 pieces per unit: Gemm to 3*6, Reshape (N, 6, 3), split as Slices, Max
    r = rng(11)
    nodes = [node("Gemm", ["x", "W1", "b1"], ["z"], transB=1),
             node("Reshape", ["z", "shp"], ["z3"]),
             *[node("Slice", ["z3", f"s{i}", f"e{i}", "ax"], [f"p{i}"]) for i in range(3)],
             node("Max", ["p0", "p1", "p2"], ["m"]),
             node("Flatten", ["m"], ["f"]),
             node("Gemm", ["f", "W2", "b2"], ["y"], transB=1)]
    inits = [const("W1", weights(r, 18, 4)), const("b1", weights(r, 18)),
             const("shp", [-1, 6, 3], np.int64), const("ax", [2], np.int64),
             const("W2", weights(r, 2, 6)), const("b2", weights(r, 2))]
    inits += [const(f"s{i}", [i], np.int64) for i in range(3)]
    inits += [const(f"e{i}", [i + 1], np.int64) for i in range(3)]
    net = check(make_model(nodes, inits, opset=13), ("N", 4), layers=1)
    assert net.layers[0].groups.shape == (6, 3)


def test_pattern_of_a_max_layer_is_the_argmax_of_the_pieces():
    W1 = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    W2 = np.array([[-1.0, 0.0], [1.0, 1.0]], np.float32)
    nodes = [node("MatMul", ["x", "W1"], ["a"]), node("MatMul", ["x", "W2"], ["b"]),
             node("Max", ["a", "b", "k"], ["y"])]
    inits = [const("W1", W1), const("W2", W2), const("k", [0.5, -3.0])]
    model = make_model(nodes, inits, opset=13, input_shape=("N", 2))
    net = check(model, ("N", 2), layers=1)
    X = np.array([[1.0, 2.0], [-1.0, 0.25], [0.0, 0.0], [0.2, -4.0], [0.5, 1.0]])
    pieces = np.stack([X @ W1, X @ W2, np.broadcast_to([0.5, -3.0], (5, 2))], axis=2)
    (pattern,) = net.pattern(X)
    np.testing.assert_array_equal(pattern, pieces.argmax(axis=2))
    np.testing.assert_array_equal(pattern[2], [2, 0])   # 0.5 > 0 = 0; a tie 0 = 0 > -3: first


# ---------------------------------------------------------------------------------------------
# Clip, HardSigmoid, Abs


@pytest.mark.parametrize("opset", [9, 10])
@pytest.mark.parametrize("bounds,units", [(dict(min=-0.5, max=0.7), 8), (dict(min=0.2), 4),
                                          (dict(max=0.3), 4), (dict(), 0),
                                          (dict(min=0.0, max=6.0), 8),
                                          (dict(min=-3.4028234663852886e38, max=0.1), 4)])
def test_clip_attribute_form(opset, bounds, units):
    nodes = [node("Gemm", ["x", "W", "b"], ["z"], transB=1), node("Clip", ["z"], ["c"], **bounds),
             node("Gemm", ["c", "W2", "b2"], ["y"], transB=1)]
    r = rng(12)
    inits = [const("W", weights(r, 4, 4)), const("b", weights(r, 4)),
             const("W2", weights(r, 2, 4)), const("b2", weights(r, 2))]
    net = check(make_model(nodes, inits, opset=opset), ("N", 4))
    assert sum(net.widths) == units


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("lo,hi,units", [(-0.5, 0.7, 8), (0.2, None, 4), (None, 0.3, 4),
                                         (None, None, 0), (0.0, 6.0, 8), (0.5, 0.5, 0),
                                         (0.6, -0.2, 0)])
def test_clip_input_form(opset, lo, hi, units):
    inits = []
    ins = ["z", "", ""]
    if lo is not None:
        inits.append(const("lo", lo))
        ins[1] = "lo"
    if hi is not None:
        inits.append(const("hi", hi))
        ins[2] = "hi"
    while ins[-1] == "":
        ins.pop()
    r = rng(13)
    inits += [const("W", weights(r, 4, 4)), const("b", weights(r, 4))]
    nodes = [node("Gemm", ["x", "W", "b"], ["z"], transB=1), node("Clip", ins, ["y"])]
    net = check(make_model(nodes, inits, opset=opset), ("N", 4))
    assert sum(net.widths) == units


def test_clip_units_order_and_relu6_with_constant_nodes():
    # torch Hardtanh/ReLU6 export: Clip with two Constant inputs
    nodes = [node("Constant", [], ["lo"], value=helper.make_tensor("v", 1, [], [0.0])),
             node("Constant", [], ["hi"], value=helper.make_tensor("v", 1, [], [6.0])),
             node("Clip", ["x", "lo", "hi"], ["y"])]
    model = make_model(nodes, opset=13, input_shape=("N", 3))
    net = check(model, ("N", 3), layers=1)
    aff = net.layers[0].affine
    np.testing.assert_array_equal(aff.W[0], np.vstack([np.eye(3), np.eye(3)]))
    np.testing.assert_array_equal(aff.b, [0, 0, 0, -6, -6, -6])
    X = np.array([[-1.0, 3.0, 8.0]])
    np.testing.assert_allclose(net.forward(X), [[0.0, 3.0, 6.0]])


def test_clip_with_non_scalar_bound_is_an_error():
    model = make_model([node("Clip", ["x", "lo"], ["y"], name="c")],
                       [const("lo", [0.0, 1.0, 0.0, 0.0])], opset=13)
    assert error_of(model) == ("m.onnx: node 'c' (Clip, opset 13) is not supported: "
                               "bound of shape [4] is not a scalar")


@pytest.mark.parametrize("opset", [9, 13, 17])
@pytest.mark.parametrize("attrs", [dict(), dict(alpha=0.5, beta=0.2)])
def test_hard_sigmoid(opset, attrs):
    nodes = [node("Mul", ["x", "k"], ["z"]), node("HardSigmoid", ["z"], ["y"], **attrs)]
    net = check(make_model(nodes, [const("k", 3.0)], opset=opset), ("N", 4), layers=1)
    assert net.widths == [8]


@pytest.mark.parametrize("opset", [9, 13, 17])
def test_abs(opset):
    nodes, inits = [node("Gemm", ["x", "W", "b"], ["z"], transB=1), node("Abs", ["z"], ["y"])], \
        [const("W", weights(rng(14), 3, 4)), const("b", weights(rng(15), 3))]
    net = check(make_model(nodes, inits, opset=opset), ("N", 4), layers=1)
    np.testing.assert_array_equal(net.layers[0].neg_slope, [-1.0, -1.0, -1.0])


# ---------------------------------------------------------------------------------------------
# Whole networks; sparse storage; speed


def small_cnn(r, H=8, C1=4, C2=6, opset=17):
    o = H // 2 - 2
    nodes = [node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             node("Relu", ["c1"], ["r1"]),
             node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             node("Conv", ["p1", "W2", "B2"], ["c2"], kernel_shape=[3, 3]),
             node("Relu", ["c2"], ["r2"]),
             node("Flatten", ["r2"], ["f"]),
             node("Gemm", ["f", "W3", "B3"], ["y"], transB=1)]
    inits = [const("W1", weights(r, C1, 1, 3, 3)), const("B1", weights(r, C1)),
             const("W2", weights(r, C2, C1, 3, 3)), const("B2", weights(r, C2)),
             const("W3", weights(r, 10, C2 * o * o)), const("B3", weights(r, 10))]
    return make_model(nodes, inits, opset=opset, input_shape=("N", 1, H, H))


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_small_cnn(opset):
    net = check(small_cnn(rng(16), opset=opset), ("N", 1, 8, 8), layers=3)
    assert net.widths == [4 * 64, 4 * 16, 6 * 4]
    assert isinstance(net.layers[1], MaxLayer) and net.layers[1].groups.shape == (64, 4)


def test_cnn_with_1024_inputs_imports_fast_and_sparse():
    model = small_cnn(rng(17), H=32, C1=16, C2=32)
    t0 = time.perf_counter()
    net = import_model(model)
    seconds = time.perf_counter() - t0
    log.warning("import of the 1x32x32 CNN (widths %s): %.3f s", net.widths, seconds)
    print(f"import of the 1x32x32 CNN: {seconds:.3f} s")
    assert seconds < 5.0
    assert net.widths == [16 * 32 * 32, 16 * 16 * 16, 32 * 14 * 14]
    conv1, pool, conv2 = net.layers
    assert sp.issparse(conv1.affine.W[0]) and conv1.affine.W[0].nnz <= 16 * 32 * 32 * 9
    assert sp.issparse(pool.affine.W[1]) and sp.issparse(conv2.affine.W[2])
    assert conv2.affine.W[2].nnz <= 32 * 16 * 9 * 14 * 14
    assert isinstance(net.output.W[3], np.ndarray)
    assert_matches_ort(net, model, ("N", 1, 32, 32), n=4)


def test_shape_ops_and_residual_on_large_sparse_tensors():
    # Conv -> Transpose/Slice/Gather/Concat -> Relu, and Conv -> Relu -> Conv + skip -> Relu
    r = rng(18)
    nodes = [node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1]),        # (1, 8, 32, 32)
             node("Relu", ["c1"], ["r1"]),
             node("Conv", ["r1", "W2"], ["c2"], pads=[1, 1, 1, 1]),
             node("Add", ["c2", "r1"], ["res"]),
             node("Mul", ["res", "sc"], ["ress"]),
             node("Transpose", ["ress"], ["t"], perm=[0, 2, 3, 1]),               # (1, 32, 32, 8)
             node("Slice", ["t", "st", "en", "axs", "stp"], ["s"]),              # (1, 32, 16, 8)
             node("Gather", ["s", "gi"], ["g"], axis=3),                          # (1, 32, 16, 3)
             node("Concat", ["g", "s", "kc"], ["cat"], axis=3),                   # (1, 32, 16, 12)
             node("Relu", ["cat"], ["r2"]),
             node("Flatten", ["r2"], ["y"])]
    inits = [const("W1", weights(r, 8, 1, 3, 3)), const("B1", weights(r, 8)),
             const("W2", weights(r, 8, 8, 3, 3)), const("sc", r.uniform(0.5, 1.5, (8, 1, 1))),
             const("st", [0], np.int64), const("en", [32], np.int64),
             const("axs", [2], np.int64), const("stp", [2], np.int64),
             const("gi", [0, 5, 2], np.int64), const("kc", weights(r, 1, 32, 16, 1))]
    model = make_model(nodes, inits, opset=13, input_shape=(1, 1, 32, 32))
    net = check(model, (1, 1, 32, 32), layers=2, n=3)
    assert all(sp.issparse(W) for layer in net.layers for W in layer.affine.W.values())


def conv_head(r, C=8):
    """x (1, 1, 32, 32) -> Conv C 3x3 pad 1 -> Relu "h": C * 1024 units, stored sparse."""
    return ([node("Conv", ["x", "Wc", "Bc"], ["c"], pads=[1, 1, 1, 1]),
             node("Relu", ["c"], ["h"])],
            [const("Wc", weights(r, C, 1, 3, 3)), const("Bc", weights(r, C))])


@pytest.mark.parametrize("form", ["h@B", "A@h", "h@stack", "h@vector"])
def test_matmul_on_large_sparse_tensors(form):
    r = rng(19)
    nodes, inits = conv_head(r)
    ins, B = {"h@B": (["h", "B"], weights(r, 32, 5)), "A@h": (["B", "h"], weights(r, 5, 32)),
              "h@stack": (["h", "B"], weights(r, 8, 32, 3)),
              "h@vector": (["h", "B"], weights(r, 32))}[form]
    nodes += [node("MatMul", ins, ["m"]), node("Flatten", ["m"], ["y"])]
    model = make_model(nodes, inits + [const("B", B)], opset=13, input_shape=("N", 1, 32, 32))
    check(model, ("N", 1, 32, 32), layers=1, n=3)


def test_clip_max_abs_pad_pool_on_large_sparse_tensors():
    r = rng(20)
    nodes, inits = conv_head(r)
    nodes = [nodes[0],
             node("Clip", ["c", "lo", "hi"], ["clip"]),                  # 2 * 8192 units
             node("Pad", ["clip", "p", "v"], ["pad"]),                   # (1, 8, 34, 33)
             node("Slice", ["pad", "s0", "s1", "s2"], ["cut"]),          # (1, 8, 32, 32)
             node("AveragePool", ["cut"], ["avg"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("Max", ["avg", "k", "c"], ["mx"]),                     # 3 pieces
             node("Abs", ["mx"], ["a"]),
             node("MaxPool", ["a"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
             node("GlobalAveragePool", ["mp"], ["y"])]
    inits += [const("lo", -0.25), const("hi", 0.5), const("v", 0.3),
              const("p", [0, 0, 1, 0, 0, 0, 1, 1], np.int64), const("k", weights(r, 8, 1, 1)),
              const("s0", [1, 0], np.int64), const("s1", [33, 32], np.int64),
              const("s2", [2, 3], np.int64)]
    model = make_model(nodes, inits, opset=13, input_shape=("N", 1, 32, 32))
    net = check(model, ("N", 1, 32, 32), layers=4, n=3)
    assert net.widths == [2 * 8192, 8192, 8192, 8 * 16 * 16]
    assert all(sp.issparse(W) for layer in net.layers for W in layer.affine.W.values())


def test_fixed_batch_of_two():
    r = rng(21)
    nodes = [node("Conv", ["x", "W1", "B1"], ["c"], pads=[1, 1, 1, 1], group=1),
             node("MaxPool", ["c"], ["m"], kernel_shape=[2, 2], pads=[0, 0, 1, 1]),
             node("AveragePool", ["m"], ["a"], kernel_shape=[2, 2], strides=[2, 2]),
             node("ConvTranspose", ["a", "W2"], ["t"], strides=[2, 2]),
             node("Relu", ["t"], ["y"])]
    inits = [const("W1", weights(r, 4, 3, 3, 3)), const("B1", weights(r, 4)),
             const("W2", weights(r, 4, 2, 2, 2))]
    model = make_model(nodes, inits, opset=17, input_shape=(2, 3, 5, 6))
    net = import_model(model, source="m.onnx")       # two identical samples: one is counted
    assert net.input_dim == 3 * 5 * 6 and net.info["batch"] == 2
    assert len(net.layers) == 2 and net.widths == [4 * 5 * 6, 2 * 4 * 6]
    assert_batch_matches_ort(net, model, (2, 3, 5, 6))


# ---------------------------------------------------------------------------------------------
# Errors


def test_conv_with_input_dependent_weight_is_an_error():
    model = make_model([node("Conv", ["x", "x"], ["y"], name="c")], opset=17,
                       input_shape=(1, 1, 3, 3))
    assert error_of(model) == ("m.onnx: node 'c' (Conv, opset 17) is not supported: "
                               "its weight depends on the network input")


def test_conv_with_mismatched_group_is_an_error():
    model = single("Conv", [const("W", np.ones((4, 2, 3, 3)))], group=2)
    assert error_of(model) == ("m.onnx: node 'op' (Conv, opset 17) is not supported: weight "
                               "shape [4, 2, 3, 3] and group 2 do not match input shape "
                               "[1, 3, 7, 6]")


def test_max_pool_window_inside_the_padding_is_an_error():
    model = single("MaxPool", (), kernel_shape=[2, 2], pads=[2, 0, 0, 0], relu=False)
    assert error_of(model) == ("m.onnx: node 'op' (MaxPool, opset 17) is not supported: "
                               "a window lies entirely in the padding")


def test_conv_on_a_rank_2_tensor_is_an_error():
    model = single("Conv", [const("W", np.ones((2, 4)))], shape=("N", 4))
    assert error_of(model) == ("m.onnx: node 'op' (Conv, opset 17) is not supported: "
                               "input shape [1, 4] has no spatial axes")
