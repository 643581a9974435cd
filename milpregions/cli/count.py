"""``milpregions count``: the exact count of a model's regions on a domain."""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import ExitStack

from ..api import count
from ..errors import InputError
from ..estimators.theory import architecture_bounds, format_bounds
from ..ir.file_lock import REGIONS_BUSY, FileLock
from ..ir.region_file import is_region_file
from ..ir.result import DEFAULT_FIELDS, REGION_FIELDS
from ..settings import DEFAULT_MARGIN, Settings
from ..solver.highs import silence_banner
from .common import (
    EXIT_INTERRUPTED,
    EXIT_LOWER_BOUND,
    EXIT_OK,
    EXIT_UNCERTIFIED,
    EXIT_UNDECIDED,
    PROG,
    STOP_TEXT,
    Progress,
    ProgressLines,
    StopOnSignals,
    is_terminal,
    pyomo_logging,
    stdout_to_stderr,
    write_json,
)
from .decision import add_decision_arg
from .domain_args import add_all_space_arg, add_domain_args, problem_from_args

log = logging.getLogger("milpregions.cli")


def add_parser(subs) -> None:
    c = subs.add_parser("count", allow_abbrev=False, help="count the activation regions in a box",
                        description="Count, exactly, the full-dimensional activation regions of "
                                    "MODEL inside a box. Exit status 0: exact count; 3: a limit "
                                    "stopped the run (the number is a lower bound); 2: bad "
                                    "input; 1: internal error.")
    c.add_argument("model", metavar="MODEL", nargs="+",
                   help="ONNX file; several files, or a quoted glob ('run/epoch_*.onnx', in "
                        "natural order), count a series: one row each")
    add_domain_args(c, polytopes=True)
    add_all_space_arg(c)
    c.add_argument("--method", choices=("tree", "milp"), default="tree",
                   help="tree: branch-and-bound over activation patterns (default); "
                        "milp: one MILP per region with no-good cuts (slow, a cross-check)")
    c.add_argument("--json", action="store_true",
                   help="print the result as one JSON object on stdout")
    c.add_argument("--regions", metavar="OUT.jsonl|OUT.mpr",
                   help="write one JSON line per region (pattern, witness, radius; more "
                        "with --region-fields), or, for a name ending in .mpr, compact "
                        "binary records (bit-packed patterns, float64 witnesses and radii; "
                        "read back with milpregions.RegionSet.read)")
    c.add_argument("--region-fields", metavar="F,F,...",
                   help="the fields of a --regions record, from: " + ", ".join(REGION_FIELDS)
                        + " (volume and facets up to 6 inputs; geometry in the domain's "
                        "coordinates)")
    c.add_argument("--linear", action="store_true",
                   help="also count the linear regions (connected pieces of one affine map "
                        "of the output) and the affine pieces (distinct maps)")
    c.add_argument("--graph", metavar="OUT.graphml|OUT.json",
                   help="write the region graph: regions adjacent through a facet (networkx "
                        "GraphML, or JSON); --stats shows its edges and degrees")
    c.add_argument("--time-limit", type=float, metavar="S",
                   help="stop after about S seconds (the count is then a lower bound)")
    c.add_argument("--max-regions", type=int, metavar="N",
                   help="stop after N regions (the count is then a lower bound)")
    c.add_argument("--margin", type=float, default=DEFAULT_MARGIN, metavar="M",
                   help="a region counts when a ball of radius > M (box scaled to [-1,1]^d) "
                        f"fits inside it (default {DEFAULT_MARGIN:g}; tree method)")
    c.add_argument("--no-tighten", action="store_true",
                   help="skip the LP tightening of the interval bounds")
    c.add_argument("--stats", action="store_true",
                   help="print nodes, LPs, rates, time and unstable units after the count")
    c.add_argument("--certify", action="store_true",
                   help="prove the count exactly for the network as stored, with no margin: an "
                        "exact witness for every region and every facet followed exactly; "
                        "regions the float search missed are found (exit 4 when it cannot be "
                        "shown within the time limit)")
    c.add_argument("--jobs", type=int, metavar="N",
                   help="count on N worker processes (0: one per core); the subtrees of the "
                        "first layer's cells are the tasks, and the count is the same")
    c.add_argument("--executor", choices=("local", "ray", "dask"), default="local",
                   help="where the subtrees are counted: local processes (--jobs; default), "
                        "or a Ray or Dask cluster (--address, else a local one of --jobs CPUs)")
    c.add_argument("--address", metavar="ADDR",
                   help="a running cluster: Ray's address (auto, ray://HOST:10001) or a Dask "
                        "scheduler's (tcp://HOST:8786)")
    c.add_argument("--connect-timeout", type=float, default=Settings.connect_timeout,
                   metavar="SECONDS",
                   help="with --address: refuse the count when the cluster there has not "
                        f"answered within SECONDS (default {Settings.connect_timeout:g})")
    c.add_argument("--task-seconds", type=float, default=Settings.task_seconds, metavar="S",
                   help="with --jobs/--executor/--checkpoint: a task that counts longer hands "
                        f"the rest of its subtrees back as new tasks (default "
                        f"{Settings.task_seconds:g})")
    c.add_argument("--checkpoint", metavar="RUN.sqlite",
                   help="record finished subtrees in this SQLite file; the same command "
                        "again resumes from it (tree method)")
    c.add_argument("--quiet", action="store_true", help="no progress line and no notices")
    c.add_argument("--progress", action="store_true",
                   help="when stderr is not a terminal: a progress line every 5 s")
    c.add_argument("--estimate", type=float, nargs="?", const=10.0, metavar="S",
                   help="do not count: count for S seconds (default 10) and extrapolate the "
                        "regions and the time of the whole count from the share of the domain "
                        "covered (an estimate, and said so)")
    c.add_argument("--csv", metavar="OUT.csv",
                   help="a series: also write one CSV row per model")
    c.add_argument("--plot", metavar="OUT.png|svg|pdf",
                   help="a series: draw the count against the checkpoint (the number in the "
                        "file names)")
    c.add_argument("--bounds", action="store_true",
                   help="also print the architecture bounds (Zaslavsky, Serra et al. 2018, "
                        "Montufar et al. 2014, Hanin-Rolnick scale) next to the count")
    add_decision_arg(c)


