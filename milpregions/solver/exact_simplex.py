"""LPs in exact rational arithmetic: a dense tableau simplex in ``fractions.Fraction`` with
Bland's rule (it cannot cycle), and the Chebyshev-ball LP of a node solved with it.

Slow (Python rationals, numbers grow with every pivot), so it is the last resort: for an LP
that floats could not settle (the certificate's facet test, ``certify.exact_lp``) or that
HiGHS stopped on without an answer (``highs.ChebyshevLP``). Its answers are exact for the
rows as given (every float is a rational), so a decision on them is a decision on the LP
itself, not on a solver's tolerance.
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm
from typing import NamedTuple

import numpy as np


def maximise(T: list[list[Fraction]], obj: list[Fraction]) -> dict[int, Fraction] | None:
    """max ``obj . x`` over ``x >= 0`` subject to ``T_j[-1] + sum_k T_j[k] x_k >= 0`` for every
    row j, from the feasible start x = 0 (every ``T_j[-1] >= 0``); entries are rationals
    (``Fraction`` or int; ``obj`` has one entry per column, then a last entry 0). Returns the
    value of every basic column at the optimum (column k of x is key k; nonbasic columns are
    0), or None if unbounded.

    The tableau is held as integers over one common denominator and pivoted without fractions
    (Edmonds' integer-preserving rule: each new entry ``(m_jk p - m_je m_lk) / d`` divides
    exactly, d the last pivot), so no gcd is taken per operation: the same pivots as the
    rational tableau (its ratio tests and Bland's order are unchanged by the positive scale),
    about ten times faster."""
    m = len(T)
    n = len(obj) - 1
    scale = 1
    for row in [*T, obj]:
        for v in row:
            scale = lcm(scale, Fraction(v).denominator)
    M = [[int(Fraction(v) * scale) for v in row] for row in T]
    c = [int(Fraction(v) * scale) for v in obj]
    D = 1                           # the tableau is M / D, D > 0
    nonbasic = list(range(n))       # column k of T is nonbasic variable nonbasic[k]
    basic = [n + j for j in range(m)]
    while True:
        enter = min((k for k in range(n) if c[k] > 0), key=lambda k: nonbasic[k], default=None)
        if enter is None:
            break
        # ratio test: the smallest M_j[-1] / -M_j[enter] over M_j[enter] < 0 (Bland's ties)
        leave, bn, bd = -1, 0, 1
        for j in range(m):
            q = -M[j][enter]
            if q > 0:
                v = M[j][-1] * bd - bn * q
                if leave < 0 or v < 0 or (v == 0 and basic[j] < basic[leave]):
                    leave, bn, bd = j, M[j][-1], q
        if leave < 0:
            return None
        row = M[leave]
        P = row[enter]              # < 0: the new denominator is -P
        for j in range(m + 1):
            if j == leave:
                continue
            r = M[j] if j < m else c
            f = r[enter]
            if f:
                new = [(f * lk - v * P) // D for v, lk in zip(r, row)]
                new[enter] = -f
            else:
                new = [-v * P // D for v in r]
            if j < m:
                M[j] = new
            else:
                c = new
        new = list(row)
        new[enter] = -D
        M[leave] = new
        D = -P
        basic[leave], nonbasic[enter] = nonbasic[enter], basic[leave]
    return {b: Fraction(M[j][-1], D) for j, b in enumerate(basic) if b < n}


class ExactBall(NamedTuple):
    """The exact optimum of a Chebyshev LP: radius ``r`` and centre ``u`` (rationals)."""

    r: Fraction
    u: list[Fraction]


def _integer_row(values) -> tuple[list[int], int]:
    """The floats ``values`` times the smallest power of two making them all integers."""
    fr = [Fraction(float(v)) for v in values]
    den = max((f.denominator for f in fr), default=1)
    return [int(f * den) for f in fr], den


def chebyshev_exact(rows: np.ndarray, box: bool = True) -> ExactBall:
    """max r subject to ``a_i . u + b_i >= r`` for every row ``[a, b]`` of ``rows``,
    ``-1 + r <= u_k <= 1 - r``, ``-1 <= u_k <= 1`` and ``r <= 1``, exactly, for the rows as
    given (HiGHS's LP of ``highs.ChebyshevLP`` without its lower bound on r).

    In w = u + 1 >= 0 every row reads ``H_j . w + h_j - g_j r >= 0`` (integers, g_j > 0 except
    for the rows w_k <= 2); with t0 the smallest ``h_j / g_j`` (the best r at w = 0) and
    ``r = t0 + tau`` the start w = 0, tau = 0 is feasible. ``box=False``: the LP over all of
    R^d (no box rows, r <= 1 still; ``_chebyshev_free``).
    """
    if not box:
        return _chebyshev_free(rows)
    d = rows.shape[1] - 1
    H: list[list[int]] = []
    h: list[int] = []
    g: list[int] = []
    for row in rows:
        ints, den = _integer_row(row)
        H.append(ints[:d])
        h.append(ints[d] - sum(ints[:d]))     # a.(w - 1) + b
        g.append(den)
    for k in range(d):
        unit = [0] * d
        unit[k] = 1
        H.append(unit)                            # u_k + 1 >= r
        h.append(0)
        g.append(1)
        H.append([-v for v in unit])              # 1 - u_k >= r
        h.append(2)
        g.append(1)
        H.append([-v for v in unit])              # u_k <= 1
        h.append(2)
        g.append(0)
    H.append([0] * d)                             # r <= 1
    h.append(1)
    g.append(1)
    t0 = min(Fraction(hj, gj) for hj, gj in zip(h, g) if gj)
    T = [[Fraction(v) for v in Hj] + [Fraction(-gj), hj - gj * t0]
         for Hj, hj, gj in zip(H, h, g)]
    obj = [Fraction(0)] * d + [Fraction(1), Fraction(0)]
    value = maximise(T, obj)
    if value is None:                             # cannot happen: r <= 1 bounds it
        raise ArithmeticError("the exact Chebyshev LP came out unbounded")
    u = [value.get(k, Fraction(0)) - 1 for k in range(d)]
    return ExactBall(t0 + value.get(d, Fraction(0)), u)


def _chebyshev_free(rows: np.ndarray) -> ExactBall:
    """max r subject to ``a_i . u + b_i >= r`` for every row and ``r <= 1``, u free, exactly:
    u = p - q with p, q >= 0; from u = 0 with r = t0 (the smallest ``b_i``, and 1), every
    row reads ``H (p - q) + h_j - g_j t0 - g_j tau >= 0`` (integers) with tau = r - t0 >= 0,
    feasible at p = q = tau = 0. Bounded: the objective is tau <= 1 - t0."""
    d = rows.shape[1] - 1
    H: list[list[int]] = []
    h: list[int] = []
    g: list[int] = []
    for row in rows:
        ints, den = _integer_row(row)
        H.append(ints[:d])
        h.append(ints[d])
        g.append(den)
    H.append([0] * d)                             # r <= 1
    h.append(1)
    g.append(1)
    t0 = min(Fraction(hj, gj) for hj, gj in zip(h, g))
    T = [[Fraction(v) for v in Hj] + [Fraction(-v) for v in Hj] + [Fraction(-gj), hj - gj * t0]
         for Hj, hj, gj in zip(H, h, g)]
    obj = [Fraction(0)] * (2 * d) + [Fraction(1), Fraction(0)]
    value = maximise(T, obj)
    if value is None:                             # cannot happen: r <= 1 bounds it
        raise ArithmeticError("the exact Chebyshev LP came out unbounded")
    u = [value.get(k, Fraction(0)) - value.get(d + k, Fraction(0)) for k in range(d)]
    return ExactBall(t0 + value.get(2 * d, Fraction(0)), u)
