"""The compiled LP walk on every kind of network the importer reads (``lp_kernel`` over
``kernel_pack.general_layers`` and ``net_kernel``): max groups, layers reading several sources,
LeakyReLU, sparse (convolution) and selection weights. Checked against the Python LP path (the
same regions as sets of patterns, the same tree), against numpy's layer algebra, and against
the certified count; the packed stack of ``--jobs`` tasks round-trips."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from milpregions.bounds import compute_bounds
from milpregions.enumerator import TreeCounter
from milpregions.enumerator.kernel_pack import general_layers, pack_maps
from milpregions.enumerator.layers import (
    Units,
    build_layers,
    group_geometry,
    layer_affine,
    output_map,
    unit_rows,
)
from milpregions.inputs import ball_domain
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import Affine, Layer, MaxLayer, Network
from milpregions.problem import prepare
from milpregions.settings import Settings


def maxout(d: int, groups: int, k: int, seed: int, hidden: int | None = None) -> Network:
    """A maxout layer of ``groups`` groups of k pieces, after a ReLU layer of ``hidden`` units."""
    rng = np.random.default_rng(seed)
    layers: list = []
    n_in, src = d, 0
    if hidden:
        layers.append(Layer(Affine({0: rng.normal(size=(hidden, d))}, rng.normal(size=hidden) * 0.5),
                            np.zeros(hidden)))
        n_in, src = hidden, 1
    n = groups * k
    layers.append(MaxLayer(Affine({src: rng.normal(size=(n, n_in))}, rng.normal(size=n) * 0.5),
                           np.arange(n).reshape(groups, k)))
    return Network(d, tuple(layers), Affine({len(layers): rng.normal(size=(1, groups))}, np.zeros(1)))


def residual(d: int, w: int, seed: int, slope: float = 0.0) -> Network:
    """Two layers of w units (negative slope ``slope``); the second reads the input and the first."""
    rng = np.random.default_rng(seed)
    L1 = Layer(Affine({0: rng.normal(size=(w, d))}, rng.normal(size=w) * 0.5), np.full(w, slope))
    L2 = Layer(Affine({0: rng.normal(size=(w, d)), 1: rng.normal(size=(w, w)) / np.sqrt(w)},
                      rng.normal(size=w) * 0.5), np.full(w, slope))
    out = Affine({1: rng.normal(size=(1, w)), 2: rng.normal(size=(1, w))}, np.zeros(1))
    return Network(d, (L1, L2), out)


def conv_pool(side: int, filters: int, seed: int, sparse: bool = True) -> Network:
    """A 3x3 convolution (``filters`` channels) of a side x side image, ReLU, then 2x2 max
    pooling with stride 2 through an identity selection; windows clipped at the edge are -1
    padded. Weights as scipy.sparse, or dense (packed as CSR: mostly zeros)."""
    rng = np.random.default_rng(seed)
    o = side - 2
    K = rng.normal(size=(filters, 3, 3))
    rows = []
    for f in range(filters):
        for i in range(o):
            for j in range(o):
                r = np.zeros((side, side))
                r[i:i + 3, j:j + 3] = K[f]
                rows.append(r.ravel())
    W = np.array(rows)
    n1 = W.shape[0]
    L1 = Layer(Affine({0: csr_matrix(W) if sparse else W},
                      np.repeat(rng.normal(size=filters) * 0.3, o * o)), np.zeros(n1))
    groups = []
    for f in range(filters):
        for i in range(0, o, 2):
            for j in range(0, o, 2):
                g = [f * o * o + a * o + c for a in range(i, min(i + 2, o))
                     for c in range(j, min(j + 2, o))]
                groups.append(g + [-1] * (4 - len(g)))
    G = np.array(groups)
    eye = np.eye(n1)
    L2 = MaxLayer(Affine({1: csr_matrix(eye) if sparse else eye}, np.zeros(n1)), G)
    return Network(side * side, (L1, L2), Affine({2: rng.normal(size=(1, G.shape[0]))}, np.zeros(1)))


def residual_max(d: int, seed: int) -> Network:
    """ReLU units, then a maxout layer reading both the input and the units (a skip into a max)."""
    rng = np.random.default_rng(seed)
    L1 = Layer(Affine({0: rng.normal(size=(5, d))}, rng.normal(size=5) * 0.5), np.full(5, 0.2))
    L2 = MaxLayer(Affine({0: rng.normal(size=(6, d)), 1: rng.normal(size=(6, 5))},
                         rng.normal(size=6) * 0.5), np.array([[0, 1, 2], [3, 4, -1], [5, -1, -1]]))
    return Network(d, (L1, L2), Affine({2: rng.normal(size=(1, 3))}, np.zeros(1)))


NETS = [
    ("maxout_7d_4x3", lambda: maxout(7, 4, 3, 0)),
    ("maxout_10d_3x4", lambda: maxout(10, 3, 4, 5)),
    ("relu_maxout_8d", lambda: maxout(8, 3, 3, 1, hidden=6)),
    ("residual_7d", lambda: residual(7, 6, 2)),
    ("residual_leaky_8d", lambda: residual(8, 5, 3, slope=0.1)),
    ("residual_max_7d", lambda: residual_max(7, 4)),
    ("conv_pool_sparse", lambda: conv_pool(4, 2, 4)),
    ("conv_pool_dense", lambda: conv_pool(4, 2, 6, sparse=False)),
]


def _key(pattern) -> tuple:
    return tuple(np.concatenate([np.asarray(x, np.int64) for x in pattern]).tolist())


def _both(unit: Network, bounds, **kw):
    """The Python LP path, then the compiled LP walk: (result, regions, witnesses) each."""
    out = []
    for compiled in (False, True):
        found, wit = [], []

        def keep(p, u, r, found=found, wit=wit):
            found.append(_key(p))
            wit.append(u)
        counter = TreeCounter(unit, bounds, compiled=compiled, vertex_dim=0, on_region=keep, **kw)
        assert (counter.compiled is not None) == compiled and not counter.use_vertices
        out.append((counter.run(), found, np.array(wit)))
    return out


def _agree(unit: Network, bounds, **kw):
    (py, fp, _), (cc, fc, wc) = _both(unit, bounds, **kw)
    assert cc.exact and py.exact and cc.regions == py.regions == len(fc) > 1
    assert sorted(fc) == sorted(fp) and len(set(fc)) == len(fc)
    assert cc.nodes == py.nodes        # the same tree: LP answers differ only in their points
    assert cc.near_margin == py.near_margin
    # a cell dropped as thin is a decision of both; only a cell of inradius zero (a face) may
    # read as +1e-17 in one solver and 0 in the other
    if cc.thin_dropped != py.thin_dropped:
        assert max(cc.thickest_dropped, py.thickest_dropped) < 1e-15
    # every witness has its region's pattern (the driver checked them too)
    pats = np.concatenate(unit.pattern(wc), axis=1)
    assert sorted(map(tuple, pats.astype(np.int64).tolist())) == sorted(fc)
    return cc


@pytest.mark.parametrize("name,make", NETS, ids=[n for n, _ in NETS])
def test_the_compiled_lp_walk_finds_the_regions_of_the_python_lp_path(name, make):
    net = make()
    unit = normalize(net, Box.make(-1.0, 1.0, net.input_dim))
    _agree(unit, compute_bounds(unit, "near-stable"))


def test_the_compiled_lp_walk_on_the_digits_cnn_in_a_small_ball(models_dir):
    """Conv (256 units) + MaxPool (64 groups of 4 through a 256 x 256 selection) in 64-D."""
    x0 = np.load(models_dir / "digits_test_image.npy").ravel()
    p = prepare(models_dir / "digits_cnn.onnx", ball_domain(x0, 0.05, 64), Settings())
    cc = _agree(p.unit_net, p.tree_bounds)
    assert cc.regions == 144


def residual_cnn_module():
    """A torch residual CNN on 1x4x4 images: conv, ReLU, conv plus the input (a skip to the
    input), ReLU, 2x2 MaxPool, linear. Imported: units, units reading the input and layer 1,
    a max layer of 8 groups of 4."""
    torch = pytest.importorskip("torch")
    from torch import nn

    class ResCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 2, 3, padding=1)
            self.c2 = nn.Conv2d(2, 2, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(8, 1)

        def forward(self, x):
            h = torch.relu(self.c1(x))
            h = torch.relu(self.c2(h) + x)
            return self.fc(torch.flatten(self.pool(h), 1))

    torch.manual_seed(0)
    return ResCNN().eval()


def test_the_compiled_lp_walk_on_an_imported_residual_cnn():
    from milpregions.onnx.torch_module import from_torch

    net = from_torch(residual_cnn_module(), (1, 4, 4))
    assert [sorted(L.affine.W) for L in net.layers] == [[0], [0, 1], [2]]
    assert isinstance(net.layers[2], MaxLayer)
    centre = np.random.default_rng(3).uniform(-1, 1, 16)
    p = prepare(net, ball_domain(centre, 0.05, 16), Settings())
    cc = _agree(p.unit_net, p.tree_bounds)
    assert cc.regions == 216


@pytest.mark.parametrize("make", [lambda: maxout(7, 3, 3, 2), lambda: residual(7, 4, 8),
                                  lambda: residual_max(7, 9)])
def test_the_compiled_lp_walk_count_is_certified(make):
    """The exact certificate (completeness by adjacency, in integers) of the compiled walk's
    regions and witnesses finds nothing missing and rejects nothing."""
    from milpregions.certify import certify

    p = prepare(make(), (-1.0, 1.0), Settings(vertex_dim=0))
    found: list = []
    res = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0,
                      on_region=lambda q, u, r: found.append(([x.copy() for x in q],
                                                              np.array(u)))).run()
    assert res.exact and res.regions == len(found) > 10
    c = certify(p, found)
    assert c.certified and not c.added and c.rejected == 0 and c.regions == res.regions


def test_a_frontier_of_the_general_lp_walk_handed_back_is_counted_once():
    """Tasks of 1 ms on a skip-into-max net: packed stacks (``lp_kernel.pack_stack``) rebuilt
    elsewhere give the count, regions and nodes of one walk."""
    p = prepare(residual_max(8, 1), (-1.0, 1.0), Settings(vertex_dim=0))
    found_whole: list = []
    whole = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0,
                        on_region=lambda q, u, r: found_whole.append(_key(q))).run()
    splitter = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0)
    split = splitter.split()
    nodes = splitter.finish().nodes
    queue, found, tasks = [split.batch(np.arange(len(split)))], [], 0
    while queue:
        counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0,
                              on_region=lambda q, u, r: found.append(_key(q)))
        queue += counter.count_split_cells(queue.pop(), seconds=1e-4, pieces=3)
        nodes += counter.finish().nodes
        tasks += 1
    assert tasks > 3 and sorted(found) == sorted(found_whole) and len(found) == whole.regions
    assert whole.regions > 100 and nodes == whole.nodes    # every entry popped once, anywhere


def _random_maps(rng, layers, k: int, d: int):
    maps = [(np.eye(d), np.zeros(d))]
    for L in layers[:k]:
        m = L.fixed.size
        maps.append((rng.normal(size=(m, d)), rng.normal(size=m)))
    return maps


@pytest.mark.parametrize("make", [lambda: residual(7, 6, 2), lambda: residual_max(7, 4),
                                  lambda: conv_pool(5, 2, 3), lambda: conv_pool(5, 2, 3, False)])
def test_the_compiled_layer_algebra_is_numpys(make):
    """``net_kernel`` against ``layers`` on random maps of every source: pre-activations, unit
    rows, max-group geometry and output maps."""
    from milpregions.enumerator import net_kernel as K

    net = make()
    unit = normalize(net, Box.make(-1.0, 1.0, net.input_dim))
    layers = build_layers(unit, compute_bounds(unit, "none"))
    packed = general_layers(layers)
    d = unit.input_dim
    rng = np.random.default_rng(0)
    for k, L in enumerate(layers):
        maps = _random_maps(rng, layers, k, d)
        MA, Mc, moff, mnorm = pack_maps(packed, k, maps)
        A, c, scale = K.layer_pre(packed, k, MA, Mc, moff, mnorm)
        A0, c0, scale0 = layer_affine(L, maps)
        assert np.allclose(A, A0, rtol=1e-13, atol=1e-12) and np.allclose(c, c0, atol=1e-12)
        assert scale == pytest.approx(scale0, rel=1e-14)
        if isinstance(L, Units):
            bits, cl, An, cn = K.unit_rows(packed, k, A, c, scale, MA, Mc, moff)
            bits0, cand0, An0, cn0 = unit_rows(L, A0, c0, scale0, maps)
            assert np.array_equal(bits, bits0) and np.array_equal(cl, cand0)
            assert np.allclose(An, An0, atol=1e-13) and np.allclose(cn, cn0, atol=1e-12)
            choice = (rng.random(L.fixed.size) < 0.5).astype(np.int16)
        else:
            G, possible, active, inv = K.group_geometry(packed, k, A, c, scale, MA, Mc, moff)
            geo = group_geometry(L, A0, c0, scale0, maps)
            assert np.array_equal(G, geo.G) and np.array_equal(possible, geo.possible)
            assert np.array_equal(active, geo.active) and np.allclose(inv, geo.inv, rtol=1e-13)
            for g in range(G.shape[0]):
                for i in range(G.shape[1]):
                    if G[g, i] >= 0:
                        rows = K.cell_rows(A, c, G, active, inv, g, i)
                        act = geo.active[g, i]
                        ref = np.column_stack([geo.R[g, i][act], geo.rc[g, i][act]])
                        assert np.allclose(rows, ref, atol=1e-12)
            choice = np.array([rng.integers(0, (row >= 0).sum()) for row in L.groups],
                              dtype=np.int16)
        Aout, cout, norm = K.output_map(packed, k, choice, A, c)
        Ao0, co0 = output_map(L, choice, A0, c0)
        assert np.allclose(Aout, Ao0, atol=1e-12) and np.allclose(cout, co0, atol=1e-12)
        assert norm == pytest.approx(float(np.linalg.norm(Ao0)), rel=1e-13)


def test_sparse_and_selection_weights_stay_sparse():
    """A convolution given sparse, and a dense 0/1 selection, are packed as CSR."""
    net = conv_pool(8, 3, 0, sparse=False)        # 9 of 64 inputs per unit, 108 units
    unit = normalize(net, Box.make(-1.0, 1.0, net.input_dim))
    packed = general_layers(build_layers(unit, compute_bounds(unit, "none")))
    assert packed.sparse.tolist() == [True, True] and packed.w.size == 0
    assert packed.data.size == np.count_nonzero(net.layers[0].affine.W[0]) + 108
    assert packed.kind.tolist() == [0, 1] and packed.g_width.tolist() == [0, 4]


@pytest.mark.parametrize("width,beaten", [(0.0, True), (1.5e-10, True), (4e-10, False),
                                          (1e-3, False)])
def test_a_piece_beaten_on_a_node_row_is_a_sliver_the_lp_agrees(width, beaten):
    """``_beaten_on_a_row`` (both paths) claims no ball of radius > margin = 1e-10 exactly when
    the LP finds the cell between a node row and the opposite cell row that thin."""
    from milpregions.enumerator import lp_kernel
    from milpregions.enumerator.lp_path import _beaten_on_a_row

    rng = np.random.default_rng(1)
    d = 9
    a = rng.normal(size=d)
    a /= np.linalg.norm(a)
    node_row = np.append(a, 0.1)                          # a.u + 0.1 >= 0
    cell_row = np.append(-a, -0.1 + width)                # the slab a.u + 0.1 in [0, width]
    others = rng.normal(size=(3, d))                      # loose rows: b.u + 0.8 >= 0
    others /= np.linalg.norm(others, axis=1)[:, None]
    F = np.vstack([np.column_stack([others, np.full(3, 0.8)]), node_row])
    assert _beaten_on_a_row(F, cell_row[None, :], 1e-10) == beaten
    r, _, status = lp_kernel.chebyshev(F, cell_row[None, :], np.zeros(d), np.zeros(6))
    assert status == 0 and (r <= 1e-10) == beaten and abs(r - width / 2) < 1e-12
    # the compiled rule: the cell row as the pair (piece 0 over piece 1) of one live group
    A = np.vstack([-a, np.zeros(d)])
    c = np.array([-0.1 + width, 0.0])
    G = np.array([[0, 1]])
    active = np.array([[[False, True], [True, False]]])
    inv = np.ones((1, 2, 2))
    assert lp_kernel._beaten_on_a_row(F, A, c, G, active, inv, 0, 0, 1e-10) == beaten
