"""The point MILP of the hashing bound (``milpregions.milp.point``) and its HiGHS driver
(``milpregions.solver.highs_mip``): counts by no-good cuts equal the exact counts, patterns map
to binaries and back, parity rows hold exactly when they should."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.estimators.hashing import parity_rows
from milpregions.ir.network import mlp
from milpregions.milp.point import Binaries, build_point_milp, region_rows
from milpregions.problem import load_network, prepare
from milpregions.settings import Settings
from milpregions.solver.highs_mip import ChebyshevBall, FeasibilityMIP, MIPStatus
from milpregions.testing import constructions as C


def _mip(P):
    return FeasibilityMIP(P.col_lo, P.col_hi, P.integer, P.row_lo, P.row_hi, P.starts, P.index,
                          P.value)


def nogood_count(net, box, limit: int = 500) -> tuple[int, int]:
    """Regions of the point MILP by repeated solves with no-good cuts on the binaries."""
    p = prepare(net, box, Settings())
    P = build_point_milp(p.unit_net, p.bounds)
    mip = _mip(P)
    bc, cuts, n = P.binary_cols, [], 0
    while n <= limit:
        status, x = mip.solve(rows=cuts)
        if status is not MIPStatus.FEASIBLE:
            assert status is MIPStatus.INFEASIBLE
            break
        d = np.round(x[bc]).astype(int)
        n += 1
        # sum_{d_j = 0} d_j - sum_{d_j = 1} d_j >= 1 - |{d_j = 1}|
        cuts.append((1 - d.sum(), np.inf, bc, np.where(d == 1, -1.0, 1.0)))
    return n, len(bc)


def _leaky(slope: float):
    rng = np.random.default_rng(3)
    W = [rng.normal(size=(5, 2)), rng.normal(size=(3, 5)), rng.normal(size=(1, 3))]
    b = [0.3 * rng.normal(size=5), 0.3 * rng.normal(size=3), np.zeros(1)]
    return mlp(W, b, neg_slope=slope)


NETS = [
    ("montufar 1d p2 d3", lambda: C.montufar_folding(1, 2, 3), (0.0, 1.0)),        # 8
    ("general position 2d n5", lambda: C.general_position_layer(2, 5, 0), None),    # 16
    ("leaky relu", lambda: _leaky(0.1), None),
    ("abs", lambda: _leaky(-1.0), None),
    ("maxout (torch export)", lambda: load_network("models/maxout_mlp.onnx"), (-3.0, 3.0)),
    ("concurrent 2d n4", lambda: C.concurrent_layer(2, 4, 0, n2=2), None),
]


@pytest.mark.parametrize("name,make,box", NETS, ids=[n for n, _, _ in NETS])
def test_point_milp_counts_the_regions(name, make, box):
    net = make()
    exact = count_regions(net, box).regions
    n, binaries = nogood_count(net, box)
    assert binaries >= 1
    assert n == exact, (name, n, exact)


def test_patterns_binaries_and_region_rows_agree():
    net = C.he_mlp(3, [6, 5], 1)
    p = prepare(net, None, Settings())
    B = Binaries(p.unit_net, p.bounds)
    U = np.random.default_rng(0).uniform(-1, 1, (300, 3))
    pats = p.unit_net.pattern(U)
    D = B.from_patterns(pats)
    assert D.shape == (300, len(B)) and set(np.unique(D)) <= {0, 1}
    for i in range(0, 300, 7):
        back = B.pattern(D[i])
        for got, want in zip(back, pats):
            assert np.array_equal(got, want[i])
        R = region_rows(p.unit_net, back, B)
        assert R is not None and R.shape[0] == len(B)
        assert np.all(R[:, :-1] @ U[i] + R[:, -1] > 0)      # the point is inside its region
    lp = ChebyshevBall(3)
    r, u = lp.solve(region_rows(p.unit_net, B.pattern(D[0]), B))
    assert r > 0 and u is not None


def test_max_group_binaries_are_one_hot():
    net = load_network("models/maxout_mlp.onnx")
    p = prepare(net, (-3.0, 3.0), Settings())
    B = Binaries(p.unit_net, p.bounds)
    assert all(len(nm) == 3 for nm in B.names)
    U = np.random.default_rng(1).uniform(-1, 1, (50, 2))
    D = B.from_patterns(p.unit_net.pattern(U))
    groups = {nm[:2] for nm in B.names}
    assert np.all(D.sum(axis=1) == len(groups))
    bad = D[0].copy()
    bad[:] = 0
    assert B.pattern(bad) is None                            # no piece chosen


@pytest.mark.parametrize("subsets", [[(0,)], [(0, 1, 2, 3)], [(1, 3)], [(0, 2), (1, 2, 3)]])
def test_parity_rows_match_brute_force(subsets):
    n = 4
    rng = np.random.default_rng(len(subsets) * 7 + len(subsets[0]))
    A = np.zeros((len(subsets), n), dtype=bool)
    for i, S in enumerate(subsets):
        A[i, list(S)] = True
    for bits in itertools.product((0, 1), repeat=n):
        b = rng.integers(0, 2, len(subsets))
        lo = np.array(bits, dtype=float)
        mip = FeasibilityMIP(lo, lo, np.arange(n), np.zeros(0), np.zeros(0), np.zeros(0),
                             np.zeros(0), np.zeros(0))
        rows = parity_rows(A, b, np.arange(n), n)
        want = all(sum(bits[j] for j in S) % 2 == p for S, p in zip(subsets, b))
        status, _ = mip.solve(*rows)
        assert (status is MIPStatus.FEASIBLE) == want, (bits, subsets, b)


def test_empty_parity_row():
    A = np.zeros((1, 3), dtype=bool)
    assert parity_rows(A, np.array([1]), np.arange(3), 3) is None        # 0 = 1
    cols_lo, cols_hi, rows = parity_rows(A, np.array([0]), np.arange(3), 3)
    assert (cols_lo, cols_hi, rows) == ([], [], [])                      # 0 = 0: no row
