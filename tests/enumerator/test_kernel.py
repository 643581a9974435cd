"""The compiled vertex path (``enumerator.kernel``) against the Python vertex path: the same
regions, patterns, witnesses' patterns, nodes and dropped cells, on every kind of chain net."""

from __future__ import annotations

import numpy as np
import pytest
from scale_free_nets import mixed_magnitudes, tiny_slope_net

from milpregions.bounds import compute_bounds
from milpregions.enumerator import TreeCounter
from milpregions.enumerator.kernel_pack import compiled_layers
from milpregions.enumerator.layers import build_layers
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import Affine, Layer, Network, mlp
from milpregions.testing import constructions as C


def _both(net: Network, **kw):
    unit = normalize(net, Box.make(-1.0, 1.0, net.input_dim))
    bounds = compute_bounds(unit, "none")
    out = []
    for compiled in (False, True):
        found = []
        counter = TreeCounter(unit, bounds, compiled=compiled,
                              on_region=lambda p, u, r, found=found: found.append(
                                  (np.concatenate([np.asarray(x, np.int64) for x in p]), u)),
                              **kw)
        assert (counter.compiled is not None) == compiled
        out.append((counter.run(), found))
    return out


NETS = [
    ("he_2d_16x16", lambda: C.he_mlp(2, [16, 16], 0)),
    ("he_3d_8x8x8", lambda: C.he_mlp(3, [8, 8, 8], 1)),
    ("he_5d_10", lambda: C.he_mlp(5, [10], 2)),
    ("zaslavsky_3d", lambda: C.general_position_layer(3, 6, seed=0)),
    ("concurrent", lambda: C.concurrent_layer(2, 8, seed=0)),
    ("montufar", lambda: C.montufar_folding(2, 2, 2)),
    ("serra", lambda: C.serra_zigzag([3, 3])),
    ("leaky", lambda: mlp([np.array([[1.0, -0.5], [0.3, 1.0], [-1.0, 0.2]]), np.ones((2, 3)),
                           np.ones((1, 2))], [np.array([0.1, -0.2, 0.05]), np.array([0.3, -0.1]),
                                              np.zeros(1)], neg_slope=0.1)),
    ("abs_like", lambda: mlp([np.array([[1.0, 0.0], [0.0, 1.0]]), np.ones((1, 2))],
                             [np.array([0.2, -0.3]), np.zeros(1)], neg_slope=-1.0)),
    ("duplicates", lambda: mlp([np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [1.0, -1.0]]),
                                np.ones((1, 4))], [np.array([0.1, 0.1, 0.2, 0.0]), np.zeros(1)])),
    ("tiny_slope", tiny_slope_net),
    ("mixed", lambda: mixed_magnitudes(3)),
    ("all_stable", lambda: C.all_stable(3, [4, 4], 0)),
]


@pytest.mark.parametrize("name,make", NETS, ids=[n for n, _ in NETS])
def test_compiled_walk_equals_the_python_vertex_path(name, make):
    (py, fp), (cc, fc) = _both(make())
    assert cc.regions == py.regions and cc.exact and py.exact
    assert cc.nodes == py.nodes
    assert (cc.thin_dropped, cc.near_margin) == (py.thin_dropped, py.near_margin)
    assert [p.tolist() for p, _ in fc] == [p.tolist() for p, _ in fp]     # same order too
    assert np.allclose(np.array([u for _, u in fc]), np.array([u for _, u in fp]))


def test_a_slab_near_the_margin_goes_through_the_own_rows_check():
    # a slab of inradius 5e-9 with margin 1e-9: near the margin, so the leaf is certified on
    # the region's rows rebuilt from its pattern (the compiled walk hands it back)
    net = mlp([np.eye(2)[[0, 0]], np.ones((1, 2))], [np.array([0.0, -1e-8]), np.zeros(1)])
    (py, _), (cc, _) = _both(net, margin=1e-9)
    assert py.regions == cc.regions == 3 and cc.near_margin == py.near_margin == 1
    (py, _), (cc, _) = _both(net, margin=1e-8)
    assert py.regions == cc.regions == 2 and cc.thin_dropped == py.thin_dropped


def sliver_lines() -> Network:
    """x = 0.3 and x = 0.3 + 5e-11 (a slab thinner than the vertex tolerance 1e-10 and the
    margin), crossed by y = -0.1: 6 regions in [-1, 1]^2, 2 of them inside the slab."""
    W = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    return mlp([W, np.ones((1, 3))], [np.array([-0.3, -0.3 - 5e-11, 0.1]), np.zeros(1)])


