"""The exact simplex pivots integers over one denominator (no gcd per operation): it must give
the rational tableau's answers, pivot for pivot, on degenerate LPs as on plain ones."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from milpregions.solver.exact_simplex import maximise


def _rational_maximise(T, obj):
    """The tableau simplex in ``Fraction`` with Bland's rule, entry by entry (the reference:
    how ``maximise`` pivoted before it kept integers)."""
    m, n = len(T), len(obj) - 1
    nonbasic, basic = list(range(n)), [n + j for j in range(m)]
    while True:
        enter = min((k for k in range(n) if obj[k] > 0), key=lambda k: nonbasic[k], default=None)
        if enter is None:
            return {b: T[j][-1] for j, b in enumerate(basic) if b < n}
        best, leave = None, None
        for j in range(m):
            if T[j][enter] < 0:
                ratio = T[j][-1] / -T[j][enter]
                if best is None or ratio < best or (ratio == best and basic[j] < basic[leave]):
                    best, leave = ratio, j
        if leave is None:
            return None
        piv = T[leave][enter]
        new = [-v / piv for v in T[leave]]
        new[enter] = 1 / piv
        for j in range(m):
            if j != leave:
                f = T[j][enter]
                T[j] = [v + f * nv if k != enter else f * nv
                        for k, (v, nv) in enumerate(zip(T[j], new))]
        f = obj[enter]
        obj[:] = [v + f * nv if k != enter else f * nv for k, (v, nv) in enumerate(zip(obj, new))]
        T[leave] = new
        basic[leave], nonbasic[enter] = nonbasic[enter], basic[leave]


# small integers and halves, many zeros and repeats: ties in the ratio test, degenerate
# vertices (zero right-hand sides), parallel and repeated rows
entry = st.sampled_from([0, 0, 0, 1, -1, 2, -2, 3, -5, Fraction(1, 2), Fraction(-7, 3)])


@st.composite
def lps(draw):
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 7))
    rows = [[draw(entry) for _ in range(n)] + [draw(st.sampled_from([0, 0, 1, 2, Fraction(5, 2)]))]
            for _ in range(m)]
    if draw(st.booleans()):
        rows.append(list(rows[0]))                          # a repeated row
    if draw(st.booleans()):                                 # a cap: bounded more often
        rows.append([-1] * n + [draw(st.sampled_from([0, 1, 3]))])
    obj = [draw(entry) for _ in range(n)] + [0]
    return rows, obj


@settings(max_examples=300, deadline=None)
@given(lps())
def test_integer_pivots_give_the_rational_tableaus_answer(lp):
    rows, obj = lp
    want = _rational_maximise([[Fraction(v) for v in r] for r in rows], [Fraction(v) for v in obj])
    got = maximise([list(r) for r in rows], list(obj))
    assert got == want
    if got is not None:                                     # feasible and optimal, exactly
        n = len(obj) - 1
        x = [got.get(k, Fraction(0)) for k in range(n)]
        assert all(v >= 0 for v in x)
        assert all(r[-1] + sum(a * v for a, v in zip(r, x)) >= 0 for r in rows)
        # the optimum value agrees with an independent float LP (HiGHS through scipy)
        A = np.array([[-float(a) for a in r[:-1]] for r in rows])
        b = np.array([float(r[-1]) for r in rows])
        res = linprog(-np.array([float(v) for v in obj[:-1]]), A_ub=A, b_ub=b, method="highs")
        assert res.status == 0
        value = sum(Fraction(c) * v for c, v in zip(obj, x))
        assert abs(float(value) + res.fun) <= 1e-9 * max(1.0, abs(res.fun))


def test_a_degenerate_vertex_and_an_unbounded_ray():
    # x0 - x1 >= 0 and x1 - x0 >= 0 at 0 (degenerate); max x0 + x1 along x0 = x1: unbounded
    assert maximise([[1, -1, 0], [-1, 1, 0]], [1, 1, 0]) is None
    # the same capped by 3 - x0 >= 0: the optimum x0 = x1 = 3 after degenerate pivots
    got = maximise([[1, -1, 0], [-1, 1, 0], [-1, 0, 3]], [1, 1, 0])
    assert got == {0: 3, 1: 3}
