"""Decision boundaries (``geometry.decision``): analytic classifiers counted by hand, Tseran &
Montufar's maxout net (216 regions, 30 pieces, the numbers their code prints), and agreement
with a grid of forward passes (classes by ``scipy.ndimage.label``, (pattern, class) pairs)
and with the exact certificate."""

from __future__ import annotations

import numpy as np
import pytest

from milpregions.errors import InputError
from milpregions.geometry.decision import (
    count_decision,
    decision_network,
    prepare_decision,
)
from milpregions.ir.network import Affine, Layer, MaxLayer, Network
from milpregions.settings import Settings
from milpregions.testing.constructions import he_mlp, tseran_maxout


def linear3() -> Network:
    """Three logits w_c . x with w_c at 90, 210 and 330 degrees: three classes meeting at the
    origin, three rays of boundary, no activation layer."""
    a = np.deg2rad([90.0, 210.0, 330.0])
    return Network(2, (), Affine({0: np.stack([np.cos(a), np.sin(a)], axis=1)}, np.zeros(3)))


def bent(w: float) -> Network:
    """One ReLU unit h = relu(x1) and one logit f = w h + x2 - 1/2: two regions, each cut by
    the boundary; it bends at x1 = 0 unless w = 0."""
    L = Layer(Affine({0: np.array([[1.0, 0.0]])}, np.zeros(1)), np.zeros(1))
    return Network(2, (L,), Affine({0: np.array([[0.0, 1.0]]), 1: np.array([[w]])},
                                    np.array([-0.5])))


def wedge3() -> Network:
    """h = relu(x1); logits x2, -x2, 2h - 1. Left of x1 = 0 classes 0 (up) and 1 (down);
    right of it also class 2 in the wedge 2 x1 - 1 > |x2| from (1/2, 0)."""
    L = Layer(Affine({0: np.array([[1.0, 0.0]])}, np.zeros(1)), np.zeros(1))
    W0 = np.array([[0.0, 1.0], [0.0, -1.0], [0.0, 0.0]])
    return Network(2, (L,), Affine({0: W0, 1: np.array([[0.0], [0.0], [2.0]])},
                                    np.array([0.0, 0.0, -1.0])))


def lift(net: Network) -> Network:
    """The same classifier on 3 inputs, the third ignored: every face becomes a prism."""
    def wide(aff: Affine) -> Affine:
        W = {k: (np.hstack([V, np.zeros((V.shape[0], 1))]) if k == 0 else V)
             for k, V in aff.W.items()}
        return Affine(W, aff.b)

    layers = tuple(Layer(wide(L.affine), L.neg_slope) for L in net.layers)
    return Network(3, layers, wide(net.output))


def _counts(d):
    return (d.cells, d.regions, d.class_regions, d.crossed, d.decision_regions,
            d.class_decision_regions, d.boundary_pieces, d.merged_pieces)


@pytest.mark.parametrize("make,want", [
    # cells, regions, per class, crossed, decision regions (per class), pieces, merged
    (linear3, (3, 1, (1, 1, 1), 1, 3, (1, 1, 1), 3, 3)),
    (lambda: bent(1.0), (4, 2, (2, 2), 2, 2, (1, 1), 2, 2)),
    (lambda: bent(0.0), (4, 2, (2, 2), 2, 2, (1, 1), 2, 1)),
    (wedge3, (5, 2, (2, 2, 1), 2, 3, (1, 1, 1), 4, 3)),
])
def test_hand_counted_classifiers(make, want):
    for certify in (False, True):
        r, d = count_decision(make(), (-1.0, 1.0), settings=Settings(certify=certify))
        assert r.regions == d.cells
        assert _counts(d) == want
        assert r.certified is (True if certify else None)


@pytest.mark.parametrize("make,want", [
    (lambda: lift(linear3()), (3, 1, (1, 1, 1), 1, 3, (1, 1, 1), 3, 3)),
    (lambda: lift(bent(1.0)), (4, 2, (2, 2), 2, 2, (1, 1), 2, 2)),
    (lambda: lift(bent(0.0)), (4, 2, (2, 2), 2, 2, (1, 1), 2, 1)),
    (lambda: lift(wedge3()), (5, 2, (2, 2, 1), 2, 3, (1, 1, 1), 4, 3)),
])
def test_hand_counted_classifiers_in_3d(make, want):
    """The same nets with a third input they ignore: the same counts, faces merged through a
    common edge (a (d-2)-face) in 3-D."""
    _, d = count_decision(make(), (-1.0, 1.0))
    assert _counts(d) == want


