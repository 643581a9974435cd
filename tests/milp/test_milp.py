"""Tests of the MILP of record (milp.py): exact counts on hand-built networks in [-1, 1]^n0."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest
import scipy.sparse as sp
from scale_free_nets import mixed_magnitudes, near_identical_pieces, tiny_slope_net

from milpregions.api import count_regions
from milpregions.bounds import interval_bounds, lp_tighten
from milpregions.errors import InputError
from milpregions.ir.network import Affine, Layer, MaxLayer, Network, mlp
from milpregions.milp import DELTA, build_milp, count_milp, export_milp, simplex_inradius, simplex_vertices

from exact_oracles import count_2d, inradii_2d


def count(net, **kw):
    return count_milp(net, interval_bounds(net), **kw)


def one_layer(W, b, neg_slope=0.0):
    W = np.asarray(W, dtype=np.float64)
    return mlp([W, np.ones((1, W.shape[0]))], [np.asarray(b, dtype=np.float64), np.zeros(1)],
               neg_slope=neg_slope)


def general_lines(n: int, seed: int):
    """n lines in general position, through points well inside, all crossings inside the box."""
    rng = np.random.default_rng(seed)
    while True:
        ang = rng.uniform(0, np.pi, n)
        W = np.stack([np.cos(ang), np.sin(ang)], axis=1)
        P = rng.uniform(-0.5, 0.5, (n, 2))
        b = -np.einsum("ij,ij->i", W, P)
        pts = []
        ok = True
        for i, j in itertools.combinations(range(n), 2):
            A = W[[i, j]]
            if abs(np.linalg.det(A)) < 0.2:
                ok = False
                break
            pts.append(np.linalg.solve(A, -b[[i, j]]))
        if not ok:
            continue
        pts = np.array(pts)
        if np.abs(pts).max() > 0.8:
            continue
        # well separated: no crossing within 0.05 of a third line, crossings 0.05 apart
        dist = np.abs(pts @ W.T + b)
        near = sum(int((dist[k] < 0.05).sum()) for k in range(len(pts)))
        gaps = [np.linalg.norm(p - q) for p, q in itertools.combinations(pts, 2)]
        if near == 2 * len(pts) and min(gaps) > 0.05:
            return W, b


def test_simplex():
    for n in (1, 2, 3, 6):
        V = simplex_vertices(n)
        assert V.shape == (n + 1, n)
        assert np.allclose(np.linalg.norm(V, axis=1), 1.0)
        assert np.allclose(V.mean(axis=0), 0.0)
        assert np.linalg.matrix_rank(V[1:] - V[0]) == n
        assert simplex_inradius(V) == pytest.approx(1.0 / n)


def test_general_position_zaslavsky():
    W, b = general_lines(4, seed=1)
    res = count(one_layer(W, b))
    assert res.exact and res.method == "milp"
    assert res.regions == sum(comb(4, j) for j in range(3)) == 11
    assert res.lps == res.regions + 1


def test_leaky_and_abs_same_count():
    W, b = general_lines(3, seed=2)
    for s in (0.0, 0.1, -1.0):
        assert count(one_layer(W, b, neg_slope=s)).regions == 7


def test_all_stable_is_one_region():
    net = one_layer([[0.1, 0.2], [-0.3, 0.1]], [1.0, -1.0])
    seen = []
    res = count(net, on_region=lambda p, w, r: seen.append((p, w, r)))
    assert res.regions == 1 and res.exact and res.unstable_units == 0
    assert [list(p) for p in seen[0][0]] == [[True, False]]


def test_duplicate_and_zero_units_change_nothing():
    W, b = general_lines(3, seed=3)
    base = count(one_layer(W, b)).regions
    assert base == 7
    dup = count(one_layer(np.vstack([W, W[:1]]), np.append(b, b[0])))
    assert dup.regions == base
    zero = count(one_layer(np.vstack([W, np.zeros((1, 2))]), np.append(b, 0.0)))
    assert zero.regions == base


def test_identically_zero_preactivation_does_not_hide_a_region():
    # h1 = relu(x); z2 = h1 is identically 0 on x < 0: regions x < 0 and x > 0.
    net = mlp([[[1.0]], [[1.0]], [[1.0]]], [[0.0], [0.0], [0.0]])
    found = []
    res = count(net, on_region=lambda p, w, r: found.append((tuple(bool(q[0]) for q in p), w, r)))
    assert res.regions == 2 and res.exact
    pats = sorted(f[0] for f in found)
    assert pats == [(False, False), (True, True)]
    for pat, w, r in found:
        assert w.shape == (1,) and (w[0] > 0) == pat[0]
        assert r == pytest.approx(DELTA)   # the simplex inradius, delta / n0 with n0 = 1


def row_counts(P: np.ndarray) -> np.ndarray:
    """How often each distinct row of P occurs (``np.unique(P, axis=0)``'s counts; the rows
    compared as bytes, ten times faster on grids of 10^5 points and more)."""
    P = np.ascontiguousarray(P)
    return np.unique(P.view(np.dtype((np.void, P.dtype.itemsize * P.shape[1]))).ravel(),
                     return_counts=True)[1]


def grid_count_1d(net, n=200001):
    X = np.linspace(-1, 1, n)[:, None]
    P = np.hstack(net.pattern(X))
    change = np.flatnonzero(np.any(P[1:] != P[:-1], axis=1))
    runs = np.diff(np.concatenate([[0], change + 1, [n]]))
    return len(row_counts(P[np.r_[0, change + 1]])), runs.min() * 2 / (n - 1)


def test_two_layer_1d_against_grid():
    rng = np.random.default_rng(5)
    net = mlp([rng.normal(size=(4, 1)), rng.normal(size=(4, 4)), rng.normal(size=(1, 4))],
              [rng.normal(size=4) * 0.5, rng.normal(size=4) * 0.5, np.zeros(1)])
    expected, shortest = grid_count_1d(net)
    assert shortest > 1e-3  # every interval well resolved by the grid and the delta-simplex
    assert expected >= 4
    seen = set()

    def record(p, w, r):
        key = tuple(np.concatenate(p).tolist())
        assert key not in seen
        seen.add(key)
        assert [np.array_equal(a, b[0]) for a, b in zip(p, net.pattern(w[None, :]))] == [True] * 2

    res = count(net, on_region=record)
    assert res.exact and res.regions == expected == len(seen)


def test_two_layer_2d_small():
    rng = np.random.default_rng(0)
    net = mlp([rng.normal(size=(4, 2)), rng.normal(size=(3, 4)), rng.normal(size=(1, 3))],
              [rng.normal(size=4) * 0.3, rng.normal(size=3) * 0.3, np.zeros(1)])
    g = np.linspace(-1, 1, 801)
    X = np.array(np.meshgrid(g, g)).reshape(2, -1).T
    grid = len(row_counts(np.hstack(net.pattern(X))))
    assert count(net).regions == grid


def test_limits():
    rng = np.random.default_rng(0)
    net = mlp([rng.normal(size=(8, 2)), rng.normal(size=(8, 8)), rng.normal(size=(1, 8))],
              [rng.normal(size=8) * 0.3, rng.normal(size=8) * 0.3, np.zeros(1)])
    res = count(net, time_limit=0.05)
    assert not res.exact and res.stopped == "time-limit" and res.to_dict()["lower_bound"]
    res = count(net, max_regions=3)
    assert not res.exact and res.stopped == "max-regions" and res.regions == 3


def test_model_components():
    pe = pytest.importorskip("pyomo.environ")
    W, b = general_lines(3, seed=2)
    net = one_layer(W, b)
    m = build_milp(net, interval_bounds(net))
    assert len(m.x) == 2 and len(m.d) == 3
    assert len(m.z) == len(m.h) == 3 * 3  # 3 copies x 3 units
    assert isinstance(m.obj, pe.Objective)


def test_export_mps_and_lp(tmp_path):
    highspy = pytest.importorskip("highspy")
    W, b = general_lines(3, seed=2)
    net = mlp([W, np.ones((2, 3)), np.ones((1, 2))], [b, np.array([5.0, -0.1]), np.zeros(1)])
    bounds = interval_bounds(net)
    n_unstable = bounds.n_unstable
    n_cols = 2 + n_unstable + 2 * 3 * 5  # x, d, z and h of 3 copies x 5 units
    for suffix in (".mps", ".lp"):
        path = export_milp(net, bounds, tmp_path / f"model{suffix}")
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        assert h.readModel(str(path)) == highspy.HighsStatus.kOk
        lp = h.getLp()
        names = [c for c in lp.col_names_ if c != "ONE_VAR_CONSTANT"]  # Pyomo's objective constant
        assert len(names) == n_cols
        n_int = sum(1 for t in lp.integrality_ if t == highspy.HighsVarType.kInteger)
        assert n_int == n_unstable
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    with pytest.raises(InputError, match=r"\.txt"):
        export_milp(net, bounds, tmp_path / "model.txt")


def test_rounding_noise_on_a_zero_preactivation_is_tolerated_and_reported():
    # z2 = 0.1 h + 0.2 h - 0.3 h is 0 in decimal arithmetic, but 2^-55 h with the weights as
    # stored: the MILP takes it for 0 (off), so that region's pattern rests on rounding
    net = mlp([np.ones((3, 1)), [[0.1, 0.2, -0.3]], [[1.0]]], [np.zeros(3), [0.0], [0.0]])
    assert net.preactivations(np.array([[0.5]]))[1][0, 0] > 0
    r = count(net)
    assert (r.regions, r.undecided) == (2, 1)


# ---- max layers (maxout, MaxPool) and sparse weights ---------------------------------------


def max_one_layer(W, b, groups, d=None) -> Network:
    W = np.asarray(W, dtype=np.float64)
    groups = np.asarray(groups)
    layer = MaxLayer(Affine({0: W}, np.asarray(b, dtype=np.float64)), groups)
    return Network(W.shape[1], (layer,), Affine({1: np.ones((1, groups.shape[0]))}, np.zeros(1)))


def collect(net, bounds=None):
    """Count with ``count_milp``; check every witness's pattern and that patterns are distinct."""
    bounds = interval_bounds(net) if bounds is None else bounds
    seen = set()

    def record(p, w, r):
        assert len(p) == len(net.layers)
        for layer, a, b in zip(net.layers, p, net.pattern(w[None, :])):
            if isinstance(layer, MaxLayer):
                assert a.dtype.kind == "i" and a.shape == (layer.size,)
            else:
                assert a.dtype == bool
            np.testing.assert_array_equal(a, b[0])
        key = tuple(np.concatenate([np.asarray(a, dtype=np.int64) for a in p]).tolist())
        assert key not in seen
        seen.add(key)

    res = count_milp(net, bounds, on_region=record)
    assert res.exact and res.regions == len(seen)
    return res.regions


