"""``milpregions count --decision``: a classifier's regions by predicted class, the regions
its decision boundary crosses, its decision regions and the pieces of its boundary."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import NamedTuple

from ..api import count
from ..errors import InputError
from ..settings import Settings
from .common import (
    EXIT_LOWER_BOUND,
    EXIT_OK,
    EXIT_UNCERTIFIED,
    EXIT_UNDECIDED,
    Progress,
    ProgressLines,
    StopOnSignals,
    is_terminal,
    write_json,
)

log = logging.getLogger("milpregions.cli")

#: count options that do not go with --decision (flag -> args attribute, value when unset)
EXCLUSIVE = {"--regions": ("regions", None), "--region-fields": ("region_fields", None),
             "--linear": ("linear", False), "--graph": ("graph", None),
             "--checkpoint": ("checkpoint", None), "--estimate": ("estimate", None),
             "--bounds": ("bounds", False)}


def add_decision_arg(c) -> None:
    c.add_argument("--decision", action="store_true",
                   help="a classifier (several logits, or one: classes f <= 0 and f > 0; "
                        "--output-tensor picks the logits): count the regions each predicted "
                        "class holds, the regions the decision boundary crosses, the decision "
                        "regions (connected sets of one class) and the pieces of the boundary "
                        "(faces between cells of two classes; also merged where one hyperplane "
                        "continues into the next region)")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "es" if word.endswith("s") else "s")


def format_decision(d, vertex_dim: int = 6) -> list[str]:
    """The lines after the count of regions (``vertex_dim``: above it pieces are not merged)."""
    lines = [f"decision: {d.classes} classes, {_plural(d.cells, 'cell')} (one activation "
             "region and one predicted class each)"]
    for c in range(d.classes):
        if d.class_regions[c]:
            lines.append(f"class {c}: {_plural(d.class_regions[c], 'region')}, "
                         f"{_plural(d.class_decision_regions[c], 'decision region')}")
    nowhere = sum(1 for n in d.class_regions if not n)
    if nowhere:
        lines.append(f"{_plural(nowhere, 'class')} predicted nowhere in the domain")
    lines.append(f"the decision boundary crosses {_plural(d.crossed, 'region')}")
    lines.append(_plural(d.decision_regions, "decision region"))
    merged = f"n/a above {vertex_dim}-D" if d.merged_pieces is None else f"{d.merged_pieces:,}"
    lines.append(f"{_plural(d.boundary_pieces, 'piece')} of the decision boundary (merged "
                 f"where it continues on one hyperplane into the next region: {merged})")
    return lines


def check_args(args) -> None:
    for flag, (attr, unset) in EXCLUSIVE.items():
        if getattr(args, attr, unset) != unset:
            raise InputError(f"--decision cannot be combined with {flag}")


class CountText(NamedTuple):
    """``count``'s lines for a result (passed in: ``count`` imports this module)."""

    count: Callable
    notes: Callable
    stats: Callable


def run_decision(args, out, err, text: CountText) -> int:
    """``count --decision MODEL``: count the cells of the model with its decision appended
    (``geometry.decision``), then the decision counts from the cells and their graph."""
    from ..geometry.decision import decide, prepare_decision, region_ids
    from .domain_args import check_domain, domain_from_args, network_from_args

    check_args(args)
    settings = Settings(method=args.method, margin=args.margin, time_limit=args.time_limit,
                        max_regions=args.max_regions, tighten=not args.no_tighten,
                        certify=args.certify, jobs=args.jobs, executor=args.executor,
                        address=args.address, task_seconds=args.task_seconds,
                        connect_timeout=args.connect_timeout)
    check_domain(args)
    net = network_from_args(args)
    problem = prepare_decision(net, domain_from_args(args, net.input_dim), settings)
    progress = None
    if not args.quiet and is_terminal(err):
        progress = Progress(err)
    elif not args.quiet and args.progress:
        progress = ProgressLines(err)
    cells: list = []
    try:
        with StopOnSignals() as stop:
            result = count(problem, on_region=cells.append, progress=progress,
                           should_stop=stop)
    finally:
        if progress is not None:
            progress.clear()
    decision = None
    if result.exact:
        if len(cells) != result.regions:
            raise InputError(f"the exact certification rejected {result.certify_rejected} "
                             "float cells; the decision counts need the certified cells alone")
        decision, _ = decide(problem, cells, exact=settings.certify)
        regions = decision.regions
    else:
        regions = region_ids([c.pattern for c in cells])[0]   # seen so far: a lower bound
        log.warning("the decision counts need the whole count; not computed")
    shown = dataclasses.replace(result, regions=regions)
    if args.json:
        body = shown.to_dict()
        body["cells"] = result.regions
        body["decision"] = None if decision is None else decision.to_dict()
        write_json(out, "count", args, problem.domain, body)
    else:
        out.write(text.count(shown) + "\n")
        for line in text.notes(result):
            out.write(line + "\n")
        if decision is not None:
            out.write("\n".join(format_decision(decision, settings.vertex_dim)) + "\n")
        if args.stats:                  # the walk's numbers are those of the cells
            out.write("\n".join(text.stats(result)) + "\n")
    if not result.exact:
        return EXIT_LOWER_BOUND
    if result.certified is False:
        return EXIT_UNCERTIFIED
    undecided = result.undecided or result.below_resolution
    return EXIT_UNDECIDED if undecided and not result.certified else EXIT_OK


def run_plot_decision(args, out, style) -> int:
    """``plot --decision``: the cells of a 2-D domain coloured by class, the boundary drawn."""
    import os

    from ..geometry.decision import decide, prepare_decision
    from ..geometry.decision_plot import plot_decision
    from ..geometry.export import write_polygons
    from .domain_args import check_domain, domain_from_args, network_from_args

    if args.output_level or args.color != "activation":
        raise InputError("plot --decision draws the classes and their boundary: not with "
                         "--output-level or --color")
    check_domain(args)
    net = network_from_args(args)
    problem = prepare_decision(net, domain_from_args(args, net.input_dim),
                               Settings(margin=args.margin, certify=args.certify))
    if problem.dim != 2:
        raise InputError(f"plot needs a 2-D domain: a 2-input model with --box, or --slice "
                         f"P0 P1 P2 (this domain has {problem.dim} dimension"
                         + ("" if problem.dim == 1 else "s") + ")")
    cells: list = []
    with StopOnSignals() as stop:
        result = count(problem, on_region=cells.append, should_stop=stop)
    if not result.exact:
        raise InputError("plot: the count was interrupted; a picture needs every region")
    decision, a = decide(problem, cells, exact=args.certify)
    sliced = getattr(args, "slice", None) is not None
    title = args.title
    if title is None:
        stem = os.path.splitext(os.path.basename(args.model))[0]
        title = (f"{stem}\n{decision.regions:,} regions, {decision.decision_regions:,} decision "
                 f"regions, {decision.boundary_pieces:,} boundary pieces")
    s = plot_decision(a, decision, args.output, title=title, style=style,
                      axis_labels=("$s$", "$t$") if sliced else ("$x_1$", "$x_2$"))
    msg = (f"{args.output}: {s.polygons:,} cells of {decision.regions:,} regions drawn, "
           f"{decision.classes} classes, {s.level_segments:,} boundary pieces")
    if args.polygons is not None:
        write_polygons(a, args.polygons)
        msg += f"; polygons in {args.polygons}"
    out.write(msg + "\n")
    return EXIT_OK