def _plural(n: int) -> str:
    return f"{n:,} region" if n == 1 else f"{n:,} regions"


def format_count(result) -> str:
    """``8 regions``, or ``at least 3 regions (lower bound: stopped at --max-regions)``."""
    if result.exact:
        if result.certified is None:
            return _plural(result.regions)
        if result.certified:
            fixed = []
            if result.certify_added:
                fixed.append(f"{result.certify_added:,} found by the exact search")
            if result.certify_rejected:
                fixed.append(f"{result.certify_rejected:,} float regions rejected")
            more = "" if not fixed else "; " + ", ".join(fixed)
            return f"{_plural(result.regions)} (certified exactly, no margin{more})"
        return f"{_plural(result.regions)} (not certified: {result.certify_note})"
    why = STOP_TEXT.get(result.stopped, f"stopped ({result.stopped})")
    return f"at least {_plural(result.regions)} (lower bound: {why})"


def format_notes(result) -> list[str]:
    """Lines after the count that qualify it (not when --certify proved it): patterns that
    rest on decisions within rounding; cells dropped as thinner than the margin."""
    if result.certified:
        return []
    out = []
    if result.undecided:
        n = result.undecided
        out.append(f"undecided: the patterns of {n:,} counted region{'s' if n != 1 else ''} "
                   "rest on decisions within rounding (rounding-level slopes or constants); "
                   "--certify decides them exactly")
    if result.below_resolution:
        n = result.below_resolution
        out.append(f"undecided: {n} first-layer hyperplane{'s pass' if n != 1 else ' passes'} "
                   "within 1e-7 of the box centre (normalised) without passing through it: "
                   "regions there may be smaller than the walk resolves, so some may be "
                   "missing; count on a smaller box, or --certify decides it exactly")
    if result.thin_dropped:
        n = result.thin_dropped
        out.append(f"note: {n:,} cell{'s' if n != 1 else ''} thinner than the margin "
                   f"{result.margin:g} (the thickest {result.thickest_dropped:.3g}) "
                   f"{'were' if n != 1 else 'was'} not counted; --certify or a smaller "
                   "--margin counts them")
    return out


