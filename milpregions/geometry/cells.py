"""The polytope of one activation region in vertex form (the vertex path's polytopes).

The box is clipped by the region's rows with the enumerator's own compiled double-description
step and vertex tolerance (``kernel.clip_cell``), so a region's vertices, facets and volume
are those the vertex path works with. A row that is non-negative at every vertex of a
polytope stays so on every part of it, so each row is tested until it is found redundant or
cut, never again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..enumerator.layers import VERTEX_TOL
from ..enumerator.polytope import VPoly
from ..errors import CertificateError


@dataclass(frozen=True)
class RegionCell:
    """A region in [-1, 1]^d: ``vertices`` (nv, d); its facets as rows ``rows`` (m, d+1),
    a.u + b >= 0 inside, |a| = 1; ``incidence`` (nv, m) which facet holds which vertex;
    ``on_boundary`` (m,) whether a facet lies on the box."""

    vertices: np.ndarray
    rows: np.ndarray
    incidence: np.ndarray
    on_boundary: np.ndarray

    @property
    def dim(self) -> int:
        return self.vertices.shape[1]

    def facet_vertices(self, i: int) -> np.ndarray:
        return self.vertices[self.incidence[:, i]]

    def volume(self) -> float:
        """The volume in normalised coordinates (length in 1-D, area in 2-D)."""
        V = self.vertices
        if self.dim == 1:
            return float(V.max() - V.min())
        if self.dim == 2:
            P = polygon(self)
            x, y = P[:, 0], P[:, 1]
            return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        from scipy.spatial import ConvexHull

        return float(ConvexHull(V).volume)


def polygon(cell: RegionCell) -> np.ndarray:
    """A 2-D cell's vertices in counter-clockwise order."""
    V = cell.vertices
    c = V.mean(axis=0)
    return V[np.argsort(np.arctan2(V[:, 1] - c[1], V[:, 0] - c[0]))]


def box_arrays(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cube [-1, 1]^d as the compiled step takes it (vertices, incidence bits, rows)."""
    from ..enumerator import kernel

    box = VPoly.box(d)
    C = np.ascontiguousarray
    return C(box.V), kernel.to_bits(C(box.inc)), C(box.F)


def region_cell(rows: np.ndarray, box: tuple[np.ndarray, np.ndarray, np.ndarray]) -> RegionCell:
    """The cell of the ``box`` (``box_arrays``) where every row is non-negative (a region:
    full-dimensional)."""
    from ..enumerator import kernel

    V, inc, F = kernel.clip_cell(*box, np.ascontiguousarray(rows, dtype=np.float64), VERTEX_TOL)
    if not V.shape[0]:
        raise CertificateError("a counted region has no interior in vertex form")
    m = F.shape[0]
    inc_bool = np.unpackbits(inc.view(np.uint8), axis=1, bitorder="little")[:, :m].astype(bool)
    # a box row is never cut (it holds at every vertex of the box), so it keeps its form
    a, b = F[:, :-1], F[:, -1]
    boundary = (b == 1.0) & (np.abs(a).sum(axis=1) == 1.0) & (np.abs(a).max(axis=1) == 1.0)
    return RegionCell(V, F, inc_bool, boundary)
