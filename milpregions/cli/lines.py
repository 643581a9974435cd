"""``milpregions lines``: exact counts along random chords, and distances to the boundary."""

from __future__ import annotations

from ..errors import InputError
from ..estimators.body import body_of_problem
from ..estimators.lines import format_lines, run_lines
from .common import EXIT_LOWER_BOUND, EXIT_OK, StopOnSignals, write_json
from .domain_args import add_domain_args, problem_from_args
from .flags import add_deprecated_alias, add_seed_arg


def add_parser(subs) -> None:
    p = subs.add_parser("lines", allow_abbrev=False,
                        help="regions along random chords and distances to the nearest boundary",
                        description="Exact region counts along K random chords of the domain "
                                    "(a box, or a polytope, hull or L1 ball), the "
                                    "exact distance from M random points to the nearest region "
                                    "boundary, and box-count estimates from both "
                                    "(see milpregions.estimators.lines).")
    p.add_argument("model", metavar="MODEL", help="ONNX file")
    add_domain_args(p, polytopes=True)
    p.add_argument("--lines", type=int, required=True, metavar="K", help="number of chords")
    p.add_argument("--distance-points", type=int, default=0, metavar="M",
                   help="also the distance to the nearest boundary from M random points")
    add_deprecated_alias(p, "--points", "--distance-points", "distance_points", type=int,
                         metavar="M")
    add_seed_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args, out, err) -> int:
    if args.lines < 1:
        raise InputError(f"--lines must be at least 1, got {args.lines}")
    if args.distance_points < 0:
        raise InputError(f"--distance-points must be at least 0, got {args.distance_points}")
    problem = problem_from_args(args, l1_lifted=False)
    with StopOnSignals() as stop:
        r = run_lines(problem.restricted, body_of_problem(problem), args.lines,
                      args.distance_points, args.seed, should_stop=stop)
    if args.json:
        write_json(out, "lines", args, problem.domain, r.to_dict())
    else:
        out.write("\n".join(format_lines(r)) + "\n")
    return EXIT_OK if r.stopped is None else EXIT_LOWER_BOUND
