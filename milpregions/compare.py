"""Every region-count estimator of this package next to the exact count (``milpregions compare``).

For one network and one box: the exact count (``api.count_regions``, the tree enumerator) and

- **sampling** (``milpregions.sample``): one stream of uniform random points, read at each
  budget (the budgets are nested: the 10^4-point sample contains the 10^3-point one), reporting
  the distinct patterns seen (a lower bound), Chao1 and the Good-Turing estimate;
- **lines** (``milpregions.lines``): exact region counts along K random chords, extrapolated to
  the box with the isotropic Poisson hyperplane model;
- **distance**: the exact distance from M random points to the nearest region boundary,
  extrapolated with the same model;
- **hash** (optional, slow): the MIPBound probabilistic lower bound (``milpregions.hashing``);
- **theory**: the architecture bounds of ``milpregions.theory`` (upper bounds hold for every
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

from .box import Box
from .errors import InputError
from .network import Network

DEFAULT_POINTS = (1_000, 10_000, 100_000)
DEFAULT_LINES = (10, 100)
DEFAULT_DISTANCE_POINTS = (1_000, 10_000)
PLOT_HINT = "pip install 'milpregions[plot]' (or pip install matplotlib)"


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
    exact: int
    exact_is_exact: bool            # False: the count was stopped by --time-limit (lower bound)
    count_seconds: float
    input_dim: int
    widths: list[int]
    rows: list[Row]
    curve: dict                     # points, distinct, chao1, good_turing (lists, same length)
    seed: int | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        for r in d["rows"]:
            for k in ("estimate", "rel_error"):
                v = r[k]
                if isinstance(v, float) and not math.isfinite(v):
                    r[k] = None
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
                   batch: int | None = None, per_decade: int = 6) -> tuple[dict, list[dict]]:
    """One stream of uniform points in ``box``, read at log-spaced checkpoints.

    Returns (curve, snapshots): the curve has lists ``points, distinct, chao1, good_turing,
    seconds``; snapshots has one dict per budget (``sample.SampleResult`` fields that matter).
    """
    from .sample import FrequencyCounter, PatternHasher, _draw, chao1, default_batch, good_turing

    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise InputError(f"sampling budgets must be at least 1, got {budgets}")
    batch = default_batch(net) if batch is None else int(batch)
    rng = np.random.default_rng(seed)
    hasher = PatternHasher(net, seed)
    counter = FrequencyCounter()
    curve = {"points": [], "distinct": [], "chao1": [], "good_turing": [], "seconds": []}
    snaps = []
    done = 0
    t0 = time.perf_counter()
    want = set(budgets)
    for cp in checkpoints(budgets, per_decade):
        while done < cp:
            m = min(batch, cp - done)
            counter.add(hasher(_draw(rng, box, m, "uniform", 0.0)))
            done += m
        freq = counter.frequencies()
        D = int(len(freq))
        f1 = int(np.count_nonzero(freq == 1))
        f2 = int(np.count_nonzero(freq == 2))
        S, _, ci = chao1(done, D, f1, f2)
        C, gt, _ = good_turing(done, D, f1)
        sec = time.perf_counter() - t0
        curve["points"].append(done)
        curve["distinct"].append(D)
        curve["chao1"].append(S)
        curve["good_turing"].append(gt)
        curve["seconds"].append(sec)
        if cp in want:
            snaps.append({"points": done, "distinct": D, "f1": f1, "f2": f2, "chao1": S,
                          "chao1_ci": list(ci), "coverage": C, "good_turing": gt,
                          "seconds": sec})
    return curve, snaps


def distance_estimate(net: Network, box: Box, points: int, seed: int | None = 0) -> dict:
    """Mean exact distance to the nearest region boundary from ``points`` uniform points, the
    implied crossing density and the Poisson-model box count."""
    from .lines import boundary_distances, lambda_from_distance, poisson_cells

    t0 = time.perf_counter()
    rng = np.random.default_rng(None if seed is None else [int(seed), 0xD157])
    d = box.lo.size
    X = box.lo + (box.hi - box.lo) * rng.random((points, d))
    dist = boundary_distances(net, X)
    fin = dist[np.isfinite(dist)]
    if fin.size == 0:
        return {"mean_distance": None, "density": None, "estimate": 1.0,
                "seconds": time.perf_counter() - t0}
    md = float(fin.mean())
    lam = lambda_from_distance(md, d)
    return {"mean_distance": md, "density": lam, "estimate": poisson_cells(lam, box.hi - box.lo),
            "seconds": time.perf_counter() - t0}


def compare_estimators(model, box=None, *, points=DEFAULT_POINTS, lines=DEFAULT_LINES,
                       distance_points=DEFAULT_DISTANCE_POINTS, hash: bool = False,
                       hash_trials: int = 7, hash_time_limit: float | None = 120.0,
                       seed: int | None = 0, time_limit: float | None = None,
                       tighten: bool = True, exact: int | None = None) -> CompareResult:
    """The exact count and every estimator at the given budgets (see the module docstring).

    ``exact``: a known count (skips the enumeration; ``count_seconds`` is then 0).
    """
    from .api import count_regions, load_network, make_box
    from .lines import run_lines
    from .theory import architecture_bounds

    net = load_network(model)
    b = make_box(net, box)
    notes: list[str] = []
    if exact is None:
        res = count_regions(net, b, time_limit=time_limit, tighten=tighten)
        exact, is_exact, csec = int(res.regions), bool(res.exact), float(res.seconds)
        if not is_exact:
            notes.append(f"the exact count was stopped ({res.stopped}): {exact} is a lower bound "
                         "and the relative errors are against it")
    else:
        exact, is_exact, csec = int(exact), True, 0.0
    rows: list[Row] = []
    curve = {"points": [], "distinct": [], "chao1": [], "good_turing": [], "seconds": []}
    if points:
        curve, snaps = sampling_curve(net, b, points, seed=seed)
        for s in snaps:
            n = s["points"]
            rows.append(Row("sample: distinct", "lower bound", n, "points", float(s["distinct"]),
                            rel_error(s["distinct"], exact), s["seconds"],
                            f"f1 {s['f1']}, f2 {s['f2']}"))
            rows.append(Row("sample: Chao1", "estimate", n, "points", s["chao1"],
                            rel_error(s["chao1"], exact), s["seconds"],
                            f"95% CI {s['chao1_ci'][0]:.1f}..{s['chao1_ci'][1]:.1f}"))
            gt = s["good_turing"]
            rows.append(Row("sample: Good-Turing", "estimate", n, "points", gt,
                            rel_error(gt, exact), s["seconds"],
                            f"coverage {s['coverage']:.4f}" if gt is not None
                            else "every pattern seen once"))
    for k in sorted({int(k) for k in lines}):
        r = run_lines(net, b, k, 0, seed)
        rows.append(Row("lines: Poisson extrapolation", "estimate", k, "lines",
                        r.estimate_from_lines, rel_error(r.estimate_from_lines, exact), r.seconds,
                        f"{r.density:.4g} crossings per unit length, "
                        f"{r.mean_regions:.1f} regions per chord"))
    for m in sorted({int(m) for m in distance_points}):
        dd = distance_estimate(net, b, m, seed)
        note = ("affine network: no boundary" if dd["mean_distance"] is None else
                f"mean distance {dd['mean_distance']:.4g}")
        rows.append(Row("distance: Poisson extrapolation", "estimate", m, "points",
                        dd["estimate"], rel_error(dd["estimate"], exact), dd["seconds"], note))
    if hash:
        from .hashing import hash_regions
        from .lp import silence_banner

        silence_banner()
        h = hash_regions(net, b, trials=hash_trials, seed=0 if seed is None else int(seed),
                         time_limit=hash_time_limit, tighten=tighten)
        note = f"{h.confidence:.0%} confidence, {h.binaries} binaries, {h.solves} solves"
        if h.stopped:
            note += ", stopped by its time limit"
        rows.append(Row("hash: MIPBound", "lower bound", hash_trials, "trials/K",
                        float(h.lower_bound), rel_error(h.lower_bound, exact), h.seconds, note))
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
                         rows, curve, seed, notes)


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
    head = (f"exact count: {r.exact:,} regions ({r.count_seconds:.3f} s)" if r.exact_is_exact
            else f"exact count stopped: at least {r.exact:,} regions ({r.count_seconds:.3f} s)")
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


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_curve(r: CompareResult, path, title: str = "") -> None:
    """Distinct patterns (and Chao1, Good-Turing) against the number of points, log x, with the
    exact count as a horizontal line. Needs matplotlib (the ``plot`` extra)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(f"--plot needs matplotlib: {PLOT_HINT}") from None
    c = r.curve
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if c["points"]:
        ax.plot(c["points"], c["distinct"], "o-", ms=3, label="distinct patterns (lower bound)")
        ax.plot(c["points"], c["chao1"], "--", label="Chao1")
        gt = [np.nan if v is None else v for v in c["good_turing"]]
        ax.plot(c["points"], gt, ":", label="Good-Turing")
    ax.axhline(r.exact, color="k", lw=1.2,
               label=f"exact count {r.exact:,}" + ("" if r.exact_is_exact else " (lower bound)"))
    ax.set_xscale("log")
    ax.set_xlabel("number of random points")
    ax.set_ylabel("regions")
    top = max([r.exact] + [v for v in c["distinct"]])
    ax.set_ylim(0, 1.6 * top)
    ax.set_title(title or f"n0 = {r.input_dim}, widths {r.widths}")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------ command line


