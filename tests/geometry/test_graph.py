"""The region graph and region cells (``milpregions.geometry``): Euler's relation and the volume
of the box for the cells, the float graph against the exact facet search, degree bounds, and
degenerate arrangements (concurrent, duplicated and mixed-magnitude units)."""

from __future__ import annotations

import numpy as np
import pytest
from scale_free_nets import mixed_magnitudes, tiny_slope_net
from scipy.spatial import cKDTree

from milpregions import prepare
from milpregions.api import count
from milpregions.geometry import analyze
from milpregions.ir.network import mlp
from milpregions.settings import Settings
from milpregions.testing.constructions import concurrent_layer, he_mlp, zaslavsky_count


def analysed(net, box=(-1.0, 1.0), settings=None, **kw):
    problem = prepare(net, box, settings)
    found = []
    r = count(problem, on_region=found.append)
    assert r.exact
    return problem, found, analyze(problem, found, **kw)


def edge_patterns(found, graph) -> set:
    keys = [b"".join(np.asarray(p, dtype=np.int64).tobytes() for p in r.pattern) for r in found]
    return {frozenset((keys[i], keys[j])) for i, j in graph.edges.tolist()}


def euler_characteristic(polygons) -> int:
    """V - E + F of the subdivision the polygons make (vertices merged within 1e-9, polygon
    edges split at every vertex lying on them)."""
    pts = np.concatenate(polygons)
    tree = cKDTree(pts)
    parent = np.arange(len(pts))
    for i, j in sorted(tree.query_pairs(1e-9)):
        a, b = parent[i], parent[j]
        while parent[a] != a:
            a = parent[a]
        while parent[b] != b:
            b = parent[b]
        parent[max(a, b)] = min(a, b)
    roots = np.array([_root(parent, i) for i in range(len(pts))])
    ids, inv = np.unique(roots, return_inverse=True)
    V = pts[ids]
    segments = set()
    start = 0
    for P in polygons:
        k = len(P)
        vid = inv[start:start + k]
        start += k
        for t in range(k):
            a, b = V[vid[t]], V[vid[(t + 1) % k]]
            d = b - a
            L = float(d @ d)
            s = (V - a) @ d / L
            off = np.abs((V - a) @ np.array([-d[1], d[0]])) / np.sqrt(L)
            on = np.flatnonzero((off < 1e-9) & (s > -1e-12) & (s < 1 + 1e-12))
            chain = on[np.argsort(s[on])]
            for u, v in zip(chain[:-1], chain[1:]):
                segments.add((min(u, v), max(u, v)))
    return len(V) - len(segments) + len(polygons)


def _root(parent, i):
    while parent[i] != i:
        i = parent[i]
    return i


@pytest.mark.parametrize("net", [he_mlp(2, [8, 8], 0), he_mlp(2, [16, 16], 1),
                                 concurrent_layer(2, 8, 0, n2=8)],
                         ids=["he8x8", "he16x16", "concurrent"])
def test_euler_relation_on_the_box(net):
    _, found, a = analysed(net, cells=True)
    polys = a.polygons()
    assert len(polys) == len(found)
    assert euler_characteristic(polys) == 1
    assert a.volumes().sum() == pytest.approx(4.0, rel=1e-12)


@pytest.mark.parametrize("n0,widths,seed", [(2, [12, 12], 0), (3, [10, 10], 1), (4, [8, 8], 2)])
def test_graph_degrees_and_volumes(n0, widths, seed):
    problem, found, a = analysed(he_mlp(n0, widths, seed), graph=True, cells=True)
    g = a.graph
    assert g.components() == 1
    assert g.average_degree <= 2 * n0            # Gaines & Bi: at most 2 d in R^d
    inner = np.array([int((~c.on_boundary).sum()) for c in a.cells])
    assert np.array_equal(g.degrees(), inner)    # one neighbour per inner facet, both ways
    assert a.volumes().sum() == pytest.approx(2.0 ** n0, rel=1e-9)


@pytest.mark.parametrize("net", [he_mlp(2, [10, 10], 3), he_mlp(3, [8, 6], 4),
                                 concurrent_layer(2, 6, 1, n2=6), mixed_magnitudes(3),
                                 mixed_magnitudes(4), tiny_slope_net()],
                         ids=["he2", "he3", "concurrent", "mixed3", "mixed4", "tiny-slope"])
def test_float_graph_equals_the_exact_facet_search(net):
    _, found, a = analysed(net, linear=True)
    b = analyze(a.problem, found, linear=True, exact=True)
    assert edge_patterns(found, a.graph) == edge_patterns(found, b.graph)
    assert b.graph.exact_regions == len(found)
    assert a.linear.linear_regions == b.linear.linear_regions
    assert a.linear.affine_pieces == b.linear.affine_pieces


@pytest.mark.parametrize("seed,close", [(6, 7), (7, 10)])
def test_close_float_decisions_go_to_the_exact_search(seed, close):
    # weights of 1e-4..1e4: some facets are too close to a tolerance for floats
    _, found, a = analysed(mixed_magnitudes(seed), graph=True)
    assert a.graph.exact_regions == close
    b = analyze(a.problem, found, graph=True, exact=True)
    assert edge_patterns(found, a.graph) == edge_patterns(found, b.graph)


def test_above_vertex_dim_the_graph_is_exact():
    net = he_mlp(2, [8, 8], 5)
    _, found, a = analysed(net, graph=True)
    _, found2, b = analysed(net, settings=Settings(vertex_dim=1), graph=True)
    assert b.cells is None and b.graph.exact_regions == len(found2)
    assert edge_patterns(found, a.graph) == edge_patterns(found2, b.graph)


def test_duplicated_units_flip_together_across_one_facet():
    # every unit twice: each facet is two hyperplanes at once
    W = np.array([[1.0, 0.5], [-0.3, 1.0], [0.7, -0.6]])
    b = np.array([0.1, -0.2, 0.05])
    net = mlp([np.vstack([W, W]), np.ones((1, 6))], [np.concatenate([b, b]), np.zeros(1)])
    _, found, a = analysed(net, graph=True, cells=True)
    assert len(found) == zaslavsky_count(2, 3)
    assert euler_characteristic(a.polygons()) == 1
    for i, j in a.graph.edges.tolist():
        flips = np.flatnonzero(found[i].pattern[0] != found[j].pattern[0])
        assert len(flips) == 2 and flips[1] == flips[0] + 3


def test_parallel_count_gives_the_same_graph():
    net = he_mlp(2, [12, 12], 6)
    _, found, a = analysed(net, graph=True)
    _, found2, b = analysed(net, settings=Settings(jobs=2), graph=True)
    assert edge_patterns(found, a.graph) == edge_patterns(found2, b.graph)


def test_one_dimensional_graph_is_a_path():
    net = he_mlp(1, [6, 6], 7)
    _, found, a = analysed(net, graph=True, cells=True)
    g = a.graph
    assert len(g.edges) == len(found) - 1 and g.components() == 1
    assert a.volumes().sum() == pytest.approx(2.0)
