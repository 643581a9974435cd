"""``milpregions local``: local complexity, the exact count in a ball around each data point."""

from __future__ import annotations

import csv
import time
from contextlib import ExitStack

from ..errors import InputError
from ..settings import DEFAULT_MARGIN, Settings
from ..solver.highs import silence_banner
from ..studies.local import NORMS, LocalComplexity, assemble, check_radii, local_problems
from ..studies.many import count_each
from .common import (
    EXIT_INTERRUPTED,
    EXIT_LOWER_BOUND,
    EXIT_OK,
    PROG,
    STOP_TEXT,
    Progress,
    ProgressLines,
    StopOnSignals,
    _duration,
    is_terminal,
    pyomo_logging,
    write_json,
)
from .domain_args import add_output_arg, network_from_args
from .flags import add_deprecated_alias

CSV_FIELDS = ("point", "radius", "regions", "exact", "stopped", "seconds")


def add_parser(subs) -> None:
    c = subs.add_parser("local", allow_abbrev=False,
                        help="local complexity: the exact count in a ball around each point",
                        description="Count, exactly, the activation regions of MODEL in the "
                                    "ball of each radius around each data point (local "
                                    "complexity); a table per point, then statistics per "
                                    "radius. Exit status 0: every count exact; 3: some are "
                                    "lower bounds (--time-limit, Ctrl-C) or were not made; 2: "
                                    "bad input; 1: internal error.")
    c.add_argument("model", metavar="MODEL", help="ONNX file")
    add_output_arg(c)
    c.add_argument("--data", metavar="X.npy",
                   help="the data points (required): .npy of shape (N, d) or (N, *input "
                        "shape), .csv (one point a row, an optional header line) or .json (a "
                        "list of points)")
    add_deprecated_alias(c, "--points", "--data", "data", metavar="X.npy")
    c.add_argument("--radius", required=True, metavar="R[,R...]",
                   help="the radius of the balls, or several separated by commas "
                        "(e.g. --radius 0.1,0.5,1); input units")
    c.add_argument("--norm", choices=NORMS, default="inf",
                   help="inf: the L-inf ball, the box x -+ R (default); 1: the L1 ball "
                        "(networks of up to 12 inputs: its 2^d facets; from 3 inputs counted "
                        "by the tree only)")
    c.add_argument("--jobs", type=int, metavar="N",
                   help="count on N worker processes, one ball per task (0: one per core)")
    c.add_argument("--time-limit", type=float, metavar="S",
                   help="stop each count after about S seconds (it is then a lower bound, "
                        "marked *)")
    c.add_argument("--method", choices=("tree", "milp"), default="tree",
                   help="tree: branch-and-bound (default); milp: one MILP per region (slow)")
    c.add_argument("--margin", type=float, default=DEFAULT_MARGIN, metavar="M",
                   help="a region counts when a ball of radius > M (the box of each ball "
                        f"scaled to [-1,1]^d) fits inside it (default {DEFAULT_MARGIN:g})")
    c.add_argument("--no-tighten", action="store_true",
                   help="skip the LP tightening of the interval bounds")
    c.add_argument("--csv", metavar="F",
                   help="write one row per point and radius: " + ",".join(CSV_FIELDS))
    c.add_argument("--json", action="store_true",
                   help="print one JSON object: the envelope, one object per point, the "
                        "summary per radius")
    c.add_argument("--plot", metavar="HIST.png",
                   help="draw a histogram of the counts per radius (.png, .svg, .pdf; needs "
                        "matplotlib, the plot extra)")
    c.add_argument("--quiet", action="store_true", help="no progress line and no notices")
    c.add_argument("--progress", action="store_true",
                   help="when stderr is not a terminal: a progress line every 5 s")