def _int_list(text: str, option: str, allow_empty: bool = True) -> list[int]:
    if allow_empty and text.strip().lower() in ("", "0", "none"):
        return []
    try:
        vals = [int(float(v)) for v in text.split(",")]
        if any(float(v) != int(float(v)) for v in text.split(",")):
            raise ValueError
    except ValueError:
        raise InputError(f"{option} {text!r}: expected N or N1,N2,... (positive integers; "
                         "0 or none to skip)") from None
    if any(v < 1 for v in vals):
        raise InputError(f"{option} {text!r}: the budgets must be at least 1 (0 or none to skip)")
    return vals


def add_parser(subs, domain) -> None:
    p = subs.add_parser("compare", allow_abbrev=False,
                        help="the exact count next to every estimator at several budgets",
                        description="Count the regions of MODEL exactly, run the estimators "
                                    "(sampling: distinct patterns, Chao1, Good-Turing; random "
                                    "lines; boundary distances; optional MIPBound hashing; the "
                                    "architecture bounds) at several budgets, and print a table "
                                    "of estimate, relative error and seconds "
                                    "(see milpregions.compare).")
    p.add_argument("model", metavar="MODEL", help="ONNX file")
    domain(p)
    p.add_argument("--points", default="1000,10000,100000", metavar="N[,N...]",
                   help="sampling budgets, one nested stream (default 1000,10000,100000; "
                        "0 to skip)")
    p.add_argument("--lines", default="10,100", metavar="K[,K...]",
                   help="numbers of random chords (default 10,100; 0 to skip)")
    p.add_argument("--distance-points", default="1000,10000", metavar="M[,M...]",
                   help="points for the boundary-distance estimate (default 1000,10000; "
                        "0 to skip)")
    p.add_argument("--hash", action="store_true",
                   help="also the MIPBound lower bound (random XORs on the MILP; slow)")
    p.add_argument("--hash-trials", type=int, default=7, metavar="T",
                   help="MIPBound trials per number of XORs (default 7)")
    p.add_argument("--hash-time-limit", type=float, default=120.0, metavar="S",
                   help="stop MIPBound after S seconds (default 120)")
    p.add_argument("--time-limit", type=float, metavar="S",
                   help="stop the exact count after S seconds (it is then a lower bound, exit 3)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--no-tighten", action="store_true",
                   help="skip the LP tightening of the interval bounds")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--plot", metavar="OUT.png",
                   help="plot distinct patterns / Chao1 / Good-Turing against the number of "
                        "points (log x) with the exact count as a line (needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no notices")