@pytest.mark.parametrize("W, b, expected", [
    ([[1.0], [-1.0]], [0.0, 0.0], 2),     # max(x, -x) = |x|
    ([[1.0], [1.0]], [0.0, 0.0], 1),      # max(x, x): two identical pieces, one region
    ([[1.0], [0.0]], [0.0, 0.5], 2),      # max(x, 0.5)
    ([[0.0], [1.0]], [0.5, 0.0], 2),      # max(0.5, x)
    ([[1.0], [1.0]], [0.0, 3.0], 1),      # max(x, x + 3): fixed, no binary
])
def test_max_hand_cases(W, b, expected):
    assert collect(max_one_layer(W, b, [[0, 1]])) == expected


def test_max_duplicate_piece_index_and_padding():
    # group (0, 0, -1): the same unit twice; group (1, 2, 3) with two identical pieces 2, 3
    net = max_one_layer([[1.0], [-1.0], [0.0], [0.0]], [0.0, 0.0, 0.2, 0.2],
                        [[0, 0, -1], [1, 2, 3]])
    # group 0 is fixed (argmax 0); group 1: -x vs 0.2 (pieces 2 and 3 tie, the first wins)
    assert collect(net) == 2


def grid_patterns(net, n=401):
    """Distinct patterns on an n x n grid, and the fewest grid points any of them holds."""
    g = np.linspace(-1, 1, n)
    X = np.array(np.meshgrid(g, g)).reshape(2, -1).T
    P = np.hstack([np.asarray(p, dtype=np.int64) for p in net.pattern(X)])
    counts = row_counts(P)
    return len(counts), int(counts.min())


