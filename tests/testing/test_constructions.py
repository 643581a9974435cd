"""Constructions with known counts, checked by brute force; ONNX export; committed models."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

from milpregions.ir.network import Affine, Layer, Network
from milpregions.onnx.export import to_onnx
from milpregions.testing import constructions as C

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------- brute-force oracles

def count_breakpoints_1d(net: Network, lo: float, hi: float, tol: float = 1e-12) -> int:
    """Exact 1-D count: split [lo, hi] at every sign change of every unit, layer by layer
    (on a piece of the first k-1 layers, layer k's pre-activations are affine), then count
    maximal runs of equal patterns at the piece midpoints."""
    pts = np.array([lo, hi], dtype=np.float64)
    for k in range(len(net.layers)):
        new = []
        for a, b in zip(pts[:-1], pts[1:]):
            za, zb = net.preactivations(np.array([[a], [b]]))[k]
            cross = (za > 0) != (zb > 0)
            t = a + (b - a) * za[cross] / (za[cross] - zb[cross])
            new.extend(t[(t > a + tol) & (t < b - tol)])
        pts = np.unique(np.concatenate([pts, new]))
        pts = pts[np.concatenate([[True], np.diff(pts) > tol])]
    mids = (pts[:-1] + pts[1:]) / 2
    pats = np.hstack(net.pattern(mids[:, None]))
    return 1 + int(np.sum(np.any(pats[1:] != pats[:-1], axis=1)))


def count_grid(net: Network, lo, hi, m: int) -> int:
    """Distinct patterns on an m^d interior grid, ignoring points within 1e-9 of a unit's zero."""
    axes = [np.linspace(a, b, m + 2)[1:-1] for a, b in zip(lo, hi)]
    X = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))
    Z = np.hstack(net.preactivations(X))
    keep = np.all(np.abs(Z) > 1e-9, axis=1)
    B = np.packbits(Z[keep] > 0, axis=1)
    keys = np.ascontiguousarray(B).view(np.dtype((np.void, B.shape[1])))
    return len(np.unique(keys))


def count_vertex_neighbourhoods(net: Network) -> int:
    """Exact count for one layer in general position (n >= n0): every region has a vertex,
    so the regions are the patterns of the 2^n0 points just around each vertex."""
    W, b = net.layers[0].affine.W[0], net.layers[0].affine.b
    n, n0 = W.shape
    pats = set()
    for S in itertools.combinations(range(n), n0):
        A = W[list(S)]
        v = np.linalg.solve(A, -b[list(S)])
        for sig in itertools.product((-1.0, 1.0), repeat=n0):
            d = np.linalg.solve(A, np.array(sig))
            x = v + 1e-7 * d / np.abs(d).max()
            pats.add(net.pattern(x[None])[0][0].tobytes())
    return len(pats)


def box(net):
    return net.info["box_lo"], net.info["box_hi"]


# ---------------------------------------------------------------------------- Montufar

@pytest.mark.parametrize("p", [2, 3])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_montufar_1d(p, depth):
    net = C.montufar_folding(1, p, depth)
    expected = C.montufar_count(1, p, depth)
    assert expected == p ** depth == net.info["count"]
    assert box(net) == ([0.0], [1.0])
    assert count_breakpoints_1d(net, 0.0, 1.0) == expected
    assert count_grid(net, [0.0], [1.0], 4000) == expected


def test_montufar_fold_maps_onto_unit_interval():
    net = C.montufar_folding(1, 3, 1)
    t = np.linspace(0, 1, 3001)[:, None]
    g = net.forward(t)[:, 0]
    assert g.min() == pytest.approx(0.0) and g.max() == pytest.approx(1.0)
    for k in range(3):  # each piece [k/3, (k+1)/3] maps onto [0, 1]
        piece = g[k * 1000:(k + 1) * 1000 + 1]
        assert np.ptp(piece) == pytest.approx(1.0)


