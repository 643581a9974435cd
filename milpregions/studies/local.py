"""Local complexity: the exact number of activation regions in a ball around each data point.

The measurement of Humayun et al. (the "local complexity" of a network near its data, and
SplineCam's "number of regions in a ball"): for every point x and radius r, the count of the
full-dimensional activation regions inside the L-inf ball ``{y : |y - x|_inf <= r}`` (the box
x -+ r, ``ir.domain.Ball``), each an ordinary exact count (``count`` on the Problem of that
ball). The L1 ball (a cross-polytope): in 1-D the interval, in 2-D the square through its
four vertices (a ``Slice``, so every count method takes it), from 3 inputs on the ball lifted
to the simplex of 2d parameters (``ir.domain.L1Ball``, one row, any dimension: what ``count
--center --radius --norm 1`` counts).

The counts run through ``many.count_each``: one problem per (point, radius), in this process
or on worker processes; each is prepared when it is sent, so a large data set is not held as
prepared problems.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..inputs import l1_ball_domain
from ..ir.domain import Ball, Domain, L1Ball, Polytope, Slice
from ..ir.network import Network
from ..ir.result import CountResult
from ..problem import load_network, prepare
from ..settings import DEFAULT_MARGIN, Settings
from .many import count_each

NORMS = ("inf", "1")
POINT_SUFFIXES = (".npy", ".csv", ".json")


# ------------------------------------------------------------------------------ the input

def point_shape(net: Network) -> tuple[int, ...] | None:
    """The shape of one input of an imported model (its ONNX input without the batch axis),
    when it is known and not flat."""
    shape = net.info.get("input_shape")
    if not shape or len(shape) < 2:
        return None
    rest = shape[1:]
    if any(not isinstance(v, int) for v in rest) or len(rest) < 2:
        return None
    return tuple(rest)


def _shape_text(shape) -> str:
    return "x".join(str(v) for v in shape)


def _read_points_file(p: Path) -> np.ndarray:
    if p.suffix not in POINT_SUFFIXES:
        raise InputError(f"{p}: points must be a .npy, .csv or .json file")
    try:
        if p.suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if p.suffix == ".csv":
            try:
                return np.loadtxt(p, delimiter=",", ndmin=2)
            except ValueError:          # a header line
                return np.loadtxt(p, delimiter=",", ndmin=2, skiprows=1)
        return np.asarray(json.loads(p.read_text()), dtype=np.float64)
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except (OSError, ValueError, TypeError) as e:
        raise InputError(f"{p}: cannot read the points ({str(e).splitlines()[0]})") from None


def read_points(points, dim: int, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The points as an (N, dim) float64 array, from an array of shape (N, dim) or
    (N, *input shape) (any N x ... array with ``dim`` numbers per point; a flat array of
    ``dim`` numbers is one point), or from a .npy, .csv (one point a row, an optional header
    line) or .json (a list of points) file. The message of a bad input names the file."""
    what = "points"
    if isinstance(points, (str, os.PathLike)):
        what = os.fspath(points)
        points = _read_points_file(Path(points))
    try:
        a = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what}: the points must be numbers, one row of {dim} per "
                         "point") from None
    want = f"(N, {dim})" + ("" if shape is None else f" or (N, {', '.join(map(str, shape))})")
    if a.ndim == 1 and dim == 1:
        a = a[:, None]
    elif a.ndim == 1 and a.size == dim:
        a = a[None, :]
    if a.ndim < 2:
        raise InputError(f"{what}: points of shape {tuple(a.shape)}; expected an array of "
                         f"shape {want}")
    per = math.prod(a.shape[1:])
    if per != dim:
        net = f"{dim} inputs" + ("" if shape is None else f" (input shape {_shape_text(shape)})")
        raise InputError(f"{what}: points of shape {tuple(a.shape)} have {per} numbers each but "
                         f"the network has {net}")
    if a.shape[0] == 0:
        raise InputError(f"{what}: no points (shape {tuple(a.shape)})")
    a = a.reshape(a.shape[0], dim)
    bad = np.flatnonzero(~np.all(np.isfinite(a), axis=1))
    if bad.size:
        raise InputError(f"{what}: point {int(bad[0])} is not finite")
    return a


def check_radii(radius) -> tuple[float, ...]:
    """One radius or several, each a positive finite number, none twice."""
    try:
        rs = [float(r) for r in np.atleast_1d(np.asarray(radius, dtype=np.float64)).ravel()]
    except (TypeError, ValueError):
        raise InputError(f"the radius must be a number or a list of numbers, got {radius!r}") \
            from None
    if not rs:
        raise InputError("no radius given")
    for r in rs:
        if not (math.isfinite(r) and r > 0):
            raise InputError(f"the radius must be a positive number, got {r:g}")
    seen = set()
    for r in rs:
        if r in seen:
            raise InputError(f"radius {r:g} is given twice")
        seen.add(r)
    return tuple(rs)


