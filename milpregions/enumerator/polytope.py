"""Vertex representation of the polytopes of the enumeration tree (low-dimensional fast path).

A ``VPoly`` is a full-dimensional polytope in [-1, 1]^d given both ways: its facet rows
``F @ [u, 1] >= 0`` (unit normals) and its vertices with their incidence (which rows are tight
at which vertex). Cutting it by a hyperplane is one double-description step: vertices are
sorted by side, and each edge between the two sides, found with the combinatorial adjacency
test (no third vertex is tight on every row the two share), gives a new vertex. Rows tight at
fewer than d vertices are not facets and are dropped, so the representation stays small.

Degenerate arrangements (hyperplanes through vertices, duplicate hyperplanes) are normal:
vertices within ``tol`` of the hyperplane lie on it and belong to both sides.
"""

from __future__ import annotations

from itertools import count

import numpy as np

_row_ids = count(1)


def new_row_id() -> int:
    return next(_row_ids)


class VPoly:
    """A polytope with its vertices, facet rows and incidence.

    ``V`` (nv, d) vertices; ``inc`` (nv, m) bool, row i tight at vertex v; ``F`` (m, d+1) rows
    [a, b] with |a| = 1 and a.u + b >= 0 inside; ``ids`` (m,) row ids (box rows negative).
    Rows that are not facets are dropped lazily, before the polytope is cut again.
    """

    __slots__ = ("V", "inc", "F", "ids", "simple")

    def __init__(self, V, inc, F, ids, simple: bool | None = None):
        self.V, self.inc, self.F, self.ids = V, inc, F, ids
        self.simple = simple  # every vertex on exactly d facets; None: not known yet

    def _tidy(self) -> None:
        d = self.V.shape[1]
        facet = self.inc.sum(axis=0) >= d
        if not facet.all():
            self.inc = self.inc[:, facet]
            self.F = self.F[facet]
            self.ids = self.ids[facet]
        self.simple = bool((self.inc.sum(axis=1) == d).all())

    @classmethod
    def box(cls, d: int) -> VPoly:
        """The cube [-1, 1]^d."""
        corners = np.array(np.meshgrid(*[[-1.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T
        F = np.zeros((2 * d, d + 1))
        inc = np.zeros((corners.shape[0], 2 * d), dtype=bool)
        for k in range(d):
            F[2 * k, k], F[2 * k, d] = 1.0, 1.0          # u_k + 1 >= 0
            F[2 * k + 1, k], F[2 * k + 1, d] = -1.0, 1.0  # 1 - u_k >= 0
            inc[:, 2 * k] = corners[:, k] == -1.0
            inc[:, 2 * k + 1] = corners[:, k] == 1.0
        return cls(corners, inc, F, -np.arange(1, 2 * d + 1), True)

    @property
    def dim(self) -> int:
        return self.V.shape[1]

    def centroid_radius(self) -> tuple[np.ndarray, float]:
        """The vertex centroid and the radius of the largest ball around it inside the polytope."""
        c = self.V.sum(axis=0) / self.V.shape[0]
        r = float((self.F[:, :-1] @ c + self.F[:, -1]).min())
        return c, r

    def cut(self, row: np.ndarray, s: np.ndarray, tol: float) -> tuple[VPoly | None, VPoly | None]:
        """Split by the hyperplane ``row`` ([a, b], |a| = 1); ``s`` = signed distances of the vertices.

        Returns (part with a.u + b >= 0, part with <= 0); a part is None when it has no vertex
        beyond ``tol`` from the hyperplane (it is then at most a face).
        """
        pos = s > tol
        neg = s < -tol
        ip = pos.nonzero()[0]
        ineg = neg.nonzero()[0]
        if not ineg.size:
            return self, None
        if not ip.size:
            return None, self
        if self.simple is None:
            self._tidy()
        d = self.V.shape[1]
        inc = self.inc
        S = inc[ip][:, None, :] & inc[ineg][None, :, :]          # (p, n, m) shared rows
        shared = S.sum(axis=2)
        if self.simple:
            # in a simple polytope two vertices sharing d-1 facets span an edge
            pu, pv = (shared == d - 1).nonzero()
        else:
            pu, pv = (shared >= d - 1).nonzero()
            if pu.size:
                Sc = S[pu, pv].astype(np.float32)                   # (k, m)
                outside = (~inc).astype(np.float32)                 # (nv, m)
                # combinatorial test: no third vertex is tight on every shared row
                adjacent = ((Sc @ outside.T) == 0).sum(axis=1) == 2
                pu, pv = pu[adjacent], pv[adjacent]
        u, v = ip[pu], ineg[pv]
        su, sv = s[u], s[v]
        Vu = self.V[u]
        Vnew = Vu + (su / (su - sv))[:, None] * (self.V[v] - Vu)
        inc_new = np.concatenate([S[pu, pv], np.ones((u.size, 1), dtype=bool)], axis=1)
        zero = ~(pos | neg)
        plus = self._part(pos | zero, zero, Vnew, inc_new, np.concatenate([self.F, row[None, :]]),
                          np.concatenate([self.ids, [new_row_id()]]))
        minus = self._part(neg | zero, zero, Vnew, inc_new, np.concatenate([self.F, -row[None, :]]),
                           np.concatenate([self.ids, [new_row_id()]]))
        return plus, minus

    def _part(self, keep, zero, Vnew, inc_new, F, ids) -> VPoly:
        V = np.concatenate([self.V[keep], Vnew])
        inc_old = np.concatenate([self.inc[keep], zero[keep][:, None]], axis=1)
        return VPoly(V, np.concatenate([inc_old, inc_new]), F, ids)

    def clip(self, row: np.ndarray, s: np.ndarray, tol: float) -> VPoly | None:
        """The part with ``a.u + b >= 0`` only (None when it is at most a face)."""
        if not (s < -tol).any():
            return self
        return self.cut(row, s, tol)[0]
