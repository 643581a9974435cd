"""The compiled vertex walk on every kind of network (``vertex_kernel`` over
``kernel_pack.general_layers``): max groups (maxout, MaxPool), layers reading several sources,
LeakyReLU, sparse (convolution) weights. Checked against the Python vertex walk (the same
regions as sets of patterns, the same tree, witnesses with their patterns), against analytic
counts, against the exact certificate, and through ``split`` / ``count_split_cells``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from test_lp_kernel_general import maxout, residual, residual_max

from milpregions.api import count_regions
from milpregions.bounds import compute_bounds
from milpregions.enumerator import TreeCounter
from milpregions.inputs import slice_domain
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import Affine, Layer, MaxLayer, Network
from milpregions.problem import prepare
from milpregions.settings import Settings


def maxout_mlp(d: int, widths, k: int, seed: int) -> Network:
    """Maxout layers of ``widths`` groups of k pieces each, every one reading the one before."""
    rng = np.random.default_rng(seed)
    layers, n_in = [], d
    for s, w in enumerate(widths):
        n = w * k
        layers.append(MaxLayer(Affine({s: rng.normal(size=(n, n_in)) / np.sqrt(n_in)},
                                      rng.normal(size=n) * 0.3), np.arange(n).reshape(w, k)))
        n_in = w
    return Network(d, tuple(layers),
                   Affine({len(widths): rng.normal(size=(1, n_in))}, np.zeros(1)))


def polygon_max(k: int, extra: bool) -> Network:
    """One max group of the k pieces ``cos(2 pi i / k) x + sin(2 pi i / k) y``: the cones of a
    regular polygon, k regions in any box around 0. ``extra``: the group also holds a copy of
    piece 0 (a tie: the first index wins) and a constant piece beaten everywhere."""
    t = 2 * np.pi * np.arange(k) / k
    W = np.column_stack([np.cos(t), np.sin(t)])
    b = np.zeros(k)
    if extra:
        W = np.vstack([W, W[:1], [[0.0, 0.0]]])
        b = np.concatenate([b, [0.0, -10.0]])
    n = W.shape[0]
    return Network(2, (MaxLayer(Affine({0: W}, b), np.arange(n).reshape(1, n)),),
                   Affine({1: np.ones((1, 1))}, np.zeros(1)))


def conv_pool_image(filters: int, seed: int, sparse: bool) -> Network:
    """A 2x2 convolution of a 2x3 image (6 pixels) into ``filters`` channels of 1x2, ReLU,
    then a 1x2 MaxPool of each channel through an identity selection."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(filters):
        K = rng.normal(size=(2, 2))
        for j in range(2):
            r = np.zeros((2, 3))
            r[:, j:j + 2] = K
            rows.append(r.ravel())
    W = np.array(rows)
    n1 = W.shape[0]
    L1 = Layer(Affine({0: csr_matrix(W) if sparse else W},
                      np.repeat(rng.normal(size=filters) * 0.3, 2)), np.zeros(n1))
    eye = np.eye(n1)
    L2 = MaxLayer(Affine({1: csr_matrix(eye) if sparse else eye}, np.zeros(n1)),
                  np.arange(n1).reshape(filters, 2))
    return Network(6, (L1, L2), Affine({2: rng.normal(size=(1, filters))}, np.zeros(1)))


def _key(pattern) -> tuple:
    return tuple(np.concatenate([np.asarray(x, np.int64) for x in pattern]).tolist())


def _run(unit: Network, bounds, compiled: bool):
    found, wit = [], []

    def keep(p, u, r):
        found.append(_key(p))
        wit.append(u)
    counter = TreeCounter(unit, bounds, compiled=compiled, on_region=keep)
    assert counter.use_vertices
    if compiled:                            # the general walk, not the chain's fast path
        assert counter.walk.name == "vertex_kernel"
    return counter.run(), found, np.array(wit)