def ball(center: np.ndarray, radius: float, norm: str = "inf") -> Domain:
    """The ball of ``radius`` around ``center`` in the L-inf norm (a ``Ball``) or the L1 norm:
    the interval; in 2-D the square with vertices center -+ r e_i as a ``Slice`` (P0 = c - r
    e1, P1 = c - r e2, P2 = c + r e2, so P1 + P2 - P0 = c + r e1); from 3 inputs on the ball
    lifted to a simplex (``ir.domain.L1Ball``), as ``count --norm 1`` counts it."""
    c = np.asarray(center, dtype=np.float64).ravel()
    d = c.size
    if norm not in NORMS:
        raise InputError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    if norm == "inf" or d == 1:
        return Ball.make(c, radius, d)
    if d > 2:
        return l1_ball_domain(c, radius, d, lifted=True)
    Ball.make(c, radius, d)                     # the same checks of centre and radius
    e1, e2 = np.array([radius, 0.0]), np.array([0.0, radius])
    return Slice.through(c - e1, c - e2, c + e2)


# ------------------------------------------------------------------------------ the result

@dataclass(frozen=True)
class RadiusSummary:
    """The counts at one radius over the points counted: their mean, median, min, max,
    standard deviation (population, ddof 0) and quartiles (``numpy.percentile``, linear).
    ``lower_bounds`` of the ``counted`` numbers are lower bounds (a time limit or an interrupt
    stopped them; they enter the statistics as counted); ``points - counted`` were not
    counted (interrupted before they started). The statistics are None when none was."""

    radius: float
    points: int
    counted: int
    lower_bounds: int
    mean: float | None
    median: float | None
    min: int | None
    max: int | None
    std: float | None
    q1: float | None
    q3: float | None

    @property
    def exact(self) -> bool:
        return self.counted == self.points and self.lower_bounds == 0

    def to_dict(self) -> dict:
        return {"radius": self.radius, "points": self.points, "counted": self.counted,
                "lower_bounds": self.lower_bounds, "exact": self.exact, "mean": self.mean,
                "median": self.median, "min": self.min, "max": self.max, "std": self.std,
                "q1": self.q1, "q3": self.q3}


def summarize(radius: float, counts: np.ndarray, exact: np.ndarray,
              counted: np.ndarray) -> RadiusSummary:
    """The RadiusSummary of one radius' column of counts."""
    c = counts[counted].astype(np.float64)
    lower = int(np.count_nonzero(counted & ~exact))
    if c.size == 0:
        return RadiusSummary(radius, int(counts.size), 0, lower, None, None, None, None, None,
                             None, None)
    q1, median, q3 = (float(v) for v in np.percentile(c, [25, 50, 75]))
    return RadiusSummary(radius, int(counts.size), int(c.size), lower, float(c.mean()), median,
                         int(c.min()), int(c.max()), float(c.std()), q1, q3)


@dataclass(frozen=True)
class LocalComplexity:
    """The counts in the balls of ``radii`` around each of the ``points`` (N, d).

    ``counts[i, j]``: the regions in the ball of ``radii[j]`` around point i; exact where
    ``exact[i, j]``, else a lower bound (``stopped[i][j]`` says why: ``time-limit``,
    ``interrupted``); -1 where the count was never made (``counted`` False: interrupted
    before it started). ``seconds``: each count's time, bounds included (nan where not
    counted). ``results``: the CountResult of each (None where not counted).
    """

    points: np.ndarray
    radii: tuple[float, ...]
    norm: str
    counts: np.ndarray
    exact: np.ndarray
    seconds: np.ndarray
    stopped: tuple[tuple[str | None, ...], ...]
    results: tuple[tuple[CountResult | None, ...], ...]

    @property
    def counted(self) -> np.ndarray:
        return self.counts >= 0

    @property
    def complete(self) -> bool:
        """Every count made and exact."""
        return bool(np.all(self.exact))

    @property
    def summary(self) -> list[RadiusSummary]:
        ok = self.counted
        return [summarize(r, self.counts[:, j], self.exact[:, j], ok[:, j])
                for j, r in enumerate(self.radii)]

    def record(self, i: int) -> dict:
        """Point i as a JSON-friendly dict: per radius its ``regions`` (None if not counted),
        ``exact``, ``lower_bound``, ``stopped`` and ``seconds``."""
        rows = []
        for j, r in enumerate(self.radii):
            made = bool(self.counts[i, j] >= 0)
            rows.append({"radius": r, "regions": int(self.counts[i, j]) if made else None,
                         "exact": bool(self.exact[i, j]), "lower_bound": made and not
                         bool(self.exact[i, j]), "stopped": self.stopped[i][j],
                         "seconds": float(self.seconds[i, j]) if made else None})
        return {"point": i, "counts": rows}


