"""``count --certify``: an exact witness for every region and completeness by exact adjacency
in any dimension; regions the float search misses are found, never guessed (exit 4 when a
decision cannot be made exactly or the time runs out)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scale_free_nets import signed_magnitudes

from milpregions.api import count_regions
from milpregions.certify import certify
from milpregions.ir.network import Affine, Layer, Network, mlp
from milpregions.onnx import load_onnx
from milpregions.problem import prepare
from milpregions.settings import Settings
from milpregions.testing.constructions import general_position_layer, zaslavsky_count

from exact_oracles import count_1d, count_2d, count_plane

MODELS_2D = [("montufar_1d_p2_d3.onnx", (0.0, 1.0)), ("serra_1d_3x3.onnx", (0.0, 1.0)),
             ("zaslavsky_2d_8.onnx", (-1.0, 1.0)), ("he_2d_8x8.onnx", (-1.0, 1.0)),
             ("he_2d_16x16.onnx", (-1.0, 1.0)), ("concurrent_2d_8x8.onnx", (-1.0, 1.0)),
             ("montufar_2d_p2_d2.onnx", (0.0, 1.0)), ("maxout_mlp.onnx", (-1.0, 1.0))]


def block_product(a: Network, b: Network) -> Network:
    """Two ReLU MLPs of one depth side by side on disjoint inputs (block-diagonal weights):
    a pattern is a pair of patterns, so the count is the product of the counts."""
    layers = []
    for k, (la, lb) in enumerate(zip(a.layers, b.layers)):
        Wa, Wb = la.affine.W[k], lb.affine.W[k]
        W = np.block([[Wa, np.zeros((Wa.shape[0], Wb.shape[1]))],
                      [np.zeros((Wb.shape[0], Wa.shape[1])), Wb]])
        layers.append(Layer(Affine({k: W}, np.concatenate([la.affine.b, lb.affine.b])),
                            np.concatenate([la.neg_slope, lb.neg_slope])))
    n = len(layers)
    out = Affine({n: np.hstack([a.output.W[n], b.output.W[n]])}, a.output.b + b.output.b)
    return Network(a.input_dim + b.input_dim, tuple(layers), out)


def thin_slab() -> Network:
    """x0 = 0 and x0 = 1e-8: a slab of inradius 5e-9 between two half-boxes; 3 regions."""
    return mlp([np.eye(2)[[0, 0]], np.ones((1, 2))], [np.array([0.0, -1e-8]), np.zeros(1)])


def tiny_triangle(offset: float = 1e-12) -> Network:
    """x = 0.3, y = -0.2 and a third line ``offset`` from their crossing: 7 regions, one a
    triangle of inradius ~offset / 3.4."""
    n = np.array([1.0, 1.0]) / np.sqrt(2)
    W1 = np.array([[1.0, 0.0], [0.0, 1.0], n])
    return mlp([W1, np.ones((1, 3))], [np.array([-0.3, 0.2, -(n @ [0.3, -0.2]) - offset]),
                                       np.zeros(1)])


@pytest.mark.parametrize("vertex_dim", [6, 0], ids=["vertex", "lp"])
@pytest.mark.parametrize("name,box", MODELS_2D, ids=[m[0] for m in MODELS_2D])
def test_committed_low_dimensional_models_are_certified(models_dir, name, box, vertex_dim):
    res = count_regions(models_dir / name, box, certify=True, vertex_dim=vertex_dim)
    assert res.exact and res.certified is True and res.certify_note == ""
    assert res.certify_added == 0 and res.certify_rejected == 0 and res.certify_decisions > 0
    net = load_onnx(models_dir / name)
    if net.input_dim == 1:
        assert res.regions == count_1d(net, *box)
    elif name != "maxout_mlp.onnx":                 # the oracle has no max groups
        assert res.regions == count_2d(net, [box[0]] * 2, [box[1]] * 2)


def test_a_slice_is_certified_against_the_plane_oracle(models_dir):
    net = load_onnx(models_dir / "he_3d_16x16.onnx")
    p0, p1, p2 = np.array([-1.0, -1, -1]), np.array([1.0, -1, 0.5]), np.array([-1.0, 1, 0.2])
    res = count_regions(net, slice=(p0, p1, p2), certify=True)
    assert res.certified is True
    assert res.regions == count_plane(net, p0, p1 - p0, p2 - p0, 0, 1) == 362


def test_three_dimensional_models_are_certified(models_dir):
    res = count_regions(models_dir / "zaslavsky_3d_6.onnx", (-1, 1), certify=True)
    assert res.certified is True and res.regions == 42 == zaslavsky_count(3, 6)
    net = general_position_layer(4, 7, seed=3)
    res = count_regions(net, (-1, 1), certify=True)
    assert res.certified is True and res.regions == zaslavsky_count(4, 7)


# the vertex path (~2 s) under -m slow: its twin is the property test's 4-D block products,
# certified on the vertex path
@pytest.mark.parametrize("vertex_dim", [0, pytest.param(6, marks=pytest.mark.slow)],
                         ids=["lp", "vertex"])
def test_a_block_product_in_four_dimensions_is_certified(models_dir, vertex_dim):
    a = load_onnx(models_dir / "he_2d_8x8.onnx")
    b = general_position_layer(2, 3, seed=1)
    b = mlp([b.layers[0].affine.W[0], np.eye(3), b.output.W[1]],
            [b.layers[0].affine.b, np.zeros(3), b.output.b])     # one more (stable) layer
    net = block_product(a, b)
    want = count_2d(a, [-1, -1], [1, 1]) * count_2d(b, [-1, -1], [1, 1])
    assert want == 102 * 7
    res = count_regions(net, (-1, 1), certify=True, vertex_dim=vertex_dim)
    assert res.certified is True and res.regions == want


@pytest.mark.parametrize("vertex_dim", [6, 0], ids=["vertex", "lp"])
def test_a_region_thinner_than_the_margin_is_found_exactly(vertex_dim):
    # the float count with margin 1e-7 misses the slab of inradius 5e-9; the exact search finds
    # it beyond a facet of a counted region and gives it an exact witness
    net = thin_slab()
    assert count_2d(net, [-1, -1], [1, 1]) == 3
    res = count_regions(net, (-1, 1), margin=1e-7, vertex_dim=vertex_dim)
    assert res.regions == 2 and res.certified is None
    found = []
    res = count_regions(net, (-1, 1), margin=1e-7, certify=True, vertex_dim=vertex_dim,
                        on_region=found.append)
    assert res.regions == 3 and res.certified is True and res.certify_added == 1
    assert len(found) == 3 and abs(found[-1].witness[0] - 5e-9) < 5e-9


def test_a_triangle_of_inradius_1e_13_is_found_exactly():
    net = tiny_triangle(1e-12)
    assert count_2d(net, [-1, -1], [1, 1]) == 7
    res = count_regions(net, (-1, 1))
    assert res.regions == 6
    res = count_regions(net, (-1, 1), certify=True)
    assert res.regions == 7 and res.certified is True and res.certify_added == 1


@pytest.mark.parametrize("exponent", [20, 30, 40])
def test_slabs_of_inradius_2_to_minus_40_in_seven_dimensions(exponent):
    # a slab 2^-k wide in 7-D (the LP path): the default margin keeps k = 20 and 30, misses
    # k = 40; the certified count has all three regions either way
    W1 = np.zeros((2, 7))
    W1[:, 0] = 1.0
    net = mlp([W1, np.ones((1, 2))], [np.array([0.0, -2.0 ** -exponent]), np.zeros(1)])
    res = count_regions(net, (-1, 1))
    assert res.regions == (3 if exponent < 40 else 2)
    res = count_regions(net, (-1, 1), certify=True)
    assert res.certified is True and res.regions == 3
    assert res.certify_added == (0 if exponent < 40 else 1)


def test_completion_from_one_region_or_none_is_an_independent_exact_count(models_dir):
    # certify() is an exact enumeration by adjacency seeded with the float regions: seeded with
    # none (it starts at the centre) it must still find every region of the oracle
    for name, box, want in [("he_2d_16x16.onnx", (-1.0, 1.0), 412),
                            ("concurrent_2d_8x8.onnx", (-1.0, 1.0), 109),
                            ("zaslavsky_3d_6.onnx", (-1.0, 1.0), 42)]:
        problem = prepare(models_dir / name, box, Settings())
        c = certify(problem, [])
        assert c.certified and c.regions == want and len(c.added) == want
        if problem.dim == 2:
            assert want == count_2d(problem.network, [box[0]] * 2, [box[1]] * 2)


def test_a_pattern_that_is_no_region_is_rejected(models_dir):
    problem = prepare(models_dir / "zaslavsky_2d_8.onnx", (-1, 1), Settings(certify=True))
    found = []
    count_regions(problem, on_region=found.append)
    assert len(found) == 37
    # on [-1, 1]^2 the witnesses are normalised already; region 0 gets the witness of region 1
    regions = [(r.pattern, found[1].witness if k == 0 else r.witness)
               for k, r in enumerate(found)]
    seen = {tuple(r.pattern[0]) for r in found}
    bogus = next(bits for n in range(256)
                 if (bits := tuple(bool(n >> j & 1) for j in range(8))) not in seen)
    c = certify(problem, regions + [([np.array(bogus)], np.zeros(2))])
    assert c.certified and c.regions == 37
    assert c.rejected == 1 and len(c.added) == 1       # the bogus one; region 0 found again
    assert c.added[0][0][0].tolist() == found[0].pattern[0].tolist()


def test_milp_method_is_certified_too(models_dir):
    res = count_regions(models_dir / "zaslavsky_2d_8.onnx", (-1, 1), method="milp", certify=True)
    assert res.certified is True and res.regions == 37


def test_stopped_counts_are_not_certified(models_dir):
    res = count_regions(models_dir / "he_2d_16x16.onnx", (-1, 1), certify=True, max_regions=5)
    assert not res.exact and res.certified is False
    assert res.certify_note == "the count was stopped by a limit"


def test_cli_certify_exit_status_and_json(cli, models_dir):
    code, out, _ = cli("count", models_dir / "zaslavsky_2d_8.onnx", "--box", "-1,1", "--certify")
    assert code == 0 and out == "37 regions (certified exactly, no margin)\n"
    code, out, _ = cli("count", models_dir / "zaslavsky_3d_6.onnx", "--box", "-1,1", "--certify")
    assert code == 0 and out == "42 regions (certified exactly, no margin)\n"
    code, out, _ = cli("count", models_dir / "zaslavsky_2d_8.onnx", "--box", "-1,1", "--certify",
                       "--json")
    d = json.loads(out)
    assert code == 0 and d["certified"] is True and d["regions"] == 37
    assert d["certify_added"] == 0 and d["certify_decisions"] > 0
    code, out, _ = cli("count", models_dir / "zaslavsky_2d_8.onnx", "--box", "-1,1", "--json")
    assert json.loads(out)["certified"] is None


def test_cli_certify_time_limit_is_exit_4(cli, models_dir):
    # the float count takes ~0.2 s (its clock starts before the compiled walk is loaded),
    # the certification about thirty
    code, out, _ = cli("count", models_dir / "he_3d_16x16.onnx", "--box", "-1,1", "--certify",
                       "--time-limit", "4")
    assert code == 4
    assert out == ("3,524 regions (not certified: the certification was stopped by the time "
                   "limit)\n")


def test_cli_certify_reports_found_regions(cli, tmp_path):
    from milpregions.onnx.export import to_onnx

    path = tmp_path / "slab.onnx"
    to_onnx(thin_slab(), path)
    code, out, _ = cli("count", path, "--box", "-1,1", "--margin", "1e-7", "--certify")
    assert code == 0
    assert out == "3 regions (certified exactly, no margin; 1 found by the exact search)\n"


def test_the_exact_simplex_decides_a_facet_of_length_1e_minus_186():
    # x + y < 7.6e-187 in [-1, 1]^2: the box row x <= 1 bounds the region on an edge of length
    # 7.6e-187, which no float LP can see; the exact simplex finds a point inside it
    from fractions import Fraction

    from milpregions.certify.exact import dyadic
    from milpregions.certify.exact_lp import facet_point

    eps = 7.58725171e-187
    D = dyadic([-1.0, -1.0, eps])
    rows = [list(D.M)] + [[-1, 0, 1], [1, 0, 1], [0, -1, 1], [0, 1, 1]]
    A = np.array([r[:2] for r in rows], dtype=object)
    c = np.array([r[2] for r in rows], dtype=object)
    u = facet_point(A, c, 1)                 # the plane x = 1
    assert u is not None and u[0] == 1
    assert -1 < u[1] < Fraction(eps) - 1     # strictly between y = -1 and the unit's line
    assert facet_point(A, c, 2) is not None  # x = -1: a long edge
    # a row whose plane misses the region: x + y = 7.6e-187 pushed to x + y = 3
    c2 = c.copy()
    c2[0] = 3 * (1 << -D.e)
    A2 = A.copy()
    A2[0] = [-(1 << -D.e), -(1 << -D.e)]
    assert facet_point(A2, c2, 0) is None


mixed = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False)


@st.composite
def mixed_nets_4d(draw):
    """Two small 2-D ReLU nets with weights 1e-3 .. 1e3 side by side on 4 inputs."""
    nets = []
    for _ in range(2):
        sizes = [2, draw(st.integers(1, 3)), draw(st.integers(1, 3)), 1]
        Ws, bs = [], []
        for a, b in zip(sizes, sizes[1:]):
            Ws.append(signed_magnitudes(draw, (b, a), mixed))
            bs.append(np.array(draw(st.lists(mixed, min_size=b, max_size=b))))
        t = np.array(draw(st.lists(st.floats(-0.9, 0.9), min_size=sizes[1],
                                   max_size=sizes[1])))
        bs[0] = t * np.abs(Ws[0]).sum(axis=1)
        nets.append(mlp(Ws, bs))
    return nets


def _certified_block_product(nets):
    a, b = nets
    want = count_2d(a, [-1, -1], [1, 1]) * count_2d(b, [-1, -1], [1, 1])
    net = block_product(a, b)
    res = count_regions(net, (-1, 1), certify=True, margin=1e-7, time_limit=120)
    assert res.certified, res.certify_note
    assert res.regions == want
    # and the exact adjacency search alone, seeded with nothing
    c = certify(prepare(net, (-1, 1), Settings()), [])
    assert c.certified and c.regions == want


# ~0.7 s of CPU an example: 5 in the default suite, 30 under -m slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_nets_4d())
def test_property_certified_4d_counts_equal_the_product_of_exact_2d_counts(nets):
    _certified_block_product(nets)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_nets_4d())
def test_property_certified_4d_counts_equal_the_product_of_exact_2d_counts_many(nets):
    _certified_block_product(nets)
