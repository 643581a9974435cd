"""Domains from what a user gives: numbers, arrays, (lo, hi) pairs, or files of them.

``as_domain`` accepts every spelling of the Python API (a Domain, a Box, ``(lo, hi)``, None for
[-1, 1]^d, ``slice=(p0, p1, p2)``, ``line=(p0, p1)``, ``center=..., radius=...`` (``norm=1``: the
L1 ball), ``polytope=(A, b)`` for ``A x <= b``, ``hull=points``); points and
boxes may be files: a point is a .npy file (any shape) or a JSON list of numbers; a box file is
JSON ``{"lo": [...], "hi": [...]}``, a .npy (2 x d array) or a .npz (arrays lo, hi).
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from .errors import InputError
from .ir.domain import AllSpace, Ball, Box, Domain, L1Ball, Polytope, Segment, Slice


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


def _read_array(p: Path, what: str) -> np.ndarray:
    try:
        if p.suffix == ".npy":
            return np.load(p, allow_pickle=False)
        return np.asarray(json.loads(p.read_text()))
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except (OSError, ValueError, EOFError) as e:
        why = (str(e).splitlines() or [type(e).__name__])[0]
        raise InputError(f"{p}: cannot read the {what} ({why})") from None


def read_point(path: str | os.PathLike) -> np.ndarray:
    """A point from a .npy file (any shape) or a JSON list of numbers."""
    p = Path(path)
    return _as_point(_read_array(p, "point"), str(p), None)


def _load(p, what: str, dim: int | None) -> np.ndarray:
    if isinstance(p, (str, os.PathLike)):
        return _as_point(read_point(p), str(p), dim)
    return _as_point(p, what, dim)


def read_box_file(path: str | os.PathLike, dim: int) -> Box:
    """A box from JSON ``{"lo": [...], "hi": [...]}`` or .npy (2 x d array) / .npz (arrays lo, hi)."""
    p = Path(path)
    try:
        if p.suffix == ".json":
            data = json.loads(p.read_text())
            if not isinstance(data, dict) or "lo" not in data or "hi" not in data:
                raise InputError(f"{p}: box file must hold {{\"lo\": [...], \"hi\": [...]}}")
            lo, hi = data["lo"], data["hi"]
        elif p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                if "lo" not in z or "hi" not in z:
                    raise InputError(f"{p}: box file must hold arrays 'lo' and 'hi'")
                lo, hi = z["lo"], z["hi"]
        elif p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
            if arr.ndim != 2 or arr.shape[0] != 2:
                raise InputError(f"{p}: a .npy box must be a 2 x d array (lo row, hi row), "
                                 f"got shape {arr.shape}")
            lo, hi = arr[0], arr[1]
        else:
            raise InputError(f"{p}: box file must be .json, .npy or .npz")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        if isinstance(e, InputError):
            raise
        why = (str(e).splitlines() or [type(e).__name__])[0]
        raise InputError(f"{p}: cannot read box ({why})") from None
    try:
        return Box.make(np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64), dim)
    except InputError as e:
        raise InputError(f"{p}: {e}") from None
    except (TypeError, ValueError):
        raise InputError(f"{p}: box bounds must be numbers") from None


def vnnlib_box(path: str | os.PathLike, dim: int) -> Box:
    """The input box of a VNN-LIB property; its output constraints are ignored (a notice)."""
    from .vnnlib import read_vnnlib

    v = read_vnnlib(path, dim)
    if v.ignored_outputs:
        logging.getLogger("milpregions").info(
            "%s: %d output constraint%s ignored (a region count uses the input box only)",
            os.fspath(path), v.ignored_outputs, "" if v.ignored_outputs == 1 else "s")
    return Box.make(v.lo, v.hi, dim)


def ball_domain(center, radius: float, dim: int) -> Ball:
    """The L-inf ball of ``radius`` around ``center`` (an array, or a .npy / JSON file of d numbers)."""
    if isinstance(center, (str, os.PathLike)):
        center = _read_array(Path(center), "centre")
    return Ball.make(center, radius, dim)


#: an L1 ball is given to the tree as its 2^d facets: up to this many inputs
L1_MAX_DIM = 12


def read_polytope_file(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(A, b) of ``A x <= b`` from JSON ``{"A": [[...], ...], "b": [...]}`` or a .npz with
    arrays A and b."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".npz":
            with np.load(p, allow_pickle=False) as z:
                return np.asarray(z["A"], dtype=np.float64), np.asarray(z["b"], dtype=np.float64)
        d = json.loads(p.read_text())
        return np.asarray(d["A"], dtype=np.float64), np.asarray(d["b"], dtype=np.float64)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    except (KeyError, TypeError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: a polytope file is JSON {{\"A\": [[...]], \"b\": [...]}} "
                         f"or a .npz with arrays A and b ({e})") from None


def _bounding_box(A: np.ndarray, b: np.ndarray, dim: int) -> Box:
    """The smallest box holding ``A x <= b`` (LPs), widened by 1e-6 of its width: a box that
    holds the polytope is all the count needs (the rows cut it)."""
    from scipy.optimize import linprog

    lo, hi = np.zeros(dim), np.zeros(dim)
    for k in range(dim):
        for sign, out in ((1.0, lo), (-1.0, hi)):
            c = np.zeros(dim)
            c[k] = sign
            r = linprog(c, A_ub=A, b_ub=b, bounds=[(None, None)] * dim, method="highs")
            if r.status == 2:
                raise InputError("the polytope A x <= b is empty")
            if r.status == 3:
                raise InputError(f"the polytope A x <= b is unbounded (input {k}); add rows "
                                 "that bound it")
            if r.status != 0:
                raise InputError(f"the polytope's bounding box: the LP failed ({r.message})")
            out[k] = r.x[k]
    w = hi - lo
    if np.any(w <= 1e-12 * np.maximum(1.0, np.abs(lo) + np.abs(hi))):
        raise InputError("the polytope A x <= b has no interior (it is flat in some input)")
    pad = 1e-6 * w + 1e-12 * (np.abs(lo) + np.abs(hi))
    return Box.make(lo - pad, hi + pad, dim)


def polytope_domain(A, b=None, dim: int | None = None) -> Polytope:
    """The polytope ``A x <= b`` (arrays, or ``A`` a path read by ``read_polytope_file``),
    counted inside its bounding box."""
    if b is None:
        A, b = read_polytope_file(A)
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    b = np.asarray(b, dtype=np.float64).ravel()
    n = A.shape[1] if dim is None else dim
    if A.shape[1] != n:
        raise InputError(f"the polytope's A has {A.shape[1]} columns but the network has {n} "
                         "inputs")
    Polytope.make(A, b, Box.make(-1.0, 1.0, n))          # checks shapes before the LPs
    return Polytope.make(A, b, _bounding_box(A, b, n), "rows")


def hull_domain(points, dim: int | None = None) -> Polytope:
    """The convex hull of points (an (N, d) array, or a .npy / JSON file of one), as its facet
    rows (Qhull), counted inside the points' bounding box."""
    if isinstance(points, (str, os.PathLike)):
        points = _read_array(Path(points), "hull points")
    P = np.asarray(points, dtype=np.float64)
    if P.ndim != 2 or (dim is not None and P.shape[1] != dim):
        raise InputError(f"hull points are an (N, {dim or 'd'}) array, got shape {P.shape}")
    if not np.all(np.isfinite(P)):
        raise InputError("hull points must be finite numbers")
    from scipy.spatial import ConvexHull, QhullError

    try:
        eq = ConvexHull(P).equations             # normal . x + offset <= 0 inside
    except (QhullError, ValueError) as e:
        raise InputError(f"hull points span no full-dimensional hull ({str(e).splitlines()[0]})"
                         ) from None
    rows = np.unique(np.round(eq, 12), axis=0, return_index=True)[1]   # one row per facet
    eq = eq[np.sort(rows)]
    return Polytope.make(eq[:, :-1], -eq[:, -1], Box.make(P.min(axis=0), P.max(axis=0),
                                                          P.shape[1]), "hull")


