"""The tree counter (the enumerator, via ``count_regions``) against numbers that can be wrong.

Ground truth comes from three independent places: analytic constructions (constructions.py),
the exact rational 1-D/2-D oracles (tests/exact_oracles.py), and the slow MILP method
(``method="milp"``). Every count is run on both enumeration paths: the vertex path
(``vertex_dim=4``, d <= 4) and the LP path (``vertex_dim=0``); both must give the same number.

Until LP bound tightening lands, counts use interval bounds (``tighten=False``); the tests that
take a ``tighten`` parameter also run with ``tighten=True`` once ``bounds.lp_tighten`` exists.
"""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import Affine, Layer, Network, mlp
from milpregions.testing import constructions as C

from exact_oracles import count_1d, count_2d

PATHS = [pytest.param(4, id="vertex"), pytest.param(0, id="lp")]
TIGHTEN = [pytest.param(False, id="interval"),
           pytest.param(True, id="lp-tighten")]


def tree(net, box=(-1.0, 1.0), vertex_dim=4, tighten=False, **kw):
    return count_regions(net, box, method="tree", tighten=tighten, vertex_dim=vertex_dim, **kw)


def ntree(net, box=(-1.0, 1.0), vertex_dim=4, tighten=False, **kw) -> int:
    res = tree(net, box, vertex_dim, tighten, **kw)
    assert res.exact and res.stopped is None and res.method == "tree"
    return res.regions


def both_paths(net, box=(-1.0, 1.0), tighten=False) -> int:
    """The count on the vertex path and on the LP path; asserts they agree."""
    a = ntree(net, box, 4, tighten)
    b = ntree(net, box, 0, tighten)
    assert a == b, f"vertex path {a} != LP path {b}"
    return a


def f64(a):
    return np.asarray(a, dtype=np.float64)


def one_layer(W, b, neg_slope=0.0):
    W = f64(W)
    return mlp([W, np.ones((1, W.shape[0]))], [f64(b), np.zeros(1)], neg_slope=neg_slope)


def two_layer(W1, b1, W2, b2, neg_slope=0.0):
    W1, W2 = f64(W1), f64(W2)
    return mlp([W1, W2, np.ones((1, W2.shape[0]))], [f64(b1), f64(b2), np.zeros(1)],
               neg_slope=neg_slope)