def maxout_1d(seed: int) -> Network:
    rng = np.random.default_rng(seed)
    g1 = np.array([[0, 1, 2], [3, 4, -1], [5, 6, 7]])
    g2 = np.array([[0, 1, -1], [2, 3, 4], [5, 6, -1]])
    l1 = MaxLayer(Affine({0: rng.normal(size=(8, 1))}, rng.normal(size=8) * 0.5), g1)
    l2 = MaxLayer(Affine({1: rng.normal(size=(7, 3))}, rng.normal(size=7) * 0.5), g2)
    return Network(1, (l1, l2), Affine({2: np.ones((1, 3))}, np.zeros(1)))


def test_maxout_1d_against_grid():
    net = maxout_1d(seed=3)
    expected, shortest = grid_count_1d(net)
    assert shortest > 1e-3 and expected >= 5
    assert collect(net) == expected
    assert collect(net, lp_tighten(net, interval_bounds(net))) == expected


def test_maxout_2d_against_grid():
    rng = np.random.default_rng(0)
    g1 = np.array([[0, 1, 2], [3, 4, -1], [5, 6, -1]])
    l1 = MaxLayer(Affine({0: rng.normal(size=(7, 2))}, rng.normal(size=7) * 0.3), g1)
    l2 = MaxLayer(Affine({1: rng.normal(size=(4, 3)), 0: rng.normal(size=(4, 2)) * 0.3},
                         rng.normal(size=4) * 0.3), np.array([[0, 1], [2, 3]]))
    net = Network(2, (l1, l2), Affine({2: np.ones((1, 2))}, np.zeros(1)))
    expected, fewest = grid_patterns(net)
    assert expected >= 15 and fewest >= 100  # every region well resolved by the grid
    assert collect(net) == expected


