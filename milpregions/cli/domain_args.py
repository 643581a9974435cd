"""The domain options every model command takes, and the Problem they describe."""

from __future__ import annotations

import argparse
import math

from ..errors import InputError
from ..inputs import (
    ball_domain,
    hull_domain,
    l1_ball_domain,
    make_domain,
    polytope_domain,
    read_box_file,
    vnnlib_box,
)
from ..ir.domain import AllSpace, Box, Domain
from ..ir.network import Network
from ..problem import Problem, load_network, prepare
from ..settings import Settings
from .flags import add_deprecated_alias

DOMAIN_MISSING = ("count: give the input domain with --box LO,HI, --box-file F, "
                  "--center F --radius R or --vnnlib P")
BOX_FORMAT = "expected LO,HI (two numbers separated by a comma, e.g. --box -1,1)"


OUTPUT_HELP = ("count the regions of the tensor NAME: the graph is cut there (default: the "
               "graph outputs, less a classifier's post-processing: Softmax/Sigmoid, ArgMax, "
               "ZipMap, label casts, dropped with a notice)")


def add_output_arg(p: argparse.ArgumentParser, *flags: str) -> None:
    """The option that picks the tensor counted on (``args.tensor``): ``--output-tensor``, and
    the old ``--output`` as a deprecated alias unless ``flags`` are given (a command whose
    ``--output`` is its own file)."""
    p.add_argument(*(flags or ("--output-tensor",)), dest="tensor", metavar="NAME",
                   help=OUTPUT_HELP)
    if not flags:
        add_deprecated_alias(p, "--output", "--output-tensor", "tensor", metavar="NAME")


def network_from_args(args) -> Network:
    """The model file of ``args``, cut at ``--output-tensor`` if given."""
    return load_network(args.model, output=getattr(args, "tensor", None))


def add_domain_args(p: argparse.ArgumentParser, *, output_flags: tuple[str, ...] = (),
                    polytopes: bool = False) -> None:
    """The domain options, and ``--output-tensor NAME`` (``output_flags`` instead, where a
    command uses ``--output`` for its own file); ``polytopes``: also ``--polytope``, ``--hull``
    and ``--norm`` (the commands that count on them)."""
    add_output_arg(p, *output_flags)
    g = p.add_argument_group("input domain (exactly one)")
    g.add_argument("--box", metavar="LO,HI",
                   help="the same interval [LO, HI] for every input, e.g. --box -1,1")
    g.add_argument("--box-file", metavar="F",
                   help='per-input bounds: JSON {"lo": [...], "hi": [...]}, '
                        ".npy (2 x d array) or .npz (arrays lo, hi)")
    g.add_argument("--center", metavar="F",
                   help="the L-inf ball of radius --radius around the point in F "
                        "(.npy of any shape with d elements, or a JSON list)")
    g.add_argument("--radius", type=float, metavar="R", help="radius of the --center ball")
    if polytopes:
        g.add_argument("--norm", choices=("inf", "1"), default="inf",
                       help="the norm of the --center ball: inf (a box, default) or 1 (the "
                            "cross-polytope: counted in any dimension, lifted to a simplex; "
                            "sampled as its 2^d facets, up to 12 inputs)")
        g.add_argument("--polytope", metavar="F",
                       help='the polytope A x <= b: JSON {"A": [[...], ...], "b": [...]} or '
                            ".npz (arrays A, b); counted inside its bounding box")
        g.add_argument("--hull", metavar="F",
                       help="the convex hull of the points in F (.npy or JSON, N x d), as "
                            "its facets (Qhull)")
    g.add_argument("--vnnlib", metavar="P",
                   help="the input box of a VNN-LIB property file (VNN-COMP); its output "
                        "constraints are ignored with a notice")
    s = p.add_argument_group("low-dimensional domains (instead of a box; see milpregions.ir.domain)")
    s.add_argument("--slice", nargs=3, metavar=("P0", "P1", "P2"),
                   help="the 2-D plane (s,t) -> P0 + s(P1-P0) + t(P2-P0), (s,t) in [0,1]^2 "
                        "(points: .npy or JSON files); count's --regions witnesses are mapped "
                        "back to input space")
    s.add_argument("--line", nargs=2, metavar=("P0", "P1"),
                   help="the segment t -> P0 + t(P1-P0), t in [0,1]")
    s.add_argument("--slice-box", metavar="LO,HI",
                   help="the parameter interval for each of s, t (or t) instead of [0,1]")


