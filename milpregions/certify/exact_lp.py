"""The facet test in exact rational arithmetic, for the rows that floats cannot settle.

Is there a point with ``a_i . u + c_i = 0`` and every other row ``a_j . u + c_j > 0``?
The equation eliminates one coordinate (positive scaling keeps the integer rows' signs); then
``max t`` subject to ``h_j(w) - t >= 0`` is solved by the dense tableau simplex in
``fractions.Fraction`` with Bland's rule of ``solver.exact_simplex`` (it cannot cycle),
started at the corner u = (-1, ..., -1) of the remaining coordinates (w = u + 1 >= 0 there,
as the box rows imply) with t at its smallest row value. The answer is a point in the relative interior of the
facet when the optimum is positive, else a proof by exact optimality that there is none.
Slow (Python rationals), so only the undecided rows come here.
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


def facet_point(A: np.ndarray, c: np.ndarray, i: int) -> list[Fraction] | None:
    """A point of the plane of row i at which every other row is positive, exactly; None if
    there is none."""
    d = A.shape[1]
    rows, consts, p = _eliminate(A, c, i)
    n = d - 1
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
    u_rest = [wk - 1 for wk in w]
    a = [int(v) for v in A[i]]
    rest = [k for k in range(d) if k != p]
    up = -(int(c[i]) + sum(a[k] * uk for k, uk in zip(rest, u_rest))) / Fraction(a[p])
    u = [Fraction(0)] * d
    for k, uk in zip(rest, u_rest):
        u[k] = uk
    u[p] = up
    return u
