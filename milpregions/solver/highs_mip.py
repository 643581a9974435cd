"""A persistent HiGHS MIP for many feasibility questions on one model (highspy, no Pyomo).

The model (columns, rows in CSR, integer columns) is loaded once; each ``solve`` appends its
own columns and rows (e.g. parity rows and their integer columns), runs HiGHS's MIP solver
with a node and a time limit, reads the solution and deletes what it appended.

Options (measured on the hashing MILP, benchmarks/README.md, "hashing.py"): the model is a
feasibility problem (objective 0), so any solution ends the search; HiGHS's default root
machinery is sized for optimisation: it separated 1,068 cuts on a 240-row model and ran
sub-MIP heuristics (RINS, RENS) for most of the time of a solve. Here the cut pool is kept
tiny, the heuristics, symmetry detection and restarts are off. Presolve stays on.
``threads`` is left alone (HiGHS's scheduler is process-wide: see ``highs.new_highs``).
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from .highs import SMALL_MATRIX_VALUE, _quiet_stdout

MIP_OPTIONS = {
    "output_flag": False,
    "log_to_console": False,
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
    "dual_feasibility_tolerance": 1e-9,
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_detect_symmetry": False,
    "mip_allow_restart": False,
    "mip_pool_soft_limit": 1,
    "mip_lp_age_limit": 0,
}


class MIPStatus(Enum):
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    LIMIT = "limit"            # a node or time limit ended the search without a solution


class FeasibilityMIP:
    """``solve`` answers: is the model, plus some appended columns and rows, feasible?"""

    def __init__(self, col_lo, col_hi, integer, row_lo, row_hi, starts, index, value,
                 options: dict | None = None):
        import highspy

        self._hs = highspy
        with _quiet_stdout():
            h = highspy.Highs()
        opts = dict(MIP_OPTIONS)
        opts.update(options or {})
        for k, v in opts.items():
            h.setOptionValue(k, v)
        # HiGHS drops matrix entries below small_matrix_value when rows are loaded: set it first
        h.setOptionValue("small_matrix_value", SMALL_MATRIX_VALUE)
        n = int(np.size(col_lo))
        h.addVars(n, np.asarray(col_lo, dtype=np.float64), np.asarray(col_hi, dtype=np.float64))
        integer = np.asarray(integer, dtype=np.int32)
        if integer.size:
            h.changeColsIntegrality(integer.size, integer,
                                    np.full(integer.size, highspy.HighsVarType.kInteger))
        m = int(np.size(row_lo))
        if m:
            h.addRows(m, np.asarray(row_lo, dtype=np.float64), np.asarray(row_hi, dtype=np.float64),
                      int(np.size(index)), np.asarray(starts, dtype=np.int32),
                      np.asarray(index, dtype=np.int32), np.asarray(value, dtype=np.float64))
        self.h = h
        self.n_cols = n
        self.n_rows = m
        self.solves = 0
        self.nodes = 0

    def solve(self, cols_lo=(), cols_hi=(), rows=(), max_nodes: int | None = None,
              time_limit: float | None = None) -> tuple[MIPStatus, np.ndarray | None]:
        """Append integer columns [``cols_lo``, ``cols_hi``] (numbered from ``n_cols`` on)
        and ``rows`` = [(lo, hi, cols, vals)], solve, remove them again. Returns the status
        and, when feasible, the values of the model's own columns."""
        hs, h = self._hs, self.h
        k = len(cols_lo)
        if k:
            lo = np.asarray(cols_lo, dtype=np.float64)
            h.addVars(k, lo, np.asarray(cols_hi, dtype=np.float64))
            idx = np.arange(self.n_cols, self.n_cols + k, dtype=np.int32)
            h.changeColsIntegrality(k, idx, np.full(k, hs.HighsVarType.kInteger))
        for lo_, hi_, c, v in rows:
            c = np.asarray(c, dtype=np.int32)
            h.addRow(float(lo_), float(hi_), c.size, c, np.asarray(v, dtype=np.float64))
        h.setOptionValue("mip_max_nodes", int(max_nodes) if max_nodes is not None else 2**31 - 1)
        h.setOptionValue("time_limit", float(time_limit) if time_limit is not None else np.inf)
        try:
            h.run()
            self.solves += 1
            st = h.getModelStatus()
            try:
                self.nodes += int(h.getInfo().mip_node_count)
            except (AttributeError, TypeError):
                pass
            if st == hs.HighsModelStatus.kOptimal:
                x = np.array(h.getSolution().col_value[: self.n_cols], dtype=np.float64)
                return MIPStatus.FEASIBLE, x
            if st == hs.HighsModelStatus.kInfeasible:
                return MIPStatus.INFEASIBLE, None
            if h.getInfo().primal_solution_status == 2:     # a limit, after a solution
                x = np.array(h.getSolution().col_value[: self.n_cols], dtype=np.float64)
                return MIPStatus.FEASIBLE, x
            return MIPStatus.LIMIT, None
        finally:
            extra = h.getNumRow() - self.n_rows
            if extra:
                h.deleteRows(extra, np.arange(self.n_rows, self.n_rows + extra, dtype=np.int32))
            if k:
                h.deleteCols(k, np.arange(self.n_cols, self.n_cols + k, dtype=np.int32))


