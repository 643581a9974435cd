"""Tests of bounds.py: interval bounds and LP tightening are sound on [-1, 1]^d, and the LP
tightening is really tighter (hand-computed triangle-relaxation values, random nets)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from milpregions.bounds import interval_bounds, layer_range, lp_tighten, output_interval
from milpregions.ir.network import Affine, Layer, MaxLayer, Network, mlp

N_POINTS = 20_000


def random_mlp(d: int, widths: list[int], seed: int, neg_slope: float = 0.0) -> Network:
    rng = np.random.default_rng(seed)
    sizes = [d] + widths + [1]
    Ws = [rng.normal(size=(b, a)) * np.sqrt(2 / a) for a, b in zip(sizes, sizes[1:])]
    bs = [rng.normal(size=b) * 0.2 for b in sizes[1:]]
    return mlp(Ws, bs, neg_slope)


def residual_net(seed: int) -> Network:
    """Three layers; layer 3 reads the input (source 0) and layer 1 as well as layer 2;
    mixed slopes per unit (ReLU, LeakyReLU, Abs, slope 2 = concave piece)."""
    rng = np.random.default_rng(seed)
    d, n1, n2, n3 = 3, 8, 7, 6
    slopes = np.array([0.0, 0.1, -1.0, 2.0])

    def layer(W: dict, n: int) -> Layer:
        return Layer(Affine(W, rng.normal(size=n) * 0.3), slopes[np.arange(n) % 4])

    l1 = layer({0: rng.normal(size=(n1, d))}, n1)
    l2 = layer({1: rng.normal(size=(n2, n1)) * 0.5}, n2)
    l3 = layer({0: rng.normal(size=(n3, d)), 1: rng.normal(size=(n3, n1)) * 0.5,
                2: rng.normal(size=(n3, n2)) * 0.5}, n3)
    out = Affine({3: rng.normal(size=(1, n3)), 0: rng.normal(size=(1, d))}, np.zeros(1))
    return Network(d, (l1, l2, l3), out)


NETS = {
    "relu": lambda: random_mlp(2, [10, 10, 8], seed=1),
    "leaky": lambda: random_mlp(3, [9, 9], seed=2, neg_slope=0.1),
    "abs": lambda: random_mlp(2, [8, 8], seed=3, neg_slope=-1.0),
    "residual": lambda: residual_net(seed=4),
}


def assert_sound(net: Network, bounds, seed: int = 0) -> None:
    X = np.random.default_rng(seed).uniform(-1, 1, (N_POINTS, net.input_dim))
    corners = np.array(np.meshgrid(*[[-1.0, 1.0]] * net.input_dim)).reshape(net.input_dim, -1).T
    X = np.vstack([X, corners])
    for k, z in enumerate(net.preactivations(X)):
        assert np.all(z >= bounds.lo[k]), f"layer {k}: min {z.min(0)} below lo {bounds.lo[k]}"
        assert np.all(z <= bounds.hi[k]), f"layer {k}: max {z.max(0)} above hi {bounds.hi[k]}"


def total_width(bounds) -> float:
    return float(sum((hi - lo).sum() for lo, hi in zip(bounds.lo, bounds.hi)))


def n_stable(bounds) -> int:
    return sum(int((~bounds.unstable(k)).sum()) for k in range(len(bounds.lo)))


@pytest.mark.parametrize("name", sorted(NETS))
def test_interval_bounds_sound(name):
    net = NETS[name]()
    assert_sound(net, interval_bounds(net))


@pytest.mark.parametrize("name", sorted(NETS))
def test_lp_tighten_sound_and_never_looser(name):
    net = NETS[name]()
    ib = interval_bounds(net)
    tb = lp_tighten(net, ib)
    assert_sound(net, tb, seed=1)
    for k in range(len(ib.lo)):
        assert np.all(tb.lo[k] >= ib.lo[k]) and np.all(tb.hi[k] <= ib.hi[k])
    assert n_stable(tb) >= n_stable(ib)
    assert tb.lps > 0
    # tightening again from tightened bounds never loosens them
    tb2 = lp_tighten(net, tb)
    for k in range(len(tb.lo)):
        assert np.all(tb2.lo[k] >= tb.lo[k]) and np.all(tb2.hi[k] <= tb.hi[k])
    assert tb2.lps >= tb.lps


def test_lp_tighten_strictly_tighter_on_two_layers():
    net = random_mlp(3, [20, 20], seed=5)
    ib = interval_bounds(net)
    tb = lp_tighten(net, ib)
    assert_sound(net, tb)
    # layer 1 reads only the input: interval bounds are exact there, no LP is spent on it
    np.testing.assert_array_equal(tb.lo[0], ib.lo[0])
    np.testing.assert_array_equal(tb.hi[0], ib.hi[0])
    assert 0 < tb.lps <= 2 * int(ib.unstable(1).sum())
    w_ib = float((ib.hi[1] - ib.lo[1]).sum())
    w_tb = float((tb.hi[1] - tb.lo[1]).sum())
    assert w_tb < 0.95 * w_ib, (w_ib, w_tb)
    assert n_stable(tb) >= n_stable(ib)


def test_lp_tighten_time_limit_keeps_sound_bounds():
    net = random_mlp(2, [30, 30, 30], seed=6)
    ib = interval_bounds(net)
    tb = lp_tighten(net, ib, time_limit=1e-9)
    assert tb.lps <= 2  # at most the LP pair already under way when the clock ran out
    assert_sound(net, tb)
    for k in range(len(ib.lo)):
        assert np.all(tb.lo[k] >= ib.lo[k]) and np.all(tb.hi[k] <= ib.hi[k])


def two_unit_net(c_a: float, c_b: float, b2: float) -> Network:
    """1-D: layer 1 = (relu(x), relu(x - 0.5)), layer 2 = c_a relu(x) + c_b relu(x - 0.5) + b2."""
    W1, b1 = np.array([[1.0], [1.0]]), np.array([0.0, -0.5])
    W2, bias2 = np.array([[c_a, c_b]]), np.array([b2])
    return mlp([W1, W2, np.ones((1, 1))], [b1, bias2, np.zeros(1)])


def test_hand_computed_relu_difference():
    # z2 = relu(x) - relu(x - 0.5) - 0.25 on x in [-1, 1]:
    #   exact range: relu(x) - relu(x - 0.5) = clip(x, 0, 0.5), so z2 in [-0.25, 0.25].
    #   interval: z1 = (x, x - 0.5) in [-1, 1] x [-1.5, 0.5], h in [0, 1] x [0, 0.5],
    #             so z2 in [0 - 0.5 - 0.25, 1 - 0 - 0.25] = [-0.75, 0.75].
    #   triangle LP: h_a in {h >= 0, h >= x, h <= (x + 1) / 2},
    #                h_b in {h >= 0, h >= x - 0.5, h <= (x + 1) / 4}  (chord (-1.5,0)-(0.5,0.5)).
    #     max h_a - h_b = max_x (x + 1)/2 - max(0, x - 0.5) = 0.75 at x = 0.5  -> hi = 0.5
    #     min h_a - h_b = min_x max(0, x) - (x + 1)/4     = -0.25 at x = 0    -> lo = -0.5
    net = two_unit_net(1.0, -1.0, -0.25)
    ib = interval_bounds(net)
    np.testing.assert_allclose([ib.lo[1][0], ib.hi[1][0]], [-0.75, 0.75], atol=1e-8)
    tb = lp_tighten(net, ib)
    np.testing.assert_allclose([tb.lo[1][0], tb.hi[1][0]], [-0.5, 0.5], atol=1e-6)
    # sound: the bounds contain the exact range [-0.25, 0.25], strictly
    assert tb.lo[1][0] < -0.25 and tb.hi[1][0] > 0.25
    assert_sound(net, tb)
    assert tb.lps == 2  # layer 1 needs none, the one unit of layer 2 needs a min and a max


def test_hand_computed_exact_relaxation():
    # z2 = relu(x) + relu(-x) - 0.25 = |x| - 0.25 on [-1, 1]: exact range [-0.25, 0.75].
    #   interval: h in [0, 1] x [0, 1], so z2 in [-0.25, 1.75].
    #   triangle LP: h_a >= max(0, x), h_b >= max(0, -x) give h_a + h_b >= |x| (min 0, exact);
    #   h_a <= (x + 1)/2, h_b <= (1 - x)/2 give h_a + h_b <= 1 (max 1, exact).
    W1, b1 = np.array([[1.0], [-1.0]]), np.zeros(2)
    net = mlp([W1, np.array([[1.0, 1.0]]), np.ones((1, 1))], [b1, np.array([-0.25]), np.zeros(1)])
    ib = interval_bounds(net)
    np.testing.assert_allclose([ib.lo[1][0], ib.hi[1][0]], [-0.25, 1.75], atol=1e-8)
    tb = lp_tighten(net, ib)
    np.testing.assert_allclose([tb.lo[1][0], tb.hi[1][0]], [-0.25, 0.75], atol=1e-6)
    assert tb.lo[1][0] <= -0.25 and tb.hi[1][0] >= 0.75
    assert_sound(net, tb)


def test_hand_computed_concave_slope():
    # slope 2 on the negative side: h = min(z, 2z), concave. z1 = x - 0.5 in [-1.5, 0.5]:
    #   h = 2x - 1 for x < 0.5, x - 0.5 above; z2 = h has exact range [-3, 0.5]; the
    #   relaxation (h <= z, h <= 2z, h >= chord through (-1.5, -3) and (0.5, 0.5)) is exact
    #   at both ends: min -3 at x = -1, max 0.5 at x = 1.
    net = mlp([np.array([[1.0]]), np.array([[1.0]]), np.ones((1, 1))],
              [np.array([-0.5]), np.zeros(1), np.zeros(1)], neg_slope=2.0)
    tb = lp_tighten(net, interval_bounds(net))
    np.testing.assert_allclose([tb.lo[1][0], tb.hi[1][0]], [-3.0, 0.5], atol=1e-6)
    assert_sound(net, tb)


def test_zero_unit_never_stable():
    # unit 1 of each layer: zero weights and bias, so z = 0 everywhere; it must stay unstable
    # (hi > 0 >= lo), never be marked active or inactive by rounding.
    rng = np.random.default_rng(7)
    W1 = rng.normal(size=(4, 2))
    W1[1] = 0.0
    b1 = rng.normal(size=4) * 0.2
    b1[1] = 0.0
    W2 = rng.normal(size=(3, 4))
    W2[1] = 0.0
    b2 = rng.normal(size=3) * 0.2
    b2[1] = 0.0
    net = mlp([W1, W2, np.ones((1, 3))], [b1, b2, np.zeros(1)])
    for bounds in (interval_bounds(net), lp_tighten(net, interval_bounds(net))):
        for k in range(2):
            assert bounds.lo[k][1] <= 0 < bounds.hi[k][1]
            assert bounds.unstable(k)[1]
            assert not bounds.active(k)[1] and not bounds.inactive(k)[1]
        assert_sound(net, bounds)


# ---- max layers (maxout, MaxPool) and sparse weights ---------------------------------------


def maxout_net(seed: int) -> Network:
    """d = 2; layer 1: maxout, 3 groups of 3, 2, 3 pieces (-1 padding); layer 2: maxout reading
    layer 1 and the input, 3 groups of 2, 3, 2 pieces; then a ReLU layer and the output."""
    rng = np.random.default_rng(seed)
    g1 = np.array([[0, 1, 2], [3, 4, -1], [5, 6, 7]])
    g2 = np.array([[0, 1, -1], [2, 3, 4], [5, 6, -1]])
    l1 = MaxLayer(Affine({0: rng.normal(size=(8, 2))}, rng.normal(size=8) * 0.3), g1)
    l2 = MaxLayer(Affine({1: rng.normal(size=(7, 3)) * 0.7, 0: rng.normal(size=(7, 2)) * 0.3},
                         rng.normal(size=7) * 0.3), g2)
    l3 = Layer(Affine({2: rng.normal(size=(4, 3))}, rng.normal(size=4) * 0.3), np.zeros(4))
    return Network(2, (l1, l2, l3), Affine({3: np.ones((1, 4))}, np.zeros(1)))


def pool_net(seed: int) -> Network:
    """A conv-like layer (ReLU, 9 units on a 3x3 grid), then a MaxPool 2x2 stride 1 with
    padding: windows clipped at the border are padded with -1, overlapping windows share units."""
    rng = np.random.default_rng(seed)
    l1 = Layer(Affine({0: rng.normal(size=(9, 2))}, rng.normal(size=9) * 0.3), np.zeros(9))
    groups = []
    for r in range(3):
        for c in range(3):
            w = [3 * rr + cc for rr in (r, r + 1) for cc in (c, c + 1) if rr < 3 and cc < 3]
            groups.append(w + [-1] * (4 - len(w)))
    ident = np.eye(9)
    l2 = MaxLayer(Affine({1: ident}, np.zeros(9)), np.array(groups))
    l3 = Layer(Affine({2: rng.normal(size=(3, 9)) * 0.5}, rng.normal(size=3) * 0.3), np.zeros(3))
    return Network(2, (l1, l2, l3), Affine({3: np.ones((1, 3))}, np.zeros(1)))


MAX_NETS = {"maxout": lambda: maxout_net(seed=11), "pool": lambda: pool_net(seed=12)}


def assert_sound_max(net: Network, bounds, seed: int = 0) -> None:
    """Pre-activations within the bounds, outputs within ``layer_range``, the argmax always a
    candidate and equal to ``fixed_argmax`` where that is fixed."""
    assert_sound(net, bounds, seed)
    X = np.random.default_rng(seed + 100).uniform(-1, 1, (N_POINTS, net.input_dim))
    pre = net.preactivations(X)
    for k, (layer, z) in enumerate(zip(net.layers, pre)):
        lo, hi = layer_range(layer, bounds.lo[k], bounds.hi[k])
        h = layer.activate(z)
        assert np.all(h >= lo) and np.all(h <= hi), f"layer {k}: output out of range"
        if isinstance(layer, MaxLayer):
            assert bounds.is_max(k)
            am = layer.argmax(z)
            cand = bounds.candidates(k)
            assert cand[np.arange(layer.size)[None, :], am].all()
            fixed = bounds.fixed_argmax(k)
            assert np.all((fixed < 0) | (am == fixed[None, :]))
    olo, ohi = output_interval(net, bounds)
    out = net.forward(X)
    assert np.all(out >= olo) and np.all(out <= ohi)


@pytest.mark.parametrize("name", sorted(MAX_NETS))
def test_max_layers_interval_and_lp_sound(name):
    net = MAX_NETS[name]()
    ib = interval_bounds(net)
    assert_sound_max(net, ib)
    tb = lp_tighten(net, ib)
    assert_sound_max(net, tb, seed=1)
    assert tb.lps > 0
    for k in range(len(ib.lo)):
        assert np.all(tb.lo[k] >= ib.lo[k]) and np.all(tb.hi[k] <= ib.hi[k])
    assert tb.n_unstable <= ib.n_unstable
    assert total_width(tb) < total_width(ib)


def test_fixed_argmax_and_n_unstable_by_hand():
    # layer 1 (d = 1): pieces x, 2 + 0.1 x, -3 + x, x, x (bounds [-1,1], [1.9,2.1], [-4,-2], ...)
    W = np.array([[1.0], [0.1], [1.0], [1.0], [1.0]])
    b = np.array([0.0, 2.0, -3.0, 0.0, 0.0])
    groups = np.array([[0, 1, -1],     # piece 1 always wins: fixed at 1
                       [2, 0, -1],     # -3 + x < x always: fixed at 1 (candidate test)
                       [0, 3, 2],      # x, x (a different unit), -3 + x: two candidates
                       [0, 0, -1],     # the same unit twice: the first wins every tie: fixed 0
                       [4, -1, -1]])   # one piece
    l1 = MaxLayer(Affine({0: W}, b), groups)
    l2 = Layer(Affine({1: np.ones((2, 5))}, np.array([-100.0, 0.0])), np.zeros(2))
    net = Network(1, (l1, l2), Affine({2: np.ones((1, 2))}, np.zeros(1)))
    ib = interval_bounds(net)
    np.testing.assert_array_equal(ib.fixed_argmax(0), [1, 1, -1, 0, 0])
    np.testing.assert_array_equal(ib.candidates(0)[2], [True, True, False])
    # output ranges: [max lo, max hi] per group
    lo, hi = layer_range(l1, ib.lo[0], ib.hi[0])
    np.testing.assert_allclose(lo, [1.9, -1, -1, -1, -1], atol=1e-8)
    np.testing.assert_allclose(hi, [2.1, 1, 1, 1, 1], atol=1e-8)
    # unit 0 of layer 2 is inactive (hi <= 0), unit 1 unstable; group 2 of layer 1 unfixed
    assert ib.n_unstable == 1 + 1
    with pytest.raises(ValueError):
        ib.fixed_argmax(1)
    assert_sound_max(net, ib)


def test_max_relaxation_hand_computed():
    # layer 1: h = max(x, -x) = |x| on [-1, 1]; layer 2: z2 = h - 0.5, exact range [-0.5, 0.5].
    #   interval: h in [max(-1,-1), max(1,1)] = [-1, 1], so z2 in [-1.5, 0.5].
    #   LP: h >= x, h >= -x (min h = 0), h <= 1 (column bound) and
    #       h <= (x + 1) + (-x + 1) - 1 = 1: z2 in [-0.5, 0.5], exact.
    l1 = MaxLayer(Affine({0: np.array([[1.0], [-1.0]])}, np.zeros(2)), np.array([[0, 1]]))
    l2 = Layer(Affine({1: np.array([[1.0]])}, np.array([-0.5])), np.zeros(1))
    net = Network(1, (l1, l2), Affine({2: np.ones((1, 1))}, np.zeros(1)))
    ib = interval_bounds(net)
    np.testing.assert_allclose([ib.lo[1][0], ib.hi[1][0]], [-1.5, 0.5], atol=1e-8)
    tb = lp_tighten(net, ib)
    np.testing.assert_allclose([tb.lo[1][0], tb.hi[1][0]], [-0.5, 0.5], atol=1e-6)
    assert tb.lo[1][0] <= -0.5 and tb.hi[1][0] >= 0.5
    assert tb.lps == 2


def test_max_sum_upper_bound_is_what_tightens():
    # h = max(x, 0.5), pieces in [-1, 1] and [0.5, 0.5]; z2 = h - 0.5 x, exact range [0.25, 1].
    #   interval: h in [0.5, 1], z2 in [0, 1.5].
    #   LP with only h >= x, h >= 0.5, h <= 1: max z2 = 1 + 0.5 = 1.5 at x = -1 (no gain).
    #   with h <= (x + 1) + (0.5 - 0.5) + 0.5 = x + 1.5 as well: max of min(1, x + 1.5) - 0.5 x
    #   is 1.25 at x = -0.5; min z2 = max(x, 0.5) - 0.5 x = 0.25 at x = 0.5 (exact).
    l1 = MaxLayer(Affine({0: np.array([[1.0], [0.0]])}, np.array([0.0, 0.5])), np.array([[0, 1]]))
    l2 = Layer(Affine({1: np.array([[1.0]]), 0: np.array([[-0.5]])}, np.zeros(1)), np.zeros(1))
    net = Network(1, (l1, l2), Affine({2: np.ones((1, 1))}, np.zeros(1)))
    ib = interval_bounds(net)
    np.testing.assert_allclose([ib.lo[1][0], ib.hi[1][0]], [0.0, 1.5], atol=1e-8)
    tb = lp_tighten(net, ib)
    np.testing.assert_allclose([tb.lo[1][0], tb.hi[1][0]], [0.25, 1.25], atol=1e-6)
    assert_sound_max(net, tb)


def sparse_copy(net: Network) -> Network:
    """The same network with every weight matrix a scipy.sparse.csr_array."""
    def conv(aff):
        return Affine({s: sp.csr_array(W) for s, W in aff.W.items()}, aff.b)

    layers = tuple(MaxLayer(conv(l.affine), l.groups, l.name) if isinstance(l, MaxLayer)
                   else Layer(conv(l.affine), l.neg_slope, l.name) for l in net.layers)
    return Network(net.input_dim, layers, conv(net.output))


@pytest.mark.parametrize("name", ["relu", "residual", "maxout", "pool"])
def test_sparse_weights_give_the_same_bounds(name):
    net = {**NETS, **MAX_NETS}[name]()
    snet = sparse_copy(net)
    assert all(sp.issparse(W) for l in snet.layers for W in l.affine.W.values())
    X = np.random.default_rng(0).uniform(-1, 1, (50, net.input_dim))
    np.testing.assert_allclose(snet.forward(X), net.forward(X), rtol=1e-12, atol=1e-12)
    for f in (interval_bounds, lambda n: lp_tighten(n, interval_bounds(n))):
        b, sb = f(net), f(snet)
        for k in range(len(b.lo)):
            np.testing.assert_allclose(sb.lo[k], b.lo[k], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(sb.hi[k], b.hi[k], rtol=1e-12, atol=1e-12)
        assert sb.n_unstable == b.n_unstable and sb.lps == b.lps
        for a, c in zip(output_interval(snet, sb), output_interval(net, b)):
            np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


def _tiny_weight_net() -> Network:
    """z2 = 5e-10 * relu(1e6 x) - 2.5e-4: a weight HiGHS drops by default (small_matrix_value
    1e-9) reading an activation of size 1e6; z2 > 0 exactly for x > 0.5."""
    return mlp([np.array([[1e6], [-1.0]]), np.array([[5e-10, 0.0]]), np.array([[1.0]])],
               [np.zeros(2), np.array([-2.5e-4]), np.zeros(1)])


def test_lp_tighten_is_sound_when_a_tiny_weight_reads_a_huge_activation():
    net = _tiny_weight_net()
    tb = lp_tighten(net, interval_bounds(net))
    assert_sound(net, tb)
    assert tb.hi[1][0] >= 2.5e-4 and tb.unstable(1)[0]      # z2 reaches 2.5e-4 at x = 1


@pytest.mark.parametrize("seed", range(6))
def test_lp_tighten_is_sound_with_weights_from_1e_minus_4_to_1e4(seed):
    rng = np.random.default_rng(seed)
    sizes = [2, 8, 8, 6, 1]
    Ws = [rng.normal(size=(b, a)) * 10.0 ** rng.uniform(-4, 4, size=(b, a))
          for a, b in zip(sizes, sizes[1:])]
    bs = [rng.normal(size=b) * 10.0 ** rng.uniform(-4, 4, size=b) for b in sizes[1:]]
    net = mlp(Ws, bs)
    tb = lp_tighten(net, interval_bounds(net))
    assert_sound(net, tb, seed=seed)


def test_tiny_weight_net_counts_exactly_with_tightened_bounds():
    from milpregions.api import count_regions

    from exact_oracles import count_1d

    net = _tiny_weight_net()
    assert count_1d(net, -1.0, 1.0) == 3
    for vertex_dim in (6, 0):
        assert count_regions(net, (-1, 1), vertex_dim=vertex_dim).regions == 3
