"""The vertex path of the enumeration tree (low input dimension, ``d <= vertex_dim``).

A node is a ``VPoly``: its vertices decide one-signedness and splits exactly, and cutting it
is one double-description step, so the path needs no LP except for the few leaves whose
vertex-centroid ball is too small to certify them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .budget import Budget
from .layers import SLIVER_FLOOR, VERTEX_TOL, Groups, Maps, Units, group_geometry, unit_rows
from .polytope import VPoly


class VertexPath:
    """Cells of a layer inside a ``VPoly`` node, and the witness of a leaf."""

    def __init__(self, d: int, margin: float, budget: Budget):
        self.d = d
        self.margin = margin
        # a vertex within vtol of a hyperplane lies on it; what that drops is thinner than vtol,
        # so it may not exceed the margin
        self.vtol = min(VERTEX_TOL, margin)
        self.budget = budget

    def root(self) -> VPoly:
        return VPoly.box(self.d)

    def unit_cells(self, L: Units, P: VPoly, A: np.ndarray, c: np.ndarray, scale: float,
                   maps: Maps) -> Iterator[tuple[VPoly, np.ndarray]]:
        """The cells of a unit layer in P that hold a ball of radius > margin, with their bits.

        ``sub`` is a stack of (polytope, live units, bits); each bits array belongs to its entry
        alone: the plus child takes over its parent's array, the minus child gets a copy.
        """
        margin, vtol = self.margin, self.vtol
        tick = self.budget.tick
        bits0, cand, An, cn = unit_rows(L, A, c, scale, maps)
        sub = [(P, np.arange(cand.size), bits0)]
        while sub:
            P, U, bits = sub.pop()
            tick()
            if U.size:
                vals = P.V @ An[U].T + cn[U]
                vmin = vals.min(axis=0)
                vmax = vals.max(axis=0)
                on = vmin >= -vtol
                off = (vmax <= vtol) & ~on
                # settled although a vertex lies beyond rounding on the other side: a sliver
                # thinner than vtol is left out (``kernel.settle_units``)
                for depth in np.concatenate([-vmin[on & (vmin < -SLIVER_FLOOR)],
                                             vmax[off & (vmax > SLIVER_FLOOR)]]):
                    self.budget.stats.dropped(depth)
                if on.any():
                    bits[cand[U[on]]] = 1
                live = ~(on | off)
                U, vals = U[live], vals[:, live]
            if not U.size:
                yield P, bits
                continue
            j = U[0]
            s = vals[:, 0]
            plus, minus = P.cut(np.append(An[j], cn[j]), s, vtol)
            if minus is not None and s.min() >= -margin:
                minus = None
                self.budget.stats.dropped(-s.min())
            if plus is not None and s.max() <= margin:
                plus = None
                self.budget.stats.dropped(s.max())
            rest = U[1:]
            if minus is not None:
                b0 = bits.copy()
                b0[cand[j]] = 0
                sub.append((minus, rest, b0))
            if plus is not None:
                bits[cand[j]] = 1
                sub.append((plus, rest, bits))

    def group_cells(self, L: Groups, P: VPoly, A: np.ndarray, c: np.ndarray,
                    scale: float, maps: Maps) -> Iterator[tuple[VPoly, np.ndarray]]:
        """The cells of a max layer in P that hold a ball of radius > margin, with their argmaxes.

        ``sub`` is a stack of (polytope, live groups, choice); each child gets its own copy of
        the choice array, so an entry may write into the one it popped.
        """
        margin, vtol = self.margin, self.vtol
        tick = self.budget.tick
        choice0 = L.fixed.copy()
        if not L.live.size:
            yield P, choice0
            return
        G, Ap, cp, possible, active, inv, R, rc = group_geometry(L, A, c, scale, maps)
        d = self.d
        sub = [(P, np.arange(G.shape[0]), choice0)]
        while sub:
            P, U, choice = sub.pop()
            tick()
            if not U.size:
                yield P, choice
                continue
            n, k = U.size, G.shape[1]
            Z = (P.V @ Ap[U].reshape(n * k, d).T + cp[U].ravel()).reshape(-1, n, k)
            Smax = ((Z[:, :, :, None] - Z[:, :, None, :]) * inv[U]).max(axis=0)   # (n, k, k)
            dominated = (active[U] & (Smax <= vtol)).any(axis=2)
            cand = possible[U] & ~dominated
            ncand = cand.sum(axis=1)
            single = ncand <= 1
            if single.any():
                pick = np.where(cand[single].any(axis=1), cand[single].argmax(axis=1),
                                possible[U[single]].argmax(axis=1))
                choice[L.live[U[single]]] = pick
                U, cand = U[~single], cand[~single]
            if not U.size:
                yield P, choice
                continue
            g, cands = U[0], np.flatnonzero(cand[0])
            rest = U[1:]
            for i in cands[::-1]:
                Q = P
                for m in cands:
                    if m == i or not active[g, i, m]:
                        continue
                    row = np.append(R[g, i, m], rc[g, i, m])
                    s = Q.V @ row[:-1] + row[-1]
                    if s.max() <= margin:
                        if s.max() > vtol:
                            self.budget.stats.dropped(s.max())
                        Q = None
                        break
                    Q = Q.clip(row, s, vtol)
                    if Q is None:
                        break
                if Q is not None:
                    ch = choice.copy()
                    ch[L.live[g]] = i
                    sub.append((Q, rest, ch))

    def leaf(self, P: VPoly) -> tuple[np.ndarray, float]:
        """A witness of the region P, its vertex centroid, and a radius that holds there: the
        centroid's distance to P's facets less ``vtol`` (a hyperplane within vtol of a vertex
        was not cut, so it may clip the region by that much)."""
        u, r = P.centroid_radius()
        return u, r - self.vtol
