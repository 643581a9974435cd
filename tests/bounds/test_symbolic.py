"""Tests of bounds.symbolic: back-substitution bounds are sound, never looser than interval
bounds, tighter where correlations matter (hand-computed), and what ``compute_bounds`` builds
on; the LP tightening of the tree ("near-stable") sits between them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scale_free_nets import mixed_magnitudes, signed_magnitudes
from test_bounds import (
    MAX_NETS,
    NETS,
    _tiny_weight_net,
    assert_sound,
    assert_sound_max,
    random_mlp,
    sparse_copy,
    total_width,
)

from milpregions.bounds import compute_bounds, interval_bounds, lp_tighten, symbolic_bounds
from milpregions.ir.network import Affine, Layer, Network, mlp
from milpregions.testing.constructions import he_mlp


def never_looser(tight, loose) -> None:
    for k in range(len(loose.lo)):
        assert np.all(tight.lo[k] >= loose.lo[k]) and np.all(tight.hi[k] <= loose.hi[k])


@pytest.mark.parametrize("name", sorted(NETS))
def test_symbolic_bounds_sound_and_never_looser(name):
    net = NETS[name]()
    ib = interval_bounds(net)
    sb = symbolic_bounds(net, ib)
    assert_sound(net, sb)
    never_looser(sb, ib)


@pytest.mark.parametrize("name", sorted(MAX_NETS))
def test_symbolic_bounds_sound_on_max_layers(name):
    net = MAX_NETS[name]()
    ib = interval_bounds(net)
    sb = symbolic_bounds(net, ib)
    assert_sound_max(net, sb)
    never_looser(sb, ib)


def test_hand_computed_absolute_value():
    """z2 = relu(x) + relu(-x) = |x| on [-1, 1]: intervals give [0, 2]; the chords
    (x + 1)/2 and (1 - x)/2 sum to 1, and the lower lines x and -x sum to 0: [0, 1]."""
    net = mlp([np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]]), np.ones((1, 1))],
              [np.zeros(2), np.zeros(1), np.zeros(1)])
    ib = interval_bounds(net)
    sb = symbolic_bounds(net, ib)
    assert ib.hi[1][0] == pytest.approx(2.0, rel=1e-8)
    assert sb.hi[1][0] == pytest.approx(1.0, rel=1e-8) and sb.hi[1][0] >= 1.0
    assert sb.lo[1][0] == pytest.approx(0.0, abs=1e-8) and sb.lo[1][0] <= 0.0


def test_hand_computed_concave_slope():
    """h = x if x > 0 else 2x (slope 2: concave) on [-1, 1], then z2 = h - 1.5x (true range
    [-0.5, 0]). Above h: the line x (u = -l: slope 1); below it: the chord through (-1, -2) and
    (1, 1), 1.5x - 0.5. So z2 lies in [-0.5, 0.5]; intervals give [-2, 1] + [-1.5, 1.5]."""
    l1 = Layer(Affine({0: np.array([[1.0]])}, np.zeros(1)), np.array([2.0]))
    l2 = Layer(Affine({1: np.array([[1.0]]), 0: np.array([[-1.5]])}, np.zeros(1)), np.zeros(1))
    net = Network(1, (l1, l2), Affine({2: np.ones((1, 1))}, np.zeros(1)))
    ib = interval_bounds(net)
    sb = symbolic_bounds(net, ib)
    assert (ib.lo[1][0], ib.hi[1][0]) == pytest.approx((-3.5, 2.5), rel=1e-8)
    assert (sb.lo[1][0], sb.hi[1][0]) == pytest.approx((-0.5, 0.5), rel=1e-8)
    assert_sound(net, sb)


def test_symbolic_bounds_much_tighter_on_a_deep_net():
    """A 6-layer width-16 He net: the last layer's total width shrinks by more than half."""
    net = he_mlp(2, [16] * 6, 0)
    ib = interval_bounds(net)
    sb = symbolic_bounds(net, ib)
    assert_sound(net, sb)
    last = len(net.layers) - 1
    assert (sb.hi[last] - sb.lo[last]).sum() < 0.5 * (ib.hi[last] - ib.lo[last]).sum()


@pytest.mark.parametrize("name", ["relu", "residual", "maxout", "pool"])
def test_sparse_weights_give_the_same_symbolic_bounds(name):
    net = {**NETS, **MAX_NETS}[name]()
    b = symbolic_bounds(net, interval_bounds(net))
    snet = sparse_copy(net)
    sb = symbolic_bounds(snet, interval_bounds(snet))
    for k in range(len(b.lo)):
        np.testing.assert_allclose(sb.lo[k], b.lo[k], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(sb.hi[k], b.hi[k], rtol=1e-12, atol=1e-12)


def test_too_large_keeps_the_given_bounds():
    net = NETS["relu"]()
    ib = interval_bounds(net)
    sb = symbolic_bounds(net, ib, max_entries=0)
    assert all(a is b for a, b in zip(sb.lo, ib.lo)) and all(a is b for a, b in zip(sb.hi, ib.hi))


@pytest.mark.parametrize("seed", range(8))
def test_symbolic_bounds_sound_with_weights_from_1e_minus_4_to_1e4(seed):
    net = mixed_magnitudes(seed, 2, (8, 8, 6))
    sb = symbolic_bounds(net, interval_bounds(net))
    assert_sound(net, sb, seed=seed)


def test_symbolic_bounds_sound_when_a_tiny_weight_reads_a_huge_activation():
    net = _tiny_weight_net()
    sb = symbolic_bounds(net, interval_bounds(net))
    assert_sound(net, sb)
    assert sb.hi[1][0] >= 2.5e-4 and sb.unstable(1)[0]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_symbolic_bounds_sound_on_signed_magnitudes(data):
    """Entries +-10^e for e in -4..4, biases too: the float error bound must cover cancellation."""
    exps = st.integers(-4, 4)
    sizes = [2, 5, 4, 3]
    Ws = [signed_magnitudes(data.draw, (b, a), exps) for a, b in zip(sizes, sizes[1:])]
    bs = [signed_magnitudes(data.draw, (b,), exps) for b in sizes[1:]]
    net = mlp(Ws + [np.ones((1, sizes[-1]))], bs + [np.zeros(1)])
    sb = symbolic_bounds(net, interval_bounds(net))
    assert_sound(net, sb)
    never_looser(sb, interval_bounds(net))


def test_compute_bounds_modes_nest():
    """none (interval + symbolic) contains near-stable, which contains all (every LP)."""
    net = random_mlp(3, [10, 10, 8], seed=5)
    none, near, full = (compute_bounds(net, m) for m in ("none", "near-stable", "all"))
    for b in (none, near, full):
        assert_sound(net, b)
    never_looser(near, none)
    never_looser(full, near)
    assert none.lps == 0 and near.lps <= full.lps and full.lps > 0
    assert total_width(full) < total_width(none)
    never_looser(none, interval_bounds(net))
    full_from_interval = lp_tighten(net, interval_bounds(net))
    assert full.n_unstable <= full_from_interval.n_unstable
    with pytest.raises(ValueError, match="lp must be"):
        compute_bounds(net, "some")
