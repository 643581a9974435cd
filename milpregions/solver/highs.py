"""The only module that talks to highspy: the Chebyshev-ball LP of the enumerator's nodes, and
the growing LP that the bound tightening builds (``GrowingLP``).

Given rows ``a_i . u + b_i >= 0`` with unit-norm ``a_i`` (the polyhedron P of a node of the
enumeration tree) and the box [-1, 1]^d, ``ChebyshevLP.solve`` maximises r subject to
``a_i . u + b_i >= r`` and ``-1 + r <= u_k <= 1 - r``: the optimum r* is the inradius of P
(negative when P is empty: then -r* measures the violation), and u* its centre.

One ``highspy.Highs`` per instance, reused for every solve: rows are kept loaded between
solves and only the rows that differ from the previous call are deleted or added, so
consecutive solves along a depth-first path are warm-started dual simplex re-solves.

``ChebyshevLP(dim, box=False)`` is the same LP over all of R^d (``AllSpace``): u free, no box
rows, r <= 1 still (the radius is capped at 1, so an unbounded region keeps a finite LP).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..errors import Interrupted

EPS = float(np.finfo(np.float64).eps)
R_MIN = -4.0  # lower bound of r: keeps the LP bounded when P is empty
SMALL_MATRIX_VALUE = 1e-12  # the smallest HiGHS accepts
INCONSISTENT = 1e-9  # an LP point whose evaluated radius is this far below the optimum is no answer
#: HiGHS settings tried, each from scratch, on a node LP that the default dual simplex did not
#: settle warm or cold: the primal simplex, then the interior point method with crossover
#: the bound tightening's LPs (``GrowingLP.minimize``): HiGHS returns to Python after each slice
#: (a stop request is seen within it); one LP gets at most these seconds and simplex iterations,
#: then keeps the safe bound of the multipliers it has
SLICE_SECONDS = 0.2
LP_SECONDS = 10.0
LP_ITERATIONS = 200_000
ALTERNATIVES: tuple[dict[str, object], ...] = (
    {"simplex_strategy": 4},
    {"solver": "ipm", "run_crossover": "on"},
)


@contextmanager
def _quiet_stdout():
    """Silence the banner HiGHS prints on file descriptor 1 the first time it is constructed."""
    try:
        sys.stdout.flush()
    except (AttributeError, ValueError, OSError):
        pass
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def new_highs():
    """A silent ``highspy.Highs`` configured for many tiny warm-started LPs.

    ``threads`` is left at HiGHS's default: the thread scheduler is process-wide, and once any
    Highs in the process has started it with another count, every run of a Highs that asks for
    a different one fails (seen after a plain ``highspy.Highs().run()`` in the same process).
    """
    import highspy

    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("presolve", "off")
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("primal_feasibility_tolerance", 1e-10)
    h.setOptionValue("dual_feasibility_tolerance", 1e-10)
    # HiGHS drops matrix entries below small_matrix_value (default 1e-9): keep all down to its
    # smallest allowed value; the bound tightening does not rely on it (safe bounds)
    h.setOptionValue("small_matrix_value", SMALL_MATRIX_VALUE)
    return h


def silence_banner() -> None:
    """Construct one Highs object quietly, so later constructions (e.g. by Pyomo) print nothing."""
    new_highs()


@dataclass
class Fallbacks:
    """How often ``ChebyshevLP`` had to go beyond the warm re-solve: LPs solved again from
    scratch, runs with another algorithm, LPs decided in rational arithmetic."""

    cold: int = 0
    alternative: int = 0
    exact: int = 0


class ChebyshevLP:
    """Inradius and Chebyshev centre of {u in [-1,1]^d : a_i.u + b_i >= 0} with warm re-solves."""

    def __init__(self, dim: int, options: dict[str, object] | None = None, box: bool = True):
        self.dim = dim
        self.box = box                  # False: u ranges over R^d, no box rows
        self.reach = 0.0                # without the box: the largest |u|_inf of a point returned
        # without the box: None, or the radius far points are pulled in to (``_pull_in``)
        self.pull: float | None = None
        self.solves = 0
        self.fallbacks = Fallbacks()
        self.options = dict(options or {})    # HiGHS options set on top of ``new_highs``'s
        self.h = None                   # built by the first solve: many counts need no LP

    def _build(self) -> None:
        import highspy

        self.h = new_highs()
        for name, value in self.options.items():
            self.h.setOptionValue(name, value)
        self._optimal = highspy.HighsModelStatus.kOptimal
        self._infeasible = highspy.HighsModelStatus.kInfeasible
        d = self.dim
        # columns: u_0..u_{d-1} in [-1, 1] (free without the box), r in [R_MIN, 1]; max r
        inf = highspy.kHighsInf
        edge = np.ones(d) if self.box else np.full(d, inf)
        lo = np.concatenate([-edge, [R_MIN]])
        hi = np.concatenate([edge, [1.0]])
        cost = np.zeros(d + 1)
        cost[d] = 1.0
        empty_i = np.zeros(0, dtype=np.int32)
        self.h.addCols(d + 1, cost, lo, hi, 0, empty_i, empty_i, np.zeros(0))
        self.h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        # box rows: u_k - r >= -1 and -u_k - r >= -1
        for k in range(d if self.box else 0):
            for sign in (1.0, -1.0):
                self.h.addRow(-1.0, inf, 2, np.array([k, d], dtype=np.int32), np.array([sign, -1.0]))
        self._base = 2 * d if self.box else 0
        self._inf = inf
        self._loaded: list[int] = []  # ids of the node rows currently loaded, in order
        self._idx = np.arange(d + 1, dtype=np.int32)

    def _sync(self, ids: list[int] | tuple[int, ...], rows: np.ndarray) -> None:
        loaded = self._loaded
        n = min(len(loaded), len(ids))
        k = 0
        while k < n and loaded[k] == ids[k]:
            k += 1
        if k < len(loaded):
            drop = np.arange(self._base + k, self._base + len(loaded), dtype=np.int32)
            self.h.deleteRows(drop.size, drop)
            del loaded[k:]
        for i in range(k, len(ids)):
            self._add(rows[i])
            loaded.append(ids[i])

    def _add(self, row: np.ndarray) -> None:
        vals = np.empty(self.dim + 1)
        vals[: self.dim] = row[: self.dim]
        vals[self.dim] = -1.0
        self.h.addRow(-float(row[self.dim]), self._inf, self.dim + 1, self._idx, vals)

    def _answer(self, rows: np.ndarray, extra_rows) -> tuple[float, np.ndarray | None] | None:
        """Run HiGHS once and read its answer: (r, u) at an optimum, (-inf, None) when it
        proved the LP infeasible, None for no answer (any other status, or an "optimal" point
        that violates rows by more than ``INCONSISTENT``)."""
        self.h.run()
        self.solves += 1
        status = self.h.getModelStatus()
        if status != self._optimal:
            # r >= R_MIN keeps the LP feasible unless a row is violated by more than 4
            # everywhere: infeasible means empty; anything else is no answer, never "empty"
            if status != self._infeasible:
                return None
            return -np.inf, None
        ua = np.ones(self.dim + 1)
        ua[: self.dim] = self.h.getSolution().col_value[: self.dim]
        u = ua[: self.dim]
        # the radius the point really has, evaluated on every row: HiGHS meets rows only to
        # its feasibility tolerance, so its objective may exceed it by that much
        objective = self.h.getObjectiveValue()
        r = min(objective, _radius_at(u, rows, extra_rows, self.box))
        if r < objective - INCONSISTENT:
            # a warm start can end "optimal" at a point that violates rows by far more than
            # the tolerance (seen after rows were deleted and added): no answer
            return None
        return r, u

    def _decide(self, rows: np.ndarray, extra_rows) -> tuple[float, np.ndarray | None]:
        """The answer of the loaded LP, whatever it takes: the warm re-solve; else from
        scratch (``clearSolver``); else each of ``ALTERNATIVES`` from scratch; else exactly
        (``exact_simplex.chebyshev_exact``). Only the first answer that is one counts."""
        answer = self._answer(rows, extra_rows)
        if answer is not None:
            return answer
        self.fallbacks.cold += 1
        self.h.clearSolver()
        answer = self._answer(rows, extra_rows)
        for options in ALTERNATIVES:
            if answer is not None:
                return answer
            self.fallbacks.alternative += 1
            saved = {name: _option(self.h, name) for name in options}
            for name, value in options.items():
                self.h.setOptionValue(name, value)
            self.h.clearSolver()
            try:
                answer = self._answer(rows, extra_rows)
            finally:
                for name, value in saved.items():
                    self.h.setOptionValue(name, value)
                self.h.clearSolver()
        if answer is not None:
            return answer
        return self._exact(rows, extra_rows)

    def _exact(self, rows: np.ndarray, extra_rows) -> tuple[float, np.ndarray]:
        """The LP in rational arithmetic: its exact optimum and centre, the radius evaluated at
        the centre rounded to floats (never more than the exact optimum)."""
        from .exact_simplex import chebyshev_exact

        self.fallbacks.exact += 1
        all_rows = np.vstack([np.reshape(rows, (-1, self.dim + 1)),
                              np.reshape(np.asarray(extra_rows, dtype=float), (-1, self.dim + 1))])
        ball = chebyshev_exact(all_rows, box=self.box)
        u = np.array([float(v) for v in ball.u])
        return min(float(ball.r), _radius_at(u, all_rows, (), self.box)), u

    def solve(self, ids, rows: np.ndarray,
              extra: np.ndarray | None = None) -> tuple[float, np.ndarray | None]:
        """(r*, u*) for the rows (each [a, b], unit a), plus optional extra rows not kept loaded.

        r* is the radius of the largest ball around u* inside the box and every row, evaluated
        at u* (never more than the LP optimum). ``ids`` name the rows so that a later call
        sharing a prefix of them re-uses the loaded rows. Returns (-inf, None) if HiGHS proves
        the LP infeasible. An LP that HiGHS does not settle is solved again (``_decide``), in
        the end exactly: no status ends a count. Without the box and with ``pull`` set, an
        answer beyond ``PULL_FROM`` with r > pull is replaced by the nearest point with a ball
        of radius ``pull`` (``_pull_in``): r* is then that ball's radius, not the largest.
        """
        if self.h is None:
            self._build()
        self._sync(ids, rows)
        extra_rows = () if extra is None else np.atleast_2d(extra)
        for row in extra_rows:
            self._add(row)
        try:
            r, u = self._decide(rows, extra_rows)
            if not self.box and u is not None:
                if self.pull is not None and r > self.pull \
                        and float(np.abs(u).max(initial=0.0)) > PULL_FROM:
                    r, u = _pull_in(rows, extra_rows, self.pull, u) or (r, u)
                self.reach = max(self.reach, float(np.abs(u).max(initial=0.0)))
            return r, u
        finally:
            if len(extra_rows):
                first = self._base + len(self._loaded)
                drop = np.arange(first, first + len(extra_rows), dtype=np.int32)
                self.h.deleteRows(drop.size, drop)


#: without the box: an LP point farther out than this (|u|_inf) is pulled in (``_pull_in``)
PULL_FROM = 10.0
#: ... to the nearest point with a ball of this radius (the tree raises it to 100 x its margin:
#: ``ChebyshevLP.pull``), only when the LP's own radius exceeds it
PULL_RADIUS = 1e-3


def _pull_in(rows: np.ndarray, extra_rows, rho: float,
             u: np.ndarray) -> tuple[float, np.ndarray]:
    """Over all of R^d the LP maximises r up to its cap 1, which sends its point out along a
    thin wedge until the wedge is 2 wide (|u| ~ 1e8 between two lines meeting there), where
    rounding is no longer small. Every decision of the walk only asks r > margin, so a nearer
    point with a smaller ball serves as well: the point nearest the origin (min |u|_inf) with
    a ball of radius ``rho`` (> margin; the LP's radius is larger) in the rows, if HiGHS finds
    one whose evaluated radius holds ``rho``; else None for the caller to keep its own."""
    import highspy

    R = np.vstack([np.reshape(rows, (-1, u.size + 1)),
                   np.reshape(np.asarray(extra_rows, dtype=float), (-1, u.size + 1))])
    d = u.size
    h = new_highs()
    inf = highspy.kHighsInf
    empty_i = np.zeros(0, dtype=np.int32)
    cost = np.zeros(d + 1)
    cost[d] = 1.0                                          # columns u, then s >= |u_k|
    h.addCols(d + 1, cost, np.full(d + 1, -inf), np.full(d + 1, inf), 0, empty_i, empty_i,
              np.zeros(0))
    m = R.shape[0]
    idx = np.arange(d, dtype=np.int32)
    h.addRows(m, rho - R[:, d], np.full(m, inf), m * d, np.arange(0, m * d, d, dtype=np.int32),
              np.tile(idx, m), np.ascontiguousarray(R[:, :d]).ravel())
    for k in range(d):                                     # s - u_k >= 0, s + u_k >= 0
        for sign in (-1.0, 1.0):
            h.addRow(0.0, inf, 2, np.array([k, d], dtype=np.int32), np.array([sign, 1.0]))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    u2 = np.asarray(h.getSolution().col_value[:d], dtype=np.float64)
    r2 = _radius_at(u2, R, (), False)
    if r2 < rho * (1 - 1e-6) or float(np.abs(u2).max(initial=0.0)) >= float(np.abs(u).max()):
        return None
    return r2, u2


def _option(h, name: str):
    """The value of a HiGHS option (highspy returns (status, value) pairs)."""
    value = h.getOptionValue(name)
    return value[1] if isinstance(value, tuple) else value


def _radius_at(u: np.ndarray, rows: np.ndarray, extra_rows, box: bool = True) -> float:
    """The radius of the largest ball around u inside the box and the rows (evaluated); without
    the box, inside the rows, capped at 1 as the LP caps r, less the rounding of the products
    (u may lie far outside [-1, 1]^d there: ``(d + 2) eps (|a| . |u| + |b|)`` per row)."""
    ua = np.append(u, 1.0)
    r = 1.0 - float(np.abs(u).max(initial=0.0)) if box else 1.0
    rounding = 0.0
    for R in (rows, extra_rows):
        if len(R):
            R = np.asarray(R)
            r = min(r, float((R @ ua).min()))
            if not box:
                rounding = max(rounding, float((np.abs(R) @ np.abs(ua)).max()))
    return r - (u.size + 2) * EPS * rounding


def _packed(rows: list[tuple[list[int], list[float]]]):
    """Row-wise (start, index, value) arrays for ``addRows``."""
    starts = np.zeros(len(rows), dtype=np.int32)
    idx, val = [], []
    for i, (ix, vx) in enumerate(rows):
        starts[i] = len(idx)
        idx.extend(ix)
        val.extend(vx)
    return starts, np.asarray(idx, dtype=np.int32), np.asarray(val, dtype=np.float64)


@dataclass(frozen=True)
class Minimum:
    """One minimisation of the growing LP: HiGHS's ``value`` (None unless optimal) and ``safe``,
    a lower bound of the true minimum that rests on weak duality alone (see ``GrowingLP``)."""

    value: float | None
    safe: float


class GrowingLP:
    """An LP that only grows: columns and rows are appended, objectives are single columns.

    Used by the bound tightening: every ``minimize`` is a warm-started re-solve of one
    persistent Highs. HiGHS may drop tiny coefficients (``small_matrix_value``) and solves to a
    tolerance, so its optimum is not a proof. ``minimize`` therefore also returns a *safe* lower
    bound (Neumaier and Shcherbina 2004): for any row multipliers y, the true minimum of
    ``c.x`` over ``L <= A x <= U, l <= x <= u`` is at least
    ``sum_i min(y_i L_i, y_i U_i) + sum_j min(r_j l_j, r_j u_j)`` with ``r = c - A^T y``, evaluated
    with the rows exactly as they were added (every coefficient), multipliers whose needed row
    side is infinite set to 0, and the float error of the sums bounded and subtracted.
    """

    def __init__(self, lp_seconds: float = LP_SECONDS, lp_iterations: int = LP_ITERATIONS):
        import highspy

        self.h = new_highs()
        self.inf = self.h.getInfinity()
        self._optimal = highspy.HighsModelStatus.kOptimal
        self._time_limit = highspy.HighsModelStatus.kTimeLimit
        self.lp_seconds = lp_seconds
        self.lp_iterations = lp_iterations
        self.limited = 0            # LPs that ended without an optimum (a limit or a status)
        self.ncols = 0
        self._col_lo: list[np.ndarray] = []
        self._col_hi: list[np.ndarray] = []
        self._rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # (starts, idx, val)
        self._row_lo: list[np.ndarray] = []
        self._row_hi: list[np.ndarray] = []
        self._nrows = 0
        self._cache = None        # (A csr, |A| csr, row lo, row hi, col lo, col hi)

    def add_cols(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Columns with bounds [lo, hi] and cost 0; returns their indices."""
        n = lo.size
        empty_i = np.zeros(0, dtype=np.int32)
        self.h.addCols(n, np.zeros(n), lo, hi, 0, empty_i, empty_i, np.zeros(0))
        ids = np.arange(self.ncols, self.ncols + n, dtype=np.int32)
        self.ncols += n
        self._col_lo.append(np.array(lo, dtype=np.float64))
        self._col_hi.append(np.array(hi, dtype=np.float64))
        self._cache = None
        return ids

    def add_rows(self, lo, hi, rows: list[tuple[list[int], list[float]]]) -> None:
        """Rows ``lo <= sum val * col <= hi``, each given as (column indices, values)."""
        if not rows:
            return
        starts, idx, val = _packed(rows)
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        self.h.addRows(len(rows), lo, hi, idx.size, starts, idx, val)
        self._rows.append((starts, idx, val))
        self._row_lo.append(lo)
        self._row_hi.append(hi)
        self._nrows += len(rows)
        self._cache = None

    def set_col_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        self.h.changeColsBounds(cols.size, cols, lo, hi)
        clo, chi = self._bounds_arrays()
        clo[cols], chi[cols] = lo, hi

    def _bounds_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self._col_lo) != 1:
            self._col_lo = [np.concatenate(self._col_lo) if self._col_lo else np.zeros(0)]
            self._col_hi = [np.concatenate(self._col_hi) if self._col_hi else np.zeros(0)]
        return self._col_lo[0], self._col_hi[0]

    def _matrix(self):
        if self._cache is None:
            import scipy.sparse as sp

            clo, chi = self._bounds_arrays()
            starts = [st + off for (st, _, _), off in zip(self._rows, np.cumsum(
                [0] + [ix.size for _, ix, _ in self._rows[:-1]]))]
            nnz = sum(ix.size for _, ix, _ in self._rows)
            indptr = np.append(np.concatenate(starts), nnz) if starts else np.zeros(1, int)
            idx = np.concatenate([ix for _, ix, _ in self._rows]) if self._rows else np.zeros(0, int)
            val = np.concatenate([v for _, _, v in self._rows]) if self._rows else np.zeros(0)
            A = sp.csr_array((val, idx, indptr), shape=(self._nrows, self.ncols))
            rlo = np.concatenate(self._row_lo) if self._row_lo else np.zeros(0)
            rhi = np.concatenate(self._row_hi) if self._row_hi else np.zeros(0)
            self._cache = (A, abs(A), rlo, rhi)
        return self._cache

    def _safe_bound(self, col: int, sign: float, y: np.ndarray) -> float:
        A, absA, rlo, rhi = self._matrix()
        clo, chi = self._bounds_arrays()
        big = self.inf
        y = np.where(((y > 0) & (rlo > -big)) | ((y < 0) & (rhi < big)), y, 0.0)
        r = -(A.T @ y)
        r[col] += sign
        row_terms = np.where(y > 0, y * np.where(rlo > -big, rlo, 0.0),
                             y * np.where(rhi < big, rhi, 0.0))
        col_terms = np.minimum(r * clo, r * chi)
        # float error of r (|c| + |A|^T |y| per column, times the column's reach) and of the sums
        reach = np.maximum(np.abs(clo), np.abs(chi))
        r_err = (absA.T @ np.abs(y))
        r_err[col] += 1.0
        n = A.nnz + r.size + y.size + 2
        gamma = 2.0 * n * np.finfo(float).eps
        err = gamma * (float(np.abs(row_terms).sum()) + float((r_err * reach).sum()))
        bound = float(row_terms.sum() + col_terms.sum()) - err
        return bound if np.isfinite(bound) else -np.inf

    def minimize(self, col: int, sign: float,
                 should_stop: Callable[[], bool] | None = None) -> Minimum:
        """min of ``sign * x_col`` (warm re-solve): HiGHS's optimum (None unless optimal) and a
        safe lower bound of the true minimum (-inf when HiGHS gave no usable multipliers).

        HiGHS runs in slices of ``SLICE_SECONDS`` (each continues from the last basis), so
        ``should_stop`` is asked, and a signal handler runs, at least that often: once it says
        True this raises ``Interrupted``. One LP gets at most ``LP_SECONDS`` and
        ``LP_ITERATIONS`` simplex iterations; a limit or any status other than optimal leaves
        the safe bound of whatever multipliers HiGHS has (weak duality holds for any), and the
        next LP starts from scratch."""
        h = self.h
        h.changeColsCost(1, np.array([col], dtype=np.int32), np.array([sign]))
        try:
            status = self._run_sliced(should_stop)
            ok = status == self._optimal
            value = h.getObjectiveValue() if ok else None
            sol = h.getSolution()
            safe = -np.inf
            if sol.dual_valid:
                safe = self._safe_bound(col, sign, np.array(sol.row_dual, dtype=np.float64))
            if not ok:
                self.limited += 1
                h.clearSolver()
        finally:
            h.changeColsCost(1, np.array([col], dtype=np.int32), np.array([0.0]))
        return Minimum(value, safe)

    def _run_sliced(self, should_stop: Callable[[], bool] | None):
        """Run HiGHS until it stops for a reason other than a slice's time limit, or until the
        LP's time or iteration budget is spent; the model status."""
        h = self.h
        end = time.perf_counter() + self.lp_seconds
        iterations = 0
        while True:
            if should_stop is not None and should_stop():
                raise Interrupted("the bound tightening was stopped")
            left = end - time.perf_counter()
            # HiGHS's time limit is on the run time summed over every run of this Highs
            h.setOptionValue("time_limit", h.getRunTime() + max(1e-3, min(SLICE_SECONDS, left)))
            h.setOptionValue("simplex_iteration_limit", max(1, self.lp_iterations - iterations))
            h.run()
            status = h.getModelStatus()
            iterations += max(0, h.getInfo().simplex_iteration_count)
            if (status != self._time_limit or time.perf_counter() >= end
                    or iterations >= self.lp_iterations):
                return status