def random_mlp(n0, widths, seed, neg_slope=0.0, bias_scale=0.5):
    """He-like weights N(0, 2/fan_in), biases U(-bias_scale, bias_scale), one output."""
    rng = np.random.default_rng(seed)
    sizes = [n0] + list(widths) + [1]
    Ws = [rng.normal(0.0, np.sqrt(2.0 / a), (b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.uniform(-bias_scale, bias_scale, b) for b in sizes[1:]]
    return mlp(Ws, bs, neg_slope=neg_slope)


def weights(net: Network):
    """(Ws, bs, neg_slope) of a plain MLP built by ``mlp`` (every layer reads only the previous)."""
    Ws = [l.affine.W[k] for k, l in enumerate(net.layers)] + [net.output.W[len(net.layers)]]
    bs = [l.affine.b for l in net.layers] + [net.output.b]
    return [W.copy() for W in Ws], [b.copy() for b in bs]


# ============================================================================================
# 1. analytic counts
# ============================================================================================

@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("n0,n,seed", [
    (1, 1, 0), (1, 5, 1), (1, 9, 2),
    (2, 2, 0), (2, 5, 1), (2, 8, 2), (2, 10, 3),
    (3, 3, 0), (3, 6, 1), (3, 8, 2),
    (4, 4, 0), (4, 6, 1), (4, 8, 2),
])
def test_general_position_layer_zaslavsky(n0, n, seed, vertex_dim):
    net = C.general_position_layer(n0, n, seed)
    want = sum(comb(n, j) for j in range(n0 + 1))
    assert net.info["count"] == want
    assert ntree(net, (-1.0, 1.0), vertex_dim) == want


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_general_position_layer_other_box(vertex_dim):
    # the construction also places every vertex inside a non-symmetric box
    box = ([-3.0, 0.5], [2.0, 0.75])
    net = C.general_position_layer(2, 7, 5, box=box)
    assert ntree(net, box, vertex_dim) == 1 + 7 + 21 == count_2d(net, *box)


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("n0,p,depth", [
    (1, 2, 1), (1, 2, 2), (1, 2, 3), (1, 2, 4),
    (1, 3, 1), (1, 3, 2), (1, 3, 3), (1, 3, 4),
    (2, 2, 1), (2, 2, 2), (2, 2, 3),
    (3, 2, 1),
])
def test_montufar_folding(n0, p, depth, vertex_dim):
    net = C.montufar_folding(n0, p, depth)
    want = p ** (n0 * depth)
    assert C.montufar_count(n0, p, depth) == want
    assert ntree(net, (0.0, 1.0), vertex_dim) == want


@pytest.mark.parametrize("n0,p,depth", [(1, 2, 3), (1, 3, 2), (2, 2, 2)])
def test_montufar_folding_oracle(n0, p, depth):
    net = C.montufar_folding(n0, p, depth)
    oracle = count_1d if n0 == 1 else count_2d
    assert oracle(net, 0.0, 1.0) == p ** (n0 * depth)


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("widths", [[1], [4], [3, 1], [3, 2], [3, 3], [4, 3], [5, 4], [3, 3, 3],
                                    [4, 3, 2]])
def test_serra_zigzag(widths, vertex_dim):
    net = C.serra_zigzag(widths)
    want = int(np.prod([n + 1 for n in widths]))
    assert ntree(net, (0.0, 1.0), vertex_dim) == want
    if len(widths) <= 2:
        assert count_1d(net, 0.0, 1.0) == want


@pytest.mark.parametrize("tighten", TIGHTEN)
@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("n0,widths,seed", [(1, [3], 0), (2, [4, 4], 1), (3, [5, 3, 2], 2),
                                            (4, [6], 3), (5, [4, 4], 4)])
def test_all_stable_is_one_region(n0, widths, seed, vertex_dim, tighten):
    net = C.all_stable(n0, widths, seed)
    res = tree(net, (-1.0, 1.0), vertex_dim, tighten)
    assert res.exact and res.regions == 1
    assert res.unstable_units == 0


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("n0", [1, 2, 3, 5])
def test_no_hidden_layer_is_one_region(n0, vertex_dim):
    rng = np.random.default_rng(n0)
    net = mlp([rng.standard_normal((2, n0))], [rng.standard_normal(2)])
    assert net.layers == ()
    regions = []
    res = tree(net, (-2.0, 3.0), vertex_dim, on_region=regions.append)
    assert res.exact and res.regions == 1 and len(regions) == 1
    assert np.all(regions[0].witness >= -2.0) and np.all(regions[0].witness <= 3.0)


# ============================================================================================
# 2. invariances
# ============================================================================================

def duplicate_unit(net: Network, layer: int, j: int) -> Network:
    """Unit j of hidden layer ``layer`` (0-based) duplicated; the next map reads half of each."""
    Ws, bs = weights(net)
    W, b, Wn = Ws[layer], bs[layer], Ws[layer + 1]
    Ws[layer] = np.vstack([W, W[j:j + 1]])
    bs[layer] = np.append(b, b[j])
    col = Wn[:, j:j + 1] / 2
    Wn = Wn.copy()
    Wn[:, j:j + 1] = col
    Ws[layer + 1] = np.hstack([Wn, col])
    return mlp(Ws, bs)


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("n0,widths,seed,layer,j", [
    (1, [3, 3], 0, 0, 1), (2, [4, 3], 1, 0, 2), (2, [4, 3], 2, 1, 0), (3, [4, 3], 3, 0, 0),
    (3, [3, 3], 4, 1, 2)])
def test_duplicated_unit_same_count(n0, widths, seed, layer, j, vertex_dim):
    net = random_mlp(n0, widths, seed)
    dup = duplicate_unit(net, layer, j)
    # the duplicate computes the same function
    X = np.random.default_rng(0).uniform(-1, 1, (50, n0))
    np.testing.assert_allclose(dup.forward(X), net.forward(X), atol=1e-12)
    a = ntree(net, (-1.0, 1.0), vertex_dim)
    assert ntree(dup, (-1.0, 1.0), vertex_dim) == a
    if n0 == 2:
        assert count_2d(net, -1.0, 1.0) == a
    if n0 == 1:
        assert count_1d(net, -1.0, 1.0) == a


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_duplicated_units_hand_count(vertex_dim):
    # relu(x) three times on [-1, 1]: 2 regions; relu(x), relu(x), relu(-x): still 2
    assert ntree(one_layer([[1.0], [1.0], [1.0]], [0, 0, 0]), vertex_dim=vertex_dim) == 2
    assert ntree(one_layer([[1.0], [1.0], [-1.0]], [0, 0, 0]), vertex_dim=vertex_dim) == 2
    # 2-D: x, x, 2x, y - 0.5: 4 regions
    net = one_layer([[1, 0], [1, 0], [2, 0], [0, 1]], [0, 0, 0, -0.5])
    assert ntree(net, vertex_dim=vertex_dim) == 4 == count_2d(net, -1.0, 1.0)


def add_zero_units(net: Network, layer: int, biases) -> Network:
    """Extra units with all-zero weights and the given biases appended to hidden ``layer``;
    the next map reads them with random nonzero weights, and its bias subtracts their constant
    output (relu(bias)), so the network computes the same function."""
    Ws, bs = weights(net)
    biases = f64(biases)
    k = len(biases)
    Ws[layer] = np.vstack([Ws[layer], np.zeros((k, Ws[layer].shape[1]))])
    bs[layer] = np.append(bs[layer], biases)
    Wn = Ws[layer + 1]
    extra = np.random.default_rng(7).standard_normal((Wn.shape[0], k))
    Ws[layer + 1] = np.hstack([Wn, extra])
    bs[layer + 1] = bs[layer + 1] - extra @ np.maximum(biases, 0.0)
    return mlp(Ws, bs)


@pytest.mark.parametrize("tighten", TIGHTEN)
@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("n0,widths,seed,layer", [(1, [3], 0, 0), (2, [4, 3], 1, 0),
                                                  (2, [4, 3], 2, 1), (3, [4, 4], 3, 0),
                                                  (3, [3, 3], 4, 1)])
def test_zero_weight_units_same_count(n0, widths, seed, layer, vertex_dim, tighten):
    net = random_mlp(n0, widths, seed)
    a = ntree(net, (-1.0, 1.0), vertex_dim, tighten)
    for biases in ([0.0], [0.0, 0.0], [0.3], [-0.3], [0.0, 0.7, -0.2, 0.0]):
        z = add_zero_units(net, layer, biases)
        X = np.random.default_rng(1).uniform(-1, 1, (30, n0))
        np.testing.assert_allclose(z.forward(X), net.forward(X), atol=1e-12)
        assert ntree(z, (-1.0, 1.0), vertex_dim, tighten) == a, biases
    if n0 == 2:
        assert count_2d(add_zero_units(net, layer, [0.0, 0.5]), -1.0, 1.0) == a


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_unit_identically_zero_on_a_region_1d(vertex_dim):
    # layer 1: relu(x); layer 2: relu(h) with zero bias -> z2 == 0 on x < 0, > 0 on x > 0
    net = two_layer([[1.0]], [0.0], [[1.0]], [0.0])
    assert ntree(net, (-1.0, 1.0), vertex_dim) == 2 == count_1d(net, -1.0, 1.0)
    # layer 2 = -h: zero on x < 0, negative on x > 0: still the 2 regions of layer 1
    net = two_layer([[1.0]], [0.0], [[-1.0]], [0.0])
    assert ntree(net, (-1.0, 1.0), vertex_dim) == 2 == count_1d(net, -1.0, 1.0)
    # layer 2 reads relu(x) and relu(-x) = |x| with zero bias: 2 regions
    net = two_layer([[1.0], [-1.0]], [0.0, 0.0], [[1.0, 1.0], [1.0, -1.0]], [0.0, 0.0])
    assert ntree(net, (-1.0, 1.0), vertex_dim) == 2 == count_1d(net, -1.0, 1.0)
    # a third layer reading the zero unit: z3 = relu(z2) - 0 on x < 0 still constant
    net = mlp([f64([[1.0]]), f64([[1.0]]), f64([[2.0], [-1.0]]), np.ones((1, 2))],
              [f64([0.0]), f64([0.0]), f64([0.0, 0.0]), np.zeros(1)])
    assert ntree(net, (-1.0, 1.0), vertex_dim) == 2 == count_1d(net, -1.0, 1.0)


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_unit_identically_zero_on_a_region_2d(vertex_dim):
    W1, b1 = [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]
    # relu(x) + relu(y): zero on the third quadrant, positive elsewhere -> 4 quadrants
    net = two_layer(W1, b1, [[1.0, 1.0]], [0.0])
    assert ntree(net, vertex_dim=vertex_dim) == 4 == count_2d(net, -1.0, 1.0)
    # relu(x) - relu(y): zero on the third quadrant, x - y splits the first -> 5
    net = two_layer(W1, b1, [[1.0, -1.0]], [0.0])
    assert ntree(net, vertex_dim=vertex_dim) == 5 == count_2d(net, -1.0, 1.0)
    # both at once, plus a unit that is zero on three quadrants: relu(x) + relu(y) - relu(x) ...
    net = two_layer(W1, b1, [[1.0, 1.0], [1.0, -1.0], [2.0, 0.0]], [0.0, 0.0, 0.0])
    assert ntree(net, vertex_dim=vertex_dim) == 5 == count_2d(net, -1.0, 1.0)


def rescale_unit(net: Network, layer: int, j: int, c: float) -> Network:
    Ws, bs = weights(net)
    Ws[layer][j] *= c
    bs[layer][j] *= c
    Ws[layer + 1][:, j] /= c
    return mlp(Ws, bs)


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("n0,widths,seed", [(1, [3, 3], 10), (2, [4, 4], 11), (3, [4, 3], 12)])
def test_positive_rescaling_same_count(n0, widths, seed, vertex_dim):
    net = random_mlp(n0, widths, seed)
    a = ntree(net, (-1.0, 1.0), vertex_dim)
    rng = np.random.default_rng(seed)
    for layer in range(len(widths)):
        for c in (1e-3, 0.37, 8.0, 1e3):
            j = int(rng.integers(widths[layer]))
            assert ntree(rescale_unit(net, layer, j, c), (-1.0, 1.0), vertex_dim) == a, (layer, j, c)
    if n0 == 2:
        assert count_2d(net, -1.0, 1.0) == a


def permute_units(net: Network, layer: int, perm) -> Network:
    Ws, bs = weights(net)
    Ws[layer] = Ws[layer][perm]
    bs[layer] = bs[layer][perm]
    Ws[layer + 1] = Ws[layer + 1][:, perm]
    return mlp(Ws, bs)


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("n0,widths,seed", [(1, [4, 3], 20), (2, [5, 4], 21), (3, [4, 4], 22)])
def test_permutation_same_count(n0, widths, seed, vertex_dim):
    net = random_mlp(n0, widths, seed)
    a = ntree(net, (-1.0, 1.0), vertex_dim)
    rng = np.random.default_rng(seed)
    for layer in range(len(widths)):
        for _ in range(2):
            perm = rng.permutation(widths[layer])
            p = permute_units(net, layer, perm)
            X = rng.uniform(-1, 1, (20, n0))
            np.testing.assert_allclose(p.forward(X), net.forward(X), atol=1e-12)
            assert ntree(p, (-1.0, 1.0), vertex_dim) == a, (layer, perm)


@pytest.mark.parametrize("n0,widths,seed", [(1, [4, 4], 30), (2, [4, 4], 31), (2, [6], 32),
                                            (3, [4, 3], 33)])
def test_sub_box_never_has_more_regions(n0, widths, seed):
    net = random_mlp(n0, widths, seed)
    full = both_paths(net)
    rng = np.random.default_rng(seed)
    for _ in range(4):
        a, b = rng.uniform(-1, 1, (2, n0))
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        hi = np.maximum(hi, lo + 0.05)
        hi = np.minimum(hi, 1.0)
        lo = np.minimum(lo, hi - 0.05)
        sub = both_paths(net, (lo, hi))
        assert 1 <= sub <= full, (lo, hi)
        if n0 == 2:
            assert sub == count_2d(net, lo, hi)
        if n0 == 1:
            assert sub == count_1d(net, lo, hi)


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("slope", [pytest.param(0.1, id="leaky0.1"), pytest.param(-1.0, id="abs"),
                                   pytest.param(-0.5, id="neg-0.5"), pytest.param(2.0, id="slope2")])
@pytest.mark.parametrize("seed", [40, 41, 42])
def test_leaky_and_abs_vs_oracle(seed, slope, vertex_dim):
    net2 = random_mlp(2, [4, 3], seed, neg_slope=slope)
    assert ntree(net2, (-1.0, 1.0), vertex_dim) == count_2d(net2, -1.0, 1.0)
    net1 = random_mlp(1, [4, 4, 3], seed, neg_slope=slope)
    assert ntree(net1, (-1.0, 1.0), vertex_dim) == count_1d(net1, -1.0, 1.0)


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_abs_hand_count(vertex_dim):
    # |x| then |(|x|) - 0.5|: breakpoints at 0, -0.5, 0.5 -> 4 regions on [-1, 1]
    net = two_layer([[1.0]], [0.0], [[1.0]], [-0.5], neg_slope=-1.0)
    assert ntree(net, (-1.0, 1.0), vertex_dim) == 4 == count_1d(net, -1.0, 1.0)


def residual_net(n0, n1, n2, seed, neg_slope=0.0):
    """Layer 2 reads the input and layer 1; the output reads the input, layer 1 and layer 2."""
    rng = np.random.default_rng(seed)
    L1 = Layer(Affine({0: rng.normal(0, 1, (n1, n0))}, rng.uniform(-0.5, 0.5, n1)),
               np.full(n1, float(neg_slope)))
    L2 = Layer(Affine({0: rng.normal(0, 1, (n2, n0)), 1: rng.normal(0, 1, (n2, n1))},
                      rng.uniform(-0.5, 0.5, n2)), np.full(n2, float(neg_slope)))
    out = Affine({0: rng.normal(0, 1, (1, n0)), 1: rng.normal(0, 1, (1, n1)),
                  2: rng.normal(0, 1, (1, n2))}, np.zeros(1))
    return Network(n0, (L1, L2), out)


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("seed", [50, 51, 52, 53])
def test_residual_vs_oracle(seed, vertex_dim):
    net = residual_net(2, 4, 4, seed)
    assert ntree(net, (-1.0, 1.0), vertex_dim) == count_2d(net, -1.0, 1.0)
    net = residual_net(1, 3, 3, seed, neg_slope=0.2)
    assert ntree(net, (-1.0, 1.0), vertex_dim) == count_1d(net, -1.0, 1.0)


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_residual_skip_only_layer(vertex_dim):
    # layer 2 reads only the input (a skip past layer 1): two independent line sets, 3 x 3 grid
    L1 = Layer(Affine({0: f64([[1, 0], [1, 0]])}, f64([0.5, -0.5])), np.zeros(2))
    L2 = Layer(Affine({0: f64([[0, 1], [0, -1]])}, f64([0.5, 0.5])), np.zeros(2))
    net = Network(2, (L1, L2), Affine({2: np.ones((1, 2))}, np.zeros(1)))
    assert ntree(net, vertex_dim=vertex_dim) == 9 == count_2d(net, -1.0, 1.0)


# ============================================================================================
# 3. degenerate networks vs the exact oracles
# ============================================================================================

def through_point(normals, point, extra_W=None, extra_b=None, n2=0, seed=0):
    """Layer 1: lines with the given (small integer) normals through ``point`` (dyadic, so
    the biases are exact), plus optional extra units; optional He layer 2 of n2 units."""
    W = f64(normals)
    b = -(W @ f64(point))
    if extra_W is not None:
        W = np.vstack([W, f64(extra_W)])
        b = np.append(b, extra_b)
    if n2 == 0:
        return one_layer(W, b)
    rng = np.random.default_rng(seed)
    W2 = rng.normal(0, np.sqrt(2 / W.shape[0]), (n2, W.shape[0]))
    b2 = rng.uniform(-0.3, 0.3, n2)
    return two_layer(W, b, W2, b2)


NORMALS = [[1, 0], [0, 1], [1, 1], [1, -1], [2, 1], [1, -3], [-3, 2]]


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("point", [pytest.param([0.0, 0.0], id="origin"),
                                   pytest.param([0.25, -0.5], id="interior"),
                                   pytest.param([1.0, 1.0], id="corner"),
                                   pytest.param([-1.0, 1.0], id="corner2"),
                                   pytest.param([1.0, 0.25], id="edge"),
                                   pytest.param([-0.375, -1.0], id="edge2")])
@pytest.mark.parametrize("n2", [0, 3])
def test_concurrent_lines_vs_oracle(point, n2, vertex_dim):
    for k in (2, 4, 7):
        net = through_point(NORMALS[:k], point, n2=n2, seed=k)
        want = count_2d(net, -1.0, 1.0)
        assert ntree(net, (-1.0, 1.0), vertex_dim) == want, k
    if n2 == 0 and point == [0.0, 0.0]:
        assert want == C.central_count(2, 7) == 14


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("n,seed,n2", [(3, 0, 0), (6, 1, 0), (4, 2, 4), (5, 3, 3)])
def test_concurrent_layer_construction(n, seed, n2, vertex_dim):
    net = C.concurrent_layer(2, n, seed, n2=n2)
    got = ntree(net, (-1.0, 1.0), vertex_dim)
    assert got == count_2d(net, -1.0, 1.0)
    if n2 == 0:
        assert got == C.central_count(2, n)


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_duplicate_and_parallel_hyperplanes_vs_oracle(vertex_dim):
    W = [[1, 1], [1, 1], [2, 2], [-1, -1],   # one line x + y = -0.25, four times
         [1, 1], [1, 1],                     # a parallel line x + y = 0.5, twice
         [0, 1], [0, -3],                    # y = 0.5 twice (opposite orientations)
         [0, 1]]                             # parallel y = -0.25
    b = [0.25, 0.25, 0.5, -0.25, -0.5, -0.5, -0.5, 1.5, 0.25]
    net = one_layer(W, b)
    # lines x+y=-0.25, x+y=0.5, y=0.5, y=-0.25: two parallel pairs, all 4 crossings inside
    # and all 3 x 3 cells meet the box: 9 regions
    assert ntree(net, vertex_dim=vertex_dim) == 9 == count_2d(net, -1.0, 1.0)
    # with a second layer reading all of them
    rng = np.random.default_rng(3)
    net2 = two_layer(W, b, rng.normal(0, 0.5, (4, 9)), rng.uniform(-0.3, 0.3, 4))
    assert ntree(net2, vertex_dim=vertex_dim) == count_2d(net2, -1.0, 1.0)
    # 3-D: duplicate planes give the same count as the planes once (vs the MILP method)
    W3 = f64([[1, 0, 0], [1, 0, 0], [0, 1, 1], [0, 2, 2], [1, 1, 1], [-1, -1, -1]])
    b3 = f64([0.25, 0.25, 0.0, 0.0, -0.5, 0.5])
    dup = one_layer(W3, b3)
    once = one_layer(W3[[0, 2, 4]], b3[[0, 2, 4]])
    assert ntree(dup, vertex_dim=vertex_dim) == ntree(once, vertex_dim=vertex_dim)


def layer2_through_vertex(seed: int, through_box_corner: bool = False):
    """Layer 1: small-integer lines, three through v = (0.25, -0.5) plus two generic ones.
    Layer 2: units with small integer weights whose zero set passes exactly through v
    (bias = -a . h(v), exact in dyadic arithmetic), plus one through a second vertex."""
    rng = np.random.default_rng(seed)
    v = f64([0.25, -0.5])
    normals = f64([[1, 0], [0, 1], [1, 1], [2, -1], [1, 3]])
    W1 = normals.copy()
    b1 = -(W1[:3] @ v)
    b1 = np.append(b1, [-0.5, 0.75])
    if through_box_corner:
        # a fourth line through the corner (1, 1)
        W1 = np.vstack([W1, [[1, -1]]])
        b1 = np.append(b1, 0.0)
    h = lambda x: np.maximum(W1 @ x + b1, 0.0)  # noqa: E731  (exact: small dyadics)
    rows, biases = [], []
    targets = [v, v, v]
    # the vertex of lines 3 and 4 (2x - y = 0.5, x + 3y = -0.75): (3/28, ...) is not dyadic;
    # use the box corner (1, 1) instead when asked (a vertex of the box and of the line x = y)
    if through_box_corner:
        targets.append(f64([1.0, 1.0]))
    for t in targets:
        a = rng.integers(-3, 4, W1.shape[0]).astype(np.float64)
        while not np.any(a):
            a = rng.integers(-3, 4, W1.shape[0]).astype(np.float64)
        rows.append(a)
        biases.append(-(a @ h(t)))
    return two_layer(W1, b1, np.array(rows), np.array(biases))


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("corner", [False, True])
def test_layer2_through_layer1_vertex_vs_oracle(seed, corner, vertex_dim):
    net = layer2_through_vertex(seed, corner)
    v = f64([0.25, -0.5])
    z2 = net.preactivations(v[None, :])[1][0]
    assert np.all(z2[:3] == 0.0)  # exactly through the vertex
    assert ntree(net, (-1.0, 1.0), vertex_dim) == count_2d(net, -1.0, 1.0)


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_layer2_through_vertex_hand_count(vertex_dim):
    # layer 1: relu(x), relu(y); layer 2: relu(x) + relu(y) - 0.5 passes through (0.5, 0) and
    # (0, 0.5), both on layer-1 lines; in the 4 quadrants: Q1 split by x+y=0.5, Q2 by y=0.5,
    # Q4 by x=0.5, Q3 not (z2 = -0.5): 7 regions
    net = two_layer([[1, 0], [0, 1]], [0, 0], [[1, 1]], [-0.5])
    assert ntree(net, vertex_dim=vertex_dim) == 7 == count_2d(net, -1.0, 1.0)
    # layer 2 = relu(x) - relu(y) - 0: through the layer-1 vertex (0, 0): Q1 split -> 5
    net = two_layer([[1, 0], [0, 1]], [0, 0], [[1, -1]], [0.0])
    assert ntree(net, vertex_dim=vertex_dim) == 5 == count_2d(net, -1.0, 1.0)


def scaled_net(net: Network, s: float, shift=None) -> Network:
    """x -> net((x - shift) / s): the same arrangement on the box shift + s [-1, 1]^d."""
    d = net.input_dim
    shift = np.zeros(d) if shift is None else f64(shift)
    return net.map_input(np.eye(d) / s, -shift / s)


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("s", [1e6, 1e-6, 1e3, 1e-3])
@pytest.mark.parametrize("seed", [60, 61])
def test_huge_and_tiny_boxes_vs_oracle(s, seed, vertex_dim):
    base = random_mlp(2, [4, 4], seed)
    want = count_2d(base, -1.0, 1.0)
    net = scaled_net(base, s)
    assert count_2d(net, -s, s) == want
    assert ntree(net, (-s, s), vertex_dim) == want
    # the same with an offset box far from the origin
    shift = [3 * s, -5 * s]
    net = scaled_net(base, s, shift)
    box = (f64(shift) - s, f64(shift) + s)
    assert ntree(net, box, vertex_dim) == count_2d(net, *box)


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("s", [pytest.param(2.0 ** 20, id="2^20"), pytest.param(2.0 ** -20, id="2^-20"),
                               pytest.param(1e-6, id="1e-6")])
def test_huge_and_tiny_boxes_degenerate(s, vertex_dim):
    # concurrent lines through the box centre, a box corner and an edge point, integer normals.
    # The scale must make 1/s exact (a power of 2, or 1e-6 -> 1e6): with s = 1e6, 1/s rounds and
    # the lines miss the corner by ~1e-16 (normalised), so the exact oracle sees slivers far
    # below the counting margin that the tree rightly does not count.
    for point in ([0.0, 0.0], [1.0, 1.0], [1.0, 0.25]):
        net = scaled_net(through_point(NORMALS, point, n2=3, seed=1), s)
        assert ntree(net, (-s, s), vertex_dim) == count_2d(net, -s, s), point
    # a folding net on [0, s]^2
    fold = C.montufar_folding(2, 2, 2)
    net = fold.map_input(np.eye(2) / s, np.zeros(2))
    assert ntree(net, (0.0, s), vertex_dim) == 16


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("seed", range(70, 78))
def test_1d_random_vs_oracle(seed, vertex_dim):
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    widths = list(rng.integers(2, 7, depth))
    net = random_mlp(1, widths, seed)
    assert ntree(net, (-1.0, 1.0), vertex_dim) == count_1d(net, -1.0, 1.0)
    assert ntree(net, (-0.3, 0.6), vertex_dim) == count_1d(net, -0.3, 0.6)


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_1d_degenerate_vs_oracle(vertex_dim):
    # breakpoints at the box ends, shared breakpoints across layers, duplicate breakpoints
    W1 = [[1.0], [-1.0], [2.0], [1.0], [4.0]]
    b1 = [1.0, 1.0, 0.0, 0.0, -2.0]          # breakpoints -1, 1, 0, 0, 0.5
    W2 = [[1.0, 0, 0, 0, 0], [0, 0, 1.0, -2.0, 0], [0, 0, 0, 1.0, 1.0], [0, 0, 0, 2.0, 0]]
    b2 = [-0.5, 0.0, -0.5, -1.0]              # breakpoints -0.5, (const 0), 0.5 + ..., 0.5
    net = two_layer(W1, b1, W2, b2)
    want = count_1d(net, -1.0, 1.0)
    assert ntree(net, (-1.0, 1.0), vertex_dim) == want
    # relu(x) on [0, 1]: the breakpoint is a box end: 1 region; on [-1, 0]: 1 region
    assert ntree(one_layer([[1.0]], [0.0]), (0.0, 1.0), vertex_dim) == 1
    assert ntree(one_layer([[1.0]], [0.0]), (-1.0, 0.0), vertex_dim) == 1


# ============================================================================================
# 4. tree == milp (and == oracle in 2-D) on random small networks
# ============================================================================================

def random_cases(count: int = 24, default: int = 12):
    """``count`` random small nets; past the first ``default`` under -m slow (the MILP count
    costs ~0.15 s of CPU a net: the default suite checks 12 nets, the slow run 24)."""
    rng = np.random.default_rng(2024)
    out = []
    for i in range(count):
        n0 = int(rng.integers(1, 4))
        depth = int(rng.integers(1, 3))
        widths = [int(w) for w in rng.integers(2, 6, depth)]
        out.append(pytest.param(n0, widths, 100 + i, id=f"n0={n0}-{widths}-s{100 + i}",
                                marks=[pytest.mark.slow] if i >= default else []))
    return out


@pytest.mark.parametrize("tighten", TIGHTEN)
@pytest.mark.parametrize("n0,widths,seed", random_cases())
def test_tree_equals_milp(n0, widths, seed, tighten):
    net = random_mlp(n0, widths, seed)
    t = both_paths(net, tighten=tighten)
    m = count_regions(net, (-1.0, 1.0), method="milp", tighten=tighten)
    assert m.exact and m.method == "milp"
    assert t == m.regions
    if n0 == 2:
        assert t == count_2d(net, -1.0, 1.0)
    if n0 == 1:
        assert t == count_1d(net, -1.0, 1.0)


# ============================================================================================
# 5. every witness verified
# ============================================================================================

def check_witnesses(net, box, res, regions, n_dirs=50, seed=0):
    b = Box.make(box[0], box[1], net.input_dim)
    assert len(regions) == res.regions
    seen = set()
    rng = np.random.default_rng(seed)
    for reg in regions:
        w = np.asarray(reg.witness, dtype=np.float64)
        assert w.shape == (net.input_dim,)
        assert np.all(w >= b.lo) and np.all(w <= b.hi), w
        key = tuple(tuple(bool(v) for v in np.asarray(p)) for p in reg.pattern)
        assert key not in seen, "duplicate pattern"
        seen.add(key)
        got = net.pattern(w[None, :])
        assert len(got) == len(reg.pattern)
        for g, p in zip(got, reg.pattern):
            assert np.array_equal(g[0], np.asarray(p, dtype=bool)), (w, g[0], p)
        r = float(reg.radius)
        assert r > 0
        # the ball of radius r (normalised units) around the witness has the same pattern
        u = b.to_unit(w)
        D = rng.standard_normal((n_dirs, net.input_dim))
        D /= np.linalg.norm(D, axis=1, keepdims=True)
        Us = u + (1 - 1e-9) * r * D
        assert np.all(np.abs(Us) <= 1 + 1e-12), "ball leaves the box"
        # evaluated on the box-normalised network, where the radius is measured: in input
        # coordinates a 1e-6 box costs ~1e-10 of rounding in z, more than z's size at 1e-9 r
        # from a facet the ball touches
        pats = normalize(net, b).pattern(Us)
        for g, p in zip(pats, reg.pattern):
            bad = np.flatnonzero(~np.all(g == np.asarray(p, dtype=bool)[None, :], axis=1))
            assert bad.size == 0, f"pattern changes in the ball of radius {r} around {w}"


WITNESS_NETS = {
    "he2": (lambda: random_mlp(2, [5, 4], 80), (-1.0, 1.0)),
    "he3": (lambda: random_mlp(3, [4, 4], 81), (-1.0, 1.0)),
    "he1": (lambda: random_mlp(1, [4, 4, 3], 82), (-1.0, 1.0)),
    "he5": (lambda: random_mlp(5, [4, 3], 83), (-1.0, 1.0)),
    "leaky2": (lambda: random_mlp(2, [4, 4], 84, neg_slope=0.1), (-2.0, 0.5)),
    "residual2": (lambda: residual_net(2, 4, 3, 85), (-1.0, 1.0)),
    "montufar2": (lambda: C.montufar_folding(2, 2, 2), (0.0, 1.0)),
    "serra": (lambda: C.serra_zigzag([3, 3]), (0.0, 1.0)),
    "gp4": (lambda: C.general_position_layer(4, 6, 1), (-1.0, 1.0)),
    "huge": (lambda: scaled_net(random_mlp(2, [4, 4], 86), 1e6), (-1e6, 1e6)),
    "tiny-offset": (lambda: scaled_net(random_mlp(2, [4, 4], 87), 1e-6, [1.0, 2.0]),
                    (f64([1.0, 2.0]) - 1e-6, f64([1.0, 2.0]) + 1e-6)),
    "aniso": (lambda: random_mlp(2, [4, 4], 88), (f64([-10.0, -0.01]), f64([10.0, 0.01]))),
}


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("name", list(WITNESS_NETS))
def test_witnesses_verified(name, vertex_dim):
    make, box = WITNESS_NETS[name]
    net = make()
    regions = []
    res = tree(net, box, vertex_dim, on_region=regions.append)
    assert res.exact
    check_witnesses(net, box, res, regions)
    if net.input_dim == 2 and net.layers[0].affine.W.keys() == {0}:
        assert res.regions == count_2d(net, *box)


def test_milp_witnesses_verified():
    net = random_mlp(2, [4, 3], 89)
    regions = []
    res = count_regions(net, (-1.0, 1.0), method="milp", tighten=False, on_region=regions.append)
    check_witnesses(net, (-1.0, 1.0), res, regions)


# ============================================================================================
# 6. limits
# ============================================================================================

@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("N", [1, 2, 7])
def test_max_regions(N, vertex_dim):
    net = random_mlp(2, [5, 4], 90)
    full = ntree(net, (-1.0, 1.0), vertex_dim)
    assert full > 7
    regions = []
    res = tree(net, (-1.0, 1.0), vertex_dim, max_regions=N, on_region=regions.append)
    assert not res.exact
    assert res.regions == N == len(regions)
    assert res.stopped == "max-regions"
    assert res.to_dict()["lower_bound"] is True


@pytest.mark.parametrize("method", ["tree", "milp"])
def test_max_regions_equal_to_the_total_is_exact(method):
    net = random_mlp(2, [4, 3], 91)
    full = count_regions(net, (-1.0, 1.0), tighten=False).regions
    res = count_regions(net, (-1.0, 1.0), method=method, tighten=False, max_regions=full)
    assert res.exact and res.regions == full and res.stopped is None
    res = count_regions(net, (-1.0, 1.0), method=method, tighten=False, max_regions=full - 1)
    assert not res.exact and res.regions == full - 1


def test_max_regions_milp():
    net = random_mlp(2, [4, 3], 91)
    res = count_regions(net, (-1.0, 1.0), method="milp", tighten=False, max_regions=3)
    assert not res.exact and res.regions == 3 and res.stopped == "max-regions"


@pytest.mark.parametrize("n0,vertex_dim", [pytest.param(3, 4, id="vertex-3d"),
                                           pytest.param(3, 0, id="lp-3d"),
                                           pytest.param(5, 4, id="lp-5d"),
                                           pytest.param(5, 8, id="vertex-5d")])
def test_time_limit(n0, vertex_dim):
    net = C.he_mlp(n0, [8, 8] if n0 == 3 else [6, 6], 0)
    full = tree(net, (-1.0, 1.0), vertex_dim)
    assert full.exact and full.regions > 300
    res = tree(net, (-1.0, 1.0), vertex_dim, time_limit=1e-6)
    assert not res.exact
    assert res.stopped == "time-limit"
    assert res.regions < full.regions


# ============================================================================================
# 7. the LP path in 5-D and 6-D equals the vertex path
# ============================================================================================

@pytest.mark.parametrize("tighten", TIGHTEN)
@pytest.mark.parametrize("n0,widths,seed", [(5, [6, 6], 0), (5, [5, 3], 1), (6, [6, 6], 2),
                                            (6, [4, 4], 3), (5, [3, 3, 3], 4)])
def test_lp_path_equals_vertex_path_high_dim(n0, widths, seed, tighten):
    net = C.he_mlp(n0, widths, seed)
    lp = tree(net, (-1.0, 1.0), 4, tighten)           # default vertex_dim: LP path above 4-D
    vx = tree(net, (-1.0, 1.0), 8, tighten)           # vertex path forced
    assert lp.exact and vx.exact
    assert lp.regions == vx.regions


@pytest.mark.parametrize("vertex_dim", [pytest.param(4, id="lp"), pytest.param(8, id="vertex")])
@pytest.mark.parametrize("n0,n", [(5, 7), (6, 7), (6, 9)])
def test_general_position_high_dim(n0, n, vertex_dim):
    net = C.general_position_layer(n0, n, 0)
    assert ntree(net, (-1.0, 1.0), vertex_dim) == sum(comb(n, j) for j in range(n0 + 1))


@pytest.mark.parametrize("vertex_dim", [pytest.param(4, id="lp"), pytest.param(8, id="vertex")])
def test_high_dim_degenerate(vertex_dim):
    # 5-D: concurrent hyperplanes through the origin (central arrangement) and all-stable
    net = C.concurrent_layer(5, 7, 0, n2=0)
    assert ntree(net, (-1.0, 1.0), vertex_dim) == C.central_count(5, 7)
    net = C.montufar_folding(5, 2, 1)
    assert ntree(net, (0.0, 1.0), vertex_dim) == 2 ** 5


# ============================================================================================
# margin semantics: a region counts iff a ball of radius > margin (normalised units) fits
# ============================================================================================

@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_thin_regions_and_margin(d, vertex_dim):
    # two parallel hyperplanes u_0 = 0 and u_0 = w: a slab of width w, inradius w / 2
    def net(w):
        return one_layer(np.eye(d)[[0, 0]], [0.0, -w])

    # w = 4e-7: inradius 2e-7 > margin 1e-7: counted, flagged as near the margin
    res = tree(net(4e-7), vertex_dim=vertex_dim, margin=1e-7)
    assert res.regions == 3 and res.near_margin == 1
    # w = 1e-4: far from the margin
    res = tree(net(1e-4), vertex_dim=vertex_dim, margin=1e-7)
    assert res.regions == 3 and res.near_margin == 0
    # w = 1e-7: inradius 5e-8 <= margin: not counted (the oracle, with no margin, sees it)
    assert ntree(net(1e-7), vertex_dim=vertex_dim, margin=1e-7) == 2
    if d <= 2:
        assert (count_1d if d == 1 else count_2d)(net(1e-7), -1.0, 1.0) == 3
    # the default margin (1e-10) counts it
    assert ntree(net(1e-7), vertex_dim=vertex_dim) == 3
    # a larger margin drops the slab of width 1e-4; the witnesses of the rest stay valid
    regions = []
    res = tree(net(1e-4), vertex_dim=vertex_dim, margin=1e-3, on_region=regions.append)
    assert res.exact and res.regions == 2
    check_witnesses(net(1e-4), (-1.0, 1.0), res, regions)
    assert all(r.radius > 1e-3 for r in regions)


@pytest.mark.parametrize("vertex_dim", PATHS)
@pytest.mark.parametrize("exponent", [20, 25, 30, 33])
def test_margin_is_honoured_exactly(exponent, vertex_dim):
    # a slab of width w = 2^-exponent (inradius w/2, from 4.8e-7 down to 5.8e-11): counted iff
    # w/2 > margin, for margins just below and just above w/2; a dropped one is reported
    w = 2.0 ** -exponent
    net = one_layer(np.eye(2)[[0, 0]], [0.0, -w])
    assert count_2d(net, -1.0, 1.0) == 3
    below = tree(net, vertex_dim=vertex_dim, margin=0.9 * w / 2)
    assert below.regions == 3 and below.thin_dropped == 0
    assert below.min_radius is not None and 0.9 * w / 2 < below.min_radius <= w / 2
    above = tree(net, vertex_dim=vertex_dim, margin=1.1 * w / 2)
    assert above.regions == 2 and above.thin_dropped >= 1
    assert 0 < above.thickest_dropped <= 1.1 * w / 2


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_a_slab_thinner_than_the_vertex_tolerance_is_reported_dropped(vertex_dim):
    # x = 0.3 and x = 0.3 + 5e-11, crossed by y = -0.1: 6 regions, 2 in a slab of inradius
    # 2.5e-11 < margin. The count is 4 and says that a thin cell was dropped; --certify counts 6
    net = one_layer(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), [-0.3, -0.3 - 5e-11, 0.1])
    assert count_2d(net, -1.0, 1.0) == 6
    res = tree(net, vertex_dim=vertex_dim)
    assert res.regions == 4 and res.thin_dropped >= 1
    assert 2.5e-11 * 0.999 <= res.thickest_dropped <= 5e-11 * 1.001
    assert count_regions(net, (-1.0, 1.0), certify=True, vertex_dim=vertex_dim).regions == 6


# ============================================================================================
# regressions of bugs found here
# ============================================================================================

def test_milp_with_unused_input_equals_tree():
    net = one_layer([[1.0, 0.0]], [0.0])   # 2 inputs, input 1 is read by nobody
    assert ntree(net) == 2 == count_2d(net, -1.0, 1.0)
    assert count_regions(net, (-1.0, 1.0), method="milp", tighten=False).regions == 2


def test_lp_path_with_more_splitting_units_than_evidence_points(monkeypatch):
    # When proving every split of a node needs more evidence points than a node keeps
    # (MAX_POINTS), the LP path once dropped evidence it had just found and cycled for ever
    # (seen on the digits CNN). With room for only 2 points it must still count exactly.
    import milpregions.enumerator.lp_path as E

    monkeypatch.setattr(E, "MAX_POINTS", 2)
    net = C.he_mlp(4, [8, 8], 3)
    lp = count_regions(net, (-1.0, 1.0), vertex_dim=0, time_limit=120)
    vertex = count_regions(net, (-1.0, 1.0), vertex_dim=6)
    assert lp.exact and lp.regions == vertex.regions


# ============================================================================================
# max groups (maxout, MaxPool)
# ============================================================================================

def _maxout(seed: int, groups=(3, 2, 3), n0: int = 2, second: bool = True) -> Network:
    from milpregions.ir.network import MaxLayer

    rng = np.random.default_rng(seed)
    k = max(groups)
    rows, i = [], 0
    for g in groups:
        rows.append(list(range(i, i + g)) + [-1] * (k - g))
        i += g
    L1 = MaxLayer(Affine({0: rng.normal(size=(i, n0))}, 0.3 * rng.normal(size=i)), np.array(rows))
    layers = [L1]
    if second:
        layers.append(Layer(Affine({1: rng.normal(size=(4, len(groups)))}, 0.3 * rng.normal(size=4)),
                            np.zeros(4)))
    out = Affine({len(layers): np.ones((1, layers[-1].size))}, np.zeros(1))
    return Network(n0, tuple(layers), out)


@pytest.mark.parametrize("seed", range(6))
def test_maxout_tree_equals_milp_on_both_paths(seed):
    net = _maxout(seed, n0=1 + seed % 2)
    milp = count_regions(net, (-1.0, 1.0), method="milp").regions
    for vd in (4, 0):                               # vertex path, LP path
        regions = []
        res = count_regions(net, (-1.0, 1.0), vertex_dim=vd, on_region=regions.append)
        assert res.exact and res.regions == milp
        assert all(isinstance(r.pattern[0][0], (np.integer, int)) for r in regions)


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_max_group_ties_count_once(vertex_dim):
    from milpregions.ir.network import MaxLayer

    def one_group(W, b):
        W = np.asarray(W, dtype=float)
        return Network(2, (MaxLayer(Affine({0: W}, np.asarray(b, dtype=float)),
                                    np.array([list(range(len(b)))])),),
                       Affine({1: np.ones((1, 1))}, np.zeros(1)))

    # max(x, x, -x): the two identical pieces tie on a half-plane, which counts once
    assert count_regions(one_group([[1, 0], [1, 0], [-1, 0]], [0, 0, 0]),
                         vertex_dim=vertex_dim).regions == 2
    # max(x, -x, 0.5): the constant wins on a strip that contains no vertex of the box
    assert count_regions(one_group([[1, 0], [-1, 0], [0, 0]], [0, 0, 0.5]),
                         vertex_dim=vertex_dim).regions == 3
    # max(x, x + 3): one piece dominates everywhere
    assert count_regions(one_group([[1, 0], [1, 0]], [0, 3]), vertex_dim=vertex_dim).regions == 1
    # max(x, y, -x, -y): four cones through the centre
    assert count_regions(one_group([[1, 0], [0, 1], [-1, 0], [0, -1]], [0, 0, 0, 0]),
                         vertex_dim=vertex_dim).regions == 4


def test_maxout_equals_the_equivalent_relu_net():
    # max(z, 0) = relu(z): the same regions
    from milpregions.ir.network import MaxLayer

    net = C.he_mlp(2, [6], 4)
    L = net.layers[0]
    n = L.size
    W = np.vstack([L.affine.W[0], np.zeros((n, 2))])
    b = np.concatenate([L.affine.b, np.zeros(n)])
    groups = np.stack([np.arange(n), np.arange(n, 2 * n)], axis=1)
    maxnet = Network(2, (MaxLayer(Affine({0: W}, b), groups),), net.output)
    assert count_regions(maxnet).regions == count_regions(net).regions == \
        count_2d(net, [-1.0, -1.0], [1.0, 1.0])
