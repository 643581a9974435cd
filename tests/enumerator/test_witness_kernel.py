"""The compiled float filter of the witness check (``enumerator.witness_kernel``): it settles a
point only where ``ir.pattern.verify_patterns`` settles it in floats, with the same bound."""

from __future__ import annotations

import numpy as np

from milpregions.api import count_regions
from milpregions.enumerator.witness_kernel import (
    chain_arrays,
    general_arrays,
    settled,
    settled_general,
)
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import Affine, Layer, MaxLayer, Network, mlp
from milpregions.ir.pattern import verify_patterns
from milpregions.testing import constructions as C


def chain(second_w, second_b: float) -> Network:
    """As in test_rounding_level: relu(x1 + 2) three times, relu(x2 + 2) -> one unit."""
    W1 = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    L1 = Layer(Affine({0: W1}, np.full(4, 2.0)), np.zeros(4))
    L2 = Layer(Affine({1: np.array([second_w], dtype=np.float64)}, np.array([second_b])),
               np.zeros(1))
    return Network(2, (L1, L2), Affine({2: np.ones((1, 1))}, np.zeros(1)))


def _patterns(net: Network, U: np.ndarray) -> np.ndarray:
    return np.concatenate([p.astype(np.int64) for p in net.pattern(U)], axis=1).astype(np.int16)


def test_it_settles_forward_patterns_and_refuses_a_wrong_bit():
    net = normalize(C.he_mlp(3, [16, 16, 8], 1), Box.make(-1.0, 1.0, 3))
    U = np.random.default_rng(0).uniform(-1, 1, size=(3000, 3))
    P = _patterns(net, U)
    ok = settled(*chain_arrays(net), U, P)
    assert ok.mean() > 0.99
    assert verify_patterns(net, U[~ok], P[~ok]).size == 0
    bad = P.copy()
    bad[17, 20] ^= 1
    got = settled(*chain_arrays(net), U, bad)
    assert not got[17] and got.sum() == ok.sum() - (1 if ok[17] else 0)


def test_it_leaves_units_within_rounding_to_the_exact_check():
    net = chain([0.1, 0.2, -0.3, -2.0 ** -56], 0.0)
    U = np.array([[0.0, 0.0], [0.5, -0.5]])
    P = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=np.int16)
    assert not settled(*chain_arrays(net), U, P).any()
    assert verify_patterns(net, U, P).tolist() == [0, 1]


def test_only_chains_of_dense_two_piece_layers_take_it():
    mx = MaxLayer(Affine({0: np.eye(2)}, np.zeros(2)), np.array([[0, 1]]))
    assert chain_arrays(Network(2, (mx,), Affine({1: np.ones((1, 1))}, np.zeros(1)))) is None
    L = Layer(Affine({0: np.eye(2)}, np.zeros(2)), np.zeros(2))
    skip = Layer(Affine({0: np.eye(2), 1: np.eye(2)}, np.zeros(2)), np.zeros(2))
    assert chain_arrays(Network(2, (L, skip), Affine({2: np.ones((1, 2))}, np.zeros(1)))) is None
    assert chain_arrays(mlp([np.eye(2), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])) is not None


def test_compiled_and_python_counts_agree_on_undecided_regions():
    from milpregions.bounds import compute_bounds
    from milpregions.enumerator import TreeCounter

    for net, want in ((chain([0.1, 0.2, -0.3, -2.0 ** -56], 0.0), (1, 1)),
                      (C.he_mlp(2, [8, 8], 2), None)):
        unit = normalize(net, Box.make(-1.0, 1.0, 2))
        b = compute_bounds(unit, "none")
        a = TreeCounter(unit, b, compiled=True).run()
        p = TreeCounter(unit, b, compiled=False).run()
        assert (a.regions, a.undecided) == (p.regions, p.undecided)
        if want is not None:
            assert (a.regions, a.undecided) == want
    r = count_regions(C.he_mlp(2, [8, 8], 2), certify=True)
    assert r.certified and r.regions == a.regions and a.undecided == 0


def _general(net: Network, U: np.ndarray, P: np.ndarray) -> np.ndarray:
    return settled_general(*general_arrays(net), np.ascontiguousarray(U), P)


def test_the_general_filter_answers_as_the_chain_filter_on_a_chain():
    net = normalize(C.he_mlp(3, [16, 16, 8], 1), Box.make(-1.0, 1.0, 3))
    U = np.random.default_rng(1).uniform(-1, 1, size=(2000, 3))
    P = _patterns(net, U)
    P[::7, 5] ^= 1
    want = settled(*chain_arrays(net), U, P)
    assert 0.5 < want.mean() < 1.0
    assert np.array_equal(_general(net, U, P), want)


