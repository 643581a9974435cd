"""``milpregions hash``: the MIPBound probabilistic lower bound."""

from __future__ import annotations

from ..errors import InputError
from ..estimators.hashing import format_hash, hash_regions
from ..settings import Settings
from ..solver.highs import silence_banner
from .common import (
    EXIT_LOWER_BOUND,
    EXIT_OK,
    StopOnSignals,
    check_positive,
    pyomo_logging,
    write_json,
)
from .domain_args import add_domain_args, problem_from_args


def add_parser(subs) -> None:
    hp = subs.add_parser("hash", allow_abbrev=False,
                         help="probabilistic lower bound by random XOR constraints (MIPBound)",
                         description="MIPBound (Serra & Ramalingam 2020; MBound of Gomes, Sabharwal "
                                     "& Selman 2006): add K random parity constraints on the "
                                     "binaries of the counting MILP, T trials per K, and turn the "
                                     "feasible fraction into a lower bound on the number of regions "
                                     "that holds with the given confidence. Not exact.")
    hp.add_argument("model", metavar="MODEL", help="ONNX file")
    add_domain_args(hp)
    hp.add_argument("--xors", metavar="K[,K...]",
                    help="numbers of XOR constraints to test (default: 1, 2, ... until at most "
                         "half of the trials are feasible)")
    hp.add_argument("--trials", type=int, default=7, metavar="T", help="trials per K (default 7)")
    hp.add_argument("--confidence", type=float, default=0.95, metavar="P",
                    help="probability that the bound holds (default 0.95)")
    hp.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    hp.add_argument("--time-limit", type=float, metavar="S", help="stop after S seconds")
    hp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    hp.add_argument("--no-tighten", action="store_true",
                    help="skip the LP tightening of the interval bounds (looser big-M)")
    hp.add_argument("--quiet", action="store_true", help="no notices")


def run(args, out, err) -> int:
    xors = None
    if args.xors is not None:
        try:
            xors = [int(k) for k in args.xors.split(",")]
        except ValueError:
            raise InputError(f"--xors {args.xors!r}: expected K or K1,K2,... (integers >= 1)") from None
    if args.trials < 1:
        raise InputError(f"--trials {args.trials}: must be at least 1")
    if not 0 < args.confidence < 1:
        raise InputError(f"--confidence {args.confidence:g}: must be between 0 and 1 (e.g. 0.95)")
    check_positive("--time-limit", args.time_limit)
    problem = problem_from_args(args, Settings(tighten=not args.no_tighten))
    silence_banner()
    with pyomo_logging(err, args.debug), StopOnSignals() as stop:
        res = hash_regions(problem, xors=xors, trials=args.trials, confidence=args.confidence,
                           seed=args.seed, time_limit=args.time_limit, should_stop=stop)
    if args.json:
        write_json(out, "hash", args, problem.domain, res.to_dict())
    else:
        out.write("\n".join(format_hash(res)) + "\n")
    return EXIT_OK if res.stopped is None else EXIT_LOWER_BOUND
