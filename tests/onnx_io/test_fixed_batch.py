"""A fixed batch axis (``onnx/batch.py``): N independent identical samples are counted once;
anything else (rows mixed, blocks that differ, an output over the batch) as the network is.

Counts are checked against independent numbers: the batch-1 export of the same module, the
same weights written by hand (one sample, or all of the 6 inputs), and the product of the
samples' own counts where the samples are independent but differ.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import onnx
import pytest
from onnx import helper

from milpregions.api import count_regions
from milpregions.ir.network import Affine, Layer, MaxLayer, Network, mlp
from milpregions.onnx import import_model, load_onnx
from milpregions.onnx.batch import reduce_batch
from milpregions.testing.constructions import he_mlp

from onnx_builders import assert_batch_matches_ort, assert_matches_ort, const, make_model, sample_inputs

NOTICE = ("{src}: input 'x' has a fixed batch of 3; its 3 samples are independent copies of "
          "one network, counted once (the regions of one sample)")

# three lines in general position through [-1, 1]^2: 7 regions (hand count)
W7 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
B7 = np.array([0.1, -0.2, 0.3])


def _seven() -> Network:
    return mlp([W7, np.ones((1, 3))], [B7, np.zeros(1)])


# ---------------------------------------------------------------------------------------------
# Real exporters


@pytest.mark.xdist_group("torch")      # beside test_torch_export.py: one first dynamo export
@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_a_torch_export_with_a_fixed_batch_of_3_counts_one_sample(tmp_path, dynamo, caplog):
    torch = pytest.importorskip("torch")
    net = he_mlp(2, [8, 8], 0)
    module = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8),
                                 torch.nn.ReLU(), torch.nn.Linear(8, 1)).eval()
    with torch.no_grad():
        for lin, aff in zip(module[::2], [layer.affine for layer in net.layers] + [net.output]):
            (W,) = aff.W.values()
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(aff.b))
    paths = {}
    for batch in (1, 3):
        paths[batch] = tmp_path / f"b{batch}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (torch.zeros(batch, 2),), str(paths[batch]),
                              input_names=["x"], dynamo=dynamo, **({"verbose": False}
                                                                  if dynamo else {}))
    model = onnx.load(paths[3])
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [3, 2]
    with caplog.at_level(logging.INFO, logger="milpregions"):
        one = load_onnx(paths[3])
    assert one.input_dim == 2 and one.output_dim == 1 and one.widths == [8, 8]
    assert one.info["notices"] == [NOTICE.format(src=paths[3])]
    assert NOTICE.format(src=paths[3]) in caplog.text
    assert_batch_matches_ort(one, model, (3, 2))
    want = count_regions(net, (-1, 1)).regions                  # the weights by hand
    assert want == 102
    assert count_regions(str(paths[1]), (-1, 1)).regions == want
    assert count_regions(str(paths[3]), (-1, 1)).regions == want
    assert "batch" not in load_onnx(paths[1]).info


# ---------------------------------------------------------------------------------------------
# Axis 0 as a feature axis


def _mixing_model(kind: str) -> tuple[onnx.ModelProto, Network]:
    """An input [3, 2] whose rows one unit reads together, and the same net by hand on the 6
    inputs (row-major)."""
    r = np.random.default_rng(5)
    if kind == "reshape":      # x -> [1, 6] -> Gemm (5 units) -> Relu -> Gemm
        W1 = r.standard_normal((5, 6)).astype(np.float32)
        b1 = r.standard_normal(5).astype(np.float32) * 0.3
        W2 = r.standard_normal((1, 5)).astype(np.float32)
        nodes = [helper.make_node("Reshape", ["x", "s"], ["f"]),
                 helper.make_node("Gemm", ["f", "W1", "b1"], ["z"], transB=1),
                 helper.make_node("Relu", ["z"], ["h"]),
                 helper.make_node("Gemm", ["h", "W2"], ["y"], transB=1)]
        inits = [const("s", [1, 6], np.int64), const("W1", W1), const("b1", b1), const("W2", W2)]
        return make_model(nodes, inits, input_shape=(3, 2)), mlp([W1, W2], [b1, np.zeros(1)])
    # x -> Transpose [2, 3] -> MatMul V (3, 4) -> Add c -> Relu -> MatMul ones (4, 1): unit
    # (a, j) reads the column a of x, all three rows
    V = r.standard_normal((3, 4)).astype(np.float32)
    c = r.standard_normal(4).astype(np.float32) * 0.3
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0]),
             helper.make_node("MatMul", ["t", "V"], ["m"]),
             helper.make_node("Add", ["m", "c"], ["z"]),
             helper.make_node("Relu", ["z"], ["h"]),
             helper.make_node("MatMul", ["h", "ones"], ["y"])]
    W1 = np.zeros((8, 6))
    for a in range(2):
        for j in range(4):
            for i in range(3):
                W1[a * 4 + j, i * 2 + a] = V[i, j]
    return (make_model(nodes, [const("V", V), const("c", c), const("ones", np.ones((4, 1)))],
                       input_shape=(3, 2)),
            mlp([W1, np.kron(np.eye(2), np.ones((1, 4)))], [np.tile(c, 2), np.zeros(2)]))


@pytest.mark.parametrize("kind", ["reshape", "transpose"])
def test_an_input_whose_rows_are_mixed_counts_all_six_inputs(kind):
    model, by_hand = _mixing_model(kind)
    net = import_model(model, source="m.onnx")
    assert net.input_dim == 6 and "batch" not in net.info and net.info["notices"] == []
    assert_matches_ort(net, model, (3, 2))
    X = sample_inputs(6, 32)
    np.testing.assert_allclose(net.forward(X), by_hand.forward(X), rtol=1e-5, atol=1e-5)
    got = count_regions(net, (-1, 1)).regions
    assert got == count_regions(by_hand, (-1, 1)).regions
    assert got > 7


def _per_sample_model(Ws: list[np.ndarray], bs: list[np.ndarray]) -> onnx.ModelProto:
    """x [3, 2] -> Unsqueeze [3, 1, 2] -> MatMul W [3, 2, 3] -> Add b [3, 1, 3] -> Relu ->
    MatMul ones (3, 1): sample i has its own weights W[i], b[i]."""
    nodes = [helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),
             helper.make_node("MatMul", ["u", "W"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["z"]),
             helper.make_node("Relu", ["z"], ["h"]),
             helper.make_node("MatMul", ["h", "ones"], ["y"])]
    inits = [const("ax", [1], np.int64), const("ones", np.ones((3, 1))),
             const("W", np.stack([W.T for W in Ws])),
             const("b", np.stack(bs)[:, None, :])]
    return make_model(nodes, inits, input_shape=(3, 2))


@pytest.mark.parametrize("change", ["none", "weight", "bias"])
def test_samples_with_their_own_weights_are_not_reduced(change):
    """Three independent samples: counted once if their weights and biases are exactly equal,
    else as the network on 6 inputs, whose count is the product of the samples' counts."""
    Ws, bs = [W7.copy() for _ in range(3)], [B7.copy() for _ in range(3)]
    if change == "weight":      # sample 2's third line x - y = -0.3 becomes x = -0.3,
        Ws[2][2] = [1.0, 0.0]   # parallel to x = -0.1: 3 x 2 = 6 regions
    elif change == "bias":      # sample 1's line x = -0.1 moves to x = -1.5, out of the box:
        bs[1][0] = 1.5          # two crossing lines, 4 regions
    model = _per_sample_model(Ws, bs)
    net = import_model(model, source="m.onnx")
    got = count_regions(net, (-1, 1)).regions
    if change == "none":
        assert net.input_dim == 2 and net.info["notices"] == [NOTICE.format(src="m.onnx")]
        assert_batch_matches_ort(net, model, (3, 2))
        assert got == 7
        return
    assert net.input_dim == 6 and net.info["notices"] == [] and "batch" not in net.info
    assert_matches_ort(net, model, (3, 2))
    each = [count_regions(mlp([W.astype(np.float32), np.ones((1, 3))],
                              [b.astype(np.float32), np.zeros(1)]), (-1, 1)).regions
            for W, b in zip(Ws, bs)]
    assert each == ([7, 7, 6] if change == "weight" else [7, 4, 7])
    assert got == int(np.prod(each))


