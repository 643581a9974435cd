"""``milpregions hash``: the MIPBound probabilistic lower bound."""

from __future__ import annotations

import math
import time

from ..errors import InputError
from ..estimators.hashing import (
    DEFAULT_CONFIDENCE,
    DEFAULT_POINTS,
    DEFAULT_TRIALS,
    MILP_NODES,
    HashProgress,
    format_hash,
    hash_regions,
)
from ..settings import Settings
from ..solver.highs import silence_banner
from .common import (
    EXIT_INTERRUPTED,
    EXIT_LOWER_BOUND,
    EXIT_OK,
    PROG,
    Progress,
    ProgressLines,
    StopOnSignals,
    check_positive,
    is_terminal,
    write_json,
)
from .domain_args import add_domain_args, problem_from_args
from .flags import add_seed_arg


def add_parser(subs) -> None:
    hp = subs.add_parser("hash", allow_abbrev=False,
                         help="probabilistic lower bound by random XOR constraints (MIPBound)",
                         description="MIPBound (Serra & Ramalingam 2020; MBound of Gomes, Sabharwal "
                                     "& Selman 2006): T trials of random parity (XOR) constraints "
                                     "on the binaries of a MILP of the network; the number of "
                                     "trials in which a region satisfying K of them is exhibited "
                                     "gives a lower bound on the number of regions that holds with "
                                     "the given confidence. Regions are exhibited from sampled "
                                     "points, their neighbours and node-limited MILP solves, each "
                                     "checked to hold a ball of radius > margin. Not exact.")
    hp.add_argument("model", metavar="MODEL", help="ONNX file")
    add_domain_args(hp, polytopes=True)
    hp.add_argument("--xors", metavar="K[,K...]",
                    help="numbers of XOR constraints to test (default: chosen by 5 exploration "
                         "trials, about log2 of the number of regions)")
    hp.add_argument("--trials", type=int, default=DEFAULT_TRIALS, metavar="T",
                    help=f"trials (default {DEFAULT_TRIALS})")
    hp.add_argument("--confidence", type=float, default=DEFAULT_CONFIDENCE, metavar="P",
                    help=f"probability that the bound holds (default {DEFAULT_CONFIDENCE:g})")
    add_seed_arg(hp)
    hp.add_argument("--points", type=int, default=DEFAULT_POINTS, metavar="N",
                    help=f"uniform random points whose regions seed the search (default "
                         f"{DEFAULT_POINTS:,}; 0: none)")
    hp.add_argument("--xor-length", type=int, metavar="L",
                    help="XORs of L binaries each (default: each binary with probability 1/2)")
    hp.add_argument("--milp-nodes", type=int, default=MILP_NODES, metavar="N",
                    help=f"HiGHS node limit of each MILP solve (default {MILP_NODES})")
    hp.add_argument("--time-limit", type=float, metavar="S",
                    help="stop after about S seconds (the bound then uses the trials finished)")
    hp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    hp.add_argument("--no-tighten", action="store_true",
                    help="skip the LP tightening of the interval bounds (looser big-M)")
    hp.add_argument("--margin", type=float, metavar="R",
                    help="a region counts when it holds a ball of radius R (normalised "
                         "coordinates; default as count)")
    hp.add_argument("--quiet", action="store_true", help="no progress line and no notices")
    hp.add_argument("--progress", action="store_true",
                    help="when stderr is not a terminal: a progress line every 5 s")


class _Display:
    """``HashProgress`` reports as one status text, redrawn at the display's rate."""

    def __init__(self, display: Progress):
        self.display = display
        self.interval = display.interval
        self.last = display.last

    def __call__(self, p: HashProgress) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        if p.stage == "sampling":
            what = f"sampling: {p.done:,}/{p.total:,} points"
        elif p.stage == "exploring":
            what = f"exploring: trial {p.done}/{p.total}"
        else:
            what = (f"trials: {p.done}/{p.total}, bound so far {p.bound:,}"
                    if p.bound else f"trials: {p.done}/{p.total}")
        self.display.draw(f"{what}; {p.regions_seen:,} regions seen, {p.solves} MILP solves, "
                          f"{p.seconds:.1f} s")


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
    if args.points < 0:
        raise InputError(f"--points {args.points}: must be 0 or more")
    if args.xor_length is not None and args.xor_length < 1:
        raise InputError(f"--xor-length {args.xor_length}: must be at least 1")
    if args.milp_nodes < 1:
        raise InputError(f"--milp-nodes {args.milp_nodes}: must be at least 1")
    check_positive("--time-limit", args.time_limit)
    if args.margin is not None and not (math.isfinite(args.margin) and args.margin > 0):
        raise InputError(f"--margin {args.margin:g}: must be positive")
    settings = Settings(tighten=not args.no_tighten,
                        **({} if args.margin is None else {"margin": args.margin}))
    problem = problem_from_args(args, settings, l1_lifted=False)
    silence_banner()
    display = None
    if not args.quiet and is_terminal(err):
        display = Progress(err)
    elif not args.quiet and args.progress:
        display = ProgressLines(err)
    progress = None if display is None else _Display(display)
    try:
        with StopOnSignals() as stop:
            res = hash_regions(problem, xors=xors, trials=args.trials, confidence=args.confidence,
                               seed=args.seed, time_limit=args.time_limit, points=args.points,
                               xor_length=args.xor_length, milp_nodes=args.milp_nodes,
                               should_stop=stop, progress=progress)
    except KeyboardInterrupt:                   # a second Ctrl-C
        if display is not None:
            display.clear()
        err.write(f"{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    if display is not None:
        display.clear()
    if args.json:
        write_json(out, "hash", args, problem.domain, res.to_dict())
    else:
        out.write("\n".join(format_hash(res)) + "\n")
    return EXIT_OK if res.stopped is None else EXIT_LOWER_BOUND
