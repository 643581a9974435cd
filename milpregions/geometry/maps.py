"""Linear regions and affine pieces: activation regions grouped by their output maps.

- a **linear region** is a connected component of the region graph restricted to edges whose
  two regions have the same output map (a maximal connected open set on which the network is
  one affine map);
- an **affine piece** is a distinct output map, counted once however many linear regions
  carry it.

Two maps are compared in floats with a proven bound on their rounding (``forms``): beyond it
they differ; within it the exact maps of the network as stored decide (``certify.exact``), so
no equality is ever guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..problem import Problem
from .forms import error_factor, region_forms
from .graph import RegionGraph


@dataclass(frozen=True)
class OutputMaps:
    """Per region its output map in normalised coordinates, ``maps[i]`` (m, d+1) rows
    [g, c], and a bound ``bounds[i]`` (same shape) on the rounding error of each entry."""

    maps: np.ndarray
    bounds: np.ndarray


@dataclass(frozen=True)
class LinearRegions:
    """The three counts, and per region the index of its linear region and affine piece;
    ``exact_comparisons``: map comparisons the floats could not settle."""

    regions: int
    linear_regions: int
    affine_pieces: int
    linear_id: np.ndarray
    piece_id: np.ndarray
    exact_comparisons: int


class _MapComparer:
    """Equality of two regions' output maps: floats first, exact integers when they are close."""

    def __init__(self, problem: Problem, patterns, maps: OutputMaps):
        self.problem, self.patterns, self.maps = problem, patterns, maps
        self.xn = None
        self.exact: dict[int, object] = {}
        self.comparisons = 0

    def _form(self, i: int):
        from ..certify import exact_network, output_form

        if self.xn is None:
            self.xn = exact_network(self.problem)
        if i not in self.exact:
            self.exact[i] = output_form(self.xn, self.patterns[i])
        return self.exact[i]

    def equal_pairs(self, pairs: np.ndarray) -> np.ndarray:
        """Per pair (k, 2) of regions: are their maps equal? Floats rule out what differs
        beyond the bounds; the rest is decided exactly."""
        M, B = self.maps.maps, self.maps.bounds
        out = np.zeros(len(pairs), dtype=bool)
        if not len(pairs):
            return out
        i, j = pairs[:, 0], pairs[:, 1]
        differ = (np.abs(M[i] - M[j]) > B[i] + B[j]).reshape(len(pairs), -1).any(axis=1)
        from ..certify import same_form

        for t in np.flatnonzero(~differ):
            self.comparisons += 1
            out[t] = same_form(self._form(int(i[t])), self._form(int(j[t])))
        return out


class _UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        p = self.parent
        root = i
        while p[root] != root:
            root = p[root]
        while p[i] != root:
            p[i], i = root, p[i]
        return int(root)

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def labels(self) -> tuple[int, np.ndarray]:
        roots = np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)
        _, lab = np.unique(roots, return_inverse=True)
        return int(lab.max() + 1) if lab.size else 0, lab


def _close_pairs(maps: OutputMaps) -> np.ndarray:
    """Every pair of regions whose maps may be equal (within the sum of their bounds)."""
    n = maps.maps.shape[0]
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    from scipy.spatial import cKDTree

    X = maps.maps.reshape(n, -1)
    r = 2.0 * float(maps.bounds.max())
    return cKDTree(X).query_pairs(r, p=np.inf, output_type="ndarray").reshape(-1, 2)


def linear_regions(problem: Problem, patterns: Sequence[list[np.ndarray]], graph: RegionGraph,
                   maps: OutputMaps | None = None) -> LinearRegions:
    """Linear regions (components of the equal-map subgraph) and affine pieces."""
    n = len(patterns)
    if maps is None:
        f = region_forms(problem.unit_net, patterns)
        maps = OutputMaps(f.out, error_factor(problem.unit_net) * f.out_mag)
    cmp = _MapComparer(problem, patterns, maps)
    lin = _UnionFind(n)
    for i, j in graph.edges[cmp.equal_pairs(graph.edges)].tolist():
        lin.union(i, j)
    n_lin, lin_id = lin.labels()
    pieces = _UnionFind(n)
    for i, j in graph.edges.tolist():          # equal maps across an edge are known already
        if lin.find(i) == lin.find(j):
            pieces.union(i, j)
    close = _close_pairs(maps)
    close = close[[pieces.find(i) != pieces.find(j) for i, j in close.tolist()]] \
        if len(close) else close
    for i, j in close[cmp.equal_pairs(close)].tolist():
        pieces.union(i, j)
    n_pieces, piece_id = pieces.labels()
    return LinearRegions(n, n_lin, n_pieces, lin_id, piece_id, cmp.comparisons)