def parse_radii(text: str) -> tuple[float, ...]:
    """``"0.1,0.5,1"`` -> (0.1, 0.5, 1.0); InputError naming the option otherwise."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"--radius {text}: expected positive numbers separated by commas "
                         "(e.g. --radius 0.1,0.5,1)") from None
    try:
        return check_radii(values)
    except InputError as e:
        raise InputError(f"--radius {text}: {e}") from None


def _cell(result) -> str:
    """A table cell: the count, ``*`` after a lower bound, ``-`` for a count not made."""
    if result is None:
        return "- "
    return f"{result.regions:,}{' ' if result.exact else '*'}"


def _number(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


class Rows:
    """The per-point output, in the points' order as soon as every radius of a point (and
    every point before it) is counted: the table on stdout and the --csv rows."""

    def __init__(self, out, n: int, radii: tuple[float, ...], table: bool, csv_file,
                 before_write=None):
        self.out, self.n, self.radii = out, n, radii
        self.table, self.csv = table, csv_file
        self.before_write = before_write
        self.got: dict[tuple[int, int], object] = {}
        self.next = 0
        self.pw = max(5, len(str(n - 1)))
        self.cw = [max(9, len(f"r={r:g}") + 1) for r in radii]
        self.writer = None
        if csv_file is not None:
            self.writer = csv.writer(csv_file, lineterminator="\n")
            self.writer.writerow(CSV_FIELDS)
        if table:
            head = "point".ljust(self.pw) + "".join(
                f"r={r:g} ".rjust(w) for r, w in zip(radii, self.cw))
            out.write(head.rstrip() + "\n")

    def add(self, i: int, j: int, result) -> None:
        self.got[i, j] = result
        ready = []
        while self.next < self.n and all((self.next, j) in self.got
                                         for j in range(len(self.radii))):
            ready.append(self.next)
            self.next += 1
        if ready:
            self._write(ready)

    def finish(self) -> None:
        """The points left (some of their counts not made)."""
        rest = list(range(self.next, self.n))
        self.next = self.n
        if rest:
            self._write(rest)

    def _write(self, points: list[int]) -> None:
        if self.before_write is not None and self.table:
            self.before_write()
        for i in points:
            rs = [self.got.get((i, j)) for j in range(len(self.radii))]
            if self.table:
                self.out.write(str(i).ljust(self.pw) + "".join(
                    _cell(r).rjust(w) for r, w in zip(rs, self.cw)).rstrip() + "\n")
            if self.writer is not None:
                for r, res in zip(self.radii, rs):
                    if res is None:
                        self.writer.writerow([i, r, "", False, "interrupted", ""])
                    else:
                        self.writer.writerow([i, r, res.regions, res.exact, res.stopped or "",
                                              f"{res.seconds + res.bounds_seconds:.6f}"])
        if self.table:
            self.out.flush()
        if self.csv is not None:
            self.csv.flush()


def format_summary(lc: LocalComplexity) -> list[str]:
    """The statistics per radius, then what is a lower bound and what was not counted."""
    cols = ("radius", "points", "mean", "std", "min", "q1", "median", "q3", "max")
    rows = [cols]
    for s in lc.summary:
        rows.append((f"{s.radius:g}", f"{s.counted:,}", _number(s.mean), _number(s.std),
                     _number(s.min), _number(s.q1), _number(s.median), _number(s.q3),
                     _number(s.max)))
    widths = [max(len(r[k]) for r in rows) for k in range(len(cols))]
    lines = ["  ".join(v.rjust(w) if k else v.ljust(w) for k, (v, w) in
                       enumerate(zip(r, widths))).rstrip() for r in rows]
    n = lc.points.shape[0]
    lower = int((lc.counted & ~lc.exact).sum())
    if lower:
        reasons = sorted({lc.stopped[i][j] for i in range(n) for j in range(len(lc.radii))
                          if lc.counted[i, j] and not lc.exact[i, j]})
        text = ", ".join(STOP_TEXT.get(r, str(r)) for r in reasons)
        per = ", ".join(f"{s.lower_bounds} of {s.points} at r={s.radius:g}"
                        for s in lc.summary if s.lower_bounds)
        what = "count is a lower bound" if lower == 1 else "counts are lower bounds"
        lines.append(f"* {lower} {what} ({text}): {per}; the statistics include "
                     f"{'it' if lower == 1 else 'them'} as counted")
    missing = int((~lc.counted).sum())
    if missing:
        lines.append(f"- {missing} {'count was' if missing == 1 else 'counts were'} not made "
                     "(interrupted); the statistics are over the points counted")
    return lines


class Display:
    """The progress of the counts on stderr: done of total, lower bounds, time, an ETA."""

    def __init__(self, view: Progress, total: int):
        self.view, self.total = view, total
        self.done = self.lower = 0
        self.start = time.perf_counter()

    def update(self, result) -> None:
        self.done += 1
        self.lower += not result.exact
        now = time.monotonic()
        if now - self.view.last < self.view.interval and self.done < self.total:
            return
        self.view.last = now
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        lower = f", {self.lower} lower bounds" if self.lower else ""
        self.view.draw(f"{self.done}/{self.total} counts{lower}, {_duration(elapsed)}, "
                       f"ETA {_duration(eta)}")

    def clear(self) -> None:
        self.view.clear()


def run(args, out, err) -> int:
    if args.data is None:
        raise InputError("local: give the data points with --data X.npy (.npy, .csv or .json)")
    radii = parse_radii(args.radius)
    if args.jobs is not None and args.jobs < 0:
        raise InputError(f"--jobs {args.jobs}: must be an integer >= 0")
    if args.plot is not None:
        from ..studies.plot import check_plot_path

        check_plot_path(args.plot)
    settings = Settings(method=args.method, margin=args.margin, time_limit=args.time_limit,
                        tighten=not args.no_tighten)
    problems = local_problems(network_from_args(args), args.data, radii, norm=args.norm,
                              settings=settings)
    if args.method == "milp":
        silence_banner()
    n, k = problems.points.shape[0], len(radii)
    display = None
    if not args.quiet and is_terminal(err):
        display = Display(Progress(err), n * k)
    elif not args.quiet and args.progress:
        display = Display(ProgressLines(err), n * k)
    with ExitStack() as stack:
        fh = None
        if args.csv is not None:
            try:
                fh = stack.enter_context(open(args.csv, "w", encoding="utf-8", newline=""))
            except OSError as e:
                raise InputError(f"{args.csv}: cannot write ({e.strerror or e})") from None
        rows = Rows(out, n, radii, table=not args.json, csv_file=fh,
                    before_write=None if display is None else display.clear)
        if display is not None:
            stack.callback(display.clear)
        if args.method == "milp":
            stack.enter_context(pyomo_logging(err, args.debug))

        def on_result(t: int, result) -> None:
            if display is not None:
                display.update(result)
            rows.add(t // k, t % k, result)

        try:
            with StopOnSignals() as stop:
                flat = count_each(problems, args.jobs, should_stop=stop, on_result=on_result,
                                  name=problems.name)
        except KeyboardInterrupt:               # a second Ctrl-C
            if display is not None:
                display.clear()
            err.write(f"{PROG}: interrupted\n")
            return EXIT_INTERRUPTED
        if display is not None:
            display.clear()
        lc = assemble(problems.points, radii, args.norm, flat)
        rows.finish()
    if args.json:
        body = {"points_file": args.data, "n_points": n, "norm": args.norm,
                "radii": list(radii), "method": args.method, "margin": args.margin,
                "time_limit": args.time_limit, "exact": lc.complete,
                "lower_bound": not lc.complete,
                "lower_bounds": int((lc.counted & ~lc.exact).sum()),
                "not_counted": int((~lc.counted).sum()),
                "stopped": "interrupted" if stop.requested else None,
                "results": [lc.record(i) for i in range(n)],
                "summary": [s.to_dict() for s in lc.summary]}
        write_json(out, "local", args, None, body)
    else:
        out.write("\n" + "\n".join(format_summary(lc)) + "\n")
    if args.plot is not None:
        from ..studies.plot import plot_local

        plot_local(lc, args.plot, title=f"{args.model}: {n} points")
    return EXIT_OK if lc.complete else EXIT_LOWER_BOUND