def test_one_class_only_and_no_logits():
    net = bent(1.0)
    shifted = Network(2, net.layers, Affine(net.output.W, np.array([5.0])))   # f > 0 on the box
    _, d = count_decision(shifted, (-1.0, 1.0))
    assert _counts(d) == (2, 2, (0, 2), 0, 1, (0, 1), 0, 0)
    empty = Network(2, net.layers, Affine({1: np.zeros((0, 1))}, np.zeros(0)))
    with pytest.raises(InputError, match="the network has no logits"):
        decision_network(empty)


def test_the_decision_layer_is_the_argmax_first_on_ties():
    net = he_mlp(2, [5], seed=1, out_dim=4)
    aug = decision_network(net)
    assert isinstance(aug.layers[-1], MaxLayer) and aug.layers[-1].groups.shape == (1, 4)
    X = np.random.default_rng(0).uniform(-1, 1, (500, 2))
    X[:3] = 0.0
    assert np.array_equal(aug.pattern(X)[-1][:, 0], np.argmax(net.forward(X), axis=1))
    one = decision_network(he_mlp(2, [5], seed=1))
    assert isinstance(one.layers[-1], Layer)
    assert np.array_equal(one.pattern(X)[-1][:, 0], he_mlp(2, [5], seed=1).forward(X)[:, 0] > 0)


def test_tseran_montufar_maxout_216_regions_30_pieces():
    """Their code prints 216 linear regions and 30 linear pieces of the decision boundary for
    this net; with two classes their pieces are the regions the boundary crosses, and here no
    piece continues another across a facet."""
    for certify in (False, True):
        _, d = count_decision(tseran_maxout(), (-3.0, 3.0), settings=Settings(certify=certify))
        assert (d.regions, d.crossed, d.boundary_pieces, d.merged_pieces) == (216, 30, 30, 30)
        assert (d.cells, d.class_regions, d.decision_regions) == (246, (174, 72), 3)


def _grid(lo, hi, n):
    t = np.linspace(lo, hi, n)
    X, Y = np.meshgrid(t, t, indexing="ij")
    return np.column_stack([X.ravel(), Y.ravel()])


def _grid_components(cls: np.ndarray, m: int) -> list[int]:
    from scipy import ndimage

    return [ndimage.label(cls == c)[1] for c in range(m)]


@pytest.mark.parametrize("make,box,n", [
    (tseran_maxout, 3.0, 601),
    (lambda: he_mlp(2, [8, 8], seed=4, out_dim=3), 1.0, 601),
    (wedge3, 1.0, 401),
])
def test_grid_of_forward_passes_agrees(make, box, n):
    """Decision regions: the components of equal class on a fine grid (4-connected), the
    class by the network's own forward pass. Cells: every (pattern, class) pair the grid sees
    is counted; on a net with no cell thinner than the grid step, exactly those."""
    from milpregions.api import count
    from milpregions.ir.pattern import concat_pattern

    net = make()
    p = prepare_decision(net, (-box, box))
    found: list = []
    r = count(p, on_region=found.append)
    _, d = count_decision(p)
    assert r.regions == d.cells == len(found)
    X = _grid(-box, box, n)
    out = net.forward(X)
    cls = np.argmax(out, axis=1) if net.output_dim > 1 else (out[:, 0] > 0).astype(int)
    assert tuple(_grid_components(cls.reshape(n, n), d.classes)) == d.class_decision_regions
    flat = np.ascontiguousarray(np.concatenate(
        [np.asarray(q).reshape(len(X), -1).astype(np.int64) for q in net.pattern(X)]
        + [cls[:, None]], axis=1))
    rows = np.unique(flat.view(np.dtype((np.void, 8 * flat.shape[1]))).ravel())
    seen = {bytes(row) for row in rows}
    counted = {concat_pattern(reg.pattern).tobytes() for reg in found}
    assert seen <= counted
    if make is wedge3:
        assert seen == counted


def test_3d_grid_components_lie_in_one_decision_region_each():
    """In 3-D, every 6-connected grid component of one class lies in
    one decision region of that class, and every decision region is met by the grid (a grid
    splits thin tips into single voxels, so the numbers of components are not compared)."""
    from scipy import ndimage

    from milpregions.api import count
    from milpregions.geometry.decision import decide
    from milpregions.ir.pattern import concat_pattern

    net = he_mlp(3, [6], seed=2, out_dim=3)
    p = prepare_decision(net, (-1.0, 1.0))
    found: list = []
    count(p, on_region=found.append)
    d, _ = decide(p, found)
    assert (d.decision_regions, d.class_decision_regions) == (4, (1, 2, 1))
    assert d.merged_pieces == d.boundary_pieces      # a generic net: no face continues another
    n = 61
    g = np.linspace(-1, 1, n)
    X = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    flat = np.ascontiguousarray(np.concatenate(
        [np.asarray(q).reshape(len(X), -1).astype(np.int64)
         for q in decision_network(net).pattern(X)], axis=1))
    rows, inverse = np.unique(flat.view(np.dtype((np.void, 8 * flat.shape[1]))).ravel(),
                              return_inverse=True)
    key = {concat_pattern(r.pattern).tobytes(): i for i, r in enumerate(found)}
    cell = np.array([key[bytes(r)] for r in rows])[inverse.ravel()]
    region = d.decision_id[cell]
    cls = np.argmax(net.forward(X), axis=1)
    assert np.array_equal(d.class_id[cell], cls)
    for c in range(d.classes):
        lab, k = ndimage.label((cls == c).reshape(n, n, n))
        lab = lab.ravel()
        for j in range(1, k + 1):
            assert len(set(region[lab == j].tolist())) == 1
    assert set(region.tolist()) == set(range(d.decision_regions))