def test_maxpool_like_2d_against_grid():
    # ReLU layer of 4 units on a 2x2 "image", then a 2x2 stride-1 max pool with padding:
    # windows (0,1,2,3), (1,3,-1,-1), (2,3,-1,-1), (3,-1,-1,-1); overlapping windows.
    # ReLU zeros tie in the pool: the first index wins, full-dimensional tie regions count once
    rng = np.random.default_rng(5)
    l1 = Layer(Affine({0: rng.normal(size=(4, 2))}, rng.normal(size=4) * 0.3), np.zeros(4))
    groups = np.array([[0, 1, 2, 3], [1, 3, -1, -1], [2, 3, -1, -1], [3, -1, -1, -1]])
    l2 = MaxLayer(Affine({1: np.eye(4)}, np.zeros(4)), groups)
    net = Network(2, (l1, l2), Affine({2: np.ones((1, 4))}, np.zeros(1)))
    expected, fewest = grid_patterns(net)
    assert expected >= 15 and fewest >= 100  # every region well resolved by the grid
    assert collect(net) == expected


def relu_as_maxout(net: Network, zero_first: bool) -> Network:
    """Every ReLU layer replaced by max(z, 0) (or max(0, z)) groups over doubled units."""
    layers = []
    for layer in net.layers:
        n = layer.size
        W = {s: np.zeros((2 * n, A.shape[1])) for s, A in layer.affine.W.items()}
        b = np.zeros(2 * n)
        zpos = np.arange(n) * 2 + (1 if zero_first else 0)
        for s, A in layer.affine.W.items():
            W[s][zpos] = A
        b[zpos] = layer.affine.b
        groups = np.arange(2 * n).reshape(n, 2)
        layers.append(MaxLayer(Affine(W, b), groups))
    return Network(net.input_dim, tuple(layers), net.output)