def parse_box_text(text: str) -> tuple[float, float]:
    """``"LO,HI"`` -> (lo, hi); InputError (naming the expected format) otherwise."""
    parts = text.split(",")
    if len(parts) != 2:
        raise InputError(f"--box {text!r}: {BOX_FORMAT}")
    try:
        lo, hi = (float(p.strip()) for p in parts)
    except ValueError:
        raise InputError(f"--box {text!r}: {BOX_FORMAT}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"--box {text!r}: LO and HI must be finite numbers")
    if not lo < hi:
        raise InputError(f"--box {text!r}: the box is empty, LO must be less than HI")
    return lo, hi


def domain_given(args) -> bool:
    return any(getattr(args, k, None) is not None
               for k in ("box", "box_file", "center", "slice", "line", "slice_box", "vnnlib",
                         "polytope", "hull", "domain"))


def add_all_space_arg(p: argparse.ArgumentParser) -> None:
    """``--domain all``: count over all of R^n (``args.domain``); ``--box`` is then only the
    unit of length (the margin is relative to it), default [-1, 1]."""
    p.add_argument("--domain", choices=("all",), metavar="all",
                   help="all: count in all of input space R^n, bounded and unbounded regions "
                        "reported apart (--box LO,HI then only sets the unit of length, which "
                        "the margin is relative to; default -1,1)")


def _check_all_space(args) -> None:
    """``--domain all`` takes no bounding domain option (``--box`` is its unit of length)."""
    other = [flag for flag, key in (("--box-file", "box_file"), ("--center", "center"),
                                    ("--radius", "radius"), ("--vnnlib", "vnnlib"),
                                    ("--polytope", "polytope"), ("--hull", "hull"),
                                    ("--slice", "slice"), ("--line", "line"),
                                    ("--slice-box", "slice_box"))
             if getattr(args, key, None) is not None]
    if getattr(args, "norm", "inf") != "inf":
        other.append("--norm")
    if other:
        raise InputError(f"{args.command}: --domain all is all of R^n: not with {other[0]} "
                         "(--box LO,HI sets its unit of length)")
    if args.box is not None:
        parse_box_text(args.box)


def check_domain(args) -> None:
    """The domain options are consistent (before any file is read)."""
    if getattr(args, "domain", None) is not None:
        _check_all_space(args)
        return
    sl, ln = getattr(args, "slice", None), getattr(args, "line", None)
    if sl is not None or ln is not None:
        if sl is not None and ln is not None:
            raise InputError(f"{args.command}: give only one of --slice and --line")
        if args.box is not None or args.box_file is not None or args.center is not None \
                or getattr(args, "vnnlib", None) is not None:
            raise InputError(f"{args.command}: --slice/--line replace --box, --box-file, "
                             "--center and --vnnlib (set the parameter range with --slice-box)")
        if args.slice_box is not None:
            parse_box_text(args.slice_box)
        return
    if getattr(args, "slice_box", None) is not None:
        raise InputError(f"{args.command}: --slice-box needs --slice or --line")
    given = [args.box is not None, args.box_file is not None, args.center is not None,
             getattr(args, "vnnlib", None) is not None,
             getattr(args, "polytope", None) is not None, getattr(args, "hull", None) is not None]
    if not any(given):
        raise InputError(DOMAIN_MISSING)
    if sum(given) > 1:
        more = ", --polytope, --hull" if any(given[4:]) else ""
        raise InputError(f"{args.command}: give only one of --box, --box-file, --center{more} "
                         "and --vnnlib")
    if getattr(args, "norm", "inf") != "inf" and args.center is None:
        raise InputError(f"{args.command}: --norm is the norm of the --center ball")
    if args.box is not None:
        parse_box_text(args.box)
    if (args.center is None) != (args.radius is None):
        raise InputError(f"{args.command}: --center and --radius go together")
    if args.radius is not None and not (math.isfinite(args.radius) and args.radius > 0):
        raise InputError(f"--radius {args.radius:g}: the radius must be a positive number")


def domain_from_args(args, dim: int, l1_lifted: bool = True) -> Domain:
    """The Domain the options name, for a network with ``dim`` inputs (``check_domain`` first);
    ``l1_lifted=False``: an L1 ball as its facets (the estimators draw from those)."""
    if getattr(args, "domain", None) == "all":
        return AllSpace.make(dim, *(parse_box_text(args.box) if args.box is not None
                                    else (-1.0, 1.0)))
    if getattr(args, "slice", None) is not None or getattr(args, "line", None) is not None:
        pbox = None if args.slice_box is None else parse_box_text(args.slice_box)
        return make_domain(dim, slice=args.slice, line=args.line, param_box=pbox)
    if args.box is not None:
        lo, hi = parse_box_text(args.box)
        return Box.make(lo, hi, dim)
    if args.center is not None:
        if getattr(args, "norm", "inf") == "1":
            return l1_ball_domain(args.center, args.radius, dim, lifted=l1_lifted and dim > 2)
        return ball_domain(args.center, args.radius, dim)
    if getattr(args, "polytope", None) is not None:
        return polytope_domain(args.polytope, None, dim)
    if getattr(args, "hull", None) is not None:
        return hull_domain(args.hull, dim)
    if getattr(args, "vnnlib", None) is not None:
        return vnnlib_box(args.vnnlib, dim)
    return read_box_file(args.box_file, dim)


def problem_from_args(args, settings: Settings | None = None, l1_lifted: bool = True
                      ) -> Problem:
    """Check the domain options, load the model, and prepare its Problem (``l1_lifted``: as
    ``domain_from_args``)."""
    check_domain(args)
    net = network_from_args(args)
    return prepare(net, domain_from_args(args, net.input_dim, l1_lifted), settings)
