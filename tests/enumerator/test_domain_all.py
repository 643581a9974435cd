"""Counts over all of R^n (``domain="all"``, ``AllSpace``): analytic counts of arrangements
(Zaslavsky, parallel, concurrent, duplicate hyperplanes), and deep networks against the exact
oracles on a box proven to hold every vertex of the complex.

Why a box can stand in for R^n: every region of a network whose input weights have rank n is
a pointed polyhedron, and the closed regions form a polyhedral complex. Let B be a box whose
interior holds every vertex of every region the R^n count found. If a region R were missed,
the union of the found closed regions would have a boundary edge (a facet in 2-D) shared with
a missed region; that edge is a segment or ray of a found (pointed) region, so it has an end
vertex in int B, and the missed region meets int B beside it: the exact oracle's count of B
would exceed the R^n count. So ``oracle(B) == count over R^n`` proves the R^n count complete
(the count itself has a verified witness per region). In B a region is bounded iff it does not
touch the boundary of B (its vertices are inside; an unbounded one has a ray from a vertex
through the boundary).
"""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from math import comb

import numpy as np
import pytest

from milpregions import count_regions
from milpregions.errors import InputError
from milpregions.geometry.regionset import collect_regions
from milpregions.ir.network import Affine, Layer, MaxLayer, Network, mlp
from milpregions.testing import constructions as C

from exact_oracles import count_1d, regions_2d


def arrangement(W, b) -> Network:
    """One ReLU layer with the hyperplanes ``W x + b = 0``: its regions are the arrangement's."""
    W = np.asarray(W, dtype=float)
    return mlp([W, np.ones((1, W.shape[0]))], [np.asarray(b, dtype=float), np.zeros(1)])


def generic(m: int, n: int, seed: int) -> Network:
    """m hyperplanes of R^n in general position (Gaussian normals and offsets)."""
    rng = np.random.default_rng(seed)
    return arrangement(rng.standard_normal((m, n)), rng.standard_normal(m))


def count_all(net: Network, **kw):
    regions: list = []
    result = count_regions(net, domain="all", on_region=regions.append, **kw)
    assert result.exact
    assert result.extent_undecided == 0 and result.undecided == 0
    assert result.beyond_reach is False
    assert result.bounded + result.unbounded == result.regions == len(regions)
    assert len({tuple(np.concatenate([np.ravel(p) for p in r.pattern])) for r in regions}) \
        == result.regions
    return result


# ---------------------------------------------------------------------------- arrangements


@pytest.mark.parametrize("m, n", [(1, 1), (3, 1), (4, 2), (8, 2), (6, 3), (9, 3), (7, 4),
                                  (6, 5)])
def test_generic_arrangement_zaslavsky(m, n):
    # m hyperplanes in general position in R^n: sum_{i<=n} C(m, i) regions (Zaslavsky 1975),
    # C(m-1, n) of them bounded (Buck 1943; Zaslavsky's bounded-region count)
    r = count_all(generic(m, n, seed=m + 10 * n))
    assert r.regions == sum(comb(m, i) for i in range(n + 1))
    assert r.bounded == comb(m - 1, n)
    assert r.lines is False


def test_parallel_hyperplanes():
    # m parallel lines of R^2: m + 1 strips, each holding a line; the input weights have rank 1
    W = np.outer([1.0, -2.0, 0.5, 3.0, -1.0], [1.0, 2.0])
    b = [0.1, 0.7, -0.4, 2.0, -1.3]
    r = count_all(arrangement(W, b))
    assert (r.regions, r.bounded, r.lines) == (6, 0, True)


def test_grid_of_two_parallel_families():
    # k vertical and l horizontal lines: (k + 1)(l + 1) regions, (k - 1)(l - 1) bounded
    k, l = 4, 3
    W = [[1.0, 0.0]] * k + [[0.0, 1.0]] * l
    b = [-0.5 * i for i in range(k)] + [0.3 * j for j in range(l)]
    r = count_all(arrangement(W, b))
    assert (r.regions, r.bounded) == ((k + 1) * (l + 1), (k - 1) * (l - 1))