def test_a_sliver_thinner_than_the_vertex_tolerance_is_reported_not_silently_lost():
    # the unit x = 0.3 + 5e-11 is settled on the cell x > 0.3 (every vertex within 1e-10 of
    # its plus side); the vertex at -5e-11 is beyond rounding, so the slab left out is a
    # dropped cell, on both walks alike (it was dropped silently: 4 regions, nothing dropped)
    (py, _), (cc, _) = _both(sliver_lines())
    assert py.regions == cc.regions == 4
    assert py.thin_dropped == cc.thin_dropped == 1
    assert py.thickest_dropped == cc.thickest_dropped == pytest.approx(5e-11, rel=1e-3)


def test_region_and_time_limits_stop_the_compiled_walk():
    net = C.he_mlp(3, [16, 16], 0)
    unit = normalize(net, Box.make(-1.0, 1.0, 3))
    bounds = compute_bounds(unit, "none")
    res = TreeCounter(unit, bounds, max_regions=100, compiled=True).run()
    assert res.regions == 100 and res.stopped == "max-regions" and not res.exact
    res = TreeCounter(unit, bounds, time_limit=1e-6, compiled=True).run()
    assert res.stopped == "time-limit" and res.regions < 3524
    calls = []
    res = TreeCounter(unit, bounds, progress=lambda *a: calls.append(a), compiled=True).run()
    assert res.regions == 3524 and calls and calls[-1][0] <= 3524


def test_which_networks_take_the_compiled_walk(models_dir):
    from milpregions.onnx import load_onnx

    def takes(net):
        return compiled_layers(build_layers(net, compute_bounds(net, "none"))) is not None

    assert takes(C.he_mlp(2, [4, 4], 0))
    assert not takes(load_onnx(models_dir / "maxout_mlp.onnx"))      # max groups
    L = Layer(Affine({0: np.eye(2)}, np.zeros(2)), np.zeros(2))
    skip = Layer(Affine({0: np.eye(2), 1: np.eye(2)}, np.zeros(2)), np.zeros(2))
    assert not takes(Network(2, (L, skip), Affine({2: np.ones((1, 2))}, np.zeros(1))))


def test_the_compiled_witness_check_agrees_with_the_numpy_one():
    from milpregions.enumerator import kernel
    from milpregions.errors import CertificateError
    from milpregions.ir.pattern import verify_patterns

    net = normalize(C.he_mlp(3, [8, 8], 0), Box.make(-1.0, 1.0, 3))
    bounds = compute_bounds(net, "none")
    pack = compiled_layers(build_layers(net, bounds))
    U = np.random.default_rng(0).uniform(-1, 1, size=(500, 3))
    P = np.concatenate(net.pattern(U), axis=1).astype(np.int16)
    verify_patterns(net, U, P)                      # the numpy check accepts them
    assert kernel.verify(pack, U, P)
    bad = P.copy()
    bad[123, 5] ^= 1
    assert not kernel.verify(pack, U, bad)
    with pytest.raises(CertificateError):
        verify_patterns(net, U, bad)
    counter = TreeCounter(net, bounds, compiled=True)
    assert counter.leaves.add_block(U, bad, np.ones(U.shape[0]))     # far from the margin
    with pytest.raises(CertificateError, match="witness"):
        counter.leaves.flush()


# ---- the trial: the Python walk first, the compiled one only when the count outgrows it ----


def _counted(unit, bounds, trial_nodes, **kw):
    found = []
    counter = TreeCounter(unit, bounds, on_region=lambda p, u, r: found.append(
        tuple(np.concatenate([np.asarray(x, np.int64) for x in p]).tolist())), **kw)
    assert counter.compiled is not None
    counter.trial_nodes = trial_nodes
    return counter.run(), found


@pytest.mark.parametrize("trial_nodes", [100, 10**6])
def test_a_trial_that_stops_or_finishes_reports_every_region_once(trial_nodes):
    """he_3d_16x16 takes 7,639 nodes: a 100-node trial is dropped and the compiled walk
    counts; a 10^6-node one finishes. Either way: the Python path's count, nodes and regions,
    each region reported exactly once."""
    unit = normalize(C.he_mlp(3, [16, 16], 0), Box.make(-1.0, 1.0, 3))
    bounds = compute_bounds(unit, "none")
    py = TreeCounter(unit, bounds, compiled=False).run()
    res, found = _counted(unit, bounds, trial_nodes)
    assert res.regions == py.regions == 3524 and res.exact and res.nodes == py.nodes == 7639
    assert len(found) == len(set(found)) == 3524


