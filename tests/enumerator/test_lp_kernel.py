"""The compiled LP path (``enumerator.lp_kernel``): its Chebyshev LP against HiGHS, and its walk
against the Python LP path (the same regions on every kind of chain net) and analytic counts.
``--jobs`` on the LP path (``tests/parallel``) counts its subtrees with this walk too."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scale_free_nets import mixed_magnitudes, tiny_slope_net
from test_kernel import NETS

from milpregions.bounds import compute_bounds
from milpregions.enumerator import TreeCounter, lp_kernel
from milpregions.estimators.theory import zaslavsky
from milpregions.ir.domain import Box, normalize
from milpregions.solver.highs import ChebyshevLP
from milpregions.testing import constructions as C


def _polytope(rng: np.random.Generator, d: int, m: int, kind: str) -> np.ndarray:
    """Rows [a, b] (unit a) of a random polytope, with the degeneracies of ``kind``."""
    A = rng.normal(size=(m, d))
    A /= np.linalg.norm(A, axis=1)[:, None]
    b = rng.normal(size=m) * 0.5
    if kind == "duplicates" and m >= 3:
        A[1], b[1] = A[0], b[0]
        A[2], b[2] = A[0], b[0]
    if kind == "opposite" and m >= 2:                   # a slab of width 0: a hyperplane
        A[1], b[1] = -A[0], -b[0]
    if kind == "through_a_point" and m >= 1:            # every row through one point
        p = rng.uniform(-0.5, 0.5, size=d)
        b = -(A @ p)
    if kind == "tiny":                                  # a box of side 1e-7 around a point
        p = rng.uniform(-0.5, 0.5, size=d)
        A = np.vstack([np.eye(d), -np.eye(d)])
        b = np.concatenate([-(p - 5e-8), p + 5e-8])
    return np.column_stack([A, b])


KINDS = ["generic", "duplicates", "opposite", "through_a_point", "tiny"]


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 12), m=st.integers(0, 30),
       kind=st.sampled_from(KINDS), extra=st.integers(0, 2))
def test_the_compiled_lp_finds_the_inradius_highs_finds(seed, d, m, kind, extra):
    rows = _polytope(np.random.default_rng(seed), d, m, kind)
    m = rows.shape[0]
    extra = min(extra, m)
    r_h, _ = ChebyshevLP(d).solve(tuple(range(m)), rows)
    stats = np.zeros(6)
    r, u, status = lp_kernel.chebyshev(rows[:m - extra], rows[m - extra:], np.zeros(d), stats)
    assert status == 0 and stats[3] == 1
    # HiGHS keeps u in the box; the compiled LP does not, which only matters when P is empty
    if max(r, r_h) > -1e-6:
        assert abs(r - r_h) <= 1e-9
    else:
        assert r >= r_h - 1e-9
    # r is the radius the point has, evaluated on every row and face
    if m:
        assert r <= (rows[:, :-1] @ u + rows[:, -1]).min() + 1e-15
    assert r <= 1 - np.abs(u).max() + 1e-15


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 12), m=st.integers(0, 30),
       kind=st.sampled_from(KINDS), extra=st.integers(0, 2), parent=st.integers(0, 30))
def test_the_warm_started_lp_finds_the_inradius_highs_finds(seed, d, m, kind, extra, parent):
    """The node's basis from the box's, or from a parent's (the first ``parent`` rows), then
    the LP of a side (``extra`` rows more) from it: the node's basis is its LP's optimum, and
    the side's answer is the optimum HiGHS finds, with a point of that radius."""
    rows = _polytope(np.random.default_rng(seed), d, m, kind)
    m = rows.shape[0]
    extra = min(extra, m)
    parent = min(parent, m - extra)
    r_h, _ = ChebyshevLP(d).solve(tuple(range(m)), rows)
    r_node, _ = ChebyshevLP(d).solve(tuple(range(m - extra)), rows[:m - extra])
    stats = np.zeros(7)
    stats[6] = 1e-10
    basis = lp_kernel.root_basis(d)
    if parent:
        basis = lp_kernel._node_basis(rows[:parent], np.zeros(d), basis, stats)
    node = lp_kernel._node_basis(rows[:m - extra], np.zeros(d), basis, stats)
    if r_node > 1e-6:                   # a node of the walk holds a ball: its basis is proven
        assert abs(node.x[-1] - r_node) <= 1e-9
        assert sorted(set(node.W.tolist())) == sorted(node.W.tolist())
    stats = np.zeros(7)
    stats[6] = 1e-10
    r, u, status, _ = lp_kernel.warm_chebyshev(rows[:m - extra], rows[m - extra:], np.zeros(d),
                                               node, stats)
    assert status == 0 and stats[3] == 1
    if max(r, r_h) > -1e-6:
        assert abs(r - r_h) <= 1e-9 or (r > 1e-10 and r_h > 1e-10 and r <= r_h + 1e-9)
    else:
        assert r >= r_h - 1e-9
    if m:
        assert r <= (rows[:, :-1] @ u + rows[:, -1]).min() + 1e-15
    assert r <= 1 - np.abs(u).max() + 1e-15