@pytest.mark.parametrize("n0, n", [(2, 6), (3, 5)])
def test_concurrent_hyperplanes(n0, n):
    # n generic hyperplanes through one point: 2 sum_{j<n0} C(n-1, j) cones, none bounded
    net = C.concurrent_layer(n0, n, seed=3, n2=0)
    r = count_all(net)
    assert r.regions == C.central_count(n0, n)
    assert r.bounded == 0


def test_duplicate_and_opposite_hyperplanes_count_once():
    # the same hyperplane twice, and once more with the opposite normal: the regions of the
    # distinct ones
    rng = np.random.default_rng(5)
    W, b = rng.standard_normal((5, 2)), rng.standard_normal(5)
    Wd = np.vstack([W, W[:2], -W[2:3]])
    bd = np.concatenate([b, b[:2], -b[2:3]])
    r = count_all(arrangement(Wd, bd))
    assert (r.regions, r.bounded) == (16, 6)


def test_a_rank_deficient_input_layer_gives_lines():
    # a 3-input net that reads only x0 + x1 and x2 - x0: every region holds a line (the
    # direction (1, -1, 1)), and the count is that of the generic arrangement of the 2-D image
    rng = np.random.default_rng(7)
    W2, b = rng.standard_normal((6, 2)), rng.standard_normal(6)
    P = np.array([[1.0, 1.0, 0.0], [-1.0, 0.0, 1.0]])
    r = count_all(arrangement(W2 @ P, b))
    assert r.regions == sum(comb(6, i) for i in range(3))
    assert (r.bounded, r.lines) == (0, True)


def test_the_unit_of_length_does_not_change_the_count():
    net = generic(7, 3, seed=1)
    assert count_all(net).regions == count_regions(net, (-10.0, 10.0), domain="all").regions \
        == count_regions(net, "all").regions == sum(comb(7, i) for i in range(4))


# ---------------------------------------------------------------------------- deep networks


def vertices(net: Network, dim: int) -> np.ndarray:
    """Every vertex of every region of the R^n count (its rows, intersected d at a time, kept
    where every other row holds), from ``RegionSet.inequalities``."""
    rs = collect_regions(net, "all")
    out = []
    for i in range(len(rs)):
        A, b = rs.inequalities(i)
        for idx in combinations(range(A.shape[0]), dim):
            M = A[list(idx)]
            if abs(np.linalg.det(M)) < 1e-12:
                continue
            v = np.linalg.solve(M, -b[list(idx)])
            if (A @ v + b >= -1e-9 * (1 + np.abs(v).max())).all():
                out.append(v)
    return np.array(out).reshape(-1, dim)


def proven_box(net: Network, dim: int) -> float:
    """A half-width whose box holds every vertex of the complex strictly inside."""
    V = vertices(net, dim)
    assert V.size, "a pointed complex has vertices"
    return float(2 * np.abs(V).max() + 1)


@pytest.mark.parametrize("net", [C.he_mlp(1, [6, 6], 0), C.he_mlp(1, [5, 5, 5], 3),
                                 C.montufar_folding(1, 2, 3), C.serra_zigzag([3, 3])],
                         ids=["he_6x6", "he_5x5x5", "montufar", "serra"])
def test_deep_1d_against_the_exact_breakpoints(net):
    r = count_all(net)
    h = proven_box(net, 1)
    assert r.regions == count_1d(net, -h, h)
    assert (r.bounded, r.unbounded) == (r.regions - 2, 2)


@pytest.mark.parametrize("net", [C.he_mlp(2, [8, 8], 0), C.he_mlp(2, [6, 6, 6], 1),
                                 C.concurrent_layer(2, 6, 0, n2=6),
                                 mlp([np.array([[1.0, 0.5], [-0.3, 1.0], [0.7, -1.0], [1.0, 1.0]]),
                                      np.array([[1.0, -1.0, 0.5, 0.2], [0.4, 1.0, -1.0, 0.3],
                                                [-0.6, 0.2, 1.0, 1.0]]), np.ones((1, 3))],
                                     [np.array([0.1, -0.2, 0.3, -0.5]),
                                      np.array([0.2, -0.1, 0.05]), np.zeros(1)],
                                     neg_slope=0.1)],
                         ids=["he_8x8", "he_6x6x6", "concurrent", "leaky"])
