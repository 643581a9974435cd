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

from dataclasses import dataclass
from itertools import count

import numpy as np

_row_ids = count(1)


def new_row_id() -> int:
    return next(_row_ids)


@dataclass(frozen=True)
class VPoly:
    V: np.ndarray      # (nv, d) vertices
    inc: np.ndarray    # (nv, m) bool: row i tight at vertex v
    F: np.ndarray      # (m, d+1) facet rows [a, b], |a| = 1, a.u + b >= 0 inside
    ids: tuple         # (m,) row ids (box rows are negative)

    @classmethod
    def box(cls, d: int) -> "VPoly":
        """The cube [-1, 1]^d."""
        corners = np.array(np.meshgrid(*[[-1.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T
        F = np.zeros((2 * d, d + 1))
        inc = np.zeros((corners.shape[0], 2 * d), dtype=bool)
        for k in range(d):
            F[2 * k, k], F[2 * k, d] = 1.0, 1.0          # u_k + 1 >= 0
            F[2 * k + 1, k], F[2 * k + 1, d] = -1.0, 1.0  # 1 - u_k >= 0
            inc[:, 2 * k] = corners[:, k] == -1.0
            inc[:, 2 * k + 1] = corners[:, k] == 1.0
        return cls(corners, inc, F, tuple(-(i + 1) for i in range(2 * d)))

    @property
    def dim(self) -> int:
        return self.V.shape[1]

    def centroid_radius(self) -> tuple[np.ndarray, float]:
        """The vertex centroid and the radius of the largest ball around it inside the polytope."""
        c = self.V.mean(axis=0)
        r = float(np.min(self.F[:, :-1] @ c + self.F[:, -1]))
        return c, r

    def cut(self, row: np.ndarray, s: np.ndarray, tol: float, rid: int) -> tuple["VPoly | None", "VPoly | None"]:
        """Split by the hyperplane ``row`` ([a, b], |a| = 1); ``s`` = signed distances of the vertices.

        Returns (part with a.u + b >= 0, part with <= 0); a part is None when it has no vertex
        beyond ``tol`` from the hyperplane (it is then at most a face).
        """
        pos = s > tol
        neg = s < -tol
        if not neg.any():
            return self, None
        if not pos.any():
            return None, self
        d = self.dim
        ip = np.flatnonzero(pos)
        ineg = np.flatnonzero(neg)
        inc = self.inc
        S = inc[ip][:, None, :] & inc[ineg][None, :, :]          # (p, n, m) shared rows
        shared = S.sum(axis=2)
        pu, pv = np.nonzero(shared >= d - 1)
        if pu.size:
            Sc = S[pu, pv].astype(np.float32)                       # (k, m)
            outside = (~inc).astype(np.float32)                     # (nv, m)
            containing = (Sc @ outside.T) == 0                      # (k, nv): vertex tight on all shared rows
            adjacent = containing.sum(axis=1) == 2
            pu, pv = pu[adjacent], pv[adjacent]
            Sadj = S[pu, pv]
        else:
            Sadj = np.zeros((0, inc.shape[1]), dtype=bool)
        u, v = ip[pu], ineg[pv]
        su, sv = s[u], s[v]
        t = (su / (su - sv))[:, None]
        Vnew = self.V[u] + t * (self.V[v] - self.V[u])
        zero = ~pos & ~neg
        inc_new = np.hstack([Sadj, np.ones((Sadj.shape[0], 1), dtype=bool)])
        plus = self._part(pos | zero, zero, Vnew, inc_new,
                          np.vstack([self.F, row[None, :]]), self.ids + (rid,))
        minus = self._part(neg | zero, zero, Vnew, inc_new,
                           np.vstack([self.F, -row[None, :]]), self.ids + (-rid,))
        return plus, minus

    def _part(self, keep, zero, Vnew, inc_new, F, ids) -> "VPoly":
        d = self.dim
        V = np.vstack([self.V[keep], Vnew])
        inc_old = np.hstack([self.inc[keep], zero[keep][:, None]])
        inc = np.vstack([inc_old, inc_new])
        facet = inc.sum(axis=0) >= d
        if not facet.all():
            inc = inc[:, facet]
            F = F[facet]
            ids = tuple(i for i, f in zip(ids, facet) if f)
        return VPoly(V, inc, F, ids)
