"""Input domains behind one protocol: a box, an L-inf ball, a polytope, a 2-D slice, a segment,
and all of input space (``AllSpace``).

Every domain is a box of *parameters* (``domain.box``, ``domain.dim`` coordinates) and an
affine map from parameters into input space (``to_input``). Counting on a domain counts the
full-dimensional activation regions of the restricted network ``u -> F(to_input(u))`` inside
the parameter box (``restrict``): for a box or ball the parameters are the inputs themselves;
for a slice through P0, P1, P2 they are (s, t) with ``x = P0 + s (P1 - P0) + t (P2 - P0)``
(default [0, 1]^2, the parallelogram spanned by the triangle); for a segment through P0, P1
they are t with ``x = P0 + t (P1 - P0)`` (default [0, 1]).

All geometry (bounds, LPs, vertices, margins) then works in normalised coordinates
u in [-1, 1]^dim, ``parameter = box.center + box.halfwidth * u`` (``Box.from_unit``), so that
distances and the counting margin are relative to the box: huge and tiny boxes are alike.
``AllSpace`` keeps such a box only as its unit of length: its u ranges over all of R^dim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from ..errors import InputError
from .exact_map import ExactInputMap, fold_exact
from .network import Network

# Two direction vectors are treated as parallel (the three slice points as collinear) when the
# smaller singular value of [P1 - P0, P2 - P0] is below this fraction of the larger one.
COLLINEAR_RTOL = 1e-10


@runtime_checkable
class Domain(Protocol):
    """What every input domain offers (Box, Ball, Slice, Segment)."""

    kind: ClassVar[str]

    @property
    def box(self) -> Box: ...          # the parameter box

    @property
    def dim(self) -> int: ...            # number of parameters

    @property
    def input_dim(self) -> int: ...      # number of network inputs

    def restrict(self, net: Network) -> Network: ...     # the network on the parameters

    def to_input(self, U: np.ndarray) -> np.ndarray: ...  # parameters (..., dim) -> inputs

    def to_dict(self) -> dict: ...       # JSON-friendly description ("kind", "lo", "hi", ...)


def _floats(a) -> list[float]:
    return [float(v) for v in np.asarray(a).ravel()]


@dataclass(frozen=True)
class Box:
    """An axis-aligned box lo <= x <= hi in input space; its parameters are the inputs."""

    lo: np.ndarray
    hi: np.ndarray
    kind: ClassVar[str] = "box"

    @classmethod
    def make(cls, lo, hi, dim: int) -> Box:
        """Validate and broadcast bounds to ``dim`` inputs (scalars apply to every input)."""
        lo = np.asarray(lo, dtype=np.float64).reshape(-1)
        hi = np.asarray(hi, dtype=np.float64).reshape(-1)
        for name, v in (("lo", lo), ("hi", hi)):
            if v.size == 1:
                continue
            if v.size != dim:
                raise InputError(f"box {name} has {v.size} entries but the network has {dim} inputs")
        lo = np.broadcast_to(lo, (dim,)).copy()
        hi = np.broadcast_to(hi, (dim,)).copy()
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise InputError("box bounds must be finite numbers")
        bad = np.flatnonzero(lo >= hi)
        if bad.size:
            i = int(bad[0])
            raise InputError(f"box is empty in input {i}: lo={lo[i]:g} >= hi={hi[i]:g}")
        return cls(lo, hi)

    @property
    def box(self) -> Box:
        return self

    @property
    def dim(self) -> int:
        return int(self.lo.size)

    @property
    def input_dim(self) -> int:
        return int(self.lo.size)

    @property
    def center(self) -> np.ndarray:
        return (self.lo + self.hi) / 2

    @property
    def halfwidth(self) -> np.ndarray:
        return (self.hi - self.lo) / 2

    def from_unit(self, U: np.ndarray) -> np.ndarray:
        """Normalised points u in [-1, 1]^d -> points of the box."""
        return self.center + self.halfwidth * np.asarray(U)

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        """Points of the box -> normalised points u in [-1, 1]^d."""
        return (np.asarray(X) - self.center) / self.halfwidth

    def restrict(self, net: Network) -> Network:
        if net.input_dim != self.dim:
            raise InputError(f"the box has {self.dim} inputs but the network has {net.input_dim}")
        return net

    def to_input(self, U: np.ndarray) -> np.ndarray:
        return np.asarray(U, dtype=np.float64)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lo": _floats(self.lo), "hi": _floats(self.hi)}


class _OnParameterBox:
    """Domains whose parameters are the inputs themselves, inside the box they hold as ``box``
    (a ball, a polytope, all of R^d): ``lo``/``hi``, dimensions, restriction and inputs."""

    box: Box

    @property
    def lo(self) -> np.ndarray:
        return self.box.lo

    @property
    def hi(self) -> np.ndarray:
        return self.box.hi

    @property
    def dim(self) -> int:
        return self.box.dim

    @property
    def input_dim(self) -> int:
        return self.box.dim

    def restrict(self, net: Network) -> Network:
        return self.box.restrict(net)

    def to_input(self, U: np.ndarray) -> np.ndarray:
        return np.asarray(U, dtype=np.float64)


@dataclass(frozen=True)
class Ball(_OnParameterBox):
    """The L-inf ball of ``radius`` around ``center``: the box center -+ radius."""

    center: np.ndarray
    radius: float
    box: Box
    kind: ClassVar[str] = "ball"

    @classmethod
    def make(cls, center, radius: float, dim: int) -> Ball:
        try:
            c = np.asarray(center, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise InputError("the centre must be numbers") from None
        if c.size != dim:
            raise InputError(f"the centre has {c.size} numbers but the network has {dim} inputs")
        if not np.all(np.isfinite(c)):
            raise InputError("the centre must be finite numbers")
        if not (np.isfinite(radius) and radius > 0):
            raise InputError(f"the radius must be a positive number, got {radius}")
        return cls(c, float(radius), Box.make(c - radius, c + radius, dim))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lo": _floats(self.lo), "hi": _floats(self.hi),
                "center": _floats(self.center), "radius": self.radius}


@dataclass(frozen=True)
class AllSpace(_OnParameterBox):
    """All of input space R^d. ``box`` is not a bound but the unit of length: the count works
    in u = (x - box.center) / box.halfwidth over all of R^d, so the margin is relative to the
    box's half-widths as for a box count (default [-1, 1]^d: u = x)."""

    box: Box
    kind: ClassVar[str] = "all"

    @classmethod
    def make(cls, dim: int, lo=-1.0, hi=1.0) -> AllSpace:
        return cls(Box.make(lo, hi, dim))

    def to_dict(self) -> dict:
        """``lo``/``hi``: the box that sets the unit of length (not a bound)."""
        return {"kind": self.kind, "lo": _floats(self.lo), "hi": _floats(self.hi),
                "unbounded": True}