def test_a_trial_ends_on_its_seconds_whatever_its_nodes(monkeypatch):
    """A trial ends after ``TRIAL_SECONDS`` even with nodes to spare (a Python LP node of the
    digits CNN costs ~5 ms: 2,048 of them were 10 s): with 0 s it is dropped at once and the
    compiled walk counts the same regions, each reported once; a tiny count still finishes
    inside the default trial."""
    from milpregions.enumerator import tree

    unit = normalize(C.he_mlp(3, [16, 16], 0), Box.make(-1.0, 1.0, 3))
    bounds = compute_bounds(unit, "none")
    monkeypatch.setattr(tree, "TRIAL_SECONDS", 0.0)
    found: list = []
    counter = TreeCounter(unit, bounds, on_region=lambda p, u, r: found.append(
        tuple(np.concatenate([np.asarray(x, np.int64) for x in p]).tolist())))
    counter.trial_nodes = 10**6
    res = counter.run()
    assert counter.trial_dropped and res.regions == 3524 and res.nodes == 7639
    assert len(found) == len(set(found)) == 3524
    monkeypatch.undo()
    small = normalize(C.he_mlp(2, [8, 8], 0), Box.make(-1.0, 1.0, 2))
    counter = TreeCounter(small, compute_bounds(small, "none"))
    counter.trial_nodes = 10**6
    assert counter.run().regions == 102 and not counter.trial_dropped


def test_a_limit_inside_the_trial_is_the_count_s_limit():
    unit = normalize(C.he_mlp(3, [16, 16], 0), Box.make(-1.0, 1.0, 3))
    bounds = compute_bounds(unit, "none")
    res, found = _counted(unit, bounds, 10**6, max_regions=50)
    assert res.regions == 50 and res.stopped == "max-regions" and len(set(found)) == 50