def test_deep_2d_against_the_exact_oracle_on_a_proven_box(net):
    r = count_all(net)
    h = proven_box(net, 2)
    pieces = regions_2d(net, -h, h)
    edge = Fraction(h)
    touches: dict = {}
    for poly, pat in pieces:
        on = any(abs(x) == edge or abs(y) == edge for x, y in poly)
        touches[pat] = touches.get(pat, False) or on
    assert r.regions == len(touches)
    assert r.unbounded == sum(touches.values())
    assert r.bounded == sum(not t for t in touches.values())


def maxout(seed: int) -> Network:
    """A 2-input maxout layer (groups of 3, 2, 3 pieces), then four ReLU units."""
    rng = np.random.default_rng(seed)
    groups = np.array([[0, 1, 2], [3, 4, -1], [5, 6, 7]])
    L1 = MaxLayer(Affine({0: rng.normal(size=(8, 2))}, 0.3 * rng.normal(size=8)), groups)
    L2 = Layer(Affine({1: rng.normal(size=(4, 3))}, 0.3 * rng.normal(size=4)), np.zeros(4))
    return Network(2, (L1, L2), Affine({2: np.ones((1, 4))}, np.zeros(1)))


@pytest.mark.parametrize("seed", [0, 1])
def test_maxout_2d_against_the_vertex_walk_on_a_proven_box(seed):
    net = maxout(seed)
    r = count_all(net)
    h = proven_box(net, 2)
    box = count_regions(net, (-h, h))
    assert box.exact and r.regions == box.regions


# ---------------------------------------------------------------------------- certified


@pytest.mark.parametrize("net", [generic(6, 2, 3), C.he_mlp(2, [6, 6], 2), maxout(0),
                                 C.montufar_folding(1, 2, 3), generic(5, 3, 4)],
                         ids=["generic_2d", "he_2d", "maxout", "montufar_1d", "generic_3d"])
def test_certified_over_r_n_agrees_with_the_float_count(net):
    floats = count_all(net)
    exact = count_regions(net, domain="all", certify=True)
    assert exact.certified and exact.certify_added == exact.certify_rejected == 0
    assert (exact.regions, exact.bounded, exact.unbounded) == \
        (floats.regions, floats.bounded, floats.unbounded)


def test_certify_completes_a_partial_search_over_r_n():
    # a third of the regions as the float search's: the exact search by adjacency finds the
    # rest, however far out (bounded and unbounded ones), and tells which are bounded exactly
    from milpregions.certify import certify
    from milpregions.problem import prepare

    net = C.he_mlp(2, [8, 8], 0)
    problem = prepare(net, "all")             # unit box [-1, 1]^2: u = x
    regions: list = []
    full = count_regions(problem, on_region=regions.append)
    part = [(r.pattern, r.witness) for r in regions[::3]]
    c = certify(problem, part)
    assert c.certified and c.regions == full.regions == 111
    assert len(c.added) == full.regions - len(part)
    assert c.bounded == full.bounded == 83


def far_vertex() -> Network:
    """Three lines, two of them meeting at x = -1e8: 7 regions, one (a huge triangle) bounded."""
    return arrangement([[0.0, 1.0], [-1e-8, 1.0], [1.0, 0.3]], [0.0, -1.0, 0.2])


def test_a_walk_beyond_its_resolution_is_flagged_and_certify_decides():
    # the LP's points follow the two nearly parallel lines out to |u| ~ 1e8, where the
    # rounding of a row's value is no longer small against the margin: flagged, and the exact
    # search decides the count and the split
    r = count_regions(far_vertex(), domain="all")
    assert r.beyond_reach and r.reach > 1e7
    c = count_regions(far_vertex(), domain="all", certify=True)
    assert c.certified and (c.regions, c.bounded, c.unbounded) == (7, 1, 6)


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("kw, flag", [({"method": "milp"}, "--method milp"),
                                      ({"jobs": 2}, "--jobs")])
def test_what_all_of_r_n_is_not_counted_with(kw, flag):
    with pytest.raises(InputError, match=flag):
        count_regions(generic(3, 2, 0), domain="all", **kw)


def test_all_of_r_n_takes_no_bounding_domain():
    with pytest.raises(InputError, match="centre"):
        count_regions(generic(3, 2, 0), "all", center=[0.0, 0.0], radius=1.0)
    with pytest.raises(InputError, match="named domain"):
        count_regions(generic(3, 2, 0), domain="everything")
