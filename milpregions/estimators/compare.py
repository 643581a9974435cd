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

Each row: estimator, budget, estimate, its 95% interval where the estimator has one,
relative error ``(estimate - exact) / exact`` and seconds (for sampling: the time to draw and
hash the stream up to that budget). The sampling curve (distinct patterns, Chao1 with its
interval, Good-Turing with its standard error, against the number of points, at log-spaced
checkpoints) is kept for ``--plot``.

Intervals: Chao1's log-normal 95% interval and Good-Turing +- 1.96 standard errors (delta
method, indicative: it ignores the variance of D) from ``sample``; for the lines, the 95%
interval of the crossing density (ratio estimator over the chords, normal approximation)
carried through the Poisson-model formula, which increases with the density. It is the
sampling error of the chords only, not the error of the Poisson model itself. The distance
estimate has no interval.

**Proven bounds and flags.** Every row is checked against the bounds *proven for this network
in this box* (``proven_bounds``):

- lower: the exact count (or, when it was stopped, the regions it found) and the distinct
  patterns seen by sampling (each is a region: a certain lower bound);
- upper: the exact count (when exact) and the theory upper bounds that hold for every weight
  setting of the architecture, so for this network (Serra et al. 2018, Thm 1; Montufar
  2017's product; Zaslavsky for one hidden layer: ``theory.ArchitectureBounds.upper_bounds``).

Not used: the lower bounds of Montufar et al. 2014 and Serra et al. 2018 (a maximum over all
weights of the architecture, reached by constructions: not a bound on this network), the
Zaslavsky count of a deeper network (the maximum of a shallow network) and the Hanin-Rolnick
scale; those rows are labelled so and not checked (``scope``), nor is MIPBound's lower bound
(it holds with a confidence, not for sure) used as a bound, though its row is checked.

An estimate above a proven upper bound, or below a proven lower bound, is flagged (``flag``:
one sentence; ``violates``: every bound it breaks). The sentence names the tightest violated
bound that does not need the exact count (a theory bound above, the sampled regions below)
when there is one, since that makes the estimate impossible whatever the count, and else the
exact count; ", and so is its whole 95% interval" is added when the interval misses the
bound too, ", though its 95% interval reaches it" when it does not. A row that is itself a
lower bound (distinct patterns, MIPBound) is only checked against the upper bounds, and a
theory upper bound only against the lower ones. Within a relative ``REL_TOL`` (1e-9) of a
bound is rounding, not a break.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..api import count
from ..errors import InputError
from ..ir.domain import Box, Polytope
from ..ir.network import Network
from ..problem import Problem, prepare
from ..settings import Settings
from .body import Body, body_of, body_of_problem
from .hashing import DEFAULT_TRIALS, hash_regions
from .lines import NO_VOLUMES, DistanceSample, distance_sample, extrapolate, run_lines
from .sample import SampleResult, sample_stream
from .theory import (
    BOUND_ON_NETWORK,
    CITATIONS,
    MAX_OVER_WEIGHTS,
    SHALLOW_MAXIMUM,
    TYPICAL_SCALE,
    architecture_bounds,
)

DEFAULT_POINTS = (1_000, 10_000, 100_000)
DEFAULT_LINES = (10, 100)
DEFAULT_DISTANCE_POINTS = (1_000, 10_000)


# what a row's number is about (``Row.scope``): this network, or (theory rows, not checked)
# theory.MAX_OVER_WEIGHTS, theory.SHALLOW_MAXIMUM, theory.TYPICAL_SCALE
THIS_NETWORK = "this network"
REL_TOL = 1e-9      # an estimate within this relative distance of a bound does not break it
Z95 = 1.96


@dataclass
class Row:
    estimator: str          # e.g. "sample: distinct"
    kind: str               # "lower bound" | "estimate" | "upper bound" | "shallow count" |
    #                         "max lower bound" | "scale"
    budget: int | None      # points, lines, ... (None for the theory rows)
    unit: str               # "points" | "lines" | "trials/K" | ""
    estimate: float | None
    rel_error: float | None
    seconds: float
    note: str = ""
    interval: tuple[float, float] | None = None     # 95% interval (see the module docstring)
    scope: str = THIS_NETWORK       # or theory.MAX_OVER_WEIGHTS, SHALLOW_MAXIMUM, TYPICAL_SCALE
    proven: bool = False            # the row is itself a proven bound on this network
    flag: str | None = None         # "above the proven upper bound U (source)" / "below ..."
    violates: list[dict] = field(default_factory=list)   # every bound broken: side, value, source


@dataclass
class ProvenBound:
    """A bound on the number of regions of this network in this box, proven (not estimated)."""

    side: str               # "lower" | "upper"
    value: int
    source: str             # e.g. "the exact count", "Serra et al. 2018, Thm 1"
    from_count: bool        # known only from the exact count


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
    proven_bounds: list[ProvenBound] = field(default_factory=list)

    def proven(self, side: str) -> int | None:
        """The tightest proven lower (max) or upper (min) bound, None when there is none."""
        vals = [b.value for b in self.proven_bounds if b.side == side]
        if not vals:
            return None
        return max(vals) if side == "lower" else min(vals)

    def to_dict(self) -> dict:
        d = asdict(self)
        for r in d["rows"]:
            for k in ("estimate", "rel_error"):
                v = r[k]
                if isinstance(v, float) and not math.isfinite(v):
                    r[k] = None
            if r["interval"] is not None:
                r["interval"] = [v if math.isfinite(v) else None for v in r["interval"]]
            for v in r["violates"]:
                v["value"] = _json_number(v["value"])
        for b in d["proven_bounds"]:
            b["value"] = _json_number(b["value"])
        d["lower_bound"] = not self.exact
        d["proven_lower"] = _json_number(self.proven("lower"))
        d["proven_upper"] = _json_number(self.proven("upper"))
        return d


def _json_number(v):
    """Integers beyond 2^53 as floats (JSON readers choke on them), like ``theory``."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2 ** 53:
        return float(v)
    return v


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


def empty_curve() -> dict:
    return {k: [] for k in ("points", "distinct", "chao1", "chao1_lo", "chao1_hi",
                            "good_turing", "good_turing_se", "seconds")}


def density_interval(runs, lengths, z: float = Z95) -> tuple[float, float] | None:
    """Normal-approximation interval of the crossing density ``sum c_i / sum l_i`` (c_i =
    runs_i - 1 crossings on a chord of length l_i), by the ratio-estimator variance
    ``sum (c_i - lambda l_i)^2 / (K (K - 1) mean(l)^2)``; None for fewer than 2 chords."""
    c = np.asarray(runs, dtype=np.float64) - 1.0
    ln = np.asarray(lengths, dtype=np.float64)
    k = c.size
    if k < 2 or ln.sum() <= 0:
        return None
    lam = c.sum() / ln.sum()
    se = math.sqrt(float(((c - lam * ln) ** 2).sum()) / (k * (k - 1))) / float(ln.mean())
    return max(0.0, lam - z * se), lam + z * se


def sampling_curve(net: Network, box: Box | Polytope | Body, budgets, *, seed: int | None = 0,
                   batch: int | None = None, per_decade: int = 6) -> tuple[dict, list[SampleResult]]:
    """One stream of uniform points in ``box`` (or a polytope: ``sample.sample_stream``), read
    at log-spaced checkpoints.

    Returns (curve, snapshots): the curve has lists ``points, distinct, chao1, chao1_lo,
    chao1_hi`` (its 95% interval), ``good_turing, good_turing_se`` (None where every pattern
    was seen once) and ``seconds``; snapshots has the SampleResult of every budget.
    """
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise InputError(f"sampling budgets must be at least 1, got {budgets}")
    curve = empty_curve()
    snaps = []
    want = set(budgets)
    for r in sample_stream(net, box, checkpoints(budgets, per_decade), seed=seed, batch=batch):
        curve["points"].append(r.points)
        curve["distinct"].append(r.distinct)
        curve["chao1"].append(r.chao1)
        curve["chao1_lo"].append(r.chao1_ci[0])
        curve["chao1_hi"].append(r.chao1_ci[1])
        curve["good_turing"].append(r.good_turing)
        curve["good_turing_se"].append(r.good_turing_se)
        curve["seconds"].append(r.seconds)
        if r.points in want:
            snaps.append(r)
    return curve, snaps


def distance_estimate(net: Network, box: Box | Polytope | Body, points: int,
                      seed: int | None = 0) -> DistanceSample:
    """``lines.distance_sample`` from its own random stream (so that it does not depend on the
    other budgets)."""
    rng = np.random.default_rng(None if seed is None else [int(seed), 0xD157])
    return distance_sample(net, box, points, rng)


def compare_estimators(model, box=None, *, points=DEFAULT_POINTS, lines=DEFAULT_LINES,
                       distance_points=DEFAULT_DISTANCE_POINTS, hash: bool = False,
                       hash_trials: int = DEFAULT_TRIALS, hash_time_limit: float | None = 120.0,
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
    net, b = problem.restricted, body_of_problem(problem)
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
    curve = empty_curve()
    stopped = "interrupted" if asked() else None
    if points and stopped is None:
        curve, snaps = sampling_curve(net, b, points, seed=seed)
        for s in snaps:
            n = s.points
            rows.append(Row("sample: distinct", "lower bound", n, "points", float(s.distinct),
                            rel_error(s.distinct, exact), s.seconds, f"f1 {s.f1}, f2 {s.f2}",
                            proven=True))
            rows.append(Row("sample: Chao1", "estimate", n, "points", s.chao1,
                            rel_error(s.chao1, exact), s.seconds,
                            f"95% CI {s.chao1_ci[0]:.1f}..{s.chao1_ci[1]:.1f}",
                            interval=(float(s.chao1_ci[0]), float(s.chao1_ci[1]))))
            gt = s.good_turing
            rows.append(Row("sample: Good-Turing", "estimate", n, "points", gt,
                            rel_error(gt, exact), s.seconds,
                            f"coverage {s.coverage:.4f}, +- 1.96 se (indicative)" if gt is not None
                            else "every pattern seen once",
                            interval=None if gt is None else
                            (gt - Z95 * s.good_turing_se, gt + Z95 * s.good_turing_se)))
    for k in sorted({int(k) for k in lines}):
        if stopped is None and asked():
            stopped = "interrupted"
        if stopped is not None:
            break
        r = run_lines(net, b, k, 0, seed)
        lam_ci = density_interval(r.runs_per_line, r.lengths)
        ci = None if lam_ci is None or r.estimate_from_lines is None else \
            tuple(extrapolate(v, body_of(b)) for v in lam_ci)
        rows.append(Row("lines: Poisson extrapolation", "estimate", k, "lines",
                        r.estimate_from_lines, rel_error(r.estimate_from_lines, exact), r.seconds,
                        f"{r.density:.4g} crossings per unit length"
                        + ("" if lam_ci is None else
                           f" (95% CI {lam_ci[0]:.4g}..{lam_ci[1]:.4g}, chord sampling only)")
                        + f", {r.mean_regions:.1f} regions per chord"
                        + ("" if r.estimate_from_lines is not None else f"; {NO_VOLUMES}"),
                        interval=ci))
    for m in sorted({int(m) for m in distance_points}):
        if stopped is None and asked():
            stopped = "interrupted"
        if stopped is not None:
            break
        t0 = time.perf_counter()
        dd = distance_estimate(net, b, m, seed)
        est = 1.0 if dd.mean is None else dd.estimate      # no boundary: one region
        note = ("affine network: no boundary" if dd.mean is None else
                f"mean distance {dd.mean:.4g}" + ("" if est is not None else f"; {NO_VOLUMES}"))
        rows.append(Row("distance: Poisson extrapolation", "estimate", m, "points",
                        est, rel_error(est, exact), time.perf_counter() - t0, note))
    if stopped is None and asked():
        stopped = "interrupted"
    if hash and stopped is None:
        h = hash_regions(problem, trials=hash_trials, seed=0 if seed is None else int(seed),
                         time_limit=hash_time_limit, should_stop=should_stop)
        # the hashing bound alone: ``lower_bound`` also takes the regions the trials exhibited
        # (mostly found by sampling), which is not what this estimator is compared for
        note = (f"{h.confidence:.0%} confidence, {h.binaries} binaries, {h.solves} solves, "
                f"{h.regions_seen} regions seen")
        if h.stopped:
            note += ", stopped by its time limit"
        rows.append(Row("hash: MIPBound", "lower bound", hash_trials, "trials",
                        float(h.probabilistic_bound), rel_error(h.probabilistic_bound, exact),
                        h.seconds, note))
    if stopped is not None:
        notes.append("interrupted: the estimators from that point on were not run")
    t0 = time.perf_counter()
    bd = architecture_bounds(net)
    tsec = time.perf_counter() - t0
    scope = bd.scope()
    for name, kind, key in (
            ("theory: Serra et al. 2018 upper", "upper bound", "serra_upper"),
            ("theory: Montufar 2017 product upper", "upper bound", "product_upper"),
            ("theory: Zaslavsky (shallow, N units)", "shallow count", "zaslavsky"),
            ("theory: Montufar et al. 2014 lower", "max lower bound", "montufar_lower"),
            ("theory: Serra et al. 2018 lower", "max lower bound", "serra_lower"),
            ("theory: Hanin-Rolnick N^n0/n0!", "scale", "hanin_rolnick_scale")):
        v = getattr(bd, key)
        if v is None:
            continue
        on_net = scope[key] == BOUND_ON_NETWORK
        rows.append(Row(name, kind, None, "", float(v), rel_error(v, exact), tsec,
                        CITATIONS[key], scope=THIS_NETWORK if on_net else scope[key],
                        proven=on_net))
    bounds = proven_bounds(exact, is_exact, rows, bd)
    check_rows(rows, bounds)
    return CompareResult(exact, is_exact, csec, net.input_dim, [int(w) for w in net.widths],
                         rows, curve, seed, notes, stopped, bounds)


def proven_bounds(regions: int, exact: bool, rows: list[Row], theory) -> list[ProvenBound]:
    """The bounds proven for this network in this box (see the module docstring): the count,
    the most distinct patterns seen by sampling, the theory upper bounds of ``theory`` (an
    ``ArchitectureBounds``)."""
    out = []
    if exact:
        out += [ProvenBound("lower", int(regions), "the exact count", True),
                ProvenBound("upper", int(regions), "the exact count", True)]
    elif regions > 0:
        out.append(ProvenBound("lower", int(regions), "the regions found by the stopped count",
                               True))
    seen = [(int(r.estimate), r.budget) for r in rows
            if r.estimator == "sample: distinct" and r.estimate is not None]
    if seen:
        best = max(v for v, _ in seen)
        first = min(n for v, n in seen if v == best)
        out.append(ProvenBound("lower", best,
                               f"distinct patterns seen in {first:,} random points", False))
    for key, v in theory.upper_bounds():
        out.append(ProvenBound("upper", int(v), CITATIONS[key], False))
    return out


def _breaks(est: float, b: ProvenBound) -> bool:
    if b.side == "upper":
        return est > b.value * (1 + REL_TOL)
    return est < b.value * (1 - REL_TOL)


def check_rows(rows: list[Row], bounds: list[ProvenBound]) -> None:
    """Set ``flag`` and ``violates`` of every row about this network (module docstring)."""
    for row in rows:
        row.flag, row.violates = None, []
        est = row.estimate
        if row.scope != THIS_NETWORK or est is None or math.isnan(est):
            continue
        sides = ({"upper"} if row.kind == "lower bound" else
                 {"lower"} if row.proven else {"lower", "upper"})
        broken = [b for b in bounds if b.side in sides and _breaks(est, b)]
        if not broken:
            continue
        row.violates = [asdict(b) for b in broken]
        pool = [b for b in broken if not b.from_count] or broken
        side = pool[0].side
        pick = min if side == "upper" else max
        value = pick(b.value for b in pool if b.side == side)
        sources = "; ".join(b.source for b in broken if b.side == side and b.value == value)
        row.flag = (f"{'above' if side == 'upper' else 'below'} the proven {side} bound "
                    f"{_fmt_est(float(value))} ({sources})")
        if row.interval is not None:
            beyond = all(_breaks(v, ProvenBound(side, value, "", False)) for v in row.interval)
            row.flag += (", and so is its whole 95% interval" if beyond else
                         ", though its 95% interval reaches it")


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


def _fmt_interval(iv) -> str:
    if iv is None:
        return "-"
    return f"{_fmt_est(iv[0])}..{_fmt_est(iv[1])}"


def scope_note(row: Row, r: CompareResult) -> str:
    """Why a theory row is not a bound on this network (its footnote)."""
    if row.scope == MAX_OVER_WEIGHTS:
        return ("not a bound on this network: a lower bound on the maximum over all weights of "
                "this architecture, reached by a construction (a count below it is normal)")
    if row.scope == SHALLOW_MAXIMUM:
        return (f"not a bound on this network: the maximum for one hidden layer of "
                f"N = {sum(r.widths)} two-piece units (Zaslavsky 1975); deeper networks can "
                "have more")
    if row.scope == TYPICAL_SCALE:
        return ("not a bound on this network: the order of magnitude for random weights "
                "(Hanin & Rolnick 2019), not for these weights or this box")
    return ""


def format_compare(r: CompareResult) -> list[str]:
    noun = "region" if r.regions == 1 else "regions"
    head = (f"exact count: {r.regions:,} {noun} ({r.count_seconds:.3f} s)" if r.exact
            else f"exact count stopped: at least {r.regions:,} {noun} ({r.count_seconds:.3f} s)")
    lines = [head, f"network: n0 = {r.input_dim}, widths {r.widths}; seed {r.seed}"]
    lo, hi = r.proven("lower"), r.proven("upper")
    if r.proven_bounds:
        lines.append(f"proven on this network in this box: "
                     f"{'?' if lo is None else _fmt_est(float(lo))} <= regions <= "
                     f"{'?' if hi is None else _fmt_est(float(hi))}")
        for side in ("lower", "upper"):
            got = [f"{_fmt_est(float(b.value))} {b.source}" for b in r.proven_bounds
                   if b.side == side]
            if got:
                lines.append(f"  {side}: " + "; ".join(got))
    notes: list[str] = []

    def ref(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    table = [("estimator", "kind", "budget", "estimate", "95% interval", "rel. error", "seconds",
              "vs proven bounds")]
    for row in r.rows:
        budget = "-" if row.budget is None else f"{row.budget:,} {row.unit}"
        if row.flag is not None:
            check = f"{row.flag.split()[0].upper()} {ref(row.flag)}"
        elif row.scope != THIS_NETWORK:
            check = f"not a bound {ref(scope_note(row, r))}"
        elif row.estimate is None:
            check = "-"
        else:
            check = "proven" if row.proven else "within"
        table.append((row.estimator, row.kind, budget, _fmt_est(row.estimate),
                      _fmt_interval(row.interval), _fmt_err(row.rel_error),
                      f"{row.seconds:.3f}", check))
    widths = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
    for i, t in enumerate(table):
        cells = [t[0].ljust(widths[0]), t[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(t[2:-1], widths[2:-1])]
        cells.append(t[-1].ljust(widths[-1]))
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [f"[{i + 1}] {n}" for i, n in enumerate(notes)]
    lines += [f"note: {n}" for n in r.notes]
    return lines