@pytest.mark.parametrize("p,depth", [(2, 1), (2, 2), (3, 1)])
def test_montufar_2d(p, depth):
    net = C.montufar_folding(2, p, depth)
    assert count_grid(net, [0, 0], [1, 1], 300) == C.montufar_count(2, p, depth)


# ---------------------------------------------------------------------------- Serra

@pytest.mark.parametrize("widths", [[1], [2], [3], [3, 3], [3, 3, 2], [4, 3], [3, 5, 1], [3, 3, 3]])
def test_serra_zigzag(widths):
    net = C.serra_zigzag(widths)
    expected = C.serra_count(widths)
    assert expected == int(np.prod([n + 1 for n in widths])) == net.info["count"]
    assert count_breakpoints_1d(net, 0.0, 1.0) == expected
    assert count_grid(net, [0.0], [1.0], 20000) == expected


def test_serra_zigzag_pieces_cover_unit_interval():
    # every layer-1 piece maps onto a superset of [0, 1], with alternating direction
    net = C.serra_zigzag([4])
    t = np.linspace(0, 1, 5001)[:, None]
    g = net.forward(t)[:, 0]
    slopes = []
    for k in range(5):
        piece = g[k * 1000:(k + 1) * 1000 + 1]
        assert piece.min() <= 1e-12 and piece.max() >= 1 - 1e-12
        slopes.append(np.sign(piece[-1] - piece[0]))
    assert slopes == [1, -1, 1, -1, 1]


def test_serra_needs_width_three_before_last():
    with pytest.raises(ValueError):
        C.serra_zigzag([2, 2])


# ---------------------------------------------------------------------------- general position

@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_general_position_1d(n):
    for seed in range(3):
        net = C.general_position_layer(1, n, seed)
        assert count_breakpoints_1d(net, -1.0, 1.0) == C.zaslavsky_count(1, n) == n + 1


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_general_position_2d(n):
    for seed in range(2):
        net = C.general_position_layer(2, n, seed)
        expected = C.zaslavsky_count(2, n)
        assert net.info["count"] == expected
        assert count_vertex_neighbourhoods(net) == expected
        assert count_grid(net, *box(net), 1500) == expected


@pytest.mark.parametrize("n0,n", [(2, 8), (3, 4), (3, 6)])
def test_general_position_vertices_inside_box(n0, n):
    lo, hi = np.array([-1.0, 0.0, 2.0][:n0]), np.array([1.0, 0.5, 3.0][:n0])
    net = C.general_position_layer(n0, n, seed=3, box=(lo, hi))
    W, b = net.layers[0].affine.W[0], net.layers[0].affine.b
    for S in itertools.combinations(range(n), n0):
        v = np.linalg.solve(W[list(S)], -b[list(S)])
        assert np.all(v > lo) and np.all(v < hi)
    assert count_vertex_neighbourhoods(net) == C.zaslavsky_count(n0, n)


def test_general_position_fewer_units_than_inputs():
    net = C.general_position_layer(3, 2, seed=0)
    assert count_grid(net, *box(net), 60) == C.zaslavsky_count(3, 2) == 4


# ---------------------------------------------------------------------------- random / degenerate

def _f32_exact(net: Network) -> bool:
    arrays = [net.output.b, *net.output.W.values()]
    for layer in net.layers:
        arrays += [layer.affine.b, *layer.affine.W.values()]
    return all(np.array_equal(a, a.astype(np.float32).astype(np.float64)) for a in arrays)


def test_he_mlp_deterministic():
    a, b = C.he_mlp(3, [8, 8], seed=5), C.he_mlp(3, [8, 8], seed=5)
    c = C.he_mlp(3, [8, 8], seed=6)
    same = lambda n, m: all(np.array_equal(x.affine.W[k], y.affine.W[k]) and
                            np.array_equal(x.affine.b, y.affine.b)
                            for k, (x, y) in enumerate(zip(n.layers, m.layers)))
    assert same(a, b) and not same(a, c)
    assert a.widths == [8, 8] and a.output_dim == 1
    assert C.he_mlp(3, [4], seed=0, out_dim=3).output_dim == 3
    assert all(np.all(l.affine.b != 0) for l in a.layers)
    assert _f32_exact(a)


