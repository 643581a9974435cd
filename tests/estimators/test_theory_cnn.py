"""Xiong et al. (ICML 2020) one-layer CNN counts, and the dense layer of the same width.

``xiong_count`` is the Theorem 2 formula (see its docstring); ``xiong_one_layer_cnn`` draws a
generic shared-weight convolution and ``arrangement_box`` a box holding every vertex (minimal
flat) of its arrangement, so the count in the box is the count in R^n0.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.ir.network import mlp
from milpregions.testing import cnn as C
from milpregions.testing import constructions

# (input_shape, kernel_shape, stride, filters, expected count)
CNN_CASES = [
    ((1, 3), (1, 2), 1, 3, 40),
    ((1, 3), (1, 2), 1, 1, 4),
    ((1, 4), (1, 2), 1, 2, 55),
    ((1, 4), (1, 3), 1, 3, 57),
    ((1, 4), (1, 2), 2, 3, 49),
    ((1, 5), (1, 2), 1, 2, 200),
    ((1, 5), (1, 3), 1, 2, 63),
    ((1, 5), (1, 2), 2, 2, 16),
    ((1, 5), (1, 3), 2, 3, 63),
    ((2, 3), (1, 2), 1, 2, 225),       # 2-D, rows are independent 1-D problems: 15 * 15
    ((2, 3), (2, 2), 1, 4, 247),       # 2-D, two overlapping 2x2 windows, 4 filters
    ((2, 2, 2), (2, 1), 1, 3, 64),     # two input channels
    ((2, 3, 3), (2, 2), 1, 2, 256),    # two channels, 2x2 kernel on 3x3 (cf. the 1-channel case below)
]


def _ids(case):
    shape, kernel, stride, filters, _ = case
    return f"in{'x'.join(map(str, shape))}-k{'x'.join(map(str, kernel))}-s{stride}-f{filters}"


@pytest.mark.parametrize("case", CNN_CASES, ids=[_ids(c) for c in CNN_CASES])
def test_xiong_count_matches_counter(case):
    shape, kernel, stride, filters, expected = case
    assert C.xiong_count(shape, kernel, stride, filters) == expected
    net = C.xiong_one_layer_cnn(shape, kernel, stride, filters, seed=0)
    assert net.info["count"] == expected
    lo, hi = C.arrangement_box(net)
    assert np.allclose(lo, net.info["box_lo"]) and np.allclose(hi, net.info["box_hi"])
    res = count_regions(net, (lo, hi))
    assert res.exact
    assert res.regions == expected


def test_known_check_1x3_kernel2_three_filters_vs_dense():
    """Input 1x3, kernel 1x2, stride 1, 3 filters: 40 regions; 6 dense units on R^3: 42."""
    assert C.xiong_count((1, 3), (1, 2), 1, 3) == 40
    dense = constructions.general_position_layer(3, 6, seed=0)
    assert count_regions(dense, (dense.info["box_lo"], dense.info["box_hi"])).regions == 42
    assert constructions.zaslavsky_count(3, 6) == 42


@pytest.mark.parametrize("case", [c for c in CNN_CASES if c[0][0] == 1 and len(c[0]) == 2],
                         ids=[_ids(c) for c in CNN_CASES if c[0][0] == 1 and len(c[0]) == 2])
def test_dense_layer_same_width_gives_zaslavsky(case):
    """A dense layer with as many units as the CNN, in general position: sum_{j<=n0} C(n, j)
    (>= the CNN's count: weight sharing and locality can only remove regions)."""
    shape, kernel, stride, filters, expected = case
    net = C.xiong_one_layer_cnn(shape, kernel, stride, filters, seed=0)
    n0, n = net.input_dim, net.widths[0]
    dense = constructions.general_position_layer(n0, n, seed=1)
    res = count_regions(dense, (dense.info["box_lo"], dense.info["box_hi"]))
    assert res.regions == constructions.zaslavsky_count(n0, n) >= expected


def test_milp_method_agrees_on_the_known_check():
    net = C.xiong_one_layer_cnn((1, 3), (1, 2), 1, 3, seed=0)
    box = C.arrangement_box(net)
    assert count_regions(net, box, method="milp").regions == 40


def test_weight_layout_is_the_convolution():
    """Unit f*P + p is filter f at output position p (NCHW flattening), no padding."""
    shape, kernel, stride, filters = (2, 3, 4), (2, 2), (1, 2), 3
    net = C.xiong_one_layer_cnn(shape, kernel, stride, filters, seed=3)
    W = net.layers[0].affine.W[0]
    b = net.layers[0].affine.b
    Cin, H, Wd = shape
    oh, ow = (H - 2) // 1 + 1, (Wd - 2) // 2 + 1
    assert net.info["conv_output_shape"] == [filters, oh, ow]
    # recover the kernels from position 0 and check every position against a direct conv
    x = np.random.default_rng(0).standard_normal(Cin * H * Wd)
    img = x.reshape(Cin, H, Wd)
    z = W @ x + b
    K = np.zeros((filters, Cin, 2, 2))
    for f in range(filters):
        row = W[f * oh * ow].reshape(Cin, H, Wd)
        K[f] = row[:, :2, :2]
    for f in range(filters):
        for i in range(oh):
            for j in range(ow):
                patch = img[:, i:i + 2, 2 * j:2 * j + 2]
                want = np.sum(K[f] * patch) + b[f * oh * ow]
                assert np.isclose(z[f * oh * ow + i * ow + j], want)
    # one bias per filter
    assert np.all(b.reshape(filters, -1) == b.reshape(filters, -1)[:, :1])


def _hall_independent_subsets(shape, kernel, stride, filters) -> int:
    _, _, _, _, supports = C._conv_geometry(shape, kernel, stride)
    rows = [supports[p] for f in range(filters) for p in range(len(supports))]
    total = 0
    for k in range(len(rows) + 1):
        for S in itertools.combinations(range(len(rows)), k):
            total += C._hall_independent(S, rows)
    return total


@pytest.mark.parametrize("case", [((1, 3), (1, 2), 1, 3), ((1, 5), (1, 2), 1, 2),
                                  ((2, 3), (2, 2), 1, 3), ((1, 4), (1, 2), 2, 3)])
def test_formula_counts_hall_independent_sets(case):
    """The t-vector sum of the theorem = the number of unit sets satisfying Hall's condition."""
    assert C.xiong_count(*case) == _hall_independent_subsets(*case)


def test_one_channel_2d_weight_sharing_dependency():
    """Input 3x3, kernel 2x2, stride 1, 2 filters, one channel: Hall calls all 8 units
    independent (formula 256), but k2*k1 = k1*k2 forces one dependency for every weight, so
    the true count is 2^8 - 1 = 255. The construction refuses; a hand-built layer counts 255."""
    assert C.xiong_count((3, 3), (2, 2), 1, 2) == 256
    with pytest.raises(RuntimeError, match="weight sharing"):
        C.xiong_one_layer_cnn((3, 3), (2, 2), 1, 2, seed=0, max_tries=3)
    rng = np.random.default_rng(0)
    K = constructions._f32(rng.standard_normal((2, 2, 2)))
    bias = constructions._f32(rng.standard_normal(2))
    W = np.zeros((8, 9))
    for f in range(2):
        for p, (i, j) in enumerate(itertools.product(range(2), range(2))):
            W[f * 4 + p].reshape(3, 3)[i:i + 2, j:j + 2] = K[f]
    b = np.repeat(bias, 4)
    assert np.linalg.matrix_rank(W) == 7
    net = mlp([W, np.ones((1, 8))], [b, np.zeros(1)])
    assert count_regions(net, C.arrangement_box(net)).regions == 255