#: a --regions file (JSON lines) is flushed at least this often, whatever the count's pace
FLUSH_SECONDS = 1.0

#: what can be counted where a stopped count found no region, by the kind of domain
SMALLER_DOMAIN = {
    "box": "a ball around a data point (--center X.npy --radius R) or a 2-D slice "
           "(--slice P0 P1 P2)",
    "ball": "a smaller --radius, or a 2-D slice through the centre (--slice P0 P1 P2)",
    "slice": "a smaller parameter range (--slice-box LO,HI) or a segment (--line P0 P1)",
    "line": "a smaller parameter range (--slice-box LO,HI)",
    "all": "a box (--box LO,HI without --domain all)",
}


def format_hint(result, domain_kind: str) -> list[str]:
    """After a stop that found no region: a hint at a domain that can be counted instead
    (``at least 0 regions`` alone says nothing; issue 24)."""
    if result.exact or result.regions:
        return []
    other = SMALLER_DOMAIN.get(domain_kind, "a smaller domain")
    return [f"hint: no region was finished before the stop; this domain may be too large to "
            f"count whole: try {other}"]


def check_all_space_args(args) -> None:
    """``--domain all``: what it is not counted with, as one line (exit 2). The walk is the
    Python LP path in one process; cells, the region graph and linear regions are drawn in
    the box."""
    if args.domain is None:
        return
    refused = [flag for flag, on in (
        ("--method milp", args.method != "tree"), ("--jobs", args.jobs is not None),
        ("--executor", args.executor != "local"),
        ("--checkpoint", args.checkpoint is not None), ("--estimate", args.estimate is not None),
        ("--linear", args.linear), ("--graph", args.graph is not None),
        ("--region-fields", args.region_fields is not None)) if on]
    if refused:
        raise InputError(f"count: --domain all is counted by the tree's LP path in one "
                         f"process, not with {refused[0]} (yet)")


def format_all_space(result) -> list[str]:
    """Over all of R^n: the bounded and unbounded regions, and what is undecided."""
    if result.bounded is None:
        return []
    if not result.exact:
        return [f"of those: {result.bounded:,} bounded, {result.unbounded:,} unbounded "
                "(so far)"]
    out = [f"bounded regions: {result.bounded:,}", f"unbounded regions: {result.unbounded:,}"]
    if result.lines:
        out[-1] += (f" (all of them: the weights on the input have rank below "
                    f"{result.input_dim}, so every region contains a line)")
    if result.extent_undecided:
        n = result.extent_undecided
        out.append(f"undecided: whether {n:,} region{'s are' if n != 1 else ' is'} bounded "
                   "(nearly dependent rows, within the LP's tolerance)")
    if result.beyond_reach and not result.certified:
        out.append(f"undecided: the walk reached |u| = {result.reach:.3g} (in units of the "
                   f"--box half-width), where rounding is no longer small against the margin "
                   f"{result.margin:g}: regions that far out may be missing; a larger --box "
                   "unit, or --certify, decides")
    return out