def test_a_small_count_never_imports_numba_and_a_large_one_does():
    import subprocess
    import sys

    code = """
import sys
from milpregions.api import count_regions
from milpregions.testing.constructions import he_mlp
small = count_regions(he_mlp(2, [8, 8], 0), (-1.0, 1.0)).regions
loaded = "numba" in sys.modules
large = count_regions(he_mlp(4, [16, 16], 0), (-1.0, 1.0))
print(small, loaded, large.regions, large.nodes, "numba" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["102", "False", "25009", "52126", "True"]


def test_warm_up_compiles_the_region_clip_with_the_types_geometry_passes():
    """``kernel.warm_up`` (the test session's start, ``milpregions warm-up``) also compiles
    ``clip_cell``, and the geometry of a region (``geometry.cells.region_cell``) then calls it
    with no new specialisation to compile."""
    from milpregions.enumerator import kernel
    from milpregions.geometry.cells import box_arrays, region_cell

    kernel.warm_up()
    assert len(kernel.clip_cell.signatures) == 1
    cell = region_cell(np.array([[1.0, 0.0, 0.5], [0.0, -1.0, 0.25]]), box_arrays(2))
    assert sorted(map(tuple, cell.vertices.round(12).tolist())) == \
        [(-0.5, -1.0), (-0.5, 0.25), (1.0, -1.0), (1.0, 0.25)]     # x >= -1/2, y <= 1/4
    assert len(kernel.clip_cell.signatures) == 1


def test_the_next_layer_map_is_updated_from_the_last_cell_within_rounding():
    """``kernel._next_map``: the map of layer k + 1 on a sequence of layer-k cells of one node
    (a few bits flipped each time, LeakyReLU slopes) equals the direct product ``W diag(f) A``
    to ~1e-15 of its terms' size; a new node, a cell with many flips and every ``REFRESH``-th
    update give the direct product bit for bit."""
    from milpregions.enumerator import kernel

    rng = np.random.default_rng(7)
    d, n0, n1 = 2, 40, 30
    net = mlp([rng.normal(size=(n0, d)), rng.normal(size=(n1, n0)), rng.normal(size=(1, n1))],
              [rng.normal(size=n0), rng.normal(size=n1), rng.normal(size=1)], neg_slope=0.1)
    unit = normalize(net, Box.make(-1.0, 1.0, d))
    layers = build_layers(unit, compute_bounds(unit, "none"))
    pack = compiled_layers(layers)
    sizes, W_flat, W_off, b_flat, s_flat = pack[:5]
    W1 = W_flat[W_off[1]:W_off[2]].reshape(n1, n0)
    b1 = b_flat[n0:n0 + n1]
    keys = kernel.List()
    for _ in range(2):
        keys.append(np.empty((0, d)))
    memo_f, memo_A, memo_c = np.empty(n0 + n1), np.empty((n0 + n1) * d), np.empty(n0 + n1)
    memo_e, memo_n = np.zeros(n0 + n1), np.full(2, -1, dtype=np.int64)

    def direct(bits, A, c):
        f = np.where(bits > 0, 1.0, 0.1)
        Aout, cout = f[:, None] * A, f * c
        return Aout, cout, W1 @ Aout, W1 @ cout + b1

    A, c = rng.normal(size=(n0, d)), rng.normal(size=n0)
    bits = (rng.random(n0) < 0.5).astype(np.int16)
    updates = 0
    for step in range(60):
        if step == 30:                              # another node of layer 0
            A, c = rng.normal(size=(n0, d)), rng.normal(size=n0)
        flips = 20 if step == 45 else int(rng.integers(1, 4))
        bits[rng.choice(n0, flips, replace=False)] ^= 1
        Aout, cout, A1, c1 = direct(bits, A, c)
        got_A, got_c = kernel._next_map(pack, 0, bits, A, c, Aout, cout, keys, memo_f, memo_A,
                                        memo_c, memo_e, memo_n)
        size = np.abs(W1) @ np.abs(Aout)
        assert np.all(np.abs(got_A - A1) <= 1e-15 * 8 * size)
        assert np.all(np.abs(got_c - c1) <= 1e-15 * 8 * (np.abs(W1) @ np.abs(cout) + abs(b1)))
        if step in (0, 30, 45):
            assert memo_n[1] == 0
        if memo_n[1] == 0:                          # computed whole
            assert np.array_equal(got_A, A1) and np.array_equal(got_c, c1)
        else:
            updates += 1
    assert updates >= 40 and memo_n.max() < kernel.REFRESH


def test_a_cell_with_every_unit_off_gets_the_map_zero_exactly():
    """ReLU: after cells with a few units on, a cell with every unit of the layer off has the
    next layer's map 0 (and the biases) exactly, as the direct product gives it. An update
    would leave a rounding residue there, which the zero-gradient test (relative to the
    cell's outputs, all 0) takes for a unit that splits: on a net whose units all vanish at
    one point, a cone counted twice (tests/ir/test_exact_map.py, the 1e-9 box)."""
    from milpregions.enumerator import kernel

    rng = np.random.default_rng(3)
    d, n0, n1 = 2, 12, 6
    net = mlp([rng.normal(size=(n0, d)), rng.normal(size=(n1, n0)), rng.normal(size=(1, n1))],
              [rng.normal(size=n0), rng.normal(size=n1), rng.normal(size=1)])
    unit = normalize(net, Box.make(-1.0, 1.0, d))
    pack = compiled_layers(build_layers(unit, compute_bounds(unit, "none")))
    W1 = pack[1][pack[2][1]:pack[2][2]].reshape(n1, n0)
    b1 = pack[3][n0:n0 + n1]
    keys = kernel.List()
    for _ in range(2):
        keys.append(np.empty((0, d)))
    memo = (np.empty(n0 + n1), np.empty((n0 + n1) * d), np.empty(n0 + n1), np.zeros(n0 + n1),
            np.full(2, -1, dtype=np.int64))
    A, c = rng.normal(size=(n0, d)), rng.normal(size=n0)
    bits = np.zeros(n0, dtype=np.int16)
    for on in ([3, 5, 9], [3, 5], [5], []):
        bits[:] = 0
        bits[on] = 1
        Aout, cout = bits[:, None] * A, bits * c
        got_A, got_c = kernel._next_map(pack, 0, bits, A, c, Aout, cout, keys, *memo)
        assert np.allclose(got_A, W1 @ Aout, rtol=0, atol=1e-14)
    assert np.array_equal(got_A, np.zeros((n1, d))) and np.array_equal(got_c, b1)