def test_maxout_equals_equivalent_relu_net():
    W, b = general_lines(4, seed=1)
    relu1 = one_layer(W, b)
    rng = np.random.default_rng(0)
    relu2 = mlp([rng.normal(size=(4, 2)), rng.normal(size=(3, 4)), rng.normal(size=(1, 3))],
                [rng.normal(size=4) * 0.3, rng.normal(size=3) * 0.3, np.zeros(1)])
    for relu, expected in ((relu1, 11), (relu2, None)):
        n = count(relu).regions
        assert expected is None or n == expected
        X = np.random.default_rng(1).uniform(-1, 1, (500, 2))
        for zero_first in (False, True):
            mnet = relu_as_maxout(relu, zero_first)
            np.testing.assert_allclose(mnet.forward(X), relu.forward(X), atol=1e-12)
            assert collect(mnet) == n


def sparse_copy(net: Network) -> Network:
    """The same network with every weight matrix a scipy.sparse.csr_array."""
    def conv(aff):
        return Affine({s: sp.csr_array(W) for s, W in aff.W.items()}, aff.b)

    layers = tuple(MaxLayer(conv(l.affine), l.groups, l.name) if isinstance(l, MaxLayer)
                   else Layer(conv(l.affine), l.neg_slope, l.name) for l in net.layers)
    return Network(net.input_dim, layers, conv(net.output))


def test_sparse_weights_same_count(tmp_path):
    rng = np.random.default_rng(0)
    W1 = rng.normal(size=(4, 2))
    W1[1, 0] = 0.0
    W2 = rng.normal(size=(3, 4))
    W2[0, 2] = W2[2, 1] = 0.0
    relu = mlp([W1, W2, rng.normal(size=(1, 3))],
               [rng.normal(size=4) * 0.3, rng.normal(size=3) * 0.3, np.zeros(1)])
    for net in (relu, maxout_1d(seed=3)):
        snet = sparse_copy(net)
        assert sp.issparse(snet.layers[0].affine.W[0])
        assert collect(snet) == collect(net)
    # with the same bounds (interval sums may differ in the last bit), the same model
    snet, bounds = sparse_copy(relu), interval_bounds(relu)
    a = export_milp(relu, bounds, tmp_path / "dense.lp").read_text()
    b = export_milp(snet, bounds, tmp_path / "sparse.lp").read_text()
    assert a == b


def test_max_model_components_and_export(tmp_path):
    highspy = pytest.importorskip("highspy")
    net = maxout_1d(seed=3)
    bounds = interval_bounds(net)
    m = build_milp(net, bounds)
    n_bin = len(m.d) + len(m.dmax)
    assert len(m.d) == 0 and len(m.dmax) > 0
    assert len(m.z) == 2 * (8 + 7) and len(m.h) == 2 * (3 + 3)  # 2 copies, pieces / groups
    assert len(m.max_one) == bounds.n_unstable
    path = export_milp(net, bounds, tmp_path / "max.mps")
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    lp = h.getLp()
    assert sum(1 for t in lp.integrality_ if t == highspy.HighsVarType.kInteger) == n_bin
    res = count_milp(net, bounds)
    assert res.unstable_units == bounds.n_unstable


def test_max_all_fixed_is_one_region():
    net = max_one_layer([[1.0, 0.0], [0.1, 0.1]], [3.0, 0.0], [[0, 1]])
    found = []
    res = count_milp(net, interval_bounds(net), on_region=lambda p, w, r: found.append(p))
    assert res.regions == 1 and res.unstable_units == 0
    assert found[0][0].tolist() == [0]


