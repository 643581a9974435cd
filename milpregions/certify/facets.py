"""The facets of one region, each proven exactly: a rational point inside the facet, or a proof
that a row has no facet.

Floats (``solver.region_lp``) find the answers, integers prove them:

- **a coordinate bound** ``sign * u_k >= beta``: multipliers y >= 0 on the rows HiGHS holds
  active, solved exactly from ``sum y_j a_j = sign e_k`` (weak duality; any y >= 0 proves it);
- **no facet by the bounds**: a row positive on the whole bounding box so proven;
- **a facet**: a point q with ``a_i . q + c_i = 0`` exactly and every other row strictly
  positive at q (the float point projected onto the plane in rational arithmetic): q is in the
  relative interior of the facet;
- **no facet**: y >= 0, y != 0 and lambda with ``sum y_j a_j + lambda a_i = 0`` and
  ``sum y_j c_j + lambda c_i <= 0`` (a Motzkin alternative: no point of the plane has every
  other row strictly positive).

A row none of these settles goes to ``exact_lp`` (an exact simplex), which settles it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..solver.region_lp import RegionLP
from .exact import Halfspaces, as_fraction_point, dyadic
from .exact_lp import facet_point


@dataclass(frozen=True)
class Facet:
    """A facet of a region: the point Q / D in its relative interior, the outward direction
    v (ints), whether it lies on the domain's boundary, and ``plane``, its primitive integer
    row as seen from the other side (the key under which the neighbour knows it)."""

    Q: np.ndarray
    D: int
    v: np.ndarray
    on_boundary: bool
    plane: tuple[int, ...]


@dataclass(frozen=True)
class RegionFacets:
    """Every facet of a region, with how many rows were proven not to be one and how many
    could not be decided."""

    facets: list[Facet]
    proven_not: int
    undecided: int


def _primitive(row) -> tuple[int, ...]:
    g = 0
    for v in row:
        g = math.gcd(g, int(v))
    return tuple(int(v) // g for v in row) if g else tuple(int(v) for v in row)


def _unique(H: Halfspaces, d: int, boundary: frozenset = frozenset()):
    """The distinct halfspaces (positive multiples are one), which are on the domain's boundary
    (box faces, and the rows whose primitive keys are in ``boundary``), and their primitive
    keys."""
    seen: dict[tuple[int, ...], int] = {}
    keep, keys = [], []
    for j in range(H.A.shape[0]):
        key = _primitive(list(H.A[j]) + [H.c[j]])
        if key not in seen:
            seen[key] = j
            keep.append(j)
            keys.append(key)
    A, c = H.A[keep], H.c[keep]
    box = np.zeros(len(keep), dtype=bool)
    for k in range(d):
        for s in (1, -1):
            e = [0] * (d + 1)
            e[k], e[d] = s, 1
            j = seen.get(tuple(e))
            if j is not None:
                box[keep.index(j)] = True
    for i, key in enumerate(keys):
        if key in boundary:
            box[i] = True
    return A, c, box, keys


def _float_rows(A: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Unit-normal float rows [a, c] of integer rows of any size."""
    n, d = A.shape
    R = np.hstack([A, c[:, None]])
    if max((abs(int(v)).bit_length() for v in R.ravel()), default=0) < 900:
        F = R.astype(np.float64)
        F /= np.abs(F[:, :d]).max(axis=1)[:, None]
        return F / np.linalg.norm(F[:, :d], axis=1)[:, None]
    out = np.zeros((n, d + 1))
    for j in range(n):
        row = [int(v) for v in A[j]] + [int(c[j])]
        shift = max(abs(v).bit_length() for v in row) - 60
        f = np.array([float(v >> shift) if shift > 0 else float(v << -shift) for v in row])
        out[j] = f / np.linalg.norm(f[:d])
    return out


