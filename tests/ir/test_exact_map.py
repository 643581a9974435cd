"""The domain map folded exactly (``ir.exact_map``): every coefficient is the exact value
rounded once, and counts on zoomed-in boxes far from the origin are exact (issue 21, item 1).

Constructions: hyperplanes with small integer normals (in normalised coordinates) through one
point p whose biases ``-W p`` are exact in floats, so every hyperplane passes exactly through p,
and p lies inside the box: the first layer is a central arrangement with a known count
(``2 sum_{i<d} C(n-1, i)`` for n hyperplanes in general position in R^d).
"""

from __future__ import annotations

from fractions import Fraction as F
from itertools import combinations
from math import comb

import numpy as np
import pytest
from scipy import sparse

from milpregions.api import count_regions
from milpregions.errors import InputError
from milpregions.ir.domain import Box, Slice, input_map, normalize
from milpregions.ir.network import Affine, Layer, Network, mlp


def _exact_box(W0: np.ndarray, b: np.ndarray, lo, hi):
    """The folded first layer of a box, in Fractions, rounded once."""
    h = [(F(float(a)) - F(float(c))) / 2 for a, c in zip(hi, lo)]
    c = [(F(float(a)) + F(float(c))) / 2 for a, c in zip(hi, lo)]
    Wn = np.array([[float(F(float(W0[i, k])) * h[k]) for k in range(W0.shape[1])]
                   for i in range(W0.shape[0])])
    bn = np.array([float(F(float(b[i])) + sum(F(float(W0[i, k])) * c[k]
                                             for k in range(W0.shape[1])))
                   for i in range(W0.shape[0])])
    return Wn, bn


def _skip_net(rng, n0: int, scale: float = 1.0) -> Network:
    """Two layers, the second reading the input as well (two maps fold)."""
    W1 = rng.normal(size=(5, n0)) * scale
    W2 = {0: rng.normal(size=(3, n0)) * scale, 1: rng.normal(size=(3, 5))}
    L1 = Layer(Affine({0: W1}, rng.normal(size=5) * 1e4), np.zeros(5))
    L2 = Layer(Affine(W2, rng.normal(size=3)), np.full(3, 0.1))
    return Network(n0, (L1, L2), Affine({2: np.ones((1, 3))}, np.zeros(1)))


@pytest.mark.parametrize("lo, hi", [
    ([-9876.25 - 3e-4, 12345.5 - 1e-9], [-9876.25 + 7e-4, 12345.5 + 1e-9]),
    ([1e4 - 1.5e-8, -6.6e4], [1e4 + 1.5e-8, 6.6e4 + 0.1]),
    ([-1.0, 0.1], [1.0, 0.30000000000000004]),       # hi + lo not a float: a two-term centre
    ([-0.1, -3e4 - 1e-12], [1e-20, 7e-13]),           # hi - lo not a float: two-term halves
])
def test_a_box_folds_to_the_exact_map_rounded_once(lo, hi):
    from milpregions.ir.exact_map import expansion

    m = input_map(Box.make(lo, hi, 2))
    terms = (expansion(np.array(m.G, dtype=object)).shape[-1],
             expansion(np.array(m.origin, dtype=object)).shape[-1])
    assert max(terms) <= 2
    rng = np.random.default_rng(0)
    net = _skip_net(rng, 2)
    box = Box.make(lo, hi, 2)
    unit = normalize(net, box)
    for layer, ulayer in zip(net.layers, unit.layers):
        Wn, bn = _exact_box(layer.affine.W[0], layer.affine.b, lo, hi)
        assert np.array_equal(ulayer.affine.W[0], Wn)
        assert np.array_equal(ulayer.affine.b, bn)
    assert np.array_equal(unit.layers[1].affine.W[1], net.layers[1].affine.W[1])  # untouched


def test_the_float_fold_rounds_more_than_once_where_the_exact_one_does_not():
    # the case the exact fold exists for: b + W @ centre in floats is off by far more than a
    # rounding of the result
    W = np.array([[1.0, 1.0]])
    b = np.array([-24691.0])
    lo, hi = [12345.499999999474, 12345.49999999924], [12345.50000000069, 12345.500000000202]
    box = Box.make(lo, hi, 2)
    _, exact_b = _exact_box(W, b, lo, hi)
    naive = b + W @ box.center
    folded = normalize(mlp([W, np.ones((1, 1))], [b, np.zeros(1)]), box).layers[0].affine.b
    assert folded[0] == exact_b[0]
    assert abs(naive[0] - exact_b[0]) > 1e3 * abs(np.spacing(exact_b[0]))