def test_an_output_over_the_batch_is_counted_whole_and_a_per_sample_tensor_once():
    """Identical samples whose graph output sums over axis 0 (ones (1, 3) @ h): the network of
    6 inputs (7^3 regions); counted on the per-sample tensor ``h`` (``output=``), one sample
    (7)."""
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["z"], transB=1),
             helper.make_node("Relu", ["z"], ["h"]),
             helper.make_node("MatMul", ["ones", "h"], ["y"])]
    model = make_model(nodes, [const("W", W7), const("b", B7), const("ones", np.ones((1, 3)))],
                       input_shape=(3, 2))
    whole = import_model(model, source="m.onnx")
    assert whole.input_dim == 6 and whole.info["notices"] == []
    assert_matches_ort(whole, model, (3, 2))
    assert count_regions(model, (-1, 1)).regions == 7 ** 3
    one = import_model(model, source="m.onnx", output="h")
    assert one.input_dim == 2 and one.output_dim == 3
    assert count_regions(model, (-1, 1), output="h").regions == 7


# ---------------------------------------------------------------------------------------------
# The IR rule


def _sample() -> Network:
    """One sample: a ReLU layer (with a constant unit), a max layer over its units and the
    input, a leaky layer reading both; two outputs."""
    r = np.random.default_rng(3)
    W1 = r.standard_normal((4, 2))
    W1[2] = 0.0                                      # a constant unit
    l1 = Layer(Affine({0: W1}, r.standard_normal(4) * 0.3), np.zeros(4), "l1")
    l2 = MaxLayer(Affine({1: r.standard_normal((5, 4)), 0: r.standard_normal((5, 2))},
                         r.standard_normal(5) * 0.3), np.array([[0, 3, -1], [1, 2, 4]]), "l2")
    l3 = Layer(Affine({2: r.standard_normal((3, 2)), 1: r.standard_normal((3, 4))},
                      r.standard_normal(3) * 0.3), np.array([0.0, 0.1, -1.0]), "l3")
    out = Affine({3: r.standard_normal((2, 3))}, r.standard_normal(2))
    return Network(2, (l1, l2, l3), out)