def run(args, out, err) -> int:
    import json
    import os

    from .api import load_network
    from .cli import EXIT_LOWER_BOUND, EXIT_OK, _check_domain, _domain_net, run_record
    from .lp import silence_banner

    _check_domain(args)
    pts = _int_list(args.points, "--points")
    lns = _int_list(args.lines, "--lines")
    dps = _int_list(args.distance_points, "--distance-points")
    if args.hash_trials < 1:
        raise InputError(f"--hash-trials {args.hash_trials}: must be at least 1")
    for opt, v in (("--time-limit", args.time_limit), ("--hash-time-limit", args.hash_time_limit)):
        if v is not None and not (math.isfinite(v) and v > 0):
            raise InputError(f"{opt} {v:g}: must be positive")
    if args.plot is not None:
        # the options first, so their errors do not depend on what is installed
        if not pts:
            raise InputError("--plot needs sampling budgets (--points)")
        if not have_matplotlib():
            raise InputError(f"--plot needs matplotlib, which is not installed: {PLOT_HINT}")
    net, box = _domain_net(args, load_network(args.model))
    silence_banner()
    r = compare_estimators(net, box, points=pts, lines=lns, distance_points=dps, hash=args.hash,
                           hash_trials=args.hash_trials, hash_time_limit=args.hash_time_limit,
                           seed=args.seed, time_limit=args.time_limit,
                           tighten=not args.no_tighten)
    if args.plot is not None:
        plot_curve(r, args.plot, title=os.path.basename(os.fspath(args.model)))
    if args.json:
        d = r.to_dict()
        d.update(run_record(args, box))
        if args.plot is not None:
            d["plot"] = os.fspath(args.plot)
        out.write(json.dumps(d) + "\n")
    else:
        out.write("\n".join(format_compare(r)) + "\n")
        if args.plot is not None:
            out.write(f"plot: {args.plot}\n")
    return EXIT_OK if r.exact_is_exact else EXIT_LOWER_BOUND
