"""Low-dimensional domains: a 2-D plane through three points, or a segment through two.

A ``Domain`` is an affine map ``u -> c + A u`` from parameter space (k = 1 or 2 coordinates)
into input space, together with a box of parameters. Counting on a domain counts the
full-dimensional activation regions of the *restricted* network ``u -> F(c + A u)`` inside the
parameter box, i.e. the 2-D (or 1-D) cells that the network's regions cut out of the plane
(or segment). The restriction is folded into every map that reads the input
(``Network.map_input``), so every counting method works unchanged.

- slice through P0, P1, P2: ``(s, t) -> P0 + s (P1 - P0) + t (P2 - P0)``; by default
  (s, t) in [0, 1]^2, the parallelogram spanned by the triangle P0 P1 P2.
- line through P0, P1: ``t -> P0 + t (P1 - P0)``; by default t in [0, 1], the segment.

A custom parameter box (``param_box=(lo, hi)``, CLI ``--slice-box LO,HI``) replaces [0, 1]^k.

Witnesses: ``count_regions`` maps every region's witness back to input space (the point
``c + A u`` on the plane or segment), so ``--regions`` lines hold input coordinates like every
other count; the ``radius`` stays in the normalised parameter coordinates (the parameter box
scaled to [-1, 1]^k). ``Domain.to_param`` recovers the parameters of an input point.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .box import Box
from .errors import InputError
from .network import Network

# Two direction vectors are treated as parallel (the three slice points as collinear) when the
# smaller singular value of [P1 - P0, P2 - P0] is below this fraction of the larger one.
COLLINEAR_RTOL = 1e-10


@dataclass(frozen=True)
class Domain:
    """The affine map ``u -> origin + directions @ u`` on the parameter box ``box``."""

    kind: str                      # "slice" or "line"
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

    # the parameter box, so that a Domain can stand where a Box is read (lo/hi for reports)
    @property
    def lo(self) -> np.ndarray:
        return self.box.lo

    @property
    def hi(self) -> np.ndarray:
        return self.box.hi

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
        return {"kind": self.kind,
                "points": [[float(v) for v in p] for p in self.points],
                "param_lo": [float(v) for v in self.box.lo],
                "param_hi": [float(v) for v in self.box.hi]}


def _as_point(p, what: str, dim: int | None) -> np.ndarray:
    try:
        a = np.asarray(p, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputError(f"{what}: the point must be numbers") from None
    if dim is not None and a.size != dim:
        raise InputError(f"{what}: the point has {a.size} numbers but the network has {dim} inputs")
    if a.size == 0:
        raise InputError(f"{what}: the point is empty")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{what}: the point must be finite numbers")
    return a


def read_point(path: str | os.PathLike) -> np.ndarray:
    """A point from a .npy file (any shape) or a JSON list of numbers."""
    p = Path(path)
    try:
        if p.suffix == ".npy":
            a = np.load(p)
        else:
            a = np.asarray(json.loads(p.read_text()))
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{p}: cannot read the point ({str(e).splitlines()[0]})") from None
    return _as_point(a, str(p), None)


def _load(p, what: str, dim: int | None) -> np.ndarray:
    if isinstance(p, (str, os.PathLike)):
        a = read_point(p)
        return _as_point(a, str(p), dim)
    return _as_point(p, what, dim)


def _param_box(param_box, k: int) -> Box:
    if param_box is None:
        return Box.make(0.0, 1.0, k)
    if isinstance(param_box, Box):
        return Box.make(param_box.lo, param_box.hi, k)
    lo, hi = param_box
    return Box.make(lo, hi, k)


def slice_domain(p0, p1, p2, dim: int | None = None, param_box=None) -> Domain:
    """The plane ``(s, t) -> P0 + s (P1 - P0) + t (P2 - P0)``, (s, t) in ``param_box`` ([0,1]^2).

    Points may be arrays or paths (.npy / JSON). ``dim``: the network's input dimension (checked).
    """
    P = [_load(p, f"slice point P{i}", dim) for i, p in enumerate((p0, p1, p2))]
    if dim is None and len({a.size for a in P}) > 1:
        raise InputError(f"slice points differ in size: {', '.join(str(a.size) for a in P)}")
    D = np.stack([P[1] - P[0], P[2] - P[0]], axis=1)
    sv = np.linalg.svd(D, compute_uv=False)
    if sv[0] == 0 or sv[-1] <= COLLINEAR_RTOL * sv[0]:
        raise InputError("slice points are collinear (P1 - P0 and P2 - P0 are parallel or zero): "
                         "they span no plane")
    return Domain("slice", P[0], D, _param_box(param_box, 2), tuple(P))


def line_domain(p0, p1, dim: int | None = None, param_box=None) -> Domain:
    """The segment ``t -> P0 + t (P1 - P0)``, t in ``param_box`` ([0, 1])."""
    P = [_load(p, f"line point P{i}", dim) for i, p in enumerate((p0, p1))]
    if dim is None and P[0].size != P[1].size:
        raise InputError(f"line points differ in size: {P[0].size}, {P[1].size}")
    d = P[1] - P[0]
    if not np.any(d):
        raise InputError("line points coincide: P0 = P1 spans no line")
    return Domain("line", P[0], d[:, None], _param_box(param_box, 1), tuple(P))


def make_domain(dim: int, *, slice=None, line=None, param_box=None) -> Domain | None:
    """A Domain from ``slice=(p0, p1, p2)`` or ``line=(p0, p1)`` (None if neither is given)."""
    if slice is not None and line is not None:
        raise InputError("give only one of slice and line")
    if slice is not None:
        if isinstance(slice, Domain):
            return slice
        if len(slice) != 3:
            raise InputError(f"a slice needs three points, got {len(slice)}")
        return slice_domain(*slice, dim=dim, param_box=param_box)
    if line is not None:
        if isinstance(line, Domain):
            return line
        if len(line) != 2:
            raise InputError(f"a line needs two points, got {len(line)}")
        return line_domain(*line, dim=dim, param_box=param_box)
    if param_box is not None:
        raise InputError("a slice box needs a slice or a line")
    return None
