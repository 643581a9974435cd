"""Line counts and boundary distances (``milpregions.estimators.lines``) against exact checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from milpregions.estimators.lines import (
    boundary_distances,
    count_segment,
    face_distances,
    intrinsic_volumes,
    kappa,
    lambda_from_distance,
    poisson_cells,
    random_chords,
    run_lines,
    segment_regions,
)
from milpregions.ir.domain import Box
from milpregions.ir.network import Affine, Layer, MaxLayer, Network, mlp
from milpregions.testing import constructions as C

from exact_oracles import count_line


def _random_net(rng, trial):
    d = int(rng.integers(1, 4))
    widths = [int(w) for w in rng.integers(1, 7, size=rng.integers(1, 4))]
    sizes = [d] + widths + [1]
    digits = 1 if trial % 4 == 0 else 8             # rounded weights: coincident breakpoints
    Ws = [rng.normal(size=(b, a)).round(digits) for a, b in zip(sizes[:-1], sizes[1:])]
    zero = trial % 2 == 0                             # zero biases: concurrent hyperplanes
    bs = [np.zeros(b) if zero else rng.normal(size=b).round(digits) for b in sizes[1:]]
    return mlp(Ws, bs, neg_slope=[0.0, 0.1, -1.0][trial % 3]), d


def test_line_counts_equal_the_exact_oracle():
    rng = np.random.default_rng(0)
    for trial in range(150):
        net, d = _random_net(rng, trial)
        p, q = rng.uniform(-1, 1, (2, d))
        if trial % 5 == 0:
            q = -p                                    # through the origin
        want = count_line(net, p, q)
        assert count_segment(net, p, q) == (want, want), trial


def test_line_counts_of_constructions():
    net = C.serra_zigzag([3, 3])                      # 16 regions on [0, 1]
    assert count_segment(net, [0.0], [1.0]) == (16, 16)
    net = C.montufar_folding(2, 2, 2)                 # diagonal of [0,1]^2 through the folds
    assert count_segment(net, [0, 0], [1, 1]) == (count_line(net, [0, 0], [1, 1]),) * 2


def test_dead_and_duplicate_units():
    W1 = np.array([[1.0, 0.5], [1.0, 0.5], [0.0, 0.0], [-1.0, 2.0]])
    b1 = np.array([0.1, 0.1, 0.0, -0.2])
    W2 = np.array([[1.0, -1.0, 3.0, 0.5], [0.0, 0.0, 1.0, 0.0]])   # unit 2 reads a dead unit
    net = mlp([W1, W2, np.ones((1, 2))], [b1, np.zeros(2), np.zeros(1)])
    for p, q in (([-1, -1], [1, 1]), ([-1, 1], [1, -1]), ([0, -1], [0, 1])):
        want = count_line(net, p, q)
        assert count_segment(net, p, q) == (want, want)


def _maxout(rng, groups):
    n = int((np.asarray(groups) >= 0).sum())
    W = rng.normal(size=(n, 2)).round(1)
    b = rng.normal(size=n).round(1)
    layer = MaxLayer(Affine({0: W}, b), np.asarray(groups))
    relu = Layer(Affine({1: rng.normal(size=(3, len(groups)))}, rng.normal(size=3)), np.zeros(3))
    return Network(2, (layer, relu), Affine({2: np.ones((1, 3))}, np.zeros(1)))


def test_max_groups_along_a_line_match_dense_sampling():
    rng = np.random.default_rng(1)
    for trial in range(10):
        net = _maxout(rng, [[0, 1, 2], [3, 4, -1], [5, -1, -1]])
        p, q = rng.uniform(-2, 2, (2, 2))
        breaks, keys = segment_regions(net, p, q)
        t = np.linspace(0, 1, 200001)[1:-1]
        pats = np.concatenate([np.asarray(a, np.int64) for a in net.pattern(p + t[:, None] * (q - p))], 1)
        starts = np.r_[0, 1 + np.flatnonzero(np.any(pats[1:] != pats[:-1], axis=1))]
        runs = len(starts)
        distinct = len(np.unique(pats[starts], axis=0))     # each run's pattern: all of them
        assert (len(set(keys)), len(keys)) == (distinct, runs), trial
        # every piece's key is the pattern at its midpoint
        mids = (breaks[:-1] + breaks[1:]) / 2
        got = np.concatenate([np.asarray(a, np.int64) for a in net.pattern(p + mids[:, None] * (q - p))], 1)
        assert [g.tobytes() for g in got] == keys


def _brute_distance(net, x, ndir=720, rmax=3.0, steps=3000, chunk=100):
    """The distance from x to its region's boundary by brute force: along each of ``ndir``
    directions, the first of ``steps`` points with another pattern, then 40 bisections (all
    directions at once). The points are scanned ``chunk`` radii at a time, outwards: the first
    chunk in which some direction leaves the region holds the nearest boundary (a direction
    that leaves it later is farther), so the scan stops there."""
    def flat(X):
        return np.concatenate([np.asarray(a, float).reshape(len(X), -1) for a in net.pattern(X)], 1)

    pat0 = flat(x[None])[0]
    ts = np.linspace(0, rmax, steps)[1:]
    th = np.linspace(0, 2 * np.pi, ndir, endpoint=False)
    U = np.stack([np.cos(th), np.sin(th)], axis=1)
    for start in range(0, len(ts), chunk):
        t = ts[start:start + chunk]
        points = (x + t[None, :, None] * U[:, None, :]).reshape(-1, 2)
        diff = np.any(flat(points) != pat0, axis=1).reshape(ndir, len(t))
        hit = diff.any(axis=1)
        if hit.any():
            break
    else:
        return np.inf
    U, k = U[hit], start + np.argmax(diff[hit], axis=1)
    lo, hi = np.where(k > 0, ts[np.maximum(k - 1, 0)], 0.0), ts[k]
    for _ in range(40):
        m = (lo + hi) / 2
        same = np.all(flat(x + m[:, None] * U) == pat0, axis=1)
        lo, hi = np.where(same, m, lo), np.where(same, hi, m)
    return float(hi.min())


@pytest.mark.parametrize("kind", ["relu", "leaky", "maxout"])
def test_boundary_distance_equals_brute_force(kind):
    rng = np.random.default_rng({"relu": 2, "leaky": 3, "maxout": 4}[kind])
    if kind == "maxout":
        net = _maxout(rng, [[0, 1, 2], [3, 4, -1]])
    else:
        sizes = [2, 5, 4, 1]
        net = mlp([rng.normal(size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])],
                  [rng.normal(scale=0.5, size=b) for b in sizes[1:]],
                  neg_slope=0.0 if kind == "relu" else 0.2)
    X = rng.uniform(-1, 1, (3, 2))
    got = boundary_distances(net, X, batch=2)
    for x, g in zip(X, got):
        # the direction grid (0.5 degree) overestimates by at most r (1 - cos(0.25 deg)) ~ 1e-5 r
        assert g == pytest.approx(_brute_distance(net, x), rel=2e-5, abs=1e-7)


def test_boundary_distance_of_a_single_hyperplane_and_constant_net():
    net = mlp([np.array([[3.0, 4.0]]), np.ones((1, 1))], [np.array([-1.0]), np.zeros(1)])
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert np.allclose(boundary_distances(net, X), [0.2, 1.2])
    dead = mlp([np.zeros((2, 2)), np.ones((1, 2))], [np.array([1.0, -1.0]), np.zeros(1)])
    assert np.all(np.isinf(boundary_distances(dead, X)))
    assert np.allclose(face_distances(Box.make(-1, 2, 2), X), [1.0, 1.0])


def test_chords_end_on_the_box_boundary():
    box = Box.make([-1, 0, 2], [1, 3, 2.5], 3)
    P, Q = random_chords(box, 200, np.random.default_rng(0))
    for E in (P, Q):
        assert np.all(E >= box.lo - 1e-12) and np.all(E <= box.hi + 1e-12)
        on_face = np.isclose(E, box.lo) | np.isclose(E, box.hi)
        assert np.all(on_face.any(axis=1))
    assert np.all(np.linalg.norm(Q - P, axis=1) > 0)


def test_poisson_model_formulas():
    assert [kappa(k) for k in range(4)] == pytest.approx([1, 2, math.pi, 4 * math.pi / 3])
    assert intrinsic_volumes([2.0, 3.0]) == [1.0, 5.0, 6.0]
    assert poisson_cells(4.0, [2.5]) == pytest.approx(11.0)          # 1-D: 1 + lambda * length
    # 2-D: 1 + lambda per/2 + (pi/4) lambda^2 area
    assert poisson_cells(2.0, [1.0, 3.0]) == pytest.approx(1 + 2 * 4 + math.pi / 4 * 4 * 3)
    assert lambda_from_distance(0.25, 1) == pytest.approx(2.0)       # mean distance 1/(2 lambda)


def test_run_lines_on_a_1d_net_is_exact():
    net = C.montufar_folding(1, 2, 3)                                 # 8 regions on [0, 1]
    r = run_lines(net, Box.make(0, 1, 1), 5, points=50, seed=0)
    assert r.regions_per_line == [8] * 5 and r.runs_per_line == [8] * 5
    assert r.density == pytest.approx(7.0) and r.estimate_from_lines == pytest.approx(8.0)
    assert r.mismatched_lines == 0 and r.mean_distance > 0
    d = r.to_dict()
    assert d["points"] == 50 and "formula" in d