def _agree(unit: Network, bounds=None):
    """The Python vertex walk and the compiled one: the same regions, tree and drops."""
    bounds = compute_bounds(unit, "near-stable") if bounds is None else bounds
    py, fp, _ = _run(unit, bounds, False)
    cc, fc, wc = _run(unit, bounds, True)
    assert cc.exact and py.exact and cc.regions == py.regions == len(fc) > 1
    assert sorted(fc) == sorted(fp) and len(set(fc)) == len(fc)
    assert cc.nodes == py.nodes
    assert (cc.thin_dropped, cc.near_margin) == (py.thin_dropped, py.near_margin)
    # every witness has its region's pattern (the driver checked them too)
    pats = np.concatenate(unit.pattern(wc), axis=1)
    assert sorted(map(tuple, pats.astype(np.int64).tolist())) == sorted(fc)
    return cc


def _unit(net: Network) -> Network:
    return normalize(net, Box.make(-1.0, 1.0, net.input_dim))


NETS = [
    ("maxout_2d_4x3", lambda: maxout(2, 4, 3, 0)),
    ("maxout_3d_5x4", lambda: maxout(3, 5, 4, 7)),
    ("relu_maxout_3d", lambda: maxout(3, 3, 3, 1, hidden=6)),
    ("maxout_mlp_2d_k3", lambda: maxout_mlp(2, [6, 5], 3, 11)),
    ("maxout_mlp_3d_k2", lambda: maxout_mlp(3, [8, 8], 2, 12)),
    ("residual_2d", lambda: residual(2, 6, 2)),
    ("residual_3d", lambda: residual(3, 6, 5)),
    ("residual_leaky_3d", lambda: residual(3, 5, 3, slope=0.1)),
    ("residual_max_2d", lambda: residual_max(2, 4)),
    ("residual_max_3d", lambda: residual_max(3, 9)),
    ("conv_pool_6px_sparse", lambda: conv_pool_image(2, 4, True)),
    ("conv_pool_6px_dense", lambda: conv_pool_image(2, 6, False)),
]


@pytest.mark.parametrize("name,make", NETS, ids=[n for n, _ in NETS])
def test_the_compiled_vertex_walk_finds_the_regions_of_the_python_vertex_walk(name, make):
    _agree(_unit(make()))


@pytest.mark.parametrize("k", [3, 5, 8])
@pytest.mark.parametrize("extra", [False, True])
def test_a_max_group_of_polygon_cones_has_k_regions(k, extra):
    """k cones; a duplicated piece and a piece beaten everywhere add none."""
    cc = _agree(_unit(polygon_max(k, extra)))
    assert cc.regions == k


def test_a_sliver_left_out_by_a_settled_unit_is_reported_on_both_walks():
    # the lines of ``sliver_lines`` (a slab of width 5e-11 inside) in a layer that a residual
    # layer reads with the input: the compiled general walk settles units as the chain's does
    W = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    L1 = Layer(Affine({0: W}, np.array([-0.3, -0.3 - 5e-11, 0.1])), np.zeros(3))
    L2 = Layer(Affine({0: np.array([[0.5, 1.0]]), 1: np.array([[1.0, -1.0, 0.5]])},
                      np.array([0.05])), np.zeros(1))
    net = Network(2, (L1, L2), Affine({2: np.ones((1, 1))}, np.zeros(1)))
    cc = _agree(_unit(net))
    assert cc.thin_dropped >= 1 and cc.thickest_dropped == pytest.approx(5e-11, rel=1e-3)
    assert count_regions(net, (-1.0, 1.0), certify=True).regions > cc.regions


def test_the_maxout_model_file(models_dir):
    p = prepare(models_dir / "maxout_mlp.onnx", (-1.0, 1.0), Settings())
    cc = _agree(p.unit_net, p.tree_bounds)
    py = count_regions(models_dir / "maxout_mlp.onnx", (-1.0, 1.0))
    assert cc.regions == py.regions