def test_sparse_weights_fold_the_same():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(6, 4)) * (rng.random((6, 4)) < 0.5)
    b = rng.normal(size=6)
    dense = mlp([W, np.ones((1, 6))], [b, np.zeros(1)])
    sp = Network(4, (Layer(Affine({0: sparse.csr_matrix(W)}, b), np.zeros(6)),),
                 Affine({1: np.ones((1, 6))}, np.zeros(1)))
    for lo, hi in (([-1.0] * 4, [1.0] * 4), ([1e4 - 3e-7] * 4, [1e4 + 1e-7 / 3] * 4),
                   ([-0.1] * 4, [1e-20] * 4)):
        box = Box.make(lo, hi, 4)
        a = normalize(dense, box).layers[0].affine
        s = normalize(sp, box).layers[0].affine
        assert np.array_equal(a.W[0], s.W[0].toarray())
        assert np.array_equal(a.b, s.b)


def test_a_slice_folds_to_the_exact_map_rounded_once():
    rng = np.random.default_rng(2)
    net = _skip_net(rng, 3)
    P = [np.array([1e4 + 0.1, -3.3, 7.0]), np.array([1e4 + 0.1 + 1e-6, -3.3, 7.1]),
         np.array([1e4 + 0.1, -3.3 + 2e-7, 6.9])]
    dom = Slice.through(*P, param_box=Box.make([-0.5, 0.25], [1.5, 0.75], 2))
    m = input_map(dom)
    pf = [[F(float(v)) for v in p] for p in P]
    s = [(F(-0.5), F(1.5)), (F(0.25), F(0.75))]
    h = [(b - a) / 2 for a, b in s]
    c = [(b + a) / 2 for a, b in s]
    for i in range(3):        # x_i = P0_i + sum_j (P_{j+1,i} - P0_i)(c_j + h_j u_j), exactly
        for j in range(2):
            assert m.G[i][j] == (pf[j + 1][i] - pf[0][i]) * h[j]
        assert m.origin[i] == pf[0][i] + sum((pf[j + 1][i] - pf[0][i]) * c[j] for j in range(2))
    unit = normalize(net, dom)
    W0, b0 = net.layers[0].affine.W[0], net.layers[0].affine.b
    for r in range(W0.shape[0]):
        w = [F(float(v)) for v in W0[r]]
        for j in range(2):
            assert unit.layers[0].affine.W[0][r, j] == float(sum(w[i] * m.G[i][j]
                                                                 for i in range(3)))
        assert unit.layers[0].affine.b[r] == float(F(float(b0[r])) + sum(
            w[i] * m.origin[i] for i in range(3)))


def test_numbers_out_of_dekker_range_fold_exactly_in_rationals():
    # weights near 1e-280 make the products leave the range where the float path is exact
    rng = np.random.default_rng(3)
    W = rng.normal(size=(3, 2)) * 1e-280
    b = rng.normal(size=3) * 1e-275
    lo, hi = [1e3 - 0.3, -2e4], [1e3 + 0.1, 2e4 + 0.7]
    unit = normalize(mlp([W, np.ones((1, 3))], [b, np.zeros(1)]), Box.make(lo, hi, 2))
    Wn, bn = _exact_box(W, b, lo, hi)
    assert np.array_equal(unit.layers[0].affine.W[0], Wn)
    assert np.array_equal(unit.layers[0].affine.b, bn)