def test_concurrent_layer():
    for seed in range(3):
        net = C.concurrent_layer(2, 6, seed, n2=0)
        assert np.all(net.layers[0].affine.b == 0)
        assert count_grid(net, [-1, -1], [1, 1], 400) == C.central_count(2, 6) == 12
    net = C.concurrent_layer(2, 8, seed=0)
    assert net.widths == [8, 8] and np.all(net.layers[0].affine.b == 0)
    x0 = np.array([0.25, -0.5, 0.125])
    net = C.concurrent_layer(3, 5, seed=1, n2=0, x0=x0)
    assert np.allclose(net.preactivations(x0[None])[0], 0, atol=1e-6)


def test_all_stable():
    for seed in range(3):
        net = C.all_stable(2, [6, 6], seed)
        assert count_grid(net, [-1, -1], [1, 1], 200) == 1
        corners = np.array(list(itertools.product((-1.0, 1.0), repeat=4)))
        X = np.vstack([corners, np.random.default_rng(seed).uniform(-1, 1, (500, 4))])
        net4 = C.all_stable(4, [5, 5, 5], seed)
        pats = np.hstack(net4.pattern(X))
        assert np.all(pats == pats[0])


# ---------------------------------------------------------------------------- ONNX export

def _session(model):
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _residual_net() -> Network:
    rng = np.random.default_rng(11)
    l1 = Layer(Affine({0: rng.normal(size=(5, 3))}, rng.normal(size=5)), np.zeros(5))
    l2 = Layer(Affine({1: rng.normal(size=(4, 5))}, rng.normal(size=4)), np.full(4, 0.1))
    l3 = Layer(Affine({0: rng.normal(size=(6, 3)), 1: rng.normal(size=(6, 5)),
                       2: rng.normal(size=(6, 4))}, rng.normal(size=6)),
               rng.uniform(0, 0.3, 6))
    out = Affine({3: rng.normal(size=(2, 6)), 1: rng.normal(size=(2, 5))}, rng.normal(size=2))
    return Network(3, (l1, l2, l3), out)


EXPORT_CASES = {
    "montufar": lambda: C.montufar_folding(2, 3, 2),
    "serra": lambda: C.serra_zigzag([3, 4, 2]),
    "general_position": lambda: C.general_position_layer(3, 6, seed=1),
    "he": lambda: C.he_mlp(4, [8, 8], seed=0, out_dim=2),
    "concurrent": lambda: C.concurrent_layer(2, 8, seed=0),
    "all_stable": lambda: C.all_stable(3, [5, 5], seed=0),
    "residual_leaky_prelu": _residual_net,
    "tseran_maxout": C.tseran_maxout,
    "maxout_gathered": lambda: _gathered_maxout(),
}


def _gathered_maxout() -> Network:
    """A ReLU layer, then maxout groups (i, i + 3) and (5, 0 ... ) out of piece order."""
    from milpregions.ir.network import MaxLayer

    rng = np.random.default_rng(5)
    L1 = Layer(Affine({0: rng.normal(size=(4, 2))}, rng.normal(size=4)), np.zeros(4))
    M = MaxLayer(Affine({1: rng.normal(size=(6, 4))}, rng.normal(size=6)),
                 np.array([[0, 3], [1, 4], [5, 2]]))
    return Network(2, (L1, M), Affine({2: rng.normal(size=(2, 3))}, np.zeros(2)))


