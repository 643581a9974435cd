"""``milpregions export``: the MILP of record as an MPS or LP file."""

from __future__ import annotations

from ..errors import InputError
from ..milp import export_milp
from ..settings import Settings
from ..solver.highs import silence_banner
from .common import EXIT_OK, pyomo_logging
from .domain_args import add_domain_args, problem_from_args


def add_parser(subs) -> None:
    e = subs.add_parser("export", allow_abbrev=False,
                        help="write the counting MILP (big-M) as MPS or LP",
                        description="Write the MILP of record for MODEL on a box (normalised to "
                                    "[-1,1]^d) as an .mps or .lp file, and print its path.")
    e.add_argument("model", metavar="MODEL", help="ONNX file")
    add_domain_args(e)
    out = e.add_mutually_exclusive_group(required=True)
    out.add_argument("--mps", metavar="OUT.mps", help="write MPS")
    out.add_argument("--lp", metavar="OUT.lp", help="write CPLEX LP format")
    e.add_argument("--no-tighten", action="store_true",
                   help="skip the LP tightening of the interval bounds (looser big-M)")
    e.add_argument("--quiet", action="store_true", help="no notices")



def run(args, out, err) -> int:
    path, suffix = (args.mps, ".mps") if args.mps is not None else (args.lp, ".lp")
    if not path.lower().endswith(suffix):
        flag = "--mps" if suffix == ".mps" else "--lp"
        raise InputError(f"{flag} {path!r}: the file name must end in {suffix}")
    problem = problem_from_args(args, Settings(tighten=not args.no_tighten))
    silence_banner()
    try:
        with pyomo_logging(err, args.debug):
            written = export_milp(problem.unit_net, problem.bounds, path)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    out.write(f"{written}\n")
    return EXIT_OK
