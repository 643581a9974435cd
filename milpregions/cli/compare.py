"""``milpregions compare``: the exact count next to every estimator at several budgets."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..estimators.compare import compare_estimators, format_compare
from ..estimators.hashing import DEFAULT_TRIALS
from ..estimators.plot import PLOT_HINT, have_matplotlib, plot_curve
from ..settings import Settings
from ..solver.highs import silence_banner
from .common import EXIT_LOWER_BOUND, EXIT_OK, StopOnSignals, check_positive, write_json
from .domain_args import add_domain_args, check_domain, problem_from_args
from .flags import add_seed_arg


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


def add_parser(subs) -> None:
    p = subs.add_parser("compare", allow_abbrev=False,
                        help="the exact count next to every estimator at several budgets",
                        description="Count the regions of MODEL exactly, run the estimators "
                                    "(sampling: distinct patterns, Chao1, Good-Turing; random "
                                    "lines; boundary distances; optional MIPBound hashing; the "
                                    "architecture bounds) at several budgets, and print a table "
                                    "of estimate, 95% interval, relative error and seconds. "
                                    "Every estimate above a proven upper bound of this network "
                                    "(the exact count; Serra et al. 2018 and the other upper "
                                    "bounds that hold for any weights) or below a proven lower "
                                    "bound (the exact count; the regions seen by sampling) is "
                                    "flagged, in the table and in --json; the lower bounds of "
                                    "Montufar et al. 2014 and Serra et al. 2018 are maxima over "
                                    "all weights and never used "
                                    "(see milpregions.estimators.compare).")
    p.add_argument("model", metavar="MODEL", help="ONNX file")
    add_domain_args(p, polytopes=True)
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
    p.add_argument("--hash-trials", type=int, default=DEFAULT_TRIALS, metavar="T",
                   help=f"MIPBound trials (default {DEFAULT_TRIALS}, as for `hash`)")
    p.add_argument("--hash-time-limit", type=float, default=120.0, metavar="S",
                   help="stop MIPBound after S seconds (default 120)")
    p.add_argument("--time-limit", type=float, metavar="S",
                   help="stop the exact count after S seconds (it is then a lower bound, exit 3)")
    add_seed_arg(p)
    p.add_argument("--no-tighten", action="store_true",
                   help="skip the LP tightening of the interval bounds")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--plot", metavar="OUT.png",
                   help="plot the estimates against the points and lines sampled (log axes), "
                        "with their intervals, the exact count and the proven upper bounds; "
                        "the format from the extension (.png, .svg, .pdf; needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no notices")


def run(args, out, err) -> int:
    check_domain(args)
    pts = _int_list(args.points, "--points")
    lns = _int_list(args.lines, "--lines")
    dps = _int_list(args.distance_points, "--distance-points")
    if args.hash_trials < 1:
        raise InputError(f"--hash-trials {args.hash_trials}: must be at least 1")
    check_positive("--time-limit", args.time_limit)
    check_positive("--hash-time-limit", args.hash_time_limit)
    if args.plot is not None:
        # the options first, so their errors do not depend on what is installed
        if not pts:
            raise InputError("--plot needs sampling budgets (--points)")
        if not have_matplotlib():
            raise InputError(f"--plot needs matplotlib, which is not installed: {PLOT_HINT}")
    problem = problem_from_args(args, Settings(time_limit=args.time_limit,
                                               tighten=not args.no_tighten), l1_lifted=False)
    silence_banner()
    with StopOnSignals() as stop:
        r = compare_estimators(problem, points=pts, lines=lns, distance_points=dps,
                               hash=args.hash, hash_trials=args.hash_trials,
                               hash_time_limit=args.hash_time_limit, seed=args.seed,
                               should_stop=stop)
    if args.plot is not None:
        plot_curve(r, args.plot, title=Path(os.fspath(args.model)).stem)
    if args.json:
        d = r.to_dict()
        if args.plot is not None:
            d["plot"] = os.fspath(args.plot)
        write_json(out, "compare", args, problem.domain, d)
    else:
        out.write("\n".join(format_compare(r)) + "\n")
        if args.plot is not None:
            out.write(f"plot: {args.plot}\n")
    return EXIT_OK if r.exact and r.stopped is None else EXIT_LOWER_BOUND
