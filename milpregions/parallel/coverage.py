"""How much of the domain the finished subtrees cover: the volume of each layer-1 cell as a
fraction of the box, exact from its vertices (a convex hull) on the vertex path up to
``EXACT_DIM`` inputs, else estimated from uniform sample points (a hull in 6-D takes ~8 ms,
and there are thousands of cells). Progress shows the covered fraction and an ETA."""

from __future__ import annotations

import numpy as np

from ..ir.network import Network

SAMPLES = 1 << 14           # points for the estimate (standard error <= 0.4%)
EXACT_DIM = 4               # hulls up to here (~0.25 ms per cell in 4-D)


def cell_fractions(split, net: Network, seed: int = 0) -> np.ndarray:
    """Per cell of ``split`` (``TreeCounter.split``), its volume over the box's: from its
    vertices where the split has them (and d <= ``EXACT_DIM``), else the share of ``SAMPLES``
    uniform points of [-1, 1]^d whose layer-1 pattern is the cell's."""
    d = net.input_dim
    vertices = split.vertices() if d <= EXACT_DIM else None
    if vertices is not None:
        return np.array([_volume(V) for V in vertices]) / 2.0 ** d
    return sampled_fractions(split.patterns(), net, seed)


def sampled_fractions(patterns: list[np.ndarray], net: Network, seed: int = 0) -> np.ndarray:
    """Per layer-1 pattern, the share of ``SAMPLES`` uniform points of [-1, 1]^d that have it."""
    d = net.input_dim
    index = {p.astype(np.int8).tobytes(): i for i, p in enumerate(patterns)}
    U = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(SAMPLES, d))
    bits = np.asarray(net.pattern(U)[0], dtype=np.int8)
    counts = np.zeros(len(patterns))
    for row in bits:
        i = index.get(row.tobytes())
        if i is not None:
            counts[i] += 1
    return counts / SAMPLES


def _volume(V: np.ndarray) -> float:
    """The volume of the convex hull of the points V (one per row)."""
    if V.shape[1] == 1:
        return float(V.max() - V.min())
    from scipy.spatial import ConvexHull

    return float(ConvexHull(V).volume)
