"""The certificate check (``ir.pattern.verify_patterns``): floats with a proven rounding bound,
exact dyadic arithmetic where the bound does not separate a unit from zero."""

from __future__ import annotations

import numpy as np
import pytest

from milpregions.errors import CertificateError
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import Affine, Layer, MaxLayer, Network, mlp
from milpregions.ir.pattern import verify_patterns
from milpregions.testing import constructions as C


def flat(net: Network, U: np.ndarray) -> np.ndarray:
    return np.concatenate([p.astype(np.int64) for p in net.pattern(U)], axis=1)


def test_forward_patterns_of_random_points_are_proven():
    net = normalize(C.he_mlp(3, [16, 16, 8], 0), Box.make(-1.0, 1.0, 3))
    U = np.random.default_rng(0).uniform(-1, 1, size=(2000, 3))
    assert verify_patterns(net, U, flat(net, U)).size == 0


def test_a_bit_wrong_beyond_rounding_raises():
    net = normalize(C.he_mlp(3, [16, 16], 0), Box.make(-1.0, 1.0, 3))
    U = np.random.default_rng(1).uniform(-1, 1, size=(50, 3))
    P = flat(net, U)
    z = net.preactivations(U)[0]
    i, j = np.unravel_index(np.argmax(np.abs(z)), z.shape)
    P[i, j] ^= 1
    with pytest.raises(CertificateError, match=f"layer 1 unit {j}"):
        verify_patterns(net, U, P)


def test_a_witness_on_a_hyperplane_is_undecided_either_way():
    # z = x1 - x2 is exactly 0 at (0.25, 0.25), and not constant
    net = mlp([np.array([[1.0, -1.0]]), np.ones((1, 1))], [np.zeros(1), np.zeros(1)])
    U = np.array([[0.25, 0.25], [0.25, 0.25], [0.5, 0.25]])
    got = verify_patterns(net, U, np.array([[1], [0], [1]]))
    assert got.tolist() == [0, 1]


def test_units_zero_on_the_region_may_go_either_way():
    # unit 2 of layer 2 reads only unit 1 of layer 1, which is off for x < 0: it is 0 on the
    # region; a unit with no weights and no bias is 0 everywhere
    W1 = np.array([[1.0], [-1.0]])
    W2 = np.array([[2.0, 0.0], [0.0, 0.0]])
    net = mlp([W1, W2, np.ones((1, 2))], [np.zeros(2), np.zeros(2), np.zeros(1)])
    U = np.array([[-0.5], [-0.5], [-0.5], [-0.5]])
    P = np.array([[0, 1, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1], [0, 1, 1, 1]])
    assert verify_patterns(net, U, P).size == 0


def test_a_constant_below_rounding_is_decided_exactly():
    # layer 2: h1 - h2 + c with h1 = h2 on the box: the constant c alone decides the sign
    net = Network(1, (
        Layer(Affine({0: np.array([[1.0], [1.0]])}, np.array([2.0, 2.0])), np.zeros(2)),
        Layer(Affine({1: np.array([[1.0, -1.0], [1.0, -1.0]])},
                     np.array([2.0 ** -1000, -(2.0 ** -1000)])), np.zeros(2))),
        Affine({2: np.ones((1, 2))}, np.zeros(1)))
    U = np.array([[0.3], [0.3]])
    got = verify_patterns(net, U, np.array([[1, 1, 1, 0], [1, 1, 0, 1]]))
    assert got.tolist() == [1]                    # the right signs are proven; the wrong not


def test_a_rounding_level_slope_is_undecided():
    # 0.1 + 0.2 - 0.3 is 2^-55 as stored: a slope, which may split the region
    net = mlp([np.ones((3, 1)), [[0.1, 0.2, -0.3]], [[1.0]]], [np.zeros(3), [0.0], [0.0]])
    U = np.array([[0.5], [0.5]])
    assert verify_patterns(net, U, np.array([[1, 1, 1, 1], [1, 1, 1, 0]])).tolist() == [0, 1]


def test_max_pieces_identical_on_the_region_the_first_wins():
    # pieces z0 = x and z1 = x are identical: piece 0 wins; z2 = -x loses for x > 0
    mx = MaxLayer(Affine({0: np.array([[1.0], [1.0], [-1.0]])}, np.zeros(3)),
                  np.array([[0, 1, 2]]))
    net = Network(1, (mx,), Affine({1: np.ones((1, 1))}, np.zeros(1)))
    U = np.array([[0.5], [0.5]])
    assert verify_patterns(net, U, np.array([[0], [1]])).tolist() == [1]
    with pytest.raises(CertificateError, match="the maximum is piece"):
        verify_patterns(net, U[:1], np.array([[2]]))


def test_max_pieces_over_relus_that_are_off_are_decided_without_the_exact_check(monkeypatch):
    """MaxPool over ReLUs that are off on the region: its pieces are all identically 0 there,
    so the first piece wins the tie and the float check decides it (a CNN's every region went
    through the exact forward pass before, 25x the count's time); a pattern naming a later
    tied piece still goes to the exact check."""
    import milpregions.ir.pattern as P

    W1 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    relu = Layer(Affine({0: W1}, np.array([-5.0, -5.0, -5.0])), np.zeros(3))
    pool = MaxLayer(Affine({1: np.eye(3)}, np.zeros(3)), np.array([[0, 1, 2]]))
    net = Network(2, (relu, pool), Affine({2: np.ones((1, 1))}, np.zeros(1)))
    U = np.array([[0.1, -0.2], [0.3, 0.4]])
    calls = []
    real = P.exact_witness_error
    monkeypatch.setattr(P, "exact_witness_error",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    first = np.array([[0, 0, 0, 0], [0, 0, 0, 0]], dtype=np.int16)     # units off, piece 0
    assert P.verify_patterns(net, U, first).size == 0 and not calls
    later = np.array([[0, 0, 0, 2]], dtype=np.int16)                   # piece 2 of a tie
    P.verify_patterns(net, U[:1], later)
    assert calls