def _node_rows(rng: np.random.Generator, d: int, m: int) -> np.ndarray:
    """m rows holding a ball around the centre, then a row through it (a child's split)."""
    rows = _polytope(rng, d, m + 1, "generic")
    rows[:, -1] = np.abs(rows[:, -1]) + 0.05
    rows[-1, -1] = 0.0
    return rows


def test_the_warm_started_lp_of_a_64_input_node_takes_few_pivots():
    """A child's LP is its parent's plus one row: from the parent's basis the dual simplex
    needs a fraction of the pivots the cold start climbs through (issue 20, item 3)."""
    d = 64
    rows = _node_rows(np.random.default_rng(1), d, 40)
    parent = lp_kernel._node_basis(rows[:40], np.zeros(d), lp_kernel.root_basis(d), np.zeros(7))
    warm, cold = np.zeros(6), np.zeros(6)
    r_w, _, s_w, _ = lp_kernel.warm_chebyshev(rows[:40], rows[40:], np.zeros(d), parent, warm)
    r_c, _, s_c = lp_kernel.chebyshev(rows[:40], rows[40:], np.zeros(d), cold)
    r_h, _ = ChebyshevLP(d).solve(tuple(range(41)), rows)
    assert s_w == s_c == 0 and abs(r_w - r_h) <= 1e-9 and r_c <= r_h + 1e-9
    assert warm[4] == 0 and 0 < warm[5] and cold[5] >= 3 * warm[5]     # 19 against 64


@pytest.mark.parametrize("m", [60, 100])
def test_a_deep_node_without_a_near_basis_gets_one_from_the_cold_start(m):
    """A task's first node has only the box's basis below m rows: the dual simplex from there
    takes thousands of small steps (before ``DUAL_PIVOTS`` it did not finish in 1,020 at m = 60),
    so after 2 (d + 1) pivots the node's basis comes from the cold start, walked to a vertex
    of the optimal face; the child's LP is then warm again."""
    d = 64
    rows = _node_rows(np.random.default_rng(0), d, m)
    stats = np.zeros(7)
    stats[6] = 1e-10
    node = lp_kernel._node_basis(rows[:m], np.zeros(d), lp_kernel.root_basis(d), stats)
    r_node, _ = ChebyshevLP(d).solve(tuple(range(m)), rows[:m])
    assert abs(node.x[-1] - r_node) <= 1e-9 and stats[3] == 1
    assert lp_kernel.DUAL_PIVOTS * (d + 1) < stats[5] < 20 * (d + 1)
    child = np.zeros(7)
    child[6] = 1e-10
    r, _, status, _ = lp_kernel.warm_chebyshev(rows[:m], rows[m:], np.zeros(d), node, child)
    r_h, _ = ChebyshevLP(d).solve(tuple(range(m + 1)), rows)
    cold = np.zeros(6)                 # no margin: to the optimum, as the warm start goes
    lp_kernel.chebyshev(rows[:m], rows[m:], np.zeros(d), cold)
    assert status == 0 and abs(r - r_h) <= 1e-9 and child[4] == 0
    assert child[5] * 2 <= cold[5], (child[5], cold[5])


def test_the_compiled_lp_on_a_64_input_node_of_the_digits_mlp():
    """The widest LPs of the suite: 65 columns, ~150 rows, from any start in the box."""
    rng = np.random.default_rng(0)
    d = 64
    rows = _polytope(rng, d, 40, "generic")
    rows[:, -1] = np.abs(rows[:, -1]) + 0.05              # holds a ball around the centre
    r_h, _ = ChebyshevLP(d).solve(tuple(range(40)), rows)
    for start in (np.zeros(d), rng.uniform(-0.01, 0.01, d)):
        r, _, status = lp_kernel.chebyshev(rows, np.zeros((0, d + 1)), start, np.zeros(6))
        assert status == 0 and abs(r - r_h) <= 1e-9 and r > 0


