"""``milpregions sample``: patterns of random points and the estimators built on them."""

from __future__ import annotations

from ..errors import InputError
from ..estimators.body import body_of_problem
from ..estimators.sample import format_sample, parse_dist, sample_patterns
from .common import EXIT_LOWER_BOUND, EXIT_OK, StopOnSignals, write_json
from .domain_args import add_domain_args, problem_from_args
from .flags import add_seed_arg


def add_parser(subs) -> None:
    p = subs.add_parser("sample", allow_abbrev=False,
                        help="estimate the region count from the patterns of random points",
                        description="Patterns of N random points in the domain (a box, or a "
                                    "polytope, hull or L1 ball): distinct patterns "
                                    "(a lower bound), singletons/doubletons, Chao1 and "
                                    "Good-Turing estimates (see milpregions.estimators.sample).")
    p.add_argument("model", metavar="MODEL", help="ONNX file")
    add_domain_args(p, polytopes=True)
    p.add_argument("--points", type=int, required=True, metavar="N", help="number of points")
    p.add_argument("--dist", default="uniform", metavar="uniform|gauss:STD",
                   help="uniform in the domain (default) or normal around the box centre (a "
                        "polytope's Chebyshev centre) with standard deviation STD per input, "
                        "points outside the domain redrawn")
    add_seed_arg(p)
    p.add_argument("--batch", type=int, metavar="B",
                   help="points per batch (default: about 4M pre-activations per batch)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args, out, err) -> int:
    if args.points < 1:
        raise InputError(f"--points must be at least 1, got {args.points}")
    if args.batch is not None and args.batch < 1:
        raise InputError(f"--batch must be at least 1, got {args.batch}")
    try:
        parse_dist(args.dist)
    except InputError as e:                      # the library names its argument "dist"
        raise InputError(f"--{e}") from None
    problem = problem_from_args(args, l1_lifted=False)
    with StopOnSignals() as stop:
        r = sample_patterns(problem.restricted, body_of_problem(problem), args.points,
                            dist=args.dist, seed=args.seed, batch=args.batch, should_stop=stop)
    if args.json:
        write_json(out, "sample", args, problem.domain, r.to_dict())
    else:
        out.write("\n".join(format_sample(r)) + "\n")
    return EXIT_OK if r.stopped is None else EXIT_LOWER_BOUND