def test_rounding_noise_between_equal_max_pieces_is_tolerated():
    # pieces 0.3 h and 0.1 h + 0.2 h (h = relu(x)) are equal; float64 makes the later one
    # larger by ~1e-17 for x > 0, so the forward argmax says 1 where the MILP (first index on
    # ties) says 0: accepted as a rounding artefact. Regions: x < 0 and x > 0.
    l1 = Layer(Affine({0: np.ones((3, 1))}, np.zeros(3)), np.zeros(3))
    l2 = MaxLayer(Affine({1: np.array([[0.3, 0.0, 0.0], [0.1, 0.2, 0.0]])}, np.zeros(2)),
                  np.array([[0, 1]]))
    net = Network(1, (l1, l2), Affine({2: np.ones((1, 1))}, np.zeros(1)))
    assert net.pattern(np.array([[0.5]]))[1][0, 0] == 1
    found = []
    res = count_milp(net, interval_bounds(net), on_region=lambda p, w, r: found.append(p[1]))
    assert res.regions == 2 and [p.tolist() for p in found] == [[0], [0]]


def test_milp_keeps_a_tiny_weight_that_reads_a_huge_activation():
    # z2 = 5e-10 * relu(1e6 x) - 2.5e-4 splits [-1, 1] at x = 0.5: 3 regions. HiGHS drops
    # matrix entries below 1e-9 by default when the rows are loaded, which lost the third.
    from exact_oracles import count_1d

    net = mlp([np.array([[1e6], [-1.0]]), np.array([[5e-10, 0.0]]), np.array([[1.0]])],
              [np.zeros(2), np.array([-2.5e-4]), np.zeros(1)])
    assert count_1d(net, -1.0, 1.0) == 3
    assert count(net).regions == 3
    assert count_milp(net, lp_tighten(net, interval_bounds(net))).regions == 3


# mixed magnitudes: the MILP of record (scaled variables, solutions decided on their own rows)
# against the exact oracle; it misses only regions too thin for its witness simplex. Each seed
# costs ~5-25 s: seeds 2, 4 and 5 run under -m slow; the default suite keeps seeds with the
# thinnest regions (6, 7: inradius ~2.5e-8), thin ones (0, 1: ~1e-6) and one with every region
# thicker than 1e-5 (3), so both of the test's cases
@pytest.mark.parametrize("seed", [pytest.param(s, marks=[pytest.mark.slow] if s in (2, 4, 5)
                                               else []) for s in range(8)])
def test_milp_on_weights_from_1e_minus_4_to_1e4(seed):
    net = mixed_magnitudes(seed)
    radii = np.array(list(inradii_2d(net, -1.0, 1.0).values()))
    res = count_regions(net, (-1, 1), method="milp", time_limit=120)
    assert res.exact
    # every region that holds the witness simplex (inradius delta / n0 = 5e-7) with room
    # to spare is found, and nothing that is not a region
    assert (radii > 1e-5).sum() <= res.regions <= radii.size, (res.regions, np.sort(radii)[:5])
    if radii.min() > 1e-5:
        assert res.regions == radii.size


def test_milp_finds_a_tiny_real_slope_and_near_identical_pieces():
    net = tiny_slope_net()
    assert count_regions(net, (-1, 1), method="milp").regions == count_2d(net, [-1, -1],
                                                                          [1, 1]) == 8
    assert count_regions(near_identical_pieces(), (-1, 1), method="milp").regions == 2


def test_counts_survive_a_highs_run_elsewhere_in_the_process():
    # HiGHS's thread scheduler is process-wide: once a Highs started it with 2 threads, any
    # Highs asking for another count failed every run (the node LPs then looked empty); a
    # fresh process makes the order certain
    import subprocess
    import sys

    code = """
import highspy, numpy as np
h = highspy.Highs()
h.setOptionValue("output_flag", False)
h.setOptionValue("threads", 2)
inf = highspy.kHighsInf
h.addCols(1, np.ones(1), np.zeros(1), np.ones(1), 0, np.zeros(0, np.int32), np.zeros(0, np.int32),
          np.zeros(0))
h.run()
from milpregions.api import count_regions
from milpregions.testing.constructions import general_position_layer, zaslavsky_count
net = general_position_layer(2, 5, seed=0)
print(count_regions(net, (-1, 1), vertex_dim=0).regions,
      count_regions(net, (-1, 1), method="milp").regions, zaslavsky_count(2, 5))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1].split()
    assert out == ["16", "16", "16"]