def l1_ball_domain(center, radius: float, dim: int, lifted: bool | None = None
                   ) -> Polytope | L1Ball:
    """The L1 ball ``sum_k |x_k - c_k| <= radius``. ``lifted`` (default: above
    ``L1_MAX_DIM`` inputs): the ball itself, lifted to the simplex of 2d parameters
    (``ir.domain.L1Ball``, one row, any dimension; what ``count`` and ``local`` count from 3
    inputs on: 3x faster than the facets at 6 inputs, 130x at 12); else its 2^d facets
    ``s . x <= radius + s . c`` (s in {-1, 1}^d, the right side summed exactly and rounded
    once) in the box c -+ radius, up to ``L1_MAX_DIM`` inputs (what the estimators sample,
    clip and hash)."""
    import math

    ball = ball_domain(center, radius, dim)        # checks the centre and the radius
    if lifted or (lifted is None and dim > L1_MAX_DIM):
        return L1Ball.make(ball.center, ball.radius)
    if dim > L1_MAX_DIM:
        raise InputError(f"an L1 ball in {dim} dimensions has 2^{dim} facets; up to "
                         f"{L1_MAX_DIM} inputs are sampled (count and local take any "
                         "dimension)")
    S = np.array(np.meshgrid(*[[-1.0, 1.0]] * dim, indexing="ij")).reshape(dim, -1).T
    c = ball.center
    b = np.array([math.fsum([ball.radius, *(S[i] * c)]) for i in range(len(S))])
    return Polytope.make(S, b, ball.box, "l1")


def _param_box(param_box, k: int) -> Box:
    if param_box is None:
        return Box.make(0.0, 1.0, k)
    if isinstance(param_box, Box):
        return Box.make(param_box.lo, param_box.hi, k)
    lo, hi = param_box
    return Box.make(lo, hi, k)


def slice_domain(p0, p1, p2, dim: int | None = None, param_box=None) -> Slice:
    """The plane ``(s, t) -> P0 + s (P1 - P0) + t (P2 - P0)``, (s, t) in ``param_box`` ([0,1]^2).

    Points may be arrays or paths (.npy / JSON). ``dim``: the network's input dimension (checked).
    """
    P = [_load(p, f"slice point P{i}", dim) for i, p in enumerate((p0, p1, p2))]
    return Slice.through(*P, param_box=_param_box(param_box, 2))


