"""The convex body the estimators draw from: a box, or a polytope domain ``A x <= b``.

``sample`` and ``lines`` need, of their domain: random points in it (uniform, or normal around
a centre and redrawn outside), chords through it, the distance from a point to its boundary
and, for the Poisson extrapolation, its intrinsic volumes V_0..V_d. A box has all of them in
closed form. A polytope (``ir.domain.Polytope``):

- uniform points: the L1 ball exactly (signs times a Dirichlet(1, ..., 1) point scaled by
  U^(1/d): uniform in the cross-polytope, whose share of its box is 1/d!); any other
  polytope by rejection from its bounding box, in batches, stopping with an ``InputError``
  that names the acceptance rate when fewer than ``MIN_ACCEPT`` of the draws land inside;
- ``gauss:STD``: normal around its Chebyshev centre (the centre of the largest ball inside,
  one LP), points outside redrawn (the same ``MIN_ACCEPT`` rule);
- chords: a uniform point inside and a uniform direction, clipped to every row and the box;
- intrinsic volumes only where they are computed exactly from its vertices (d <= 3: the
  interval; the polygon's perimeter / 2 and area; in 3-D the mean-width term
  sum_edges length x exterior angle / (2 pi), surface / 2 and volume, by Qhull), else None:
  no Poisson extrapolation is given (a box's number is never reported as a polytope's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..ir.domain import Box, L1Ball, Polytope

MIN_ACCEPT = 1e-3           # the least share of draws that may land inside (uniform or gauss)
PILOT = 10_000              # draws before the acceptance rate is judged


def intrinsic_volumes(sides) -> list[float]:
    """V_0..V_d of a box: elementary symmetric polynomials of the side lengths."""
    e = [1.0]
    for a in sides:
        e = [1.0] + [e[k] + a * e[k - 1] for k in range(1, len(e))] + [a * e[-1]]
    return e


def _accept_error(what: str, got: int, drawn: int, fix: str) -> InputError:
    return InputError(f"{what}: only {got / drawn:.3g} of the points drawn fall in the polytope "
                      f"({got:,} of {drawn:,}; at least {MIN_ACCEPT:g} needed); {fix}")


@dataclass(frozen=True)
class BoxBody:
    """A box (``ir.domain.Box``): everything in closed form."""

    box: Box
    kind: str = "box"

    @property
    def dim(self) -> int:
        return self.box.dim

    def uniform(self, rng, n: int) -> np.ndarray:
        box = self.box
        return box.lo + (box.hi - box.lo) * rng.random((n, box.dim))

    def gauss(self, rng, n: int, std: float) -> np.ndarray:
        """Normals around the box centre, points outside the box redrawn."""
        box = self.box
        return _rejected(rng, n, lambda m: box.center + std * rng.standard_normal((m, box.dim)),
                         self.inside, f"gauss:{std:g}", "use a smaller standard deviation",
                         "box")

    def inside(self, X: np.ndarray) -> np.ndarray:
        return np.all((X >= self.box.lo) & (X <= self.box.hi), axis=1)

    def chords(self, rng, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``k`` chords: a uniform point, a uniform direction, extended to the faces."""
        box = self.box
        X = self.uniform(rng, k)
        U = _directions(rng, k, box.dim)
        lo_s, hi_s = _box_reach(box, X, U)
        P = np.clip(X + lo_s[:, None] * U, box.lo, box.hi)
        Q = np.clip(X + hi_s[:, None] * U, box.lo, box.hi)
        return P, Q

    def face_distances(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        return np.minimum(X - self.box.lo, self.box.hi - X).min(axis=1)

    def volumes(self) -> list[float] | None:
        return intrinsic_volumes(self.box.hi - self.box.lo)


@dataclass(frozen=True)
class PolytopeBody:
    """A polytope domain: points, chords and distances against its rows (see the module
    docstring)."""

    poly: Polytope
    kind: str = "polytope"
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def dim(self) -> int:
        return self.poly.dim

    def inside(self, X: np.ndarray) -> np.ndarray:
        return self.poly.contains(X)

    def uniform(self, rng, n: int) -> np.ndarray:
        if self.poly.source == "l1":
            return self._l1_uniform(rng, n)
        box = self.poly.box
        return _rejected(rng, n, lambda m: box.lo + (box.hi - box.lo) * rng.random((m, box.dim)),
                         self.inside, "uniform", "rejection from the bounding box is too slow "
                         "for this polytope (a thin one, or many dimensions)", "polytope")

    def _l1_uniform(self, rng, n: int) -> np.ndarray:
        """Uniform in the L1 ball of the box's centre and half-width (exact, no rejection)."""
        box = self.poly.box
        d = box.dim
        c, r = box.center, float(box.halfwidth[0])
        E = rng.standard_exponential((n, d))
        E /= E.sum(axis=1, keepdims=True)                   # Dirichlet(1, ..., 1)
        S = np.where(rng.random((n, d)) < 0.5, -1.0, 1.0)
        scale = rng.random(n) ** (1.0 / d)
        X = c + r * S * E * scale[:, None]
        # points within rounding of the boundary are checked against the rows themselves
        # (2^d of them: only there), and redrawn when outside or on it
        near = np.flatnonzero(np.abs(X - c).sum(axis=1) > r * (1 - 1e-9))
        bad = np.zeros(n, dtype=bool)
        bad[near] = ~self.inside(X[near])
        if np.any(bad):
            X[bad] = self._l1_uniform(rng, int(bad.sum()))
        return X

    def center(self) -> np.ndarray:
        """The Chebyshev centre: the centre of the largest ball inside (one LP)."""
        if "center" not in self._cache:
            from scipy.optimize import linprog

            A, b = self.poly.A, self.poly.b
            nrm = np.linalg.norm(A, axis=1)
            c = np.zeros(self.dim + 1)
            c[-1] = -1.0
            r = linprog(c, A_ub=np.hstack([A, nrm[:, None]]), b_ub=b,
                        bounds=[(None, None)] * self.dim + [(0, None)], method="highs")
            if r.status != 0 or r.x[-1] <= 0:
                raise InputError("the polytope has no interior point (its Chebyshev LP failed)")
            self._cache["center"] = np.asarray(r.x[:-1], dtype=np.float64)
        return self._cache["center"]

    def gauss(self, rng, n: int, std: float) -> np.ndarray:
        """Normals around the Chebyshev centre, points outside the polytope redrawn."""
        c = self.center()
        return _rejected(rng, n, lambda m: c + std * rng.standard_normal((m, self.dim)),
                         self.inside, f"gauss:{std:g}", "use a smaller standard deviation",
                         "polytope")

    def chords(self, rng, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``k`` chords: a uniform point inside, a uniform direction, clipped to every row
        ``A x <= b`` and the box (the chord is where all of them hold)."""
        A, b, box = self.poly.A, self.poly.b, self.poly.box
        X = self.uniform(rng, k)
        U = _directions(rng, k, self.dim)
        lo_s, hi_s = _box_reach(box, X, U)
        slack = b[None, :] - X @ A.T                         # > 0: X is inside
        rate = U @ A.T
        with np.errstate(divide="ignore", invalid="ignore"):
            s = slack / rate
        hi_s = np.minimum(hi_s, np.where(rate > 0, s, np.inf).min(axis=1))
        lo_s = np.maximum(lo_s, np.where(rate < 0, s, -np.inf).max(axis=1))
        return X + lo_s[:, None] * U, X + hi_s[:, None] * U

    def face_distances(self, X: np.ndarray) -> np.ndarray:
        """Euclidean distance to the nearest facet hyperplane (the boundary, for X inside)."""
        X = np.atleast_2d(X)
        A, b = self.poly.A, self.poly.b
        return ((b[None, :] - X @ A.T) / np.linalg.norm(A, axis=1)[None, :]).min(axis=1)

    def unit_rows(self) -> np.ndarray:
        """The rows in the box's normalised coordinates u (x = centre + half-width u):
        ``a . u + c >= 0`` with |a| = 1, an (m, d + 1) array [a, c]."""
        box = self.poly.box
        G = -self.poly.A * box.halfwidth[None, :]
        c = self.poly.b - self.poly.A @ box.center
        n = np.linalg.norm(G, axis=1)
        return np.hstack([G, c[:, None]]) / n[:, None]

    def vertices(self) -> np.ndarray:
        """The polytope's vertices (Qhull's halfspace intersection around the Chebyshev
        centre)."""
        from scipy.spatial import HalfspaceIntersection

        H = np.hstack([self.poly.A, -self.poly.b[:, None]])
        return HalfspaceIntersection(H, self.center()).intersections

    def volumes(self) -> list[float] | None:
        """V_0..V_d where they are exact (d <= 3), else None."""
        if "volumes" not in self._cache:
            self._cache["volumes"] = polytope_volumes(self) if self.dim <= 3 else None
        return self._cache["volumes"]


Body = BoxBody | PolytopeBody

L1_LIFTED_REFUSED = ("the L1 ball above 12 inputs is counted (count, local) but not sampled: "
                     "sample, lines, hash and compare take it up to 12 inputs")


def body_of(region: Box | Polytope | Body) -> Body:
    """The body of a box or a polytope domain (a body as it is)."""
    if isinstance(region, (BoxBody, PolytopeBody)):
        return region
    if isinstance(region, Polytope):
        return PolytopeBody(region)
    if isinstance(region, Box):
        return BoxBody(region)
    raise TypeError(f"no estimator body for a {type(region).__name__}")


def body_of_problem(problem) -> Body:
    """What a Problem's estimators draw from: its polytope, else its (parameter) box; a lifted
    L1 ball (above ``inputs.L1_MAX_DIM`` inputs) is counted, not sampled."""
    if isinstance(problem.domain, L1Ball):
        raise InputError(L1_LIFTED_REFUSED)
    return body_of(problem.domain if isinstance(problem.domain, Polytope) else problem.box)


def polytope_volumes(body: PolytopeBody) -> list[float]:
    """V_0..V_d of a polytope of dimension 1, 2 or 3 from its vertices (Qhull)."""
    d = body.dim
    if d == 1:
        A, b = body.poly.A[:, 0], body.poly.b
        hi = float(np.min(b[A > 0] / A[A > 0])) if np.any(A > 0) else float(body.poly.box.hi[0])
        lo = float(np.max(b[A < 0] / A[A < 0])) if np.any(A < 0) else float(body.poly.box.lo[0])
        return [1.0, hi - lo]
    from scipy.spatial import ConvexHull

    hull = ConvexHull(body.vertices())
    if d == 2:
        return [1.0, hull.area / 2, hull.volume]         # in 2-D Qhull's area is the perimeter
    # 3-D: V_1 = sum over edges of length x (angle between the outward normals) / (2 pi);
    # Qhull's triangles of one facet meet at angle 0, so summing over triangle edges is exact
    V1 = 0.0
    normals = hull.equations[:, :-1]
    for s, simplex in enumerate(hull.simplices):
        for j in range(3):
            t = hull.neighbors[s, j]
            if t < s:
                continue                                  # each edge once
            a, c = np.delete(simplex, j)
            cos = float(np.clip(normals[s] @ normals[t], -1.0, 1.0))
            V1 += float(np.linalg.norm(hull.points[a] - hull.points[c])) * math.acos(cos)
    return [1.0, V1 / (2 * math.pi), hull.area / 2, hull.volume]


def _directions(rng, k: int, d: int) -> np.ndarray:
    U = rng.standard_normal((k, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    return U


def _box_reach(box: Box, X: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far from X along -U / +U the box reaches (as multiples of U)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s1 = (box.lo - X) / U
        s2 = (box.hi - X) / U
    lo_s = np.where(U != 0, np.minimum(s1, s2), -np.inf).max(axis=1)
    hi_s = np.where(U != 0, np.maximum(s1, s2), np.inf).min(axis=1)
    return lo_s, hi_s


def _rejected(rng, n: int, draw, inside, what: str, fix: str, where: str) -> np.ndarray:
    """``n`` points of ``draw(m)`` that are ``inside``, drawn in batches; an InputError once
    fewer than ``MIN_ACCEPT`` of at least ``PILOT`` draws were inside."""
    parts, got, drawn = [], 0, 0
    while got < n:
        m = max(2 * (n - got), 64)
        Y = draw(m)
        Y = Y[inside(Y)]
        drawn += m
        parts.append(Y[: n - got])
        got += len(parts[-1])
        if drawn > PILOT and got < MIN_ACCEPT * drawn:
            if where == "box":
                raise InputError(f"{what}: fewer than {MIN_ACCEPT:.1%} of the points fall in "
                                 f"the box; {fix}")
            raise _accept_error(what, got, drawn, fix)
    return np.concatenate(parts) if parts else np.zeros((0, 0))