def assemble(points: np.ndarray, radii: tuple[float, ...], norm: str,
             flat: Sequence[CountResult | None]) -> LocalComplexity:
    """The LocalComplexity of the results of ``local_problems`` (point-major order)."""
    n, k = points.shape[0], len(radii)
    counts = np.full((n, k), -1, dtype=np.int64)
    exact = np.zeros((n, k), dtype=bool)
    seconds = np.full((n, k), np.nan)
    stopped = [[None] * k for _ in range(n)]
    results = [[None] * k for _ in range(n)]
    for t, res in enumerate(flat):
        i, j = divmod(t, k)
        if res is None or (not res.exact and res.regions == 0):
            # not begun, or stopped before its first region: a 0 bounds nothing (every ball
            # holds a region), so it is a count not made, never a 0 in the statistics
            stopped[i][j] = "interrupted" if res is None else res.stopped
            continue
        counts[i, j] = res.regions
        exact[i, j] = res.exact
        seconds[i, j] = res.seconds + res.bounds_seconds
        stopped[i][j] = res.stopped
        results[i][j] = res
    return LocalComplexity(points, radii, norm, counts, exact, seconds,
                           tuple(map(tuple, stopped)), tuple(map(tuple, results)))


# ------------------------------------------------------------------------------ the counts

class LocalProblems(Sequence):
    """The Problem of every (point, radius), point-major (index i * len(radii) + j), each
    prepared when it is indexed (``count_each`` indexes each once)."""

    def __init__(self, net: Network, points: np.ndarray, radii: tuple[float, ...], norm: str,
                 settings: Settings):
        self.net, self.points, self.radii, self.norm = net, points, radii, norm
        self.settings = settings
        first = ball(points[0], radii[0], norm)  # a norm the dimension cannot take: now
        if isinstance(first, (Polytope, L1Ball)) and settings.method != "tree":
            raise InputError(f"the L1 ball in {first.input_dim} dimensions is a polytope domain, "
                             "counted by the tree only: not with method milp")

    def __len__(self) -> int:
        return self.points.shape[0] * len(self.radii)

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self[u] for u in range(*t.indices(len(self)))]
        if not 0 <= t < len(self):
            raise IndexError(t)
        i, j = divmod(t, len(self.radii))
        return prepare(self.net, ball(self.points[i], self.radii[j], self.norm), self.settings)

    def name(self, t: int) -> str:
        i, j = divmod(t, len(self.radii))
        return f"point {i}, radius {self.radii[j]:g}"


def local_problems(model, points, radius, *, norm: str = "inf",
                   settings: Settings | None = None) -> LocalProblems:
    """The problems of ``local_complexity`` (checked: points, radii, norm), not yet prepared."""
    net = load_network(model)
    radii = check_radii(radius)
    X = read_points(points, net.input_dim, point_shape(net))
    return LocalProblems(net, X, radii, norm, settings if settings is not None else Settings())


def local_complexity(model, points, radius, *, jobs: int | None = None,
                     time_limit: float | None = None, norm: str = "inf", method: str = "tree",
                     margin: float = DEFAULT_MARGIN, tighten: bool = True,
                     should_stop: Callable[[], bool] | None = None,
                     on_count: Callable[[int, int, CountResult], None] | None = None
                     ) -> LocalComplexity:
    """The exact number of activation regions in the ball of each radius around each point.

    ``model``: an ONNX path, an ``onnx.ModelProto``, a torch module (its input size read from
    a first ``Linear``) or a ``Network``. ``points``: an array of
    shape (N, d) or (N, *input shape), or a .npy / .csv / .json file of one. ``radius``: one
    radius or a sequence of them. ``norm``: ``"inf"`` (the box x -+ r) or ``"1"`` (up to 12
    inputs). Each count is ``count`` on the Problem of that ball with ``Settings(method,
    margin, time_limit, tighten)``: ``time_limit`` is per count and makes a stopped count a
    lower bound. ``jobs``: None/1 in this process, 0 one worker per core, n worker processes
    (``many.count_each``; a script needs the ``if __name__ == "__main__":`` guard).
    ``on_count(point, radius index, result)`` as each finishes; ``should_stop()`` True: no new
    count starts, the running ones stop as lower bounds, the rest are not counted.
    """
    settings = Settings(method=method, margin=margin, time_limit=time_limit, tighten=tighten)
    problems = local_problems(model, points, radius, norm=norm, settings=settings)
    k = len(problems.radii)
    on_result = None
    if on_count is not None:
        def on_result(t: int, result: CountResult) -> None:
            on_count(t // k, t % k, result)
    flat = count_each(problems, jobs, should_stop=should_stop, on_result=on_result,
                      name=problems.name)
    return assemble(problems.points, problems.radii, norm, flat)


__all__ = ["LocalComplexity", "LocalProblems", "RadiusSummary", "assemble", "ball",
           "check_radii", "local_complexity", "local_problems", "point_shape", "read_points",
           "summarize"]