@pytest.mark.parametrize("case", sorted(EXPORT_CASES))
def test_to_onnx_matches_onnxruntime(case, tmp_path):
    net = EXPORT_CASES[case]()
    path = tmp_path / f"{case}.onnx"
    model = to_onnx(net, path)
    assert path.read_bytes() == model.SerializeToString()
    assert model.ir_version == 8
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == net.input_dim
    X = np.random.default_rng(0).uniform(-1, 1, (200, net.input_dim))
    y = _session(model).run(None, {"input": X.astype(np.float32)})[0]
    np.testing.assert_allclose(y, net.forward(X), rtol=1e-4, atol=1e-5)


def test_to_onnx_max_layers_import_back_with_their_counts(tmp_path):
    """A max layer goes out as (Gather,) Reshape, ReduceMax and comes back as a max layer with
    the same count (the Tseran-Montufar net: 216 regions on [-3, 3]^2)."""
    from milpregions.api import count_regions
    from milpregions.onnx import load_onnx

    for make, box in ((C.tseran_maxout, 3.0), (_gathered_maxout, 1.0)):
        net = make()
        to_onnx(net, tmp_path / "m.onnx")
        back = load_onnx(tmp_path / "m.onnx")
        assert [type(a).__name__ for a in back.layers] == [type(a).__name__ for a in net.layers]
        want = count_regions(net, (-box, box)).regions
        assert count_regions(back, (-box, box)).regions == want
    assert want > 4
    assert count_regions(C.tseran_maxout(), (-3.0, 3.0)).regions == 216
    ops = [n.op_type for n in to_onnx(_gathered_maxout()).graph.node]
    assert ops == ["Gemm", "Relu", "Gemm", "Gather", "Reshape", "ReduceMax", "Gemm"]
    assert "Gather" not in [n.op_type for n in to_onnx(C.tseran_maxout()).graph.node]


def test_tseran_maxout_is_their_draw():
    """np.random.seed(123) then normal draws in their order: the first weight is the stream's
    first normal times sqrt(1/2) (fan_in 2, K = 2), rounded to float32."""
    net = C.tseran_maxout()
    first = np.random.RandomState(123).normal(0.0, np.sqrt(0.5), 28)
    W = net.layers[0].affine.W[0]
    assert W.shape == (14, 2) and net.layers[0].groups.tolist()[:2] == [[0, 1], [2, 3]]
    np.testing.assert_array_equal(W.ravel(), first.astype(np.float32).astype(np.float64))
    assert net.info["count"] == 216 and net.info["decision_pieces"] == 30
    assert net.widths == [7, 7, 6] and net.output_dim == 2


def test_to_onnx_ops():
    ops = [n.op_type for n in to_onnx(_residual_net()).graph.node]
    assert ops.count("Gemm") == 4 and "Relu" in ops and "LeakyRelu" in ops and "PRelu" in ops
    assert "MatMul" in ops and "Add" in ops
    ops = [n.op_type for n in to_onnx(C.he_mlp(2, [4, 4], seed=0)).graph.node]
    assert ops == ["Gemm", "Relu", "Gemm", "Relu", "Gemm"]


# ---------------------------------------------------------------------------- committed models

def _build_models_module():
    spec = importlib.util.spec_from_file_location("build_models", ROOT / "models" / "build_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_models_are_current(tmp_path):
    written = _build_models_module().build_all(tmp_path)
    assert len(written) == 12
    for path in written:
        committed = ROOT / "models" / path.name
        assert committed.exists(), f"{path.name} is not committed"
        assert committed.read_bytes() == path.read_bytes(), f"{path.name} differs: rerun build_models.py"
        assert path.stat().st_size < 100_000


def test_committed_models_counts():
    for name, net, _, _ in _build_models_module().models():
        if "count" not in net.info:
            continue
        lo, hi = box(net)
        if net.input_dim == 1:
            got = count_breakpoints_1d(net, lo[0], hi[0])
        elif name.startswith("zaslavsky"):
            got = count_vertex_neighbourhoods(net)
        else:
            got = count_grid(net, lo, hi, 400)
        assert got == net.info["count"], name
