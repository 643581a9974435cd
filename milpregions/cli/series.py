"""``milpregions count A.onnx B.onnx ...`` (or a quoted glob): a series of models counted on one
domain, one row each as a table, ``--json`` lines or ``--csv``, and ``--plot`` count against
checkpoint. Called by ``cli.count`` when it is given more than one model or a pattern."""

from __future__ import annotations

import csv
import json
import time

from ..errors import InputError
from ..ir.result import run_envelope
from ..settings import Settings
from ..studies.series import (
    CountSeries,
    SeriesEntry,
    checkpoint_step,
    count_prepared,
    expand_models,
    prepare_series,
)
from .common import (
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
)
from .domain_args import check_domain, domain_from_args

#: the options of ``count`` that describe one model's regions, not a series' counts
ONE_MODEL_ONLY = (("--regions", "regions"), ("--region-fields", "region_fields"),
                  ("--graph", "graph"), ("--linear", "linear"), ("--checkpoint", "checkpoint"),
                  ("--bounds", "bounds"), ("--stats", "stats"), ("--address", "address"))
CSV_FIELDS = ("model", "step", "regions", "exact", "stopped", "seconds", "nodes", "lps",
              "unstable_units", "certified")


def check_series_args(args, n: int) -> None:
    for flag, key in ONE_MODEL_ONLY:
        if getattr(args, key, None) not in (None, False):
            raise InputError(f"count: {flag} is for one model; a series of {n} models gives "
                             "one row each (--json, --csv, --plot)")
    if args.executor != "local":
        raise InputError("count: --executor with a series of models is not supported yet; "
                         "--jobs N counts N models at a time on this machine")


def format_row(name: str, step, result, width: int) -> str:
    s = "-" if step is None else str(step)
    if result is None:
        return f"{name:<{width}}  {s:>6}  {'-':>12}  {'-':>8}  not counted (stopped before it)"
    mark = "" if result.exact else ">= "
    line = f"{name:<{width}}  {s:>6}  {mark + format(result.regions, ','):>12}  {result.seconds:>8.2f}"
    if not result.exact:
        line += f"  lower bound: {STOP_TEXT.get(result.stopped, result.stopped)}"
    elif result.certified is False:
        line += f"  not certified: {result.certify_note}"
    elif result.certified:
        line += "  certified"
    return line


def summary_line(series: CountSeries) -> str:
    n = len(series.entries)
    text = f"{n} models counted in {series.seconds:.1f} s"
    if series.lower_bounds:
        k = series.lower_bounds
        text += f"; {k} count{'s are lower bounds' if k > 1 else ' is a lower bound'} (>=)"
    if series.not_counted:
        text += f"; {series.not_counted} not counted (interrupted)"
    return text


def csv_row(name: str, step, result) -> dict:
    if result is None:
        return {"model": name, "step": step}
    return {"model": name, "step": step, "regions": result.regions, "exact": result.exact,
            "stopped": result.stopped or "", "seconds": f"{result.seconds:.6f}",
            "nodes": result.nodes, "lps": result.lps, "unstable_units": result.unstable_units,
            "certified": "" if result.certified is None else result.certified}


def run_series(args, out, err) -> int:
    models = expand_models(args.model)
    check_series_args(args, len(models))
    check_domain(args)
    if args.plot is not None:
        from ..studies.plot import check_plot_path

        check_plot_path(args.plot)
    settings = Settings(method=args.method, margin=args.margin, time_limit=args.time_limit,
                        max_regions=args.max_regions, tighten=not args.no_tighten,
                        certify=args.certify, task_seconds=args.task_seconds,
                        connect_timeout=args.connect_timeout)
    width = max(len("MODEL"), *(len(m) for m in models))
    steps = [checkpoint_step(m) for m in models]
    results: dict[int, object] = {}
    shown = [0]
    domain_of = {}

    def show(i: int, entry: SeriesEntry) -> None:
        if args.json:
            d = run_envelope("count", models[i], domain_of["d"])
            d.update({"index": i})
            d.update(entry.to_dict())
            out.write(json.dumps(d) + "\n")
        else:
            out.write(format_row(models[i], steps[i], entry.result, width) + "\n")
        out.flush()

    def show_ready() -> None:
        """The rows ready to print, in the order given."""
        while shown[0] < len(models) and shown[0] in results:
            i = shown[0]
            show(i, SeriesEntry(models[i], steps[i], results[i]))
            shown[0] += 1

    progress = None
    if not args.quiet and is_terminal(err):
        progress = Progress(err)
    elif not args.quiet and args.progress:
        progress = ProgressLines(err)
    start = time.perf_counter()

    def on_result(i: int, result) -> None:
        results[i] = result
        if progress is not None:
            progress.clear()
        show_ready()
        if progress is not None:
            progress.draw(f"{len(results)} of {len(models)} models counted, "
                          f"{time.perf_counter() - start:.1f} s")

    def domain_for(dim: int):
        d = domain_from_args(args, dim)
        domain_of.setdefault("d", d)
        return d

    problems, _ = prepare_series(models, settings=settings, domain_for=domain_for,
                                 output=getattr(args, "tensor", None))
    if not args.json:
        out.write(f"{'MODEL':<{width}}  {'STEP':>6}  {'REGIONS':>12}  {'SECONDS':>8}\n")
    try:
        with StopOnSignals() as stop:
            series = count_prepared(problems, models, steps, jobs=args.jobs, should_stop=stop,
                                    on_result=on_result, start=start)
    finally:
        if progress is not None:
            progress.clear()
    for i in range(shown[0], len(models)):      # after a stop: the rest, started or not
        show(i, series.entries[i])
    if not args.json:
        out.write(summary_line(series) + "\n")
    if args.csv is not None:
        try:
            with open(args.csv, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
                w.writeheader()
                for e in series.entries:
                    w.writerow(csv_row(e.name, e.step, e.result))
        except OSError as e:
            raise InputError(f"{args.csv}: cannot write ({e.strerror or e})") from None
    if args.plot is not None:
        from ..studies.series_plot import plot_series

        plot_series(series, args.plot)
        if not args.quiet:
            err.write(f"{PROG}: wrote {args.plot}\n")
    if not series.exact:
        return EXIT_LOWER_BOUND
    if any(e.result.certified is False for e in series.entries):
        return EXIT_UNCERTIFIED
    if any((e.result.undecided or e.result.below_resolution) and not e.result.certified
           for e in series.entries):
        return EXIT_UNDECIDED
    return EXIT_OK