def test_the_digits_cnn_on_a_slice(models_dir):
    """Conv (256 units) + MaxPool (64 groups of 4) of the 64-D digits CNN on the plane
    through three test images, in a small parameter box."""
    X = np.load(models_dir / "digits_test_images.npy").reshape(-1, 64)
    dom = slice_domain(X[0], X[1], X[2], param_box=Box.make(0.0, 0.08, 2))
    p = prepare(models_dir / "digits_cnn.onnx", dom, Settings())
    assert p.unit_net.input_dim == 2
    cc = _agree(p.unit_net, p.tree_bounds)
    assert cc.regions > 20


@pytest.mark.parametrize("make", [lambda: maxout_mlp(2, [5, 4], 3, 3),
                                  lambda: residual_max(3, 2)])
def test_the_compiled_vertex_walk_count_is_certified(make):
    """The exact certificate (completeness by adjacency, in integers) of the compiled walk's
    regions and witnesses finds nothing missing and rejects nothing."""
    from milpregions.certify import certify

    p = prepare(make(), (-1.0, 1.0), Settings())
    found: list = []
    res = TreeCounter(p.unit_net, p.tree_bounds, compiled=True,
                      on_region=lambda q, u, r: found.append(([x.copy() for x in q],
                                                              np.array(u)))).run()
    assert res.exact and res.regions == len(found) > 10
    c = certify(p, found)
    assert c.certified and not c.added and c.rejected == 0 and c.regions == res.regions


def test_split_tasks_of_a_maxout_net_count_the_regions_of_one_walk():
    """``split`` runs the compiled general walk to the end of layer 1; its cells, and the
    frontiers that 1 ms tasks hand back, count exactly the regions of the whole walk."""
    net = maxout_mlp(3, [6, 6], 2, 21)
    p = prepare(net, (-1.0, 1.0), Settings())
    found: list = []
    whole = TreeCounter(p.unit_net, p.tree_bounds, compiled=True,
                        on_region=lambda q, u, r: found.append(_key(q))).run()
    counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=True)
    split = counter.split()
    nodes = counter.finish().nodes
    assert split.compiled and counter.walk.name == "vertex_kernel" and len(split) > 1
    py_cells = TreeCounter(p.unit_net, p.tree_bounds, compiled=False).cells(1)
    assert sorted(map(tuple, split.patterns())) == sorted(tuple(c.pattern) for c in py_cells)
    queue, got, tasks = [split.batch(np.arange(len(split)))], [], 0
    while queue:
        c = TreeCounter(p.unit_net, p.tree_bounds, compiled=True,
                        on_region=lambda q, u, r: got.append(_key(q)))
        queue += c.count_split_cells(queue.pop(), seconds=1e-4, pieces=3)
        nodes += c.finish().nodes
        tasks += 1
    assert tasks > 3 and sorted(got) == sorted(found) and len(found) == whole.regions
    assert nodes == whole.nodes             # every entry popped once, anywhere


def test_python_cells_count_on_the_compiled_walk():
    """``count_cell`` of the Python walk's layer-1 cells (the path of ``--jobs`` when a split
    came from Python) counts the regions of the whole walk."""
    unit = _unit(residual_max(2, 5))
    bounds = compute_bounds(unit, "near-stable")
    whole = TreeCounter(unit, bounds, compiled=True).run()
    counter = TreeCounter(unit, bounds, compiled=True)
    for cell in TreeCounter(unit, bounds, compiled=False).cells(1):
        counter.count_cell(cell)
    assert counter.finish().regions == whole.regions > 1


def test_jobs_count_a_maxout_net_like_one_process():
    net = maxout_mlp(2, [5, 4], 3, 8)
    seen: list[list[str]] = [[], []]
    for i, jobs in enumerate((None, 2)):
        count_regions(net, (-1.0, 1.0), jobs=jobs, on_region=lambda r, i=i: seen[i].append(
            json.dumps([[int(x) for x in q] for q in r.pattern])))
    assert sorted(seen[0]) == sorted(seen[1]) and len(seen[0]) > 1


