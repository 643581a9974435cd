"""``ir.domain.Polytope.gate``: the gated network computes the same output, its pattern is the
gates' bits (``b - A x > 0``) followed by the network's own, and sources shift past the gates
(a residual network keeps reading what it read)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from milpregions import prepare
from milpregions.ir.domain import Box, Polytope

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_gate_keeps_the_output_and_prepends_the_rows_bits():
    for name, dim in (("residual_mlp.onnx", 4), ("maxout_mlp.onnx", 2)):
        net = prepare(MODELS / name, (-1.0, 1.0)).network
        rng = np.random.default_rng(0)
        A, b = rng.normal(size=(5, dim)), rng.normal(size=5)
        P = Polytope.make(A, b, Box.make(-1.0, 1.0, dim))
        gated = P.gate(net)
        assert len(gated.layers) == 5 + len(net.layers) and P.gates == 5
        X = rng.uniform(-1, 1, (200, dim))
        assert np.array_equal(gated.forward(X), net.forward(X))
        pats, own = gated.pattern(X), net.pattern(X)
        gates = np.concatenate(pats[:5], axis=1)
        assert np.array_equal(gates, b[None, :] - X @ A.T > 0)
        assert np.array_equal(gates.all(axis=1), P.contains(X))
        for p, q in zip(pats[5:], own):
            assert np.array_equal(p, q)