def test_one_logit_network_is_a_chain_and_agrees_with_two_logits():
    """One logit f and the two logits (0, f) give the same cells and counts (ties: class 0)."""
    net = he_mlp(2, [6, 6], seed=7)
    two = Network(2, net.layers, Affine({k: np.vstack([np.zeros_like(W), W])
                                         for k, W in net.output.W.items()},
                                        np.concatenate([[0.0], net.output.b])))
    _, d1 = count_decision(net, (-1.0, 1.0))
    _, d2 = count_decision(two, (-1.0, 1.0))
    assert _counts(d1) == _counts(d2)
    assert d1.crossed > 0 and d1.boundary_pieces >= d1.crossed


def _lp_pieces(net: Network, box: float) -> tuple[int, int]:
    """Tseran & Montufar's count by their method, independently of the augmented network:
    per activation region of the plain count, per pair of classes (i, j), an LP
    max t s.t. the region's rows >= t, the box, f_i = f_j and f_i - f_k >= t for the other
    classes k; a pair counts when t > 0 clearly. Also the plain count of regions."""
    from scipy.optimize import linprog

    from milpregions.api import count
    from milpregions.geometry.forms import error_factor, region_forms, region_rows
    from milpregions.problem import prepare

    p = prepare(net, (-box, box))
    found: list = []
    count(p, on_region=found.append)
    pats = [r.pattern for r in found]
    forms = region_forms(p.unit_net, pats)
    rows, live = region_rows(p.unit_net, pats, forms, error_factor(p.unit_net))
    m = net.output_dim
    pieces = 0
    for R, L, F in zip(rows, live, forms.out):
        R = R[L]
        if m == 1:
            F = np.vstack([np.zeros_like(F[0]), F[0]])
        for i in range(len(F)):
            for j in range(i + 1, len(F)):
                d = p.dim
                A_ub = [np.append(-r[:-1], 1.0) for r in R]          # -(a.u) + t <= b
                b_ub = [r[-1] for r in R]
                for k in range(len(F)):
                    if k not in (i, j):
                        g = F[i] - F[k]
                        A_ub.append(np.append(-g[:-1], 1.0))
                        b_ub.append(g[-1])
                g = F[i] - F[j]
                res = linprog(np.append(np.zeros(d), -1.0), A_ub=np.array(A_ub).reshape(-1, d + 1),
                              b_ub=np.array(b_ub), A_eq=np.append(g[:-1], 0.0)[None, :],
                              b_eq=[-g[-1]], bounds=[(-1, 1)] * d + [(None, 1)],
                              method="highs")
                if res.status == 0 and -res.fun > 1e-7:
                    pieces += 1
    return pieces, len(found)


@pytest.mark.parametrize("make,box", [
    (tseran_maxout, 3.0),
    (lambda: he_mlp(2, [8, 8], seed=4, out_dim=3), 1.0),
    (lambda: he_mlp(3, [6], seed=2, out_dim=3), 1.0),
    (lambda: he_mlp(2, [6, 6], seed=7), 1.0),
])
def test_pieces_agree_with_an_lp_per_region_and_pair(make, box):
    net = make()
    _, d = count_decision(net, (-box, box))
    pieces, regions = _lp_pieces(net, box)
    assert (d.boundary_pieces, d.regions) == (pieces, regions)


def test_the_python_walk_and_the_compiled_walk_count_the_same_cells():
    from milpregions.enumerator import TreeCounter
    from milpregions.ir.pattern import concat_pattern

    for net, box in ((tseran_maxout(), 3.0), (he_mlp(2, [8, 8], seed=4, out_dim=3), 1.0)):
        p = prepare_decision(net, (-box, box))
        seen = []
        for compiled in (False, True):
            keys: list = []
            TreeCounter(p.unit_net, p.tree_bounds, compiled=compiled,
                        on_region=lambda q, u, r, into=keys: into.append(
                            concat_pattern(q).tobytes())).run()
            seen.append(sorted(keys))
        assert seen[0] == seen[1] and len(seen[0]) in (246, 122)
