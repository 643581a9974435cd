"""``milpregions plot``: a picture of the regions of a 2-D domain."""

from __future__ import annotations

import os

import numpy as np

from ..api import count
from ..errors import CertificateError, InputError
from ..ir.domain import Polytope
from ..problem import Problem, prepare
from ..settings import DEFAULT_MARGIN, Settings
from .common import EXIT_OK, StopOnSignals
from .domain_args import add_domain_args, problem_from_args


def add_parser(subs) -> None:
    p = subs.add_parser("plot", allow_abbrev=False, help="draw the regions of a 2-D domain",
                        description="Count the regions of MODEL on a 2-D domain (a 2-input "
                                    "box, polygon (--polytope, --hull, --norm 1), or --slice "
                                    "P0 P1 P2 of any model) and draw each as its exact "
                                    "polygon, neighbours in different colours.")
    p.add_argument("model", metavar="MODEL", help="ONNX file")
    add_domain_args(p, output_flags=("--output-tensor",), polytopes=True)
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the picture: .png, .svg or .pdf")
    p.add_argument("--color", choices=("activation", "linear"), default="activation",
                   help="colour by activation region (default) or by linear region (dashed: "
                        "activation boundaries inside a linear region)")
    p.add_argument("--decision", action="store_true",
                   help="a classifier: colour each region's cells by predicted class and draw "
                        "the decision boundary (as count --decision counts it)")
    p.add_argument("--output-level", action="append", default=[], metavar="K[-J][=V]",
                   help="also draw where output K (minus output J) equals V (default 0): a "
                        "zero level set or, with K-J, a decision boundary; may be repeated")
    p.add_argument("--polygons", metavar="OUT.geojson",
                   help="also write the polygons as GeoJSON")
    p.add_argument("--title", help="the title (default: the model's name and the counts)")
    p.add_argument("--size", metavar="W,H",
                   help="the canvas in inches (default: the domain's aspect, 6 inches on the "
                        "longer side)")
    p.add_argument("--dpi", type=int, default=200, metavar="N",
                   help="dots per inch of a PNG (default 200)")
    p.add_argument("--palette", choices=("tol-light", "okabe-ito", "grey"),
                   default="tol-light",
                   help="the regions' colours: Paul Tol's light scheme (default) or Okabe and "
                        "Ito's, both colour-blind safe, or greys for print")
    p.add_argument("--margin", type=float, default=DEFAULT_MARGIN, metavar="M",
                   help=f"as for count (default {DEFAULT_MARGIN:g})")
    p.add_argument("--certify", action="store_true",
                   help="certify the count exactly and follow every facet exactly")
    p.add_argument("--quiet", action="store_true", help="no notices")


def run(args, out, err) -> int:
    from ..geometry import analyze
    from ..geometry.export import write_polygons
    from ..geometry.plot import FORMATS, PlotStyle, parse_level, parse_size, plot_regions

    if os.path.splitext(args.output)[1].lower() not in FORMATS:
        raise InputError(f"{args.output}: the picture must end in .png, .svg or .pdf")
    style = PlotStyle(None if args.size is None else parse_size(args.size), args.dpi,
                      args.palette)
    if args.decision:
        from .decision import run_plot_decision

        return run_plot_decision(args, out, style)
    problem = problem_from_args(args, Settings(margin=args.margin, certify=args.certify))
    if problem.dim != 2:
        raise InputError(f"plot needs a 2-D domain: a 2-input model with --box, or --slice "
                         f"P0 P1 P2 (this domain has {problem.dim} dimension"
                         + ("" if problem.dim == 1 else "s") + ")")
    levels = tuple(parse_level(t, problem.network.output_dim) for t in args.output_level)
    if isinstance(problem.domain, Polytope):
        return _plot_polygon(args, out, problem, levels, style)
    found: list = []
    with StopOnSignals() as stop:
        result = count(problem, on_region=found.append, should_stop=stop)
    if not result.exact:
        raise InputError("plot: the count was interrupted; a picture needs every region")
    a = analyze(problem, found, linear=True, cells=True, exact=args.certify)
    sliced = getattr(args, "slice", None) is not None
    stem = os.path.splitext(os.path.basename(args.model))[0]
    title = args.title
    if title is None:
        title = (f"{stem}\n{len(found):,} activation regions, "
                 f"{a.linear.linear_regions:,} linear regions")
    s = plot_regions(a, args.output, color=args.color, levels=levels, title=title,
                     axis_labels=("$s$", "$t$") if sliced else ("$x_1$", "$x_2$"),
                     style=style)
    msg = (f"{args.output}: {s.polygons:,} regions drawn ({a.linear.linear_regions:,} linear "
           "regions)")
    if args.polygons is not None:
        write_polygons(a, args.polygons)
        msg += f"; polygons in {args.polygons}"
    for label in s.empty_levels:
        msg += f"; {label} does not cross the domain (not drawn)"
    out.write(msg + "\n")
    return EXIT_OK


def _key(pattern) -> bytes:
    return b"".join(np.asarray(p, dtype=np.int64).tobytes() for p in pattern)


def _plot_polygon(args, out, problem: Problem, levels, style) -> int:
    """A polygon domain: its exact count picks the regions; their cells come from the count
    of its bounding box (the same normalisation), clipped to it for drawing."""
    from ..geometry import analyze
    from ..geometry.plot import Within, plot_regions

    if args.color == "linear" or args.polygons is not None:
        raise InputError("plot: a polygon domain (--polytope, --hull, --norm 1) is drawn by "
                         "activation region only: not with --color linear or --polygons")
    boxed = prepare(problem.network, problem.box, problem.settings)
    inside: list = []
    every: list = []
    with StopOnSignals() as stop:
        result = count(problem, on_region=inside.append, should_stop=stop)
        if result.exact:
            result = count(boxed, on_region=every.append, should_stop=stop)
    if not result.exact:
        raise InputError("plot: the count was interrupted; a picture needs every region")
    index = {_key(r.pattern): i for i, r in enumerate(every)}
    missing = [r for r in inside if _key(r.pattern) not in index]
    if missing:
        raise CertificateError(f"plot: {len(missing)} regions of the polygon are not among the "
                               "regions of its bounding box")
    keep = np.zeros(len(every), dtype=bool)
    keep[[index[_key(r.pattern)] for r in inside]] = True
    a = analyze(boxed, every, graph=True, cells=True, exact=args.certify)
    dom = problem.domain
    stem = os.path.splitext(os.path.basename(args.model))[0]
    title = args.title if args.title is not None else \
        f"{stem}\n{len(inside):,} activation regions in the {dom.source} polygon"
    s = plot_regions(a, args.output, levels=levels, title=title, style=style,
                     within=Within(dom.A, dom.b, keep))
    msg = f"{args.output}: {s.polygons:,} regions drawn (the polygon's count: {len(inside):,})"
    for label in s.empty_levels:
        msg += f"; {label} does not cross the domain (not drawn)"
    out.write(msg + "\n")
    return EXIT_OK
