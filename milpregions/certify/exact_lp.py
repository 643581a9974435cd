"""The facet test in exact rational arithmetic, for the rows that floats cannot settle.

Is there a point with ``a_i . u + c_i = 0`` and every other row ``a_j . u + c_j > 0``?
The equation eliminates one coordinate (positive scaling keeps the integer rows' signs); then
``max t`` subject to ``h_j(w) - t >= 0`` is solved by the dense tableau simplex in
``fractions.Fraction`` with Bland's rule of ``solver.exact_simplex`` (it cannot cycle),
started at the corner u = (-1, ..., -1) of the remaining coordinates (w = u + 1 >= 0 there,
as the box rows imply) with t at its smallest row value. The answer is a point in the relative interior of the
facet when the optimum is positive, else a proof by exact optimality that there is none.
Slow (Python rationals), so only the undecided rows come here. Over all of R^d (no box rows,
``box=False``) the remaining coordinates are free (u' = p - q, p, q >= 0, started at u' = 0)
and t <= 1, so an unbounded facet has the finite optimum 1.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..solver.exact_simplex import maximise


def _eliminate(A: np.ndarray, c: np.ndarray, i: int):
    """The other rows on the plane of row i, in the coordinates left after solving row i
    for its first nonzero one: (H, h, p) with the row of j being H_j . u' + h_j."""
    a = [int(v) for v in A[i]]
    p = next(k for k, v in enumerate(a) if v)
    ap, ci = a[p], int(c[i])
    s = 1 if ap > 0 else -1
    rows, consts = [], []
    for j in range(A.shape[0]):
        if j == i:
            continue
        b = [int(v) for v in A[j]]
        # |a_p| g_j with u_p = -(c_i + sum_{k != p} a_k u_k) / a_p
        rows.append([s * (b[k] * ap - b[p] * a[k]) for k in range(len(a)) if k != p])
        consts.append(s * (int(c[j]) * ap - b[p] * ci))
    return rows, consts, p


def facet_point(A: np.ndarray, c: np.ndarray, i: int, box: bool = True) -> list[Fraction] | None:
    """A point of the plane of row i at which every other row is positive, exactly; None if
    there is none. ``box=False``: the rows are a region of all of R^d (no box among them)."""
    d = A.shape[1]
    rows, consts, p = _eliminate(A, c, i)
    n = d - 1
    if not box:
        return _facet_point_free(A, c, i, rows, consts, p)
    # rows in w = u' + 1: H w + (h - H 1); t = t0 + tau, t0 the smallest value at w = 0
    h0 = [ci - sum(r) for r, ci in zip(rows, consts)]
    t0 = min(h0) if h0 else 0
    # tableau: s_j = (h0_j - t0) + sum_k H_jk w_k - tau >= 0; columns w_0..w_{n-1}, tau
    T = [[Fraction(v) for v in r] + [Fraction(-1), Fraction(h - t0)] for r, h in zip(rows, h0)]
    obj = [Fraction(0)] * n + [Fraction(1), Fraction(0)]   # maximise tau (reduced costs)
    value = maximise(T, obj)
    if value is None:                   # unbounded: cannot happen inside the box
        return None
    tau = value.get(n, Fraction(0))
    if t0 + tau <= 0:
        return None
    w = [value.get(k, Fraction(0)) for k in range(n)]
    return _on_facet(A, c, i, p, [wk - 1 for wk in w])


def _facet_point_free(A, c, i: int, rows, consts, p: int) -> list[Fraction] | None:
    """``facet_point`` over all of R^d: the other rows ``H_j . u' + h_j - t >= 0`` with u' free
    (u' = p - q) and ``t <= 1``, from u' = 0 with t = t0, the smallest of the ``h_j`` and 1."""
    d = A.shape[1]
    n = d - 1
    H = [list(r) for r in rows] + [[0] * n]            # the cap: 1 - t >= 0
    h = list(consts) + [1]
    t0 = min(h)
    # tableau: (h_j - t0) + H_j (p - q) - tau >= 0; columns p_0..p_{n-1}, q_0..q_{n-1}, tau
    T = [[Fraction(v) for v in r] + [Fraction(-v) for v in r] + [Fraction(-1), Fraction(hj - t0)]
         for r, hj in zip(H, h)]
    obj = [Fraction(0)] * (2 * n) + [Fraction(1), Fraction(0)]
    value = maximise(T, obj)
    if value is None:                   # cannot happen: t <= 1
        return None
    if t0 + value.get(2 * n, Fraction(0)) <= 0:
        return None
    return _on_facet(A, c, i, p, [value.get(k, Fraction(0)) - value.get(n + k, Fraction(0))
                                   for k in range(n)])


def _on_facet(A, c, i: int, p: int, u_rest: list[Fraction]) -> list[Fraction]:
    """The point of row i's hyperplane ``A_i u + c_i = 0`` whose coordinates other than p are
    ``u_rest`` (in order), solved for coordinate p."""
    d = A.shape[1]
    a = [int(v) for v in A[i]]
    rest = [k for k in range(d) if k != p]
    up = -(int(c[i]) + sum(a[k] * uk for k, uk in zip(rest, u_rest))) / Fraction(a[p])
    u = [Fraction(0)] * d
    for k, uk in zip(rest, u_rest):
        u[k] = uk
    u[p] = up
    return u


def bounded_exactly(A: np.ndarray) -> bool:
    """Whether a region ``A u + c > 0`` (integer rows, nonempty) is bounded, exactly: iff A has
    rank d and ``max sum_j (A y)_j`` over ``A y >= 0``, ``|y|_inf <= 1`` is 0 (Stiemke's
    lemma; see ``enumerator.recession``), by the exact simplex from y = 0 (y = p - q)."""
    m, d = A.shape
    if m <= d:
        return False
    M = [[Fraction(int(v)) for v in row] for row in A]
    R = [row[:] for row in M]                           # rank d: Gauss-Jordan in Fractions
    rank = 0
    for col in range(d):
        piv = next((r for r in range(rank, m) if R[r][col] != 0), None)
        if piv is None:
            continue
        R[rank], R[piv] = R[piv], R[rank]
        for r in range(m):
            if r != rank and R[r][col] != 0:
                f = R[r][col] / R[rank][col]
                R[r] = [x - f * y for x, y in zip(R[r], R[rank])]
        rank += 1
    if rank < d:
        return False
    zero = Fraction(0)
    T = [row + [-v for v in row] + [zero] for row in M]
    for k in range(d):                                  # p_k <= 1, q_k <= 1
        for off in (0, d):
            cap = [zero] * (2 * d) + [Fraction(1)]
            cap[off + k] = Fraction(-1)
            T.append(cap)
    g = [sum((row[k] for row in M), zero) for k in range(d)]
    obj = g + [-v for v in g] + [zero]
    value = maximise(T, obj)
    if value is None:                                   # cannot happen: |y| <= 1
        return False
    y = [value.get(k, zero) - value.get(d + k, zero) for k in range(d)]
    return sum(gk * yk for gk, yk in zip(g, y)) == 0
