"""Zero tests that are relative to what they compare: units with tiny but real slopes next to
huge weights, near-identical max pieces, weights from 1e-4 to 1e4, tiny and huge boxes, and
the same nets embedded into 7 inputs (the LP path). Counts from the exact rational oracles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scale_free_nets import (
    mixed_magnitudes,
    near_identical_pieces,
    signed_magnitudes,
    tiny_slope_net,
)

from milpregions.api import count_regions
from milpregions.ir.network import Affine, Layer, MaxLayer, Network, mlp

from exact_oracles import count_1d, count_2d, inradii_2d

PATHS = [pytest.param(6, id="vertex"), pytest.param(0, id="lp")]


def embed(net: Network, extra: int) -> Network:
    """The same network reading ``extra`` more inputs with zero weights: the same regions
    times the extra box, so the same count, on the LP path."""
    layers = []
    for layer in net.layers:
        W = dict(layer.affine.W)
        if 0 in W:
            W[0] = np.hstack([W[0], np.zeros((W[0].shape[0], extra))])
        aff = Affine(W, layer.affine.b)
        layers.append(MaxLayer(aff, layer.groups) if isinstance(layer, MaxLayer)
                      else Layer(aff, layer.neg_slope))
    return Network(net.input_dim + extra, tuple(layers), net.output)


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_tiny_real_slope_next_to_a_huge_weight(vertex_dim):
    net = tiny_slope_net()
    want = count_2d(net, [-1, -1], [1, 1])
    assert want == 8
    assert count_regions(net, (-1, 1), vertex_dim=vertex_dim).regions == want


@pytest.mark.parametrize("vertex_dim", PATHS)
def test_near_identical_max_pieces_are_two_regions(vertex_dim):
    assert count_regions(near_identical_pieces(), (-1, 1), vertex_dim=vertex_dim).regions == 2


@pytest.mark.parametrize("seed", range(12))
def test_weights_from_1e_minus_4_to_1e4(seed):
    net = mixed_magnitudes(seed)
    want = count_2d(net, [-1, -1], [1, 1])
    for vertex_dim in (6, 0):
        res = count_regions(net, (-1, 1), vertex_dim=vertex_dim, time_limit=60)
        assert res.exact and res.regions == want, (vertex_dim, res.regions, want)


@pytest.mark.parametrize("seed", range(4))
def test_embedded_into_7_inputs_lp_path(seed):
    net = mixed_magnitudes(seed)
    want = count_2d(net, [-1, -1], [1, 1])
    res = count_regions(embed(net, 5), (-1, 1), time_limit=60)
    assert res.exact and res.regions == want


@pytest.mark.parametrize("half", [1e-12, 1e-6, 1e6, 1e12])
@pytest.mark.parametrize("vertex_dim", PATHS)
def test_tiny_and_huge_boxes_behave_like_the_unit_box(half, vertex_dim):
    # the Zaslavsky-like 1-D arrangement scaled into a box of half-width ``half`` around 3
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 2.0, size=7)
    t = np.sort(rng.uniform(-0.9, 0.9, size=7))              # breakpoints in [-1, 1]
    W1 = (w / half)[:, None]
    b1 = -w * (3.0 / half + t)
    net = mlp([W1, rng.normal(size=(4, 7)), np.ones((1, 4))], [b1, rng.normal(size=4), np.zeros(1)])
    want = count_1d(net, 3.0 - half, 3.0 + half)
    res = count_regions(net, (3.0 - half, 3.0 + half), vertex_dim=vertex_dim)
    assert res.regions == want


magnitude = st.floats(min_value=-4.0, max_value=4.0, allow_nan=False)


@st.composite
def mixed_nets(draw):
    """Small 2-D ReLU nets whose weights and biases span 1e-4 .. 1e4 (signs and magnitudes drawn
    separately), the first layer cutting the box."""
    widths = [draw(st.integers(1, 4)), draw(st.integers(1, 4))]
    sizes = [2, *widths, 1]
    Ws, bs = [], []
    for a, b in zip(sizes, sizes[1:]):
        Ws.append(signed_magnitudes(draw, (b, a), magnitude))
        bs.append(signed_magnitudes(draw, (b,), magnitude))
    t = np.array(draw(st.lists(st.floats(-0.9, 0.9), min_size=widths[0], max_size=widths[0])))
    bs[0] = t * np.abs(Ws[0]).sum(axis=1)
    return mlp(Ws, bs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_nets())
def test_property_tree_equals_the_exact_oracle_with_mixed_magnitudes(net):
    # every region of the exact oracle thicker than the margin is counted, none thinner; the
    # oracle's float inradii leave a factor of 2 around the margin undecided
    margin = 1e-10
    radii = inradii_2d(net, -1.0, 1.0)
    assert len(radii) == count_2d(net, [-1, -1], [1, 1])
    surely = sum(r > 2 * margin for r in radii.values())
    maybe = sum(r > margin / 2 for r in radii.values())
    for vertex_dim in (6, 0):
        res = count_regions(net, (-1, 1), vertex_dim=vertex_dim, tighten=vertex_dim == 6,
                            margin=margin, time_limit=60, certify=True)
        # the float count (before the exact search added or rejected regions) honours the
        # margin; the certified count is the exact count of the network as stored, no margin
        float_count = res.regions - res.certify_added + res.certify_rejected
        assert res.exact and surely <= float_count <= maybe, (vertex_dim, float_count, radii)
        assert res.certified, res.certify_note
        assert res.regions == len(radii)


@pytest.mark.parametrize("offset", [0.0, 1e-12, 1e-9, 1e-6])
@pytest.mark.parametrize("vertex_dim", PATHS)
def test_hyperplane_offset_from_a_vertex_of_the_arrangement(offset, vertex_dim):
    # x = 0.3 and y = -0.2 meet at (0.3, -0.2); a third line passes ``offset`` from that vertex
    # (0: through it up to float rounding, so the stored net may keep a triangle of inradius
    # ~1e-17): a triangle of inradius ~offset/3.4 that counts iff it is thicker than the margin
    n = np.array([1.0, 1.0]) / np.sqrt(2)
    W1 = np.array([[1.0, 0.0], [0.0, 1.0], n])
    b1 = np.array([-0.3, 0.2, -(n @ [0.3, -0.2]) - offset])
    net = mlp([W1, np.ones((1, 3))], [b1, np.zeros(1)])
    radii = inradii_2d(net, -1.0, 1.0)
    margin = 1e-10
    surely = sum(r > 2 * margin for r in radii.values())
    maybe = sum(r > margin / 2 for r in radii.values())
    assert len(radii) == (7 if offset > 0 else len(radii)) and len(radii) in (6, 7)
    res = count_regions(net, (-1, 1), vertex_dim=vertex_dim, margin=margin)
    assert surely <= res.regions <= maybe
    assert res.regions == (7 if offset >= 1e-9 else 6)
