"""The exact oracles against hand-computed counts and dense float grids."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pytest

from milpregions.ir.network import Affine, Layer, Network, mlp

from exact_oracles import count_1d, count_2d, count_line, count_plane, regions_1d, regions_2d, regions_line


def one_layer(W, b, neg_slope=0.0):
    W = np.asarray(W, dtype=np.float64)
    return mlp([W, np.ones((1, W.shape[0]))], [np.asarray(b, dtype=np.float64), np.zeros(1)],
               neg_slope=neg_slope)


def two_layer(W1, b1, W2, b2, neg_slope=0.0):
    W1, W2 = np.asarray(W1, dtype=np.float64), np.asarray(W2, dtype=np.float64)
    return mlp([W1, W2, np.ones((1, W2.shape[0]))],
               [np.asarray(b1, dtype=np.float64), np.asarray(b2, dtype=np.float64), np.zeros(1)],
               neg_slope=neg_slope)


# ------------------------------------------------------------------------------------------
# 1-D


def test_relu_1d():
    net = one_layer([[1.0]], [0.0])
    assert count_1d(net, -1, 1) == 2
    regs = regions_1d(net, -1, 1)
    assert [(a, b) for a, b, _ in regs] == [(-1, 0), (0, 1)]
    assert [p for _, _, p in regs] == [((False,),), ((True,),)]


def test_zero_on_box_boundary_1d():
    assert count_1d(one_layer([[1.0]], [0.0]), 0, 1) == 1
    assert count_1d(one_layer([[1.0]], [0.0]), -1, 0) == 1
    assert count_1d(one_layer([[1.0]], [-1.0]), -1, 1) == 1
    assert count_1d(one_layer([[1.0]], [-3.0]), -1, 1) == 1


def test_degenerate_interval_1d():
    net = one_layer([[1.0]], [0.0])
    assert count_1d(net, 0.5, 0.5) == 0
    assert count_1d(net, 1, -1) == 0


def test_no_layers_1d():
    net = Network(1, (), Affine({0: np.ones((1, 1))}, np.zeros(1)))
    assert count_1d(net, -1, 1) == 1


def test_relu_minus_relu_is_identically_zero():
    # z3 = relu(x) - relu(x) == 0 everywhere: bit 0 on the whole box
    net = two_layer([[1.0], [1.0]], [0.0, 0.0], [[1.0, -1.0]], [0.0])
    regs = regions_1d(net, -1, 1)
    assert count_1d(net, -1, 1) == 2
    assert all(p[1] == (False,) for _, _, p in regs)


def test_duplicate_units_1d():
    base = one_layer([[1.0], [1.0]], [0.0, -0.5])
    dup = one_layer([[1.0], [1.0], [1.0], [2.0], [-1.0], [1.0]], [0.0, 0.0, 0.0, 0.0, 0.0, -0.5])
    assert count_1d(base, -1, 1) == 3
    assert count_1d(dup, -1, 1) == 3


def test_unit_touching_zero_1d():
    # z2 = relu(x) + relu(-x) = |x| >= 0, zero only at x = 0 -> bit 1 almost everywhere
    net = two_layer([[1.0], [-1.0]], [0.0, 0.0], [[1.0, 1.0]], [0.0])
    assert count_1d(net, -1, 1) == 2
    assert all(p[1] == (True,) for _, _, p in regions_1d(net, -1, 1))
    # -|x| <= 0: bit 0 almost everywhere
    net = two_layer([[1.0], [-1.0]], [0.0, 0.0], [[-1.0, -1.0]], [0.0])
    assert count_1d(net, -1, 1) == 2
    # |x| - 0.5: zeros at +-0.5 -> 4 regions
    net = two_layer([[1.0], [-1.0]], [0.0, 0.0], [[1.0, 1.0]], [-0.5])
    assert count_1d(net, -1, 1) == 4
    # |x| touching zero on a box where layer 1 does not split: x in [0, 1]
    net = two_layer([[1.0], [-1.0]], [0.0, 0.0], [[1.0, 1.0]], [0.0])
    assert count_1d(net, 0, 1) == 1


def test_layer2_unit_on_dead_input_1d():
    # z2 = relu(x): identically 0 for x < 0 (bit 0), positive for x > 0
    net = two_layer([[1.0]], [0.0], [[1.0]], [0.0])
    regs = regions_1d(net, -1, 1)
    assert [p for _, _, p in regs] == [((False,), (False,)), ((True,), (True,))]
    assert count_1d(net, -1, 1) == 2
    # z2 = relu(x) - 0.5: (0,0) on x<0.5 split by layer 1, (1,1) on x>0.5
    net = two_layer([[1.0]], [0.0], [[1.0]], [-0.5])
    assert count_1d(net, -1, 1) == 3
    # layer-1 unit dead on the whole box: layer 2 reads only zeros
    net = two_layer([[1.0]], [-2.0], [[1.0], [-1.0]], [0.0, 0.0])
    assert count_1d(net, -1, 1) == 1


def test_leaky_and_abs_1d():
    # abs: h1 = |x|; z2 = |x| - 0.5 -> 4
    assert count_1d(two_layer([[1.0]], [0.0], [[1.0]], [-0.5], neg_slope=-1.0), -1, 1) == 4
    # leaky 0.5: h1 = x (x>0) or 0.5x; z2 = h1 + 0.25: zero at x = -0.5 -> 3
    assert count_1d(two_layer([[1.0]], [0.0], [[1.0]], [0.25], neg_slope=0.5), -1, 1) == 3
    # leaky 0.5: z2 = h1 - 0.25 * ... identically constant never: h1 = 0 only at 0
    net = two_layer([[1.0]], [0.0], [[1.0]], [0.0], neg_slope=0.5)
    assert count_1d(net, -1, 1) == 2


def test_skip_connection_1d():
    # layer 2 reads the input and layer 1: z2 = x - relu(x) = min(x, 0) <= 0 -> bit 0
    l1 = Layer(Affine({0: np.array([[1.0]])}, np.zeros(1)), np.zeros(1))
    l2 = Layer(Affine({0: np.array([[1.0]]), 1: np.array([[-1.0]])}, np.zeros(1)), np.zeros(1))
    net = Network(1, (l1, l2), Affine({2: np.ones((1, 1))}, np.zeros(1)))
    assert count_1d(net, -1, 1) == 2
    assert all(p[1] == (False,) for _, _, p in regions_1d(net, -1, 1))
    # z2 = x - relu(x) + 0.5 = min(x,0) + 0.5 -> zero at -0.5 -> 3
    l2 = Layer(Affine({0: np.array([[1.0]]), 1: np.array([[-1.0]])}, np.array([0.5])),
               np.zeros(1))
    net = Network(1, (l1, l2), Affine({2: np.ones((1, 1))}, np.zeros(1)))
    assert count_1d(net, -1, 1) == 3


def test_regions_1d_tile_the_interval():
    rng = np.random.default_rng(1)
    net = two_layer(rng.normal(size=(6, 1)), rng.normal(size=6), rng.normal(size=(5, 6)),
                    rng.normal(size=5))
    regs = regions_1d(net, -2, 3)
    assert regs[0][0] == -2 and regs[-1][1] == 3
    assert all(a < b for a, b, _ in regs)
    assert all(regs[k][1] == regs[k + 1][0] for k in range(len(regs) - 1))


def test_count_line_matches_count_1d():
    rng = np.random.default_rng(2)
    net = two_layer(rng.normal(size=(6, 1)), rng.normal(size=6), rng.normal(size=(5, 6)),
                    rng.normal(size=5))
    assert count_line(net, [-1.0], [1.0]) == count_1d(net, -1, 1)
    assert count_line(net, [1.0], [-1.0]) == count_1d(net, -1, 1)
    assert count_line(net, [0.5], [0.5]) == 0


def _grid_count_1d(net, lo, hi, n):
    x = np.linspace(lo, hi, n)[1:-1, None]
    pre = np.concatenate(net.preactivations(x), axis=1)
    bits = pre[np.all(np.abs(pre) > 1e-9, axis=1)] > 0
    starts = np.r_[0, 1 + np.flatnonzero(np.any(bits[1:] != bits[:-1], axis=1))]
    return {tuple(r) for r in bits[starts]}        # the points in order: each run's pattern


@pytest.mark.parametrize("seed", range(4))
def test_random_1d_against_grid(seed):
    rng = np.random.default_rng(100 + seed)
    widths = [1, 17, 17, 16]
    Ws = [rng.normal(size=(widths[k + 1], widths[k])) for k in range(3)] + [np.ones((1, 16))]
    bs = [rng.normal(size=w) * 0.5 for w in widths[1:]] + [np.zeros(1)]
    net = mlp(Ws, bs)
    exact = count_1d(net, -1, 1)
    grid = _grid_count_1d(net, -1.0, 1.0, 400_001)
    exact_pats = {tuple(b for layer in p for b in layer) for _, _, p in regions_1d(net, -1, 1)}
    assert grid <= exact_pats
    assert exact == len(exact_pats) == len(grid)


# ------------------------------------------------------------------------------------------
# 2-D


def parabola_tangents(n):
    # tangent to y = x^2 at x = a: z = 2a x - y - a^2. Two tangents meet at ((a+b)/2, ab):
    # distinct points for distinct pairs, no parallels, all inside [-1,1]^2 for |a| < 1/2.
    a = (np.arange(n) - (n - 1) / 2) / 8.0
    return np.stack([2 * a, -np.ones(n)], axis=1), -(a**2)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_lines_in_general_position(n):
    W, b = parabola_tangents(n)
    assert count_2d(one_layer(W, b), [-1, -1], [1, 1]) == 1 + n + comb(n, 2)


NORMALS = [(1, 0), (0, 1), (1, 1), (1, -1), (1, 2), (2, 1), (1, -2), (2, -1), (1, 3), (3, -1)]


@pytest.mark.parametrize("n", [1, 2, 3, 6, 10])
def test_concurrent_lines(n):
    p = np.array([0.25, -0.125])
    W = np.array(NORMALS[:n], dtype=np.float64)
    assert count_2d(one_layer(W, -W @ p), [-1, -1], [1, 1]) == 2 * n
    # the same lines through the box corner (1, 1): a line with normal (a, b) enters the box
    # interior iff a * b < 0; each such line adds one region, the others only touch the box
    corner = np.array([1.0, 1.0])
    entering = sum(1 for a, b in NORMALS[:n] if a * b < 0)
    assert count_2d(one_layer(W, -W @ corner), [-1, -1], [1, 1]) == 1 + entering


def test_lines_through_corner_exact():
    # x + y = 2 touches the box [-1,1]^2 only at (1,1); x = 1 runs along an edge
    assert count_2d(one_layer([[1.0, 1.0]], [-2.0]), -1, 1) == 1
    assert count_2d(one_layer([[1.0, 0.0]], [-1.0]), -1, 1) == 1
    assert count_2d(one_layer([[1.0, 0.0], [0.0, 1.0]], [-1.0, 1.0]), -1, 1) == 1
    # the diagonal x = y through two corners: 2; both diagonals: 4
    assert count_2d(one_layer([[1.0, -1.0]], [0.0]), -1, 1) == 2
    assert count_2d(one_layer([[1.0, -1.0], [1.0, 1.0]], [0.0, 0.0]), -1, 1) == 4
    # x - y = 1 crosses the box through (0,-1) and (1,0) -> 2
    assert count_2d(one_layer([[1.0, -1.0]], [-1.0]), -1, 1) == 2
    # x + y = 1 through the corner of [0,1]^2 at (1,0) and (0,1): the anti-diagonal -> 2
    assert count_2d(one_layer([[1.0, 1.0]], [-1.0]), 0, 1) == 2


def test_duplicate_lines_2d():
    W, b = parabola_tangents(4)
    base = count_2d(one_layer(W, b), -1, 1)
    assert base == 1 + 4 + 6
    Wd = np.concatenate([W, W, -W, 3 * W[:2]])
    bd = np.concatenate([b, b, -b, 3 * b[:2]])
    assert count_2d(one_layer(Wd, bd), -1, 1) == base


@pytest.mark.parametrize("k", [1, 2, 4, 9])
def test_parallel_lines(k):
    c = np.linspace(-0.9, 0.9, k)
    W = np.tile([[1.0, 2.0]], (k, 1))
    assert count_2d(one_layer(W, -c), -1, 1) == k + 1


def test_second_layer_2d():
    # z3 = relu(x) + relu(y) - 0.5: 1 + 2 + 2 + 2 = 7
    net = two_layer([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], [[1.0, 1.0]], [-0.5])
    assert count_2d(net, -1, 1) == 7
    # z3 = relu(x) + relu(y): identically 0 on the (-,-) quadrant, positive elsewhere -> 4
    net = two_layer([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], [[1.0, 1.0]], [0.0])
    assert count_2d(net, -1, 1) == 4
    pats = {p for _, p in regions_2d(net, -1, 1)}
    assert ((False, False), (False,)) in pats
    # z3 = relu(x) - relu(y) + 0 : zero set x = y in the (+,+) quadrant; the (-,-) quadrant is
    # identically 0 -> (-,-):1, (+,-):1, (-,+):1, (+,+):2 = 5
    net = two_layer([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], [[1.0, -1.0]], [0.0])
    assert count_2d(net, -1, 1) == 5
    # abs activation: z3 = |x| + |y| - 0.5, diamond cut by the axes -> 4 outside + 4 inside
    net = two_layer([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], [[1.0, 1.0]], [-0.5], neg_slope=-1)
    assert count_2d(net, -1, 1) == 8


def test_units_depending_on_one_input():
    # a 2-D net whose units read only x behaves like the 1-D net
    rng = np.random.default_rng(3)
    W1, b1 = rng.normal(size=(5, 1)), rng.normal(size=5) * 0.5
    W2, b2 = rng.normal(size=(4, 5)), rng.normal(size=4) * 0.5
    net1 = two_layer(W1, b1, W2, b2)
    net2 = two_layer(np.concatenate([W1, np.zeros((5, 1))], axis=1), b1, W2, b2)
    assert count_2d(net2, [-1, -3], [1, 2]) == count_1d(net1, -1, 1)


def test_degenerate_box_2d():
    net = one_layer([[1.0, 0.0]], [0.0])
    assert count_2d(net, [-1, 0], [1, 0]) == 0
    assert count_2d(net, [-1, -1], [1, 1]) == 2


def test_regions_2d_tile_the_box():
    rng = np.random.default_rng(4)
    net = two_layer(rng.normal(size=(5, 2)), rng.normal(size=5) * 0.5,
                    rng.normal(size=(4, 5)), rng.normal(size=4) * 0.5)
    regs = regions_2d(net, [-1, -2], [3, 1])
    total = sum(_area(poly) for poly, _ in regs)
    assert total == 4 * 3
    assert all(_area(poly) > 0 for poly, _ in regs)


def _area(poly):
    s = Fraction(0)
    for k in range(len(poly)):
        (x0, y0), (x1, y1) = poly[k], poly[(k + 1) % len(poly)]
        s += x0 * y1 - x1 * y0
    return s / 2


def test_count_plane_and_line_on_3d_net():
    # a 3-input net: z_i = x_i; the plane x3 = 0.5 sees 4 regions, a line along x1: 2
    net = one_layer(np.eye(3), np.zeros(3))
    assert count_plane(net, [0, 0, 0.5], [1, 0, 0], [0, 1, 0], -1, 1) == 4
    assert count_plane(net, [0, 0, 0], [1, 0, 0], [0, 1, 0], -1, 1) == 4  # x3 == 0: bit 0
    assert count_line(net, [-1, 0.5, 0.5], [1, 0.5, 0.5]) == 2
    assert count_line(net, [-1, -1, -1], [1, 1, 1]) == 2
    regs = regions_line(net, [-1, -1, -1], [1, 1, 1])
    assert [(a, b) for a, b, _ in regs] == [(0, Fraction(1, 2)), (Fraction(1, 2), 1)]


def _grid_patterns_2d(net, lo, hi, n):
    xs = np.linspace(lo, hi, n)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    P = np.stack([X.ravel(), Y.ravel()], axis=1)
    pre = np.concatenate(net.preactivations(P), axis=1)
    keep = np.all(np.abs(pre) > 1e-9, axis=1)
    bits = (pre[keep] > 0).astype(np.int64)
    codes = np.unique(bits @ (1 << np.arange(bits.shape[1], dtype=np.int64)))
    return {tuple(bool((c >> j) & 1) for j in range(bits.shape[1])) for c in codes}


@pytest.mark.parametrize("seed", range(6))
def test_random_2d_against_grid(seed):
    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(3, 6, size=2)
    net = two_layer(rng.normal(size=(n1, 2)), rng.normal(size=n1) * 0.5,
                    rng.normal(size=(n2, n1)), rng.normal(size=n2) * 0.5)
    regs = regions_2d(net, -1, 1)
    exact_pats = {tuple(b for layer in p for b in layer) for _, p in regs}
    grid = _grid_patterns_2d(net, -1.0, 1.0, 1500)
    assert grid <= exact_pats
    assert count_2d(net, -1, 1) == len(exact_pats) == len(grid)


def test_performance_20_units_2d():
    rng = np.random.default_rng(7)
    net = two_layer(rng.normal(size=(10, 2)), rng.normal(size=10) * 0.5,
                    rng.normal(size=(10, 10)), rng.normal(size=10) * 0.5)
    regs = regions_2d(net, -1, 1)
    assert sum(_area(poly) for poly, _ in regs) == 4
    grid = _grid_patterns_2d(net, -1.0, 1.0, 600)
    assert grid <= {tuple(b for layer in p for b in layer) for _, p in regs}