@pytest.mark.parametrize("d", [2, 3, 4])
def test_cut_both_is_two_cuts_bit_for_bit(d):
    """The two cells of a two-candidate group from one edge search are the plus parts of
    ``kernel.cut`` by the row and by its negative, bit for bit (vertices, order, incidence,
    rows), on simple and non-simple polytopes (a cut through vertices)."""
    from milpregions.enumerator.kernel import _tidy as kernel_tidy
    from milpregions.enumerator.kernel import cut, to_bits
    from milpregions.enumerator.polytope import VPoly
    from milpregions.enumerator.vertex_kernel import cut_both

    rng = np.random.default_rng(d)
    box = VPoly.box(d)
    V, inc, F, simple = box.V.copy(), to_bits(box.inc), box.F.copy(), 1
    seen = simple_seen = 0
    for t in range(12):
        a = rng.normal(size=d)
        a /= np.linalg.norm(a)
        # every third row through a vertex: the parts are not simple
        b = -float(V[t % V.shape[0]] @ a) if t % 3 == 0 else rng.uniform(-0.3, 0.3)
        row = np.append(a, b)
        s = V @ a + b
        k2, *both = cut_both(V, inc, F, simple, row, s, 1e-10)
        k1, *plus = cut(V, inc, F, simple, row, s, 1e-10)
        k0, *other = cut(V, inc, F, simple, -row, -s, 1e-10)
        if k2 == 2:
            seen += 1
            for x, y in zip(both[:4], plus[:4], strict=True):
                assert np.array_equal(x, y)
            for x, y in zip(both[4:], other[:4], strict=True):
                assert np.array_equal(x, y)
            V, inc, F, simple = plus[0], plus[1], plus[2], plus[3]
            simple_seen += int(kernel_tidy(V, inc, F)[2] == 0)
    assert seen > 3 and (simple_seen > 0 or d == 2)   # polygons are always simple


@pytest.mark.parametrize("make", [lambda: maxout(3, 5, 4, 7), lambda: residual_max(3, 9),
                                  lambda: conv_pool_image(2, 4, True)])
def test_group_geometry_all_is_group_geometry(make):
    """The one-call absolute terms give the geometry of ``net_kernel.group_geometry``, equal
    array for array, on random maps (some pieces made identical, so the tie rules run)."""
    from milpregions.enumerator.kernel_pack import general_layers, pack_maps
    from milpregions.enumerator.layers import build_layers
    from milpregions.enumerator.net_kernel import group_geometry, group_geometry_all, layer_pre

    unit = _unit(make())
    layers = build_layers(unit, compute_bounds(unit, "near-stable"))
    net = general_layers(layers)
    k = len(layers) - 1
    rng = np.random.default_rng(0)
    d = unit.input_dim
    for trial in range(4):
        maps = [(np.eye(d), np.zeros(d))]
        for L in layers[:k]:
            m = L.fixed.size
            A = rng.normal(size=(m, d))
            if trial % 2:
                A[1:] = A[0]                # equal maps: identical pieces downstream
            maps.append((A, rng.normal(size=m)))
        pm = pack_maps(net, k, maps)
        A, c, scale = layer_pre(net, k, *pm)
        want = group_geometry(net, k, A, c, scale, pm.A, pm.c, pm.off)
        got = group_geometry_all(net, k, A, c, scale, pm.A, pm.c, pm.off)
        for x, y in zip(got, want, strict=True):
            assert np.array_equal(x, y)


@pytest.mark.parametrize("trial_nodes", [100, 10**6])
def test_a_trial_on_a_maxout_net_reports_every_region_once(trial_nodes):
    """The Python trial, dropped after 100 nodes (the general compiled walk counts from the
    start) or finishing: the Python walk's count and nodes, each region reported once."""
    unit = _unit(maxout_mlp(3, [8, 8], 2, 12))
    bounds = compute_bounds(unit, "near-stable")
    py = TreeCounter(unit, bounds, compiled=False).run()
    found: list = []
    counter = TreeCounter(unit, bounds, on_region=lambda q, u, r: found.append(_key(q)))
    assert counter.walk.name == "vertex_kernel"
    counter.trial_nodes = trial_nodes
    res = counter.run()
    assert res.exact and res.regions == py.regions == 203 and res.nodes == py.nodes == 487
    assert len(found) == len(set(found)) == 203
