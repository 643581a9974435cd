"""The LPs of ``--certify`` on one region: bounds of a coordinate and the facet test of a row.

The region is {u : a_j . u + c_j >= 0} (unit a_j, the box among the rows). Columns are u
(free) and t; row j reads ``a_j . u - t >= -c_j``. ``bound`` fixes t = 0 and minimises
``sign * u_k``; ``facet`` frees t, turns row i into the equation ``a_i . u + c_i = 0`` and
maximises t: t* > 0 iff the face of row i is a facet (t* is how deep its best point is inside
the other rows). Both report the rows that HiGHS holds at their bounds (the nonbasic ones),
from which the caller builds exact certificates; nothing here is a proof. ``RegionLP(rows, cap=True)``
(a region of all of R^d, no box among the rows): t <= 1 in the facet test, so an unbounded
facet keeps a finite LP (t* = 1 > 0), and a coordinate bound may be unbounded (no answer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .highs import new_highs


@dataclass(frozen=True)
class LPAnswer:
    """HiGHS's optimum (None unless optimal), its point, and the rows at their bounds."""

    value: float | None
    point: np.ndarray | None
    active: np.ndarray


class RegionLP:
    """One Highs holding a region's rows, re-solved warm for every bound and facet test."""

    def __init__(self, rows: np.ndarray, cap: bool = False):
        import highspy

        self.rows = rows
        self.cap = cap
        n, d1 = rows.shape
        d = d1 - 1
        self.d = d
        h = self.h = new_highs()
        inf = self.inf = highspy.kHighsInf
        self._optimal = highspy.HighsModelStatus.kOptimal
        self._basic = highspy.HighsBasisStatus.kBasic
        self._sense = highspy.ObjSense
        lo = np.full(d + 1, -inf)
        hi = np.full(d + 1, inf)
        empty = np.zeros(0, dtype=np.int32)
        h.addCols(d + 1, np.zeros(d + 1), lo, hi, 0, empty, empty, np.zeros(0))
        vals = np.hstack([rows[:, :d], -np.ones((n, 1))]).ravel()
        idx = np.tile(np.arange(d + 1, dtype=np.int32), n)
        starts = np.arange(0, n * (d + 1), d + 1, dtype=np.int32)
        h.addRows(n, -rows[:, d], np.full(n, inf), vals.size, starts, idx, vals)
        self.cols = np.arange(d + 1, dtype=np.int32)

    def _solve(self) -> LPAnswer:
        h = self.h
        h.run()
        if h.getModelStatus() != self._optimal:
            h.clearSolver()
            h.run()
            if h.getModelStatus() != self._optimal:
                return LPAnswer(None, None, np.zeros(0, dtype=np.int64))
        basis = h.getBasis()
        active = np.array([i for i, s in enumerate(basis.row_status) if s != self._basic],
                          dtype=np.int64)
        x = np.array(h.getSolution().col_value[: self.d])
        return LPAnswer(h.getObjectiveValue(), x, active)

    def _cost(self, cost: np.ndarray, sense) -> None:
        self.h.changeColsCost(self.d + 1, self.cols, cost)
        self.h.changeObjectiveSense(sense)

    def bound(self, k: int, sign: float) -> LPAnswer:
        """min of ``sign * u_k`` over the region."""
        d = self.d
        self.h.changeColBounds(d, 0.0, 0.0)
        cost = np.zeros(d + 1)
        cost[k] = sign
        self._cost(cost, self._sense.kMinimize)
        return self._solve()

    def facet(self, i: int) -> LPAnswer:
        """max t on the hyperplane of row i (t* > 0: a facet; the point is on the plane)."""
        d, h = self.d, self.h
        h.changeColBounds(d, -self.inf, 1.0 if self.cap else self.inf)
        cost = np.zeros(d + 1)
        cost[d] = 1.0
        self._cost(cost, self._sense.kMaximize)
        c = -float(self.rows[i, d])
        h.changeCoeff(int(i), d, 0.0)
        h.changeRowBounds(int(i), c, c)
        try:
            return self._solve()
        finally:
            h.changeCoeff(int(i), d, -1.0)
            h.changeRowBounds(int(i), c, self.inf)