class ChebyshevBall:
    """The largest ball in {u in [-1, 1]^d : a_i . u + b_i >= 0} (rows [a, b], unit a), one
    polyhedron at a time: all its rows are loaded with one call (``highs.ChebyshevLP`` adds
    them one by one and keeps a path of them for the tree's warm starts)."""

    def __init__(self, dim: int):
        import highspy

        from .highs import new_highs

        self._hs = highspy
        self.dim = dim
        self.h = new_highs()
        d = dim
        lo = np.concatenate([-np.ones(d), [-4.0]])
        hi = np.concatenate([np.ones(d), [1.0]])
        cost = np.zeros(d + 1)
        cost[d] = 1.0
        empty = np.zeros(0, dtype=np.int32)
        self.h.addCols(d + 1, cost, lo, hi, 0, empty, empty, np.zeros(0))
        self.h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        # box rows: u_k - r >= -1 and -u_k - r >= -1
        k = np.repeat(np.arange(d), 2)
        starts = np.arange(0, 4 * d, 2, dtype=np.int32)
        index = np.column_stack([k, np.full(2 * d, d)]).ravel().astype(np.int32)
        value = np.column_stack([np.tile([1.0, -1.0], d), -np.ones(2 * d)]).ravel()
        self.h.addRows(2 * d, np.full(2 * d, -1.0), np.full(2 * d, highspy.kHighsInf),
                       4 * d, starts, index, value)
        self.base = 2 * d
        self.solves = 0

    def solve(self, R: np.ndarray) -> tuple[float, np.ndarray | None]:
        """(r, u): the centre u and the radius r of the ball evaluated at u on every row and
        the box (never more than HiGHS's optimum); (-inf, None) if HiGHS finds no optimum."""
        hs, h, d = self._hs, self.h, self.dim
        R = np.asarray(R, dtype=np.float64).reshape(-1, d + 1)
        extra = h.getNumRow() - self.base
        if extra:
            h.deleteRows(extra, np.arange(self.base, self.base + extra, dtype=np.int32))
        m = R.shape[0]
        if m:
            vals = np.hstack([R[:, :d], -np.ones((m, 1))]).ravel()
            index = np.tile(np.arange(d + 1, dtype=np.int32), m)
            starts = np.arange(0, m * (d + 1), d + 1, dtype=np.int32)
            h.addRows(m, -R[:, d], np.full(m, hs.kHighsInf), vals.size, starts, index, vals)
        h.clearSolver()
        h.run()
        self.solves += 1
        if h.getModelStatus() != hs.HighsModelStatus.kOptimal:
            return -np.inf, None
        u = np.array(h.getSolution().col_value[:d], dtype=np.float64)
        r = min(h.getObjectiveValue(), 1.0 - float(np.abs(u).max(initial=0.0)))
        if m:
            r = min(r, float((R[:, :d] @ u + R[:, d]).min()))
        return r, u
