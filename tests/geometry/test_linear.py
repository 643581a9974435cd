"""Linear regions and affine pieces (``milpregions.geometry``) against constructions whose counts
are known, and against the exact rational oracle on random small 2-D nets (polygons merged by
equal affine maps and shared edges, in fractions)."""

from __future__ import annotations

import numpy as np
import pytest

from milpregions import prepare
from milpregions.api import count
from milpregions.geometry import analyze, count_linear_regions
from milpregions.ir.network import Affine, Layer, MaxLayer, Network, mlp
from milpregions.settings import Settings
from milpregions.testing.constructions import he_mlp, montufar_folding

from exact_oracles import linear_regions_2d


def counts(net, box=(-1.0, 1.0), **kw):
    r, a = count_linear_regions(net, box, **kw)
    return r.regions, r.linear_regions, r.affine_pieces


def test_identity_as_two_relus_is_one_linear_region():
    # f(x) = relu(x) - relu(-x) = x: two activation regions, one map
    net = mlp([np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0]])], [np.zeros(2), np.zeros(1)])
    assert counts(net) == (2, 1, 1)


def test_unit_with_zero_outgoing_weight_splits_activation_regions_only():
    # relu(x1) + relu(x2) + 0 * relu(x1 + x2 - 0.5): the third line crosses three quadrants
    W1 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    net = mlp([W1, np.array([[1.0, 1.0, 0.0]])], [np.array([0.0, 0.0, -0.5]), np.zeros(1)])
    assert counts(net) == (7, 4, 4)


def test_units_that_cancel_across_a_layer():
    # c - e = a - b with c = relu(a - b), e = relu(b - a): the bent line a = b changes the
    # pattern but not the map; the output c - e + 0.5 a
    W1 = np.array([[1.0, 1.0], [1.0, -1.0]])
    b1 = np.array([0.0, 0.2])
    W2 = np.array([[1.0, -1.0], [-1.0, 1.0]])
    net = Network(2, (Layer(Affine({0: W1}, b1), np.zeros(2)),
                      Layer(Affine({1: W2}, np.zeros(2)), np.zeros(2))),
                  Affine({1: np.array([[0.5, 0.0]]), 2: np.array([[1.0, -1.0]])}, np.zeros(1)))
    n, lin, pieces = counts(net)
    exact = linear_regions_2d(net, -1.0, 1.0)
    assert (n, lin, pieces) == exact[:3]
    assert lin < n


def test_maxout_pieces_with_equal_maps():
    # g1 = g2 = max(x1, -x1): both groups switch together, g1 - g2 = 0 everywhere
    W = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    L = MaxLayer(Affine({0: W}, np.zeros(4)), np.array([[0, 1], [2, 3]]))
    net = Network(2, (L,), Affine({1: np.array([[1.0, -1.0]])}, np.zeros(1)))
    assert counts(net) == (2, 1, 1)
    # and with x2 added through a second group, max(x2, 0.5 x2): maps differ again
    W2 = np.vstack([W, [[0.0, 1.0], [0.0, 0.5]]])
    L2 = MaxLayer(Affine({0: W2}, np.zeros(6)), np.array([[0, 1], [2, 3], [4, 5]]))
    net2 = Network(2, (L2,), Affine({1: np.array([[1.0, -1.0, 1.0]])}, np.zeros(1)))
    assert counts(net2) == (4, 2, 2)


@pytest.mark.parametrize("n0,p,depth", [(1, 2, 3), (2, 2, 2), (1, 3, 2)])
def test_folding_nets_have_as_many_linear_as_activation_regions(n0, p, depth):
    n, lin, pieces = counts(montufar_folding(n0, p, depth), (0.0, 1.0))
    assert lin == n
    assert pieces <= lin


@pytest.mark.parametrize("box", [(0.0, 1.0), (-1.0, 1.0)])
def test_folding_repeats_maps_in_separate_linear_regions(box):
    # a fold maps several linear regions onto one affine map: fewer pieces than regions
    net = montufar_folding(2, 2, 2)
    got = counts(net, box)
    assert got == linear_regions_2d(net, *box)[:3]
    assert got[2] < got[1]


def _quantized_net(seed: int) -> Network:
    """A small 2-D net with weights on a 1/4 grid, some zero outgoing weights and a duplicated
    unit, so that equal maps are common."""
    rng = np.random.default_rng(seed)
    W1 = rng.integers(-4, 5, size=(5, 2)) / 4.0
    W1[4] = W1[0]
    b1 = rng.integers(-2, 3, size=5) / 4.0
    b1[4] = b1[0]
    W2 = rng.integers(-2, 3, size=(3, 5)) / 2.0
    W2[:, rng.integers(0, 5)] = 0.0
    b2 = rng.integers(-2, 3, size=3) / 4.0
    W3 = rng.integers(-2, 3, size=(1, 3)) / 2.0
    W3[0, rng.integers(0, 3)] = 0.0
    return mlp([W1, W2, W3], [b1, b2, np.zeros(1)])


@pytest.mark.parametrize("seed", range(12))
def test_random_small_nets_match_the_exact_oracle(seed):
    net = _quantized_net(seed)
    n, lin, pieces, edges = linear_regions_2d(net, -1.0, 1.0)
    problem = prepare(net, (-1.0, 1.0))
    found = []
    r = count(problem, on_region=found.append)
    a = analyze(problem, found, linear=True)
    assert (r.regions, a.linear.linear_regions, a.linear.affine_pieces) == (n, lin, pieces)
    pats = [tuple(tuple(bool(b) for b in layer) for layer in reg.pattern) for reg in found]
    assert {frozenset((pats[i], pats[j])) for i, j in a.graph.edges.tolist()} == edges


def test_leaky_relu_and_certify_agree():
    net = he_mlp(2, [6, 6], 3)
    plain = counts(net)
    certified = counts(net, settings=Settings(certify=True))
    assert plain == certified
    leaky = mlp([np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0]])], [np.zeros(2), np.zeros(1)],
                neg_slope=0.5)
    # leaky slope 0.5: on x > 0 the output is x - 0.5 (-x), on x < 0 it is 0.5 x - (-x): 1.5 x
    assert counts(leaky) == (2, 1, 1)


def test_a_count_stopped_by_a_limit_is_refused():
    from milpregions.errors import InputError

    with pytest.raises(InputError, match="stopped by a limit"):
        count_linear_regions(he_mlp(2, [16, 16], 0), (-1.0, 1.0),
                             settings=Settings(max_regions=3))


@pytest.mark.parametrize("name,box,want", [
    ("montufar_1d_p2_d3", (0.0, 1.0), (8, 8, 8)), ("montufar_2d_p2_d2", (0.0, 1.0), (16, 16, 12)),
    ("zaslavsky_2d_8", (-1.0, 1.0), (37, 37, 37)), ("zaslavsky_3d_6", (-1.0, 1.0), (42, 42, 42)),
    ("serra_1d_3x3", (0.0, 1.0), (16, 16, 16))])
def test_committed_constructions_as_models_readme_says(models_dir, name, box, want):
    assert counts(str(models_dir / f"{name}.onnx"), box) == want
