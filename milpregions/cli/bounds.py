"""``milpregions bounds``: the architecture bounds of a model."""

from __future__ import annotations

from ..estimators.theory import architecture_bounds, format_bounds
from .common import EXIT_OK, write_json
from .domain_args import add_domain_args, domain_given, network_from_args, problem_from_args


def add_parser(subs) -> None:
    p = subs.add_parser("bounds", allow_abbrev=False,
                        help="architecture bounds on the region count (Zaslavsky, Serra, Montufar)",
                        description="Print the architecture bounds of MODEL, grouped by what "
                                    "they are about (see milpregions.estimators.theory): upper "
                                    "bounds hold for any weights, so for this network, in all "
                                    "of R^n0 and hence in any box; the lower bounds of Montufar "
                                    "et al. 2014 and Serra et al. 2018 are reached by some "
                                    "weights of the architecture (best known constructions) and "
                                    "are not bounds on this network. JSON: the same numbers, "
                                    "and `scope` says which is which. A box option is accepted "
                                    "and only checked.")
    p.add_argument("model", metavar="MODEL", help="ONNX file")
    add_domain_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args, out, err) -> int:
    if domain_given(args):
        # a box is only checked (the bounds hold on all of R^n0); a slice or line restricts
        # the network, so its dimension is the domain's
        problem = problem_from_args(args)
        net, domain = problem.restricted, problem.domain
    else:
        net, domain = network_from_args(args), None
    b = architecture_bounds(net)
    if args.json:
        write_json(out, "bounds", args, domain, b.to_dict())
    else:
        out.write("\n".join(format_bounds(b)) + "\n")
    return EXIT_OK