def line_domain(p0, p1, dim: int | None = None, param_box=None) -> Segment:
    """The segment ``t -> P0 + t (P1 - P0)``, t in ``param_box`` ([0, 1])."""
    P = [_load(p, f"line point P{i}", dim) for i, p in enumerate((p0, p1))]
    return Segment.through(*P, param_box=_param_box(param_box, 1))


def make_domain(dim: int, *, slice=None, line=None, param_box=None) -> Slice | Segment | None:
    """A Slice from ``slice=(p0, p1, p2)`` or a Segment from ``line=(p0, p1)`` (None if neither)."""
    if slice is not None and line is not None:
        raise InputError("give only one of slice and line")
    if slice is not None:
        if isinstance(slice, Slice):
            return slice
        if len(slice) != 3:
            raise InputError(f"a slice needs three points, got {len(slice)}")
        return slice_domain(*slice, dim=dim, param_box=param_box)
    if line is not None:
        if isinstance(line, Segment):
            return line
        if len(line) != 2:
            raise InputError(f"a line needs two points, got {len(line)}")
        return line_domain(*line, dim=dim, param_box=param_box)
    if param_box is not None:
        raise InputError("a slice box needs a slice or a line")
    return None


def as_domain(dim: int, box=None, *, slice=None, line=None, center=None,
              radius: float | None = None, norm: str | float = "inf", polytope=None,
              hull=None) -> Domain:
    """The domain of the Python API's arguments, for a network with ``dim`` inputs.

    ``box``: a Domain, a (lo, hi) pair of scalars or per-input arrays, the path of a VNN-LIB
    property (its input box), or None for [-1, 1]^d; with ``slice``/``line`` it is the
    parameter box instead (default [0, 1]^k). ``center``/``radius``: the L-inf ball (instead
    of ``box``); with ``norm=1`` the L1 ball. ``polytope=(A, b)`` (or a file): ``A x <= b``;
    ``hull=points`` (or a file): their convex hull.
    """
    if polytope is not None or hull is not None:
        if polytope is not None and hull is not None:
            raise InputError("give only one of a polytope and a hull")
        if any(v is not None for v in (box, slice, line, center, radius)):
            raise InputError("a polytope or hull is the whole domain: give no box, slice, "
                             "line or centre with it")
        if hull is not None:
            return hull_domain(hull, dim)
        if isinstance(polytope, (str, os.PathLike)):
            return polytope_domain(polytope, None, dim)
        try:
            A, b = polytope
        except (TypeError, ValueError):
            raise InputError("a polytope is (A, b) for A x <= b, or a file") from None
        return polytope_domain(A, b, dim)
    if str(norm) not in ("inf", "1"):
        raise InputError(f"norm {norm!r}: a ball is an L-inf ball ('inf') or an L1 ball (1)")
    if slice is not None or line is not None:
        if center is not None:
            raise InputError("give only one of a slice/line and a centre")
        return make_domain(dim, slice=slice, line=line, param_box=box)
    if center is not None or radius is not None:
        if center is None or radius is None:
            raise InputError("a centre and a radius go together")
        if box is not None:
            raise InputError("give only one of a box and a centre")
        if str(norm) == "1":
            return l1_ball_domain(center, radius, dim, lifted=dim > 2)
        return ball_domain(center, radius, dim)
    if isinstance(box, str) and box == "all" or isinstance(box, tuple) and len(box) == 2 \
            and isinstance(box[0], str) and box[0] == "all":
        return _all_space(dim, None if isinstance(box, str) else box[1],
                          slice, line, center, radius)
    if isinstance(box, Domain):
        if box.input_dim != dim:
            raise InputError(f"the {box.kind} has {box.input_dim} inputs but the network has {dim}")
        return Box.make(box.lo, box.hi, dim) if isinstance(box, Box) else box
    if box is None:
        box = (-1.0, 1.0)
    if isinstance(box, (str, os.PathLike)) and os.fspath(box).endswith(".vnnlib"):
        return vnnlib_box(box, dim)
    try:
        lo, hi = box
    except (TypeError, ValueError):
        raise InputError(f"a box is (lo, hi), a Box or another Domain, got {box!r}") from None
    return Box.make(lo, hi, dim)


def _all_space(dim: int, unit, slice, line, center, radius) -> AllSpace:
    """All of R^dim, ``unit`` (None: [-1, 1]^dim; a Box or (lo, hi)) setting the unit of length."""
    if any(v is not None for v in (slice, line, center, radius)):
        raise InputError("all of R^n is the whole domain: give no slice, line or centre with it")
    if unit is None:
        return AllSpace.make(dim)
    if isinstance(unit, Box):
        return AllSpace(Box.make(unit.lo, unit.hi, dim))
    try:
        lo, hi = unit
    except (TypeError, ValueError):
        raise InputError(f"the unit box of all of R^n is (lo, hi), got {unit!r}") from None
    return AllSpace.make(dim, lo, hi)
