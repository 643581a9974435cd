"""Every region-count estimator of this package next to the exact count (``milpregions compare``).

For one network and one box: the exact count (``api.count_regions``, the tree enumerator) and

- **sampling** (``milpregions.estimators.sample``): one stream of uniform random points, read at each
  budget (the budgets are nested: the 10^4-point sample contains the 10^3-point one), reporting
  the distinct patterns seen (a lower bound), Chao1 and the Good-Turing estimate;
- **lines** (``milpregions.estimators.lines``): exact region counts along K random chords, extrapolated to
  the box with the isotropic Poisson hyperplane model;
- **distance**: the exact distance from M random points to the nearest region boundary,
  extrapolated with the same model;
- **hash** (optional, slow): the MIPBound probabilistic lower bound (``milpregions.estimators.hashing``);
- **theory**: the architecture bounds of ``milpregions.estimators.theory`` (upper bounds hold for every
  network of the architecture; the lower bounds are about the *best* weights; the
  Hanin-Rolnick N^n0/n0! is an order of magnitude).

Each row: estimator, budget, estimate, relative error ``(estimate - exact) / exact`` and
seconds (for sampling: the time to draw and hash the stream up to that budget). The sampling
curve (distinct patterns, Chao1, Good-Turing against the number of points, at log-spaced
checkpoints) is kept for ``--plot``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..api import count
from ..errors import InputError
from ..ir.domain import Box
from ..ir.network import Network
from ..problem import Problem, prepare
from ..settings import Settings
from .hashing import hash_regions
from .lines import DistanceSample, distance_sample, run_lines
from .sample import SampleResult, sample_stream
from .theory import architecture_bounds

DEFAULT_POINTS = (1_000, 10_000, 100_000)
DEFAULT_LINES = (10, 100)
DEFAULT_DISTANCE_POINTS = (1_000, 10_000)


@dataclass
class Row:
    estimator: str          # e.g. "sample: distinct"
    kind: str               # "lower bound" | "estimate" | "upper bound" | "scale" | "max lower bound"
    budget: int | None      # points, lines, ... (None for the theory rows)
    unit: str               # "points" | "lines" | "trials/K" | ""
    estimate: float | None
    rel_error: float | None
    seconds: float
    note: str = ""


@dataclass
class CompareResult:
    regions: int                    # the exact count (a lower bound when ``exact`` is False)
    exact: bool                     # False: the count was stopped by its time limit
    count_seconds: float
    input_dim: int
    widths: list[int]
    rows: list[Row]
    curve: dict                     # points, distinct, chao1, good_turing (lists, same length)
    seed: int | None
    notes: list[str] = field(default_factory=list)
    stopped: str | None = None      # "interrupted": the estimators after that point are missing

    def to_dict(self) -> dict:
        d = asdict(self)
        for r in d["rows"]:
            for k in ("estimate", "rel_error"):
                v = r[k]
                if isinstance(v, float) and not math.isfinite(v):
                    r[k] = None
        d["lower_bound"] = not self.exact
        return d


def rel_error(estimate, exact: int) -> float | None:
    if estimate is None or exact <= 0:
        return None
    est = float(estimate)
    if not math.isfinite(est):
        return None
    return (est - exact) / exact


def checkpoints(budgets, per_decade: int = 6) -> list[int]:
    """Log-spaced sample sizes from 1 up to max(budgets), always including every budget."""
    top = max(budgets)
    grid = {int(round(10 ** (k / per_decade))) for k in range(0, int(per_decade * math.log10(top)) + 1)}
    grid |= {int(b) for b in budgets}
    return sorted(g for g in grid if 1 <= g <= top)


def sampling_curve(net: Network, box: Box, budgets, *, seed: int | None = 0,
                   batch: int | None = None, per_decade: int = 6) -> tuple[dict, list[SampleResult]]:
    """One stream of uniform points in ``box`` (``sample.sample_stream``), read at log-spaced
    checkpoints.

    Returns (curve, snapshots): the curve has lists ``points, distinct, chao1, good_turing,
    seconds``; snapshots has the SampleResult of every budget.
    """
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise InputError(f"sampling budgets must be at least 1, got {budgets}")
    curve: dict = {"points": [], "distinct": [], "chao1": [], "good_turing": [], "seconds": []}
    snaps = []
    want = set(budgets)
    for r in sample_stream(net, box, checkpoints(budgets, per_decade), seed=seed, batch=batch):
        curve["points"].append(r.points)
        curve["distinct"].append(r.distinct)
        curve["chao1"].append(r.chao1)
        curve["good_turing"].append(r.good_turing)
        curve["seconds"].append(r.seconds)
        if r.points in want:
            snaps.append(r)
    return curve, snaps


def distance_estimate(net: Network, box: Box, points: int, seed: int | None = 0) -> DistanceSample:
    """``lines.distance_sample`` from its own random stream (so that it does not depend on the
    other budgets)."""
    rng = np.random.default_rng(None if seed is None else [int(seed), 0xD157])
    return distance_sample(net, box, points, rng)


def compare_estimators(model, box=None, *, points=DEFAULT_POINTS, lines=DEFAULT_LINES,
                       distance_points=DEFAULT_DISTANCE_POINTS, hash: bool = False,
                       hash_trials: int = 7, hash_time_limit: float | None = 120.0,
                       seed: int | None = 0, time_limit: float | None = None,
                       tighten: bool = True, exact: int | None = None,
                       should_stop=None) -> CompareResult:
    """The exact count and every estimator at the given budgets (see the module docstring).

    ``model``: a prepared Problem (its domain and settings are used; ``box``, ``time_limit``
    and ``tighten`` are then ignored), or anything ``problem.prepare`` takes.
    ``exact``: a known count (skips the enumeration; ``count_seconds`` is then 0).
    ``should_stop()``: checked between the estimators (and inside the count); once it says
    True the rest are skipped and ``stopped`` is "interrupted".
    """

    def asked() -> bool:
        return should_stop is not None and should_stop()

    problem = model if isinstance(model, Problem) else prepare(
        model, box, Settings(time_limit=time_limit, tighten=tighten))
    net, b = problem.restricted, problem.box
    notes: list[str] = []
    if exact is None:
        res = count(problem, should_stop=should_stop)
        exact, is_exact, csec = int(res.regions), bool(res.exact), float(res.seconds)
        if not is_exact:
            notes.append(f"the exact count was stopped ({res.stopped}): {exact} is a lower bound "
                         "and the relative errors are against it")
    else:
        exact, is_exact, csec = int(exact), True, 0.0
    rows: list[Row] = []
    curve = {"points": [], "distinct": [], "chao1": [], "good_turing": [], "seconds": []}
    stopped = "interrupted" if asked() else None
    if points and stopped is None:
        curve, snaps = sampling_curve(net, b, points, seed=seed)
        for s in snaps:
            n = s.points
            rows.append(Row("sample: distinct", "lower bound", n, "points", float(s.distinct),
                            rel_error(s.distinct, exact), s.seconds, f"f1 {s.f1}, f2 {s.f2}"))
            rows.append(Row("sample: Chao1", "estimate", n, "points", s.chao1,
                            rel_error(s.chao1, exact), s.seconds,
                            f"95% CI {s.chao1_ci[0]:.1f}..{s.chao1_ci[1]:.1f}"))
            gt = s.good_turing
            rows.append(Row("sample: Good-Turing", "estimate", n, "points", gt,
                            rel_error(gt, exact), s.seconds,
                            f"coverage {s.coverage:.4f}" if gt is not None
                            else "every pattern seen once"))
    for k in sorted({int(k) for k in lines}):
        if stopped is None and asked():
            stopped = "interrupted"
        if stopped is not None:
            break
        r = run_lines(net, b, k, 0, seed)
        rows.append(Row("lines: Poisson extrapolation", "estimate", k, "lines",
                        r.estimate_from_lines, rel_error(r.estimate_from_lines, exact), r.seconds,
                        f"{r.density:.4g} crossings per unit length, "
                        f"{r.mean_regions:.1f} regions per chord"))
    for m in sorted({int(m) for m in distance_points}):
        if stopped is None and asked():
            stopped = "interrupted"
        if stopped is not None:
            break
        t0 = time.perf_counter()
        dd = distance_estimate(net, b, m, seed)
        est = 1.0 if dd.estimate is None else dd.estimate      # no boundary: one region
        note = ("affine network: no boundary" if dd.mean is None else
                f"mean distance {dd.mean:.4g}")
        rows.append(Row("distance: Poisson extrapolation", "estimate", m, "points",
                        est, rel_error(est, exact), time.perf_counter() - t0, note))
    if stopped is None and asked():
        stopped = "interrupted"
    if hash and stopped is None:
        h = hash_regions(problem, trials=hash_trials, seed=0 if seed is None else int(seed),
                         time_limit=hash_time_limit, should_stop=should_stop)
        note = f"{h.confidence:.0%} confidence, {h.binaries} binaries, {h.solves} solves"
        if h.stopped:
            note += ", stopped by its time limit"
        rows.append(Row("hash: MIPBound", "lower bound", hash_trials, "trials/K",
                        float(h.lower_bound), rel_error(h.lower_bound, exact), h.seconds, note))
    if stopped is not None:
        notes.append("interrupted: the estimators from that point on were not run")
    t0 = time.perf_counter()
    bd = architecture_bounds(net)
    tsec = time.perf_counter() - t0
    for name, kind, v in (
            ("theory: Serra et al. 2018 upper", "upper bound", bd.serra_upper),
            ("theory: Montufar 2017 product upper", "upper bound", bd.product_upper),
            ("theory: Zaslavsky (shallow, N units)", "shallow count", bd.zaslavsky),
            ("theory: Montufar et al. 2014 lower", "max lower bound", bd.montufar_lower),
            ("theory: Serra et al. 2018 lower", "max lower bound", bd.serra_lower),
            ("theory: Hanin-Rolnick N^n0/n0!", "scale", bd.hanin_rolnick_scale)):
        if v is None:
            continue
        rows.append(Row(name, kind, None, "", float(v), rel_error(v, exact), tsec))
    return CompareResult(exact, is_exact, csec, net.input_dim, [int(w) for w in net.widths],
                         rows, curve, seed, notes, stopped)


# ------------------------------------------------------------------------------ output


def _fmt_est(v) -> str:
    if v is None:
        return "n/a"
    if not math.isfinite(v):
        return "inf"
    if abs(v) >= 1e7:
        return f"{v:.4g}"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def _fmt_err(e) -> str:
    if e is None:
        return "n/a"
    if abs(e) >= 1e4:
        return f"{100 * e:+.3g}%"
    if abs(e) >= 10:
        return f"{100 * e:+,.0f}%"
    return f"{100 * e:+.1f}%"


def format_compare(r: CompareResult) -> list[str]:
    head = (f"exact count: {r.regions:,} regions ({r.count_seconds:.3f} s)" if r.exact
            else f"exact count stopped: at least {r.regions:,} regions ({r.count_seconds:.3f} s)")
    lines = [head, f"network: n0 = {r.input_dim}, widths {r.widths}"]
    table = [("estimator", "kind", "budget", "estimate", "rel. error", "seconds")]
    for row in r.rows:
        budget = "-" if row.budget is None else f"{row.budget:,} {row.unit}"
        table.append((row.estimator, row.kind, budget, _fmt_est(row.estimate),
                      _fmt_err(row.rel_error), f"{row.seconds:.3f}"))
    widths = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
    for i, t in enumerate(table):
        cells = [t[0].ljust(widths[0]), t[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(t[2:], widths[2:])]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [f"note: {n}" for n in r.notes]
    return lines