def _group_patterns(net: Network, U: np.ndarray) -> np.ndarray:
    return np.concatenate([p.astype(np.int64) for p in net.pattern(U)], axis=1).astype(np.int16)


def test_max_groups_skips_and_sparse_weights_settle_their_forward_patterns():
    from pathlib import Path

    from milpregions.onnx import load_onnx

    models = Path(__file__).resolve().parents[2] / "models"
    img = np.load(models / "digits_test_image.npy").ravel()
    cnn = load_onnx(models / "digits_cnn.onnx")
    nets = [normalize(cnn, Box.make(img - 0.1, img + 0.1, 64)),
            normalize(C.tseran_maxout(), Box.make(-3.0, 3.0, 2))]
    L1 = Layer(Affine({0: np.array([[1.0, -0.5], [0.3, 1.0], [0.7, 0.2]])},
                      np.array([0.1, -0.2, 0.05])), np.array([0.0, 0.01, 0.0]))
    L2 = MaxLayer(Affine({0: np.array([[0.5, 1.0], [1.0, -1.0]]), 1: np.eye(2, 3)},
                         np.array([0.0, 0.1])), np.array([[0, 1]]))
    nets.append(Network(2, (L1, L2), Affine({2: np.ones((1, 1)), 0: np.ones((1, 2))},
                                            np.zeros(1))))
    for net in nets:
        assert chain_arrays(net) is None
        d = net.input_dim
        U = np.random.default_rng(d).uniform(-1, 1, size=(1500, d))
        P = _group_patterns(net, U)
        ok = _general(net, U, P)
        assert ok.mean() > 0.97
        assert verify_patterns(net, U[~ok], P[~ok]).size == 0
        cols = [0, P.shape[1] - 1]
        for col in cols:                     # a unit's bit, or a group's piece, changed
            bad = P.copy()
            bad[:, col] = 1 - bad[:, col] if bad[:, col].max() <= 1 else (bad[:, col] + 1) % 2
            got = _general(net, U, bad)
            changed = bad[:, col] != P[:, col]
            assert not got[changed & ok].any()


def test_a_max_group_within_rounding_goes_to_the_exact_check():
    # pieces x1 and x1 + 2^-56 x2: their difference is below the rounding level of the sum
    mx = MaxLayer(Affine({0: np.array([[1.0, 0.0], [1.0, 2.0 ** -56]])}, np.zeros(2)),
                  np.array([[0, 1]]))
    net = Network(2, (mx,), Affine({1: np.ones((1, 1))}, np.zeros(1)))
    U = np.array([[0.5, 0.5], [0.5, -0.5]])
    P = np.array([[1], [0]], dtype=np.int16)
    assert not _general(net, U, P).any()
    assert verify_patterns(net, U, P).tolist() == [0, 1]


def test_warm_up_compiles_the_filters_with_the_types_a_count_passes():
    """``warm_up`` (the test session's start, ``milpregions warm-up``) compiles or loads both
    filters, and counts with the compiled walk of a chain (``settled``) and of a maxout net
    (``settled_general``) then call them with no new specialisation to compile."""
    from milpregions.bounds import compute_bounds
    from milpregions.enumerator import TreeCounter, witness_kernel

    witness_kernel.warm_up()
    assert witness_kernel.cache_is_warm()
    assert [len(f.signatures) for f in (settled, settled_general)] == [1, 1]
    for net, half, want in ((C.he_mlp(2, [8, 8], 2), 1.0, 164), (C.tseran_maxout(), 3.0, 216)):
        unit = normalize(net, Box.make(-half, half, 2))
        assert TreeCounter(unit, compute_bounds(unit, "none"), compiled=True).run().regions == want
    assert [len(f.signatures) for f in (settled, settled_general)] == [1, 1]


def test_a_unit_that_reads_only_small_inputs_is_settled_by_its_own_magnitude():
    """The filter first bounds a unit's terms by (sum |w|) x (largest input); where that is too
    coarse to settle it (an input of 1e15 the unit does not read, its value 1) it takes the
    terms' own magnitude, as before; a value within rounding of them is still left alone."""
    for w, b, want in (([0.0, 1.0], 0.0, True), ([0.0, 1.0], -1.0 + 2.0 ** -52, False)):
        layer = Layer(Affine({0: np.array([w])}, np.array([b])), np.zeros(1))
        net = Network(2, (layer,), Affine({1: np.ones((1, 1))}, np.zeros(1)))
        U = np.array([[1e15, 1.0]])
        P = np.array([[1]], dtype=np.int16)
        assert settled(*chain_arrays(net), U, P).tolist() == [want]
        assert verify_patterns(net, U, P).tolist() == ([] if want else [0])