class RecessionLP:
    """max ``sum_i (G y)_i`` over ``G y >= 0``, ``-1 <= y <= 1``: zero iff no direction y keeps
    every row ``G_i . y >= 0`` without all of them being 0, i.e. (G of full column rank) iff the
    region ``G u + c >= 0`` is bounded (Stiemke's lemma: the alternative is a ``lambda > 0``
    with ``G^T lambda = 0``). One Highs, the model replaced at every call."""

    def __init__(self):
        self.h = None
        self.solves = 0

    def solve(self, G: np.ndarray) -> tuple[float, np.ndarray] | None:
        """(optimum, y) of the LP for the rows ``G`` (m, d); None if HiGHS gives no optimum."""
        import highspy

        if self.h is None:
            self.h = new_highs()
        h = self.h
        h.clearModel()
        m, d = G.shape
        inf = highspy.kHighsInf
        cost = G.sum(axis=0)
        empty_i = np.zeros(0, dtype=np.int32)
        h.addCols(d, cost, -np.ones(d), np.ones(d), 0, empty_i, empty_i, np.zeros(0))
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        idx = np.arange(d, dtype=np.int32)
        starts = np.arange(0, m * d, d, dtype=np.int32)
        h.addRows(m, np.zeros(m), np.full(m, inf), m * d, starts, np.tile(idx, m),
                  np.ascontiguousarray(G, dtype=np.float64).ravel())
        h.run()
        self.solves += 1
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        y = np.asarray(h.getSolution().col_value[:d], dtype=np.float64)
        return float(h.getObjectiveValue()), y