def _eliminate(R: list[list[int]]) -> tuple[list[int], list[int]] | None:
    """Fraction-free Gauss-Jordan (Bareiss) on integer rows, in place: returns the pivot
    columns and their rows; every pivot ends equal (to a minor), above and below it zero."""
    n, m = len(R), len(R[0])
    prev, r = 1, 0
    cols, rows = [], []
    for col in range(m):
        piv = next((i for i in range(r, n) if R[i][col] != 0), None)
        if piv is None:
            continue
        R[r], R[piv] = R[piv], R[r]
        p = R[r][col]
        for i in range(n):
            if i != r:
                f = R[i][col]
                R[i] = [(p * a - f * b) // prev for a, b in zip(R[i], R[r])]
        prev = p
        cols.append(col)
        rows.append(r)
        r += 1
        if r == n:
            break
    return cols, rows


def _solve(M: list[list[int]], b: list[int]) -> tuple[list[int], int] | None:
    """The solution x = num / den (den > 0) of the square integer system M x = b, exactly
    (None when singular)."""
    n = len(M)
    R = [[int(v) for v in row] + [int(bv)] for row, bv in zip(M, b)]
    cols, _ = _eliminate(R)
    if cols != list(range(n)):
        return None
    den = R[n - 1][n - 1]
    num = [R[i][n] * (den // R[i][i]) if R[i][i] != den else R[i][n] for i in range(n)]
    if den < 0:
        num, den = [-v for v in num], -den
    if any(sum(a * x for a, x in zip(row, num)) != bv * den for row, bv in zip(M, b)):
        return None
    return num, den


def _null_vector(cols: list[list[int]]) -> list[int] | None:
    """The one direction of the null space of the integer matrix with these columns, as
    integers (None unless the null space is a line)."""
    m, d = len(cols), len(cols[0])
    R = [[int(cols[j][i]) for j in range(m)] for i in range(d)]
    pcols, prow = _eliminate(R)
    free = [j for j in range(m) if j not in pcols]
    if len(free) != 1:
        return None
    f = free[0]
    den = R[prow[0]][pcols[0]] if pcols else 1
    z = [0] * m
    z[f] = den
    for c, r in zip(pcols, prow):
        if R[r][c] != den:
            return None
        z[c] = -R[r][f]
    if any(sum(col[i] * zj for col, zj in zip(cols, z)) != 0 for i in range(d)):
        return None
    return z


def _float_below(x: Fraction) -> float:
    """The largest float <= x."""
    f = float(x)
    return f if Fraction(f) <= x else float(np.nextafter(f, -np.inf))


def _bounds(lp: RegionLP, A, c, d, box: bool = True) -> tuple[list[float], list[float]]:
    """Exactly proven bounds lo <= u <= hi of the region (the box where a proof fails; over
    all of R^d, infinite there)."""
    edge = 1.0 if box else np.inf
    lo, hi = [-edge] * d, [edge] * d
    for k in range(d):
        for sign in (1, -1):
            ans = lp.bound(k, float(sign))
            S = list(ans.active)
            if ans.point is None or len(S) != d:
                continue
            e = [0] * d
            e[k] = sign
            sol = _solve([[A[j][i] for j in S] for i in range(d)], e)
            if sol is None or any(v < 0 for v in sol[0]):
                continue
            y, den = sol
            beta = _float_below(Fraction(-sum(yj * int(c[j]) for yj, j in zip(y, S)), den))
            if sign > 0:
                lo[k] = max(lo[k], beta)
            else:
                hi[k] = min(hi[k], -beta)
    return lo, hi


def _positive_on_bounds(A: np.ndarray, c: np.ndarray, lo: list[float],
                        hi: list[float]) -> np.ndarray:
    """Per row: positive on the whole box [lo, hi] (floats, so one power-of-two scale)."""
    LO, HI = dyadic(lo), dyadic(hi)
    e = min(LO.e, HI.e)
    L, H = LO.shifted(e), HI.shifted(e)
    pos = np.where(A > 0, A, 0)
    neg = A - pos
    return pos.dot(L) + neg.dot(H) + c * (1 << -e) > 0


def _relint_point(A, c, i: int, u: np.ndarray) -> tuple[np.ndarray, int] | None:
    """u projected exactly onto row i's plane, if every other row is strictly positive there."""
    U, den = as_fraction_point(u)
    a = A[i]
    n2 = int(a.dot(a))
    s = int(a.dot(U)) + int(c[i]) * den
    Q = U * n2 - a * s
    D = den * n2
    vals = A.dot(Q) + c * D
    vals[i] = 1
    return (Q, D) if np.all(vals > 0) else None


def _no_facet(A, c, i: int, active: np.ndarray) -> bool:
    """A Motzkin certificate that row i's plane has no point with every other row positive."""
    S = [int(j) for j in active if j != i]
    if not S:
        return False
    z = _null_vector([list(A[j]) for j in S] + [list(A[i])])
    if z is None:
        return False
    y, lam = z[:-1], z[-1]
    if not any(v > 0 for v in y):
        y, lam = [-v for v in y], -lam
    if any(v < 0 for v in y) or not any(v > 0 for v in y):
        return False
    return sum(yj * int(c[j]) for yj, j in zip(y, S)) + lam * int(c[i]) <= 0


def region_facets(H: Halfspaces, d: int, shared: set | frozenset = frozenset(),
                  in_box: bool = True, boundary: frozenset = frozenset()) -> RegionFacets:
    """Every facet of the (nonempty, bounded) region ``H``, exactly, except those whose
    primitive rows are in ``shared`` (facets already followed from the region beyond).
    ``in_box=False``: a region of all of R^d (no box rows; it may be unbounded);
    ``boundary``: the primitive keys of a polytope domain's rows (facets on its boundary)."""
    A, c, box, keys = _unique(H, d, boundary)
    facets: list[Facet] = []
    todo = np.array([k not in shared for k in keys], dtype=bool)
    if not todo.any():
        return RegionFacets(facets, 0, 0)
    lp = RegionLP(_float_rows(A, c), cap=not in_box)
    lo, hi = _bounds(lp, A, c, d, in_box)
    if np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)):
        far = _positive_on_bounds(A, c, lo, hi)
    else:
        far = np.zeros(len(keys), dtype=bool)
    proven_not = int((far & todo).sum())
    undecided = 0
    for i in np.flatnonzero(~far & todo):
        ans = lp.facet(i)
        if ans.point is not None and ans.value is not None and ans.value > 0:
            q = _relint_point(A, c, i, ans.point)
            if q is not None:
                plane = tuple(-v for v in keys[i])
                facets.append(Facet(q[0], q[1], -A[i], bool(box[i]), plane))
                continue
        if ans.point is not None and _no_facet(A, c, i, ans.active):
            proven_not += 1
            continue
        u = facet_point(A, c, i, in_box)  # the floats could not tell: exact simplex
        if u is None:
            proven_not += 1
            continue
        den = 1
        for v in u:
            den = den * v.denominator // math.gcd(den, v.denominator)
        Q = np.array([v.numerator * (den // v.denominator) for v in u], dtype=object)
        plane = tuple(-v for v in keys[i])
        facets.append(Facet(Q, den, -A[i], bool(box[i]), plane))
    return RegionFacets(facets, proven_not, undecided)