def _copies(one: Network, n: int, order: str) -> Network:
    """``n`` copies of ``one`` side by side, the input row-major by sample; the units of each
    layer by sample (``"contiguous"``, a batch axis kept first) or interleaved."""
    def place(size: int) -> np.ndarray:     # place[i, j]: position of unit j of copy i
        grid = np.arange(n * size)
        return grid.reshape(n, size) if order == "contiguous" else grid.reshape(size, n).T

    spots = [np.arange(n * one.input_dim).reshape(n, -1)] + [place(la.size) for la in one.layers]

    def big(aff: Affine, rows: np.ndarray) -> Affine:
        W = {s: np.zeros((rows.size, spots[s].size)) for s in aff.W}
        b = np.zeros(rows.size)
        for i in range(n):
            for s, w in aff.W.items():
                W[s][np.ix_(rows[i], spots[s][i])] = w
            b[rows[i]] = aff.b
        return Affine(W, b)

    layers = []
    for la in one.layers:
        if isinstance(la, MaxLayer):
            pre = place(la.affine.size)
            g = np.zeros((n * la.size, la.groups.shape[1]), dtype=np.int64)
            out = place(la.size)
            for i in range(n):
                g[out[i]] = np.where(la.groups >= 0, pre[i][np.maximum(la.groups, 0)], -1)
            layers.append(MaxLayer(big(la.affine, pre), g, la.name))
        else:
            rows = place(la.size)
            slope = np.zeros(n * la.size)
            for i in range(n):
                slope[rows[i]] = la.neg_slope
            layers.append(Layer(big(la.affine, rows), slope, la.name))
    return Network(n * one.input_dim, tuple(layers), big(one.output, place(one.output_dim)))


@pytest.mark.parametrize("order", ["contiguous", "interleaved"])
def test_copies_of_a_network_reduce_to_it(order):
    one = _sample()
    many = _copies(one, 3, order)
    X = sample_inputs(6, 64)
    got = reduce_batch(many, 3)
    if order == "interleaved":      # its constant unit is not where a batch axis puts it
        assert got is None
        one = _without_constant(one)
        many = _copies(one, 3, order)
        got = reduce_batch(many, 3)
    assert got is not None and got.input_dim == 2 and got.widths == one.widths
    np.testing.assert_array_equal(got.forward(X[:, :2]), one.forward(X[:, :2]))
    for i in range(3):       # every copy computes the same on its own row
        np.testing.assert_allclose(many.forward(X)[:, _rows(one.output_dim, i, order)],
                                   one.forward(X[:, 2 * i:2 * i + 2]), rtol=1e-12, atol=1e-12)
    assert count_regions(got, (-1, 1)).regions == count_regions(one, (-1, 1)).regions