def _lp_paths(net, **kw):
    unit = normalize(net, Box.make(-1.0, 1.0, net.input_dim))
    bounds = compute_bounds(unit, "near-stable")
    out = []
    for compiled in (False, True):
        found = []
        counter = TreeCounter(unit, bounds, compiled=compiled, vertex_dim=0,
                              on_region=lambda p, u, r, found=found: found.append(
                                  tuple(np.concatenate([np.asarray(x, np.int64)
                                                        for x in p]).tolist())), **kw)
        assert (counter.compiled is not None) == compiled and not counter.use_vertices
        out.append((counter.run(), found))
    return out


HIGHER = [
    ("he_10d_6x6", lambda: C.he_mlp(10, [6, 6], 1)),
    ("he_4d_6x6x6", lambda: C.he_mlp(4, [6, 6, 6], 3)),
    ("mixed_7d", lambda: mixed_magnitudes(7)),
]
#: the Python LP path takes ~5 s on it: under -m slow (the three above are its twins: seven
#: and ten inputs, three layers)
SLOW = [pytest.param("he_7d_8x8", lambda: C.he_mlp(7, [8, 8], 0), id="he_7d_8x8",
                     marks=pytest.mark.slow)]


@pytest.mark.parametrize("name,make", NETS + HIGHER + SLOW,
                         ids=[n for n, _ in NETS + HIGHER] + ["he_7d_8x8"])
def test_the_compiled_lp_walk_finds_the_regions_of_the_python_lp_path(name, make):
    (py, fp), (cc, fc) = _lp_paths(make())
    assert cc.exact and py.exact and cc.regions == py.regions == len(fc)
    assert sorted(fc) == sorted(fp) and len(set(fc)) == len(fc)
    assert (cc.thin_dropped, cc.near_margin) == (py.thin_dropped, py.near_margin)
    assert cc.nodes == py.nodes        # the same tree: LP answers differ only in their points


@pytest.mark.parametrize("d,n", [(7, 9), (8, 10), (9, 11)])
def test_the_compiled_lp_walk_counts_a_general_position_arrangement(d, n):
    """Zaslavsky: n hyperplanes in general position through the box's interior, in R^d."""
    net = C.general_position_layer(d, n, seed=0)
    (py, _), (cc, _) = _lp_paths(net)
    assert cc.regions == py.regions == zaslavsky(d, n)


def test_the_compiled_lp_walk_on_a_tiny_slope_and_a_thin_slab():
    (py, _), (cc, _) = _lp_paths(tiny_slope_net())
    assert cc.regions == py.regions == 8
    from milpregions.ir.network import mlp

    # a slab of inradius 5e-9: counted with margin 1e-9 (near the margin), dropped with 1e-8
    net = mlp([np.eye(2)[[0, 0]], np.ones((1, 2))], [np.array([0.0, -1e-8]), np.zeros(1)])
    (py, _), (cc, _) = _lp_paths(net, margin=1e-9)
    assert py.regions == cc.regions == 3 and cc.near_margin == py.near_margin == 1
    (py, _), (cc, _) = _lp_paths(net, margin=1e-8)
    assert py.regions == cc.regions == 2 and cc.thin_dropped == py.thin_dropped


def test_limits_stop_the_compiled_lp_walk():
    unit = normalize(C.he_mlp(7, [8, 8], 0), Box.make(-1.0, 1.0, 7))
    bounds = compute_bounds(unit, "near-stable")
    res = TreeCounter(unit, bounds, max_regions=100, compiled=True).run()
    assert res.regions == 100 and res.stopped == "max-regions" and not res.exact
    res = TreeCounter(unit, bounds, time_limit=1e-6, compiled=True).run()
    assert res.stopped == "time-limit" and res.regions < 12996


def test_an_lp_path_trial_that_is_outgrown_reports_every_region_once():
    """A 50-node Python trial is dropped and the compiled LP walk counts from the start."""
    unit = normalize(C.he_mlp(7, [8, 8], 0), Box.make(-1.0, 1.0, 7))
    bounds = compute_bounds(unit, "near-stable")
    found = []
    counter = TreeCounter(unit, bounds, on_region=lambda p, u, r: found.append(
        tuple(np.concatenate([np.asarray(x, np.int64) for x in p]).tolist())))
    assert counter.compiled is not None and not counter.use_vertices
    counter.trial_nodes = 50
    res = counter.run()
    assert res.exact and res.regions == len(found) == len(set(found)) == 12996