def test_domains_beyond_float_range_are_refused():
    net = mlp([np.array([[1.0, -1.0], [0.5, 2.0]]), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    with pytest.raises(InputError, match="too large for float arithmetic"):
        normalize(net, Box.make(-1e200, 1e200, 2))
    with pytest.raises(InputError, match="too large for float arithmetic"):
        normalize(net, Box.make(-1e300, 1e300, 2))       # the weights overflow outright
    tiny = mlp([np.array([[1e-300, 1.0]]), np.ones((1, 1))], [np.zeros(1), np.zeros(1)])
    with pytest.raises(InputError, match="too small for float arithmetic"):
        normalize(tiny, Box.make([0.0, 0.0], [1e-10, 1.0], 2))
    normalize(net, Box.make(-1e100, 1e100, 2))          # large, within range


# ------------------------------------------------------------ zoomed-in boxes (issue 21, item 1)


def central_net(A, p, h, offset, second=None) -> tuple[Network, tuple[np.ndarray, np.ndarray]]:
    """Hyperplanes with normalised normals A through p (exactly: ``b = -W p`` is checked
    exact), in the box of half-widths h (powers of two) centred at ``p + offset * h``."""
    A, p, h = (np.asarray(v, dtype=np.float64) for v in (A, p, h))
    W = A / h[None, :]
    b = -(W @ p)
    for i in range(len(b)):
        assert F(float(b[i])) == -sum(F(float(W[i, k])) * F(float(p[k])) for k in range(len(p)))
    c = p + np.asarray(offset) * h
    if second is None:
        net = mlp([W, np.ones((1, len(b)))], [b, np.zeros(1)])
    else:
        W2, b2 = second
        net = mlp([W, W2, np.ones((1, len(b2)))], [b, b2, np.zeros(1)])
    return net, (c - h, c + h)


def central_count(n: int, d: int) -> int:
    """Regions of n hyperplanes in general position through one point of R^d."""
    return 2 * sum(comb(n - 1, i) for i in range(d))


def _general(A: np.ndarray) -> bool:
    d = A.shape[1]
    return all(abs(np.linalg.det(A[list(s)])) > 0.5 for s in combinations(range(len(A)), d))


def _normals_2d(n: int) -> np.ndarray:
    t = np.arange(n) * 0.26 + 0.1
    return np.round(np.stack([np.cos(t), np.sin(t)], axis=1) * 64)


def _normals_3d(n: int) -> np.ndarray:
    rng = np.random.default_rng(5)
    while True:
        A = rng.integers(-8, 9, size=(n, 3)).astype(np.float64)
        if _general(A):
            return A


ZOOMED = {
    # 12 lines through (-9876.25, -9876.25), a box 1e-3 wide
    "1e-3 box": (_normals_2d(12), [-9876.25, -9876.25], [2.0 ** -11] * 2, [0.3, -0.2]),
    # 12 lines through (12345.5, 12345.5), a box ~1e-9 wide
    "1e-9 box": (_normals_2d(12), [12345.5, 12345.5], [2.0 ** -31] * 2, [0.3, -0.2]),
    # 10 planes in 3-D, half-widths 1.5e-8, 1 and 6.6e4, centre coordinates up to 1e4
    "anisotropic": (_normals_3d(10), [10000.25, -3.5, 8192.0], [2.0 ** -26, 1.0, 2.0 ** 16],
                    [-0.3, 0.2, 0.25]),
}


@pytest.mark.parametrize("name", list(ZOOMED))
def test_zoomed_in_boxes_count_the_central_arrangement(name):
    A, p, h, offset = ZOOMED[name]
    assert _general(A)
    net, box = central_net(A, p, h, offset)
    want = central_count(A.shape[0], A.shape[1])
    r = count_regions(net, box)
    assert (r.regions, r.undecided, r.thin_dropped) == (want, 0, 0)
    c = count_regions(net, box, certify=True)
    assert c.certified and c.regions == want and c.certify_added == c.certify_rejected == 0


@pytest.mark.parametrize("name", ["1e-9 box", "anisotropic"])
def test_zoomed_in_boxes_with_a_second_layer_agree_with_the_exact_count(name):
    A, p, h, offset = ZOOMED[name]
    rng = np.random.default_rng(7)
    # second-layer units with zero biases vanish at p too: every region is a cone from p
    W2 = rng.normal(size=(6, A.shape[0]))
    net, box = central_net(A, p, h, offset, (W2, np.zeros(6)))
    r = count_regions(net, box)
    c = count_regions(net, box, certify=True)
    assert c.certified and c.certify_added == c.certify_rejected == 0
    assert (r.regions, r.undecided, r.thin_dropped) == (c.regions, 0, 0)
    assert r.regions > central_count(A.shape[0], A.shape[1])


@pytest.mark.parametrize("name", ["1e-3 box", "1e-9 box", "anisotropic"])
def test_zoomed_in_boxes_count_the_same_on_both_walks(name):
    """The same nets on the Python vertex walk and on the compiled one, each forced (a count
    picks by size and time, so under load the test above met the compiled walk and on a quiet
    machine the Python one): the same regions and nodes as the certified count. The compiled
    walk once counted a cone twice here (36 regions, 95 nodes): its next layer's map on a cell
    with every unit off was updated down to a rounding residue instead of 0."""
    from milpregions.bounds import compute_bounds
    from milpregions.enumerator import TreeCounter

    A, p, h, offset = ZOOMED[name]
    W2 = np.random.default_rng(7).normal(size=(6, A.shape[0]))
    net, box = central_net(A, p, h, offset, (W2, np.zeros(6)))
    want = count_regions(net, box, certify=True)
    unit = normalize(net, Box.make(np.asarray(box[0], float), np.asarray(box[1], float),
                                   A.shape[1]))
    bounds = compute_bounds(unit, "none")
    got = [TreeCounter(unit, bounds, compiled=compiled).run() for compiled in (False, True)]
    assert want.certified and want.certify_added == want.certify_rejected == 0
    assert [g.regions for g in got] == [want.regions] * 2
    assert got[0].nodes == got[1].nodes and not got[1].thin_dropped


def test_three_lines_through_one_point_in_a_1e_9_box_make_6_regions():
    # the smallest case of the issue (apex3_2d): the float normalisation counted 7
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([-12345.5, -12345.5, -24691.0])
    net = mlp([W, np.ones((1, 3))], [b, np.zeros(1)])
    box = ([12345.499999999474, 12345.49999999924], [12345.50000000069, 12345.500000000202])
    found = []
    r = count_regions(net, box, on_region=lambda reg: found.append(
        "".join("1" if v else "0" for v in reg.pattern[0])))
    assert r.regions == 6 and r.undecided == 0
    assert "001" not in found and "110" not in found
    assert count_regions(net, box, certify=True).regions == 6