@dataclass(frozen=True)
class Polytope(_OnParameterBox):
    """The polytope ``A x <= b`` of input space, counted inside a box that holds it (``box``,
    its bounding box). Its regions are those of the network gated by its rows (``gate``):
    one single-unit layer ``relu(b_i - A_i x)`` per row before the network's own layers, and
    only the cell where every gate is on is entered, so every check of the tree (cells,
    radii, witnesses) sees the rows as unit rows. ``source``: how it was given (``rows``,
    ``hull`` of points, ``l1`` ball)."""

    A: np.ndarray
    b: np.ndarray
    box: Box
    source: str = "rows"
    kind: ClassVar[str] = "polytope"

    @classmethod
    def make(cls, A, b, box: Box, source: str = "rows") -> Polytope:
        A = np.atleast_2d(np.asarray(A, dtype=np.float64))
        b = np.asarray(b, dtype=np.float64).ravel()
        if A.ndim != 2 or A.shape[1] != box.dim or A.shape[0] != b.size or b.size == 0:
            raise InputError(f"a polytope is A x <= b with A of shape (m, {box.dim}) and b of "
                             f"m numbers; got A {A.shape} and b of {b.size}")
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
            raise InputError("the polytope's A and b must be finite numbers")
        zero = np.flatnonzero(~np.any(A != 0, axis=1))
        if zero.size:
            raise InputError(f"row {int(zero[0])} of the polytope's A is zero")
        return cls(A, b, box, source)

    @property
    def gates(self) -> int:
        """The layers ``gate`` puts before the network's own."""
        return int(self.b.size)

    def contains(self, X: np.ndarray) -> np.ndarray:
        """Which points are in the open polytope (every gate on: ``b - A x > 0``)."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        return (self.b[None, :] - X @ self.A.T > 0).all(axis=1)

    def gate(self, net: Network) -> Network:
        """``net`` (on the inputs) after one single-unit ReLU layer ``b_i - A_i x`` per row:
        the gates read the input, the network's layers read what they read (shifted by the
        gates), so the gated network's regions where every gate is on are the network's
        regions cut by the polytope."""
        return gate_network(net, self.A, self.b)

    def gated_unit_net(self, net: Network) -> Network:
        """The gated network (``gate``) on [-1, 1]^dim, folded exactly (``normalize``)."""
        return normalize(self.gate(net), self)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lo": _floats(self.lo), "hi": _floats(self.hi),
                "source": self.source, "A": [_floats(r) for r in self.A], "b": _floats(self.b)}


def gate_network(net: Network, A: np.ndarray, b: np.ndarray) -> Network:
    """``net`` after one single-unit ReLU layer ``relu(b_i - A_i x)`` per row, each reading
    the input; the network's layers read what they read, their sources shifted by the gates."""
    from .network import Affine, Layer, MaxLayer

    m = int(b.size)
    layers = [Layer(Affine({0: -A[i:i + 1].copy()}, b[i:i + 1].copy()), np.zeros(1), f"gate{i}")
              for i in range(m)]

    def shift(aff: Affine) -> Affine:
        return Affine({(s + m if s else 0): W for s, W in aff.W.items()}, aff.b)

    for layer in net.layers:
        if isinstance(layer, MaxLayer):
            layers.append(MaxLayer(shift(layer.affine), layer.groups, layer.name))
        else:
            layers.append(Layer(shift(layer.affine), layer.neg_slope, layer.name))
    return Network(net.input_dim, tuple(layers), shift(net.output), dict(net.info))


