"""The region graph: activation regions adjacent through a (d-1)-dimensional face.

Beyond the relative interior of a facet of a region lies exactly one region (the facet is the
whole common face; ``certify.adjacency``), so the edges come from the facets, never from a
search over pairs: per facet, the pattern beyond it (``beyond``) names the neighbour. Each
edge is found from both of its regions, and that symmetry is checked.

Up to ``vertex_dim`` inputs the facets are the region's vertex-form facets (``cells``) and
the pattern beyond is read in floats; a facet whose numbers are close to a tolerance, a
neighbour that was not counted or an edge seen from one side only sends the region to the
exact facet search of ``certify`` (integers, no tolerance), which also does every region
above ``vertex_dim`` and, with ``exact=True``, all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import CertificateError
from ..ir.pattern import concat_pattern
from ..problem import Problem
from .beyond import FacetBatch, patterns_beyond
from .cells import RegionCell

CHUNK = 4096   # facets per batch of the float pass


@dataclass(frozen=True)
class RegionGraph:
    """``edges`` (E, 2), i < j, indices into the regions; ``exact_regions``: how many regions
    had their facets followed exactly."""

    regions: int
    edges: np.ndarray
    exact_regions: int

    def degrees(self) -> np.ndarray:
        return np.bincount(self.edges.ravel(), minlength=self.regions)

    @property
    def average_degree(self) -> float:
        return 2.0 * len(self.edges) / self.regions if self.regions else 0.0

    def components(self) -> int:
        """The number of connected components (1 on a convex domain)."""
        return _components(self.regions, self.edges)

    def to_networkx(self):
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(self.regions))
        g.add_edges_from(map(tuple, self.edges.tolist()))
        return g


def _components(n: int, edges: np.ndarray) -> int:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if n == 0:
        return 0
    A = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)) \
        if len(edges) else coo_matrix((n, n))
    return int(connected_components(A, directed=False)[0])


def pattern_keys(patterns: Sequence[list[np.ndarray]]) -> dict[bytes, int]:
    """Region index by its concatenated pattern."""
    return {concat_pattern(p).tobytes(): i for i, p in enumerate(patterns)}


def _float_neighbours(problem: Problem, cells: Sequence[RegionCell], keys: dict[bytes, int],
                      out: list[set | None]) -> None:
    """Fill ``out[i]`` with the neighbours of region i read in floats, or leave it None when
    the region needs the exact search."""
    net = problem.unit_net
    todo = [(i, f) for i, cell in enumerate(cells) for f in np.flatnonzero(~cell.on_boundary)]
    for i in range(len(cells)):
        out[i] = set()
    for lo in range(0, len(todo), CHUNK):
        part = todo[lo:lo + CHUNK]
        pts, starts, normals = [], [], []
        n = 0
        for i, f in part:
            P = cells[i].facet_vertices(f)
            starts.append(n)
            n += P.shape[0]
            pts.append(P)
            normals.append(-cells[i].rows[f, :-1])
        b = patterns_beyond(net, FacetBatch(np.concatenate(pts), np.array(starts),
                                            np.array(normals)))
        for (i, _), pat, close in zip(part, b.patterns, b.close):
            if out[i] is None:
                continue
            j = None if close else keys.get(pat.tobytes())
            if j is None or j == i:
                out[i] = None
            else:
                out[i].add(j)


def _exact_neighbours(problem: Problem, patterns, keys, idx, out, xn) -> None:
    from ..certify import region_neighbours

    for i in idx:
        nb = region_neighbours(xn, patterns[i])
        if nb is None:
            raise CertificateError(f"region {i}: its facets could not be decided exactly "
                                   f"(or it is no full-dimensional region)")
        js = set()
        for p in nb:
            j = keys.get(concat_pattern(p).tobytes())
            if j is None:
                raise CertificateError(
                    f"region {i}: the region beyond one of its facets was not counted (it is "
                    f"thinner than the margin); count with --certify to find it")
            js.add(j)
        out[i] = js


def region_graph(problem: Problem, patterns: Sequence[list[np.ndarray]],
                 cells: Sequence[RegionCell] | None = None, *, exact: bool = False) -> RegionGraph:
    """The region graph of the counted ``patterns`` (per-layer patterns of every region of the
    problem's domain). ``cells``: their vertex-form cells, for the float pass (else every
    region is followed exactly)."""
    n = len(patterns)
    keys = pattern_keys(patterns)
    if len(keys) != n:
        raise CertificateError("a region was counted twice")
    out: list[set | None] = [None] * n
    if cells is not None and not exact:
        _float_neighbours(problem, cells, keys, out)
    xn = None
    done_exact: set[int] = set()
    while True:
        todo = [i for i in range(n) if out[i] is None]
        if todo:
            if xn is None:
                from ..certify import exact_network

                xn = exact_network(problem)
            _exact_neighbours(problem, patterns, keys, todo, out, xn)
            done_exact.update(todo)
        one_sided = {k for i in range(n) for j in out[i] if i not in out[j] for k in (i, j)}
        if not one_sided:
            break
        again = one_sided - done_exact
        if not again:
            raise CertificateError("the exact facet search found an edge from one side only")
        for i in again:
            out[i] = None
    edges = np.array(sorted((i, j) for i in range(n) for j in out[i] if i < j),
                     dtype=np.int64).reshape(-1, 2)
    return RegionGraph(n, edges, len(done_exact))