def format_stats(result) -> list[str]:
    lpr = "n/a" if not result.regions else f"{result.lps_per_region:.2f}"
    rps = "n/a" if result.seconds <= 0 else f"{result.regions_per_second:.1f}"
    return [
        f"method: {result.method}",
        f"nodes: {result.nodes:,}",
        f"LPs: {result.lps:,}" + (" (MILP solves)" if result.method == "milp" else ""),
        f"LPs per region: {lpr}",
        f"regions per second: {rps}",
        f"seconds: {result.seconds:.3f}",
        f"unstable units: {result.unstable_units:,} of {sum(result.widths):,}",
        f"bound-tightening LPs: {result.bound_lps:,}",
        f"bounds: {result.bounds_seconds:.3f} s",
        f"near-margin regions: {result.near_margin:,} (inradius <= 10 x margin {result.margin:g})",
    ] + ([] if result.method != "tree" else [
        "smallest certified inradius: " + ("n/a" if result.min_radius is None
                                           else f"{result.min_radius:.3g}"),
        f"dropped as thinner than the margin: {result.thin_dropped:,} leaf cells"
        + (f" (the thickest {result.thickest_dropped:.3g})" if result.thin_dropped else ""),
    ])


def format_graph(analysis) -> list[str]:
    from ..geometry.export import graph_summary

    g = graph_summary(analysis)
    return [f"region graph: {g['edges']:,} edges, {g['components']:,} connected component"
            + ("" if g["components"] == 1 else "s"),
            f"average degree: {g['average_degree']:.3f} (at most 2d = {g['degree_bound']} "
            f"in R^d, Gaines & Bi)",
            f"regions whose facets were followed exactly: {g['exact_regions']:,}"]


def analyze_count(args, problem, result, regions: list, fields, err):
    """The analysis --linear, --graph and --region-fields ask for, on a finished count; None
    (with a notice) when a limit stopped the count."""
    from ..geometry import analyze
    from ..geometry.export import write_graph

    if not result.exact:
        log.warning("linear regions and the region graph need the whole count; not computed")
        return None
    if len(regions) != result.regions:
        raise InputError(f"the exact certification rejected {result.certify_rejected} float "
                         "regions; --linear and --graph need the certified regions alone")
    need = set(fields)
    a = analyze(problem, regions, graph=args.graph is not None or bool(need & {
                    "facets", "neighbours"}),
                linear=args.linear or bool(need & {"linear_region", "affine_piece"}),
                cells=bool(need & {"volume", "facets"}), exact=problem.settings.certify)
    if a.linear is not None:
        result.linear_regions = a.linear.linear_regions
        result.affine_pieces = a.linear.affine_pieces
    if args.graph is not None:
        write_graph(a, args.graph)
    return a


def open_checkpoint(args, problem, fields):
    """The checkpoint of this count, locked for this run: its identity is the counted network
    (as restricted and normalised), the model file's hash, the tensor counted on, the domain,
    the settings that change the count and the regions file with its fields."""
    import hashlib

    from ..enumerator.tree import SPLIT_NODES
    from ..parallel import Checkpoint
    from ..parallel.checkpoint import network_digest

    if args.method != "tree":
        raise InputError("--checkpoint needs --method tree")
    if args.certify:
        raise InputError("--certify cannot be combined with --checkpoint yet (the exact "
                         "certification needs every region of the count, and a resumed run "
                         "holds only the regions it counts itself)")
    try:
        digest = hashlib.sha256(open(args.model, "rb").read()).hexdigest()
    except OSError as e:
        raise InputError(f"{args.model}: cannot read ({e.strerror or e})") from None
    s = problem.settings
    identity = {"model_sha256": digest, "network_sha256": network_digest(problem.unit_net),
                "output": getattr(args, "tensor", None), "domain": problem.domain.to_dict(),
                "margin": s.margin, "vertex_dim": s.vertex_dim, "tighten": s.tighten,
                "region_fields": list(fields) if args.regions is not None else None}
    if problem.unit_net.input_dim > s.vertex_dim:
        # the LP path's subtrees are the compiled LP walk's split (since 2026-12-06): a
        # checkpoint of the Python walk's split numbers other batches
        identity["split"] = f"lp_kernel, {SPLIT_NODES} nodes"
    ck = Checkpoint(args.checkpoint, identity, regions=args.regions)
    try:
        done = ck.finished()            # every record, stored task and region checked first
        ck.pending_tasks()
        ck.verify_regions()
    except BaseException:
        ck.close()
        raise
    if done:
        log.info("resuming from %s: %d batches done", args.checkpoint, len(done))
    return ck