@dataclass(frozen=True)
class _Affine(_OnParameterBox):
    """The affine map ``u -> origin + directions @ u`` on the parameter box ``box``."""

    origin: np.ndarray             # (n0,)
    directions: np.ndarray         # (n0, k)
    box: Box                       # parameter box, k coordinates
    points: tuple = field(default=(), compare=False)   # the defining points, for reports

    @property
    def dim(self) -> int:
        return int(self.directions.shape[1])

    @property
    def input_dim(self) -> int:
        return int(self.directions.shape[0])

    def restrict(self, net: Network) -> Network:
        """The network ``u -> F(origin + directions @ u)`` (k inputs)."""
        if net.input_dim != self.input_dim:
            raise InputError(f"the {self.kind} points have {self.input_dim} numbers but the "
                             f"network has {net.input_dim} inputs")
        return net.map_input(self.directions, self.origin)

    def to_input(self, U: np.ndarray) -> np.ndarray:
        """Parameter points (..., k) -> input points (..., n0)."""
        return self.origin + np.asarray(U, dtype=np.float64) @ self.directions.T

    def to_param(self, X: np.ndarray) -> np.ndarray:
        """Input points on the plane/segment (..., n0) -> parameters (..., k) (least squares)."""
        X = np.asarray(X, dtype=np.float64) - self.origin
        sol, *_ = np.linalg.lstsq(self.directions, X.reshape(-1, self.input_dim).T, rcond=None)
        return sol.T.reshape(X.shape[:-1] + (self.dim,))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lo": _floats(self.box.lo), "hi": _floats(self.box.hi),
                "points": [_floats(p) for p in self.points]}


class Slice(_Affine):
    """The plane ``(s, t) -> P0 + s (P1 - P0) + t (P2 - P0)``."""

    kind: ClassVar[str] = "slice"

    @classmethod
    def through(cls, p0, p1, p2, param_box: Box | None = None) -> Slice:
        P = [np.asarray(p, dtype=np.float64).ravel() for p in (p0, p1, p2)]
        if len({a.size for a in P}) > 1:
            raise InputError(f"slice points differ in size: {', '.join(str(a.size) for a in P)}")
        D = np.stack([P[1] - P[0], P[2] - P[0]], axis=1)
        sv = np.linalg.svd(D, compute_uv=False)
        if sv[0] == 0 or sv[-1] <= COLLINEAR_RTOL * sv[0]:
            raise InputError("slice points are collinear (P1 - P0 and P2 - P0 are parallel or "
                             "zero): they span no plane")
        return cls(P[0], D, param_box if param_box is not None else Box.make(0.0, 1.0, 2), tuple(P))


class Segment(_Affine):
    """The segment ``t -> P0 + t (P1 - P0)``."""

    kind: ClassVar[str] = "line"

    @classmethod
    def through(cls, p0, p1, param_box: Box | None = None) -> Segment:
        P = [np.asarray(p, dtype=np.float64).ravel() for p in (p0, p1)]
        if P[0].size != P[1].size:
            raise InputError(f"line points differ in size: {P[0].size}, {P[1].size}")
        d = P[1] - P[0]
        if not np.any(d):
            raise InputError("line points coincide: P0 = P1 spans no line")
        return cls(P[0], d[:, None], param_box if param_box is not None else Box.make(0.0, 1.0, 1),
                   tuple(P))


