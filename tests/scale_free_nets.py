"""Networks built to break weight-scaled tolerances (shared by the tree, MILP and certify
tests): a tiny real slope next to a huge weight, near-identical max pieces, weights 1e-4..1e4."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from milpregions.ir.network import Affine, MaxLayer, Network, mlp


def tiny_slope_net() -> Network:
    """On x0 in (0, 0.9) unit A = relu(x0 - 0.9) is off, and the layer-2 unit reads it with
    weight 1e4 next to 1e-8 * relu(x0): its pre-activation there is 1e-8 x0 - 5e-9, a real
    split at x0 = 0.5 that a zero test relative to |w| |A| took for a constant."""
    W1 = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    b1 = np.array([-0.9, 0.0, 0.0])
    return mlp([W1, np.array([[1e4, 1e-8, 0.0]]), np.ones((1, 1))],
               [b1, np.array([-5e-9]), np.zeros(1)])


def near_identical_pieces() -> Network:
    """max(1e5 x + 1e-7 y, 1e5 x - 1e-7 y): the pieces differ by 2e-7 y, two regions."""
    L = MaxLayer(Affine({0: np.array([[1e5, 1e-7], [1e5, -1e-7]])}, np.zeros(2)), np.array([[0, 1]]))
    return Network(2, (L,), Affine({1: np.ones((1, 1))}, np.zeros(1)))


def mixed_magnitudes(seed: int, n0: int = 2, widths=(6, 5)) -> Network:
    rng = np.random.default_rng(seed)
    sizes = [n0, *widths, 1]
    Ws = [rng.normal(size=(b, a)) * 10.0 ** rng.uniform(-4, 4, size=(b, a))
          for a, b in zip(sizes, sizes[1:])]
    bs = [rng.normal(size=b) * 10.0 ** rng.uniform(-4, 4, size=b) for b in sizes[1:]]
    bs[0] = rng.uniform(-0.9, 0.9, size=sizes[1]) * np.abs(Ws[0]).sum(axis=1)  # cut the box
    return mlp(Ws, bs)


def signed_magnitudes(draw, shape, exponents) -> np.ndarray:
    """A hypothesis draw: an array of ``shape`` with entries +-10^e, e from ``exponents`` (signs
    and exponents drawn separately, exponents first)."""
    n = int(np.prod(shape))
    e = np.array(draw(st.lists(exponents, min_size=n, max_size=n))).reshape(shape)
    sgn = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n,
                                 max_size=n))).reshape(shape)
    return sgn * 10.0 ** e