def region_fields(args) -> tuple[str, ...]:
    """The --region-fields, checked; the default ones without it."""
    if args.region_fields is None:
        return DEFAULT_FIELDS
    fields = tuple(f.strip() for f in args.region_fields.split(",") if f.strip())
    bad = [f for f in fields if f not in REGION_FIELDS]
    if bad or not fields:
        raise InputError(f"--region-fields: unknown field {bad[0] if bad else '(none)'!r}; "
                         f"choose from {', '.join(REGION_FIELDS)}")
    if args.regions is None:
        raise InputError("--region-fields needs --regions OUT.jsonl")
    return fields


def wants_analysis(args, fields) -> bool:
    return args.linear or args.graph is not None or \
        bool(set(fields) - set(DEFAULT_FIELDS))


def is_series(models: list[str]) -> bool:
    """More than one model, or a glob pattern (not the name of a file)."""
    return len(models) > 1 or any(any(ch in m for ch in "*?[") and not os.path.exists(m)
                                  for m in models)


def run(args, out, err) -> int:
    if is_series(args.model):
        if args.decision:
            raise InputError("--decision counts one model (not a series)")
        from .series import run_series

        return run_series(args, out, err)
    args.model = args.model[0]
    if args.decision:
        if args.domain is not None:
            raise InputError("count: --decision is counted inside a bounded domain (its cells "
                             "and their graph are drawn in the box), not with --domain all (yet)")
        from .decision import CountText, run_decision

        return run_decision(args, out, err, CountText(format_count, format_notes, format_stats))
    if args.csv is not None or args.plot is not None:
        raise InputError("count: --csv and --plot are for a series (several MODEL files or a "
                         "glob); `milpregions plot` draws the regions of one model")
    fields = region_fields(args)
    analysis_wanted = wants_analysis(args, fields)
    if args.graph is not None:
        from ..geometry.export import check_graph_path

        check_graph_path(args.graph)
    if analysis_wanted and args.checkpoint is not None:
        raise InputError("--linear, --graph and --region-fields cannot be combined with "
                         "--checkpoint yet (a resumed run does not hold the regions of the "
                         "recorded batches)")
    check_all_space_args(args)
    settings = Settings(method=args.method, margin=args.margin, time_limit=args.time_limit,
                        max_regions=args.max_regions, tighten=not args.no_tighten,
                        certify=args.certify, jobs=args.jobs, executor=args.executor,
                        address=args.address, task_seconds=args.task_seconds,
                        connect_timeout=args.connect_timeout)
    problem = problem_from_args(args, settings)
    if args.method == "milp":
        silence_banner()                # Pyomo's Highs: the tree's own are silent already
    progress = None
    if not args.quiet and is_terminal(err):
        progress = Progress(err)      # the library's compile notice goes out with it
    elif not args.quiet and args.progress:
        progress = ProgressLines(err)
    if args.estimate is not None:
        from .estimate import run_estimate

        return run_estimate(args, problem, out, err, progress)
    found = [0]
    collected: list = []
    stream = args.regions is not None and not (set(fields) - set(DEFAULT_FIELDS))
    compact = args.regions is not None and is_region_file(args.regions)
    if compact and args.region_fields is not None:
        raise InputError("--region-fields is for JSON lines; a .mpr regions file holds "
                         "pattern, witness and radius (the rest follows from the pattern: "
                         "milpregions.RegionSet)")
    if compact and args.checkpoint is not None:
        raise InputError("--checkpoint records spans of a JSON lines regions file; write "
                         "OUT.jsonl with it, not a .mpr file")
    with ExitStack() as stack:
        ck = None
        if args.checkpoint is not None:
            ck = open_checkpoint(args, problem, fields)
            stack.callback(ck.close)
        if args.regions is not None:        # one count writes a regions file at a time
            stack.enter_context(FileLock(args.regions, REGIONS_BUSY, create=True))
        on_region = None
        if compact:
            from ..geometry.regionset import region_writer

            writer = stack.enter_context(region_writer(problem, args.regions, args.model))

            def on_region(region):
                writer.add(region.pattern, region.witness, region.radius)
                found[0] += 1
        elif args.regions is not None:
            try:
                fh = stack.enter_context(open(args.regions, "a+" if ck else "w",
                                              encoding="utf-8"))
            except OSError as e:
                raise InputError(f"{args.regions}: cannot write ({e.strerror or e})") from None
            if ck is not None:          # what the recorded batches wrote (verified), no more
                fh.truncate(ck.regions_end())
                fh.seek(0, os.SEEK_END)

                def sync() -> int:
                    fh.flush()
                    os.fsync(fh.fileno())
                    return fh.tell()

                ck.sync_regions = sync

            def write_region(region):
                if stream:
                    fh.write(region.to_json(fields) + "\n")
                    now = time.monotonic()
                    if now - flushed[0] >= FLUSH_SECONDS:   # `tail -f` sees a slow count too
                        fh.flush()
                        flushed[0] = now
                found[0] += 1
            flushed = [time.monotonic()]
            on_region = write_region
        if analysis_wanted:
            write = on_region

            def on_region(region):
                collected.append(region)
                if write is not None:
                    write(region)
        if progress is not None:
            stack.callback(progress.clear)
        if args.method == "milp":
            stack.enter_context(pyomo_logging(err, args.debug))
        try:
            # a cluster engine prints on stdout (Ray: dead workers, retries); --json keeps it
            # for the record alone (not around Pyomo, whose own capture of the descriptors
            # would deadlock on it)
            engine = args.executor in ("ray", "dask") and args.method == "tree"
            with StopOnSignals() as stop, stdout_to_stderr(args.json and engine):
                result = count(problem, on_region=on_region, progress=progress, should_stop=stop,
                               checkpoint=ck)
        except KeyboardInterrupt:               # a second Ctrl-C
            if progress is not None:
                progress.clear()
            got = f" after {found[0]} regions were written to {args.regions}" if args.regions else ""
            err.write(f"{PROG}: interrupted{got}\n")
            return EXIT_INTERRUPTED
        analysis = None
        if analysis_wanted:
            analysis = analyze_count(args, problem, result, collected, fields, err)
            if analysis is not None and args.regions is not None and not stream:
                for i in range(len(collected)):
                    fh.write(json.dumps(analysis.record(i, fields)) + "\n")
    if args.json:
        d = result.to_dict()
        if analysis is not None and analysis.graph is not None:
            from ..geometry.export import graph_summary

            d["graph"] = graph_summary(analysis)
        if args.bounds:
            d["bounds"] = architecture_bounds(problem.restricted).to_dict()
        write_json(out, "count", args, problem.domain, d)
    else:
        out.write(format_count(result) + "\n")
        for line in (format_all_space(result) + format_notes(result)
                     + format_hint(result, problem.domain.kind)):
            out.write(line + "\n")
        if args.linear and result.linear_regions is not None:
            out.write(f"{result.linear_regions:,} linear regions, {result.affine_pieces:,} "
                      "affine pieces\n")
        if args.stats:
            out.write("\n".join(format_stats(result)) + "\n")
            if analysis is not None and analysis.graph is not None:
                out.write("\n".join(format_graph(analysis)) + "\n")
        if args.bounds:
            b = architecture_bounds(problem.restricted)
            where = f"all of R^{b.input_dim}" if args.domain == "all" else "this domain"
            out.write("\n".join(format_bounds(b, result.regions, exact=result.exact,
                                              where=where)) + "\n")
    if not result.exact:
        return EXIT_LOWER_BOUND
    if result.certified is False:
        return EXIT_UNCERTIFIED
    undecided = (result.undecided or result.below_resolution or result.extent_undecided
                 or result.beyond_reach)
    return EXIT_UNDECIDED if undecided and not result.certified else EXIT_OK