def _without_constant(one: Network) -> Network:
    l1 = one.layers[0]
    W1 = l1.affine.W[0].copy()
    W1[2] = [0.5, -0.25]
    return Network(2, (Layer(Affine({0: W1}, l1.affine.b), l1.neg_slope, "l1"),
                       *one.layers[1:]), one.output)


def _rows(m: int, i: int, order: str) -> np.ndarray:
    """The outputs of copy i among the outputs of 3 copies."""
    return np.arange(i * m, (i + 1) * m) if order == "contiguous" else np.arange(m) * 3 + i


@pytest.mark.parametrize("change", ["cross-weight", "slope", "group", "output"])
def test_copies_that_differ_anywhere_are_not_reduced(change):
    many = _copies(_sample(), 3, "contiguous")
    layers = list(many.layers)
    if change == "cross-weight":          # sample 1's first unit reads sample 0's input, a bit
        W = layers[0].affine.W[0].copy()
        W[4, 0] = 1e-300
        layers[0] = Layer(Affine({0: W}, layers[0].affine.b), layers[0].neg_slope)
    elif change == "slope":
        slope = layers[2].neg_slope.copy()
        slope[-2] = 0.2
        layers[2] = Layer(layers[2].affine, slope)
    elif change == "group":               # sample 2's second group takes another piece
        g = layers[1].groups.copy()
        g[5, 2] = 10 + 3
        layers[1] = MaxLayer(layers[1].affine, g)
    out = many.output
    if change == "output":
        b = out.b.copy()
        b[5] = np.nextafter(b[5], 1.0)
        out = Affine(out.W, b)
    assert reduce_batch(Network(6, tuple(layers), out), 3) is None
    assert reduce_batch(many, 3) is not None


def _sparse(net: Network, stored_zero: tuple[int, int] | None = None) -> Network:
    """``net`` with every weight a ``csr_array``; ``stored_zero``: an explicit 0 stored at
    (row, column) of the first layer's input weight."""
    import scipy.sparse as sp

    def csr(aff: Affine, first: bool) -> Affine:
        W = {}
        for s, w in aff.W.items():
            m = sp.csr_array(w)
            if first and s == 0 and stored_zero is not None:
                coo = m.tocoo()
                m = sp.csr_array((np.append(coo.data, 0.0), (np.append(coo.row, stored_zero[0]),
                                                            np.append(coo.col, stored_zero[1]))),
                                 shape=m.shape)
                assert m.nnz == coo.nnz + 1          # the zero is stored
            W[s] = m
        return Affine(W, aff.b)

    layers = tuple(MaxLayer(csr(la.affine, k == 0), la.groups, la.name) if isinstance(la, MaxLayer)
                   else Layer(csr(la.affine, k == 0), la.neg_slope, la.name)
                   for k, la in enumerate(net.layers))
    return Network(net.input_dim, layers, csr(net.output, False))


def test_sparse_copies_reduce_and_a_stored_zero_reads_nothing():
    one = _sample()
    many = _sparse(_copies(one, 3, "contiguous"), stored_zero=(4, 0))   # copy 1 "reads" row 0
    got = reduce_batch(many, 3)
    assert got is not None and got.widths == one.widths
    for mine, theirs in zip([la.affine for la in got.layers] + [got.output],
                            [la.affine for la in one.layers] + [one.output]):
        assert mine.W.keys() == theirs.W.keys()
        for s in mine.W:                             # sample 0's weights, exactly
            np.testing.assert_array_equal(mine.W[s].toarray(), theirs.W[s])
        np.testing.assert_array_equal(mine.b, theirs.b)
    X = sample_inputs(2, 64)
    np.testing.assert_allclose(got.forward(X), one.forward(X), rtol=1e-13, atol=1e-13)
    assert reduce_batch(_sparse(_copies(_without_constant(one), 3, "interleaved")), 3) is not None
    W = many.layers[0].affine.W[0].tolil()
    W[4, 0] = 1e-300                                 # now it does
    crossed = Layer(Affine({0: W.tocsr()}, many.layers[0].affine.b), many.layers[0].neg_slope)
    assert reduce_batch(Network(6, (crossed, *many.layers[1:]), many.output), 3) is None