@dataclass(frozen=True)
class L1Ball(_Affine):
    """The L1 ball ``sum_k |x_k - c_k| <= r`` in any dimension, lifted: ``x = c + p - q`` with
    (p, q) in the simplex ``p, q >= 0, sum(p) + sum(q) <= r`` of 2d parameters (its box
    [0, r]^2d and one row). The map sends the simplex onto the ball, and the preimage of a
    region is one convex cell, so the regions of the lifted network in the simplex are the
    ball's, pattern for pattern (2d + 1 facets instead of the ball's 2^d)."""

    center: np.ndarray = field(default=None, compare=False)
    radius: float = 0.0
    kind: ClassVar[str] = "polytope"
    source: ClassVar[str] = "l1"
    gates: ClassVar[int] = 1

    @classmethod
    def make(cls, center: np.ndarray, radius: float) -> L1Ball:
        c = np.asarray(center, dtype=np.float64).ravel()
        d = c.size
        directions = np.hstack([np.eye(d), -np.eye(d)])
        return cls(c, directions, Box.make(0.0, float(radius), 2 * d), (), c, float(radius))

    def unit_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The simplex's row in normalised parameters, ``A u <= b``: p = r (1 + u) / 2, so
        ``sum(p) + sum(q) <= r`` is ``sum(u) <= 2 - 2d`` (exact)."""
        k = self.dim
        return np.ones((1, k)), np.array([2.0 - k])

    def gated_unit_net(self, net: Network) -> Network:
        """The lifted network on [-1, 1]^2d (``normalize``) after the simplex's gate."""
        return gate_network(normalize(net, self), *self.unit_rows())

    def contains(self, X: np.ndarray) -> np.ndarray:
        """Which input points are in the open ball."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        return np.abs(X - self.center).sum(axis=1) < self.radius

    def to_dict(self) -> dict:
        return {"kind": self.kind, "source": self.source, "center": _floats(self.center),
                "radius": self.radius, "lo": _floats(self.center - self.radius),
                "hi": _floats(self.center + self.radius), "lifted": True}


def domain_rows(domain: Domain) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows ``A p <= b`` that cut a domain's parameter box p (a polytope: its own rows;
    the lifted L1 ball: its simplex row), None for a domain that is its box or plane."""
    if isinstance(domain, Polytope):
        return domain.A, domain.b
    if isinstance(domain, L1Ball):
        return np.ones((1, domain.dim)), np.array([domain.radius])
    return None


def exact_affine(domain: _Affine) -> tuple[list[Fraction], list[list[Fraction]]]:
    """An affine domain's map ``P0 + D p`` exactly: from its points (the differences exact),
    or its origin and directions."""
    d = domain.dim
    if domain.points:
        P = [[Fraction(float(v)) for v in p] for p in domain.points]
        P0 = P[0]
        return P0, [[P[j + 1][i] - P0[i] for j in range(d)] for i in range(len(P0))]
    return ([Fraction(float(v)) for v in domain.origin],
            [[Fraction(float(v)) for v in row] for row in domain.directions])


def _half(a: Fraction, b: Fraction) -> Fraction:
    return (a + b) / 2


def input_map(domain: Domain) -> ExactInputMap:
    """The exact map from [-1, 1]^dim onto the domain in input space: parameter k is
    ``(lo_k + hi_k)/2 + (hi_k - lo_k)/2 u_k``, and a slice or segment sends the parameters
    through its points (``P0 + sum_j (P_j - P0) p_j``, the differences exact). Every number is
    a dyadic rational computed from the domain's floats without rounding."""
    box = domain.box
    d = box.dim
    lo = [Fraction(float(v)) for v in box.lo]
    hi = [Fraction(float(v)) for v in box.hi]
    h = [_half(hi[k], -lo[k]) for k in range(d)]
    c = [_half(hi[k], lo[k]) for k in range(d)]
    if isinstance(domain, (Box, Ball, Polytope, AllSpace)):
        return ExactInputMap(tuple(h), tuple(c), True)
    if not isinstance(domain, _Affine):
        raise TypeError(f"no exact input map for a {type(domain).__name__}")
    P0, D = exact_affine(domain)
    G = tuple(tuple(D[i][j] * h[j] for j in range(d)) for i in range(len(P0)))
    o = tuple(P0[i] + sum((D[i][j] * c[j] for j in range(d)), Fraction(0))
              for i in range(len(P0)))
    return ExactInputMap(G, o, False)


def normalize(net: Network, domain: Domain) -> Network:
    """The network in normalised coordinates: ``u -> F(input_map(domain)(u))`` on [-1, 1]^d,
    folded exactly and rounded once per coefficient (``exact_map.fold_exact``). ``net`` reads
    the domain's input space (for a box: the box itself)."""
    return fold_exact(net, input_map(domain))
