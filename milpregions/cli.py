"""The command line: ``milpregions count | info | export``.

The only module that prints or configures logging. Exit status:

- 0: the count is exact (``info`` and ``export`` succeeded);
- 3: a limit (``--time-limit``, ``--max-regions``) stopped the count: the printed number is a
  lower bound, and the output says so;
- 2: bad input (file, model, box, option): one line ``milpregions: <message>`` on stderr;
- 1: internal error (a witness failed its check, or any unexpected exception): one line, and a
  traceback only when ``MILPREGIONS_DEBUG=1``;
- 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import time
import traceback
from contextlib import ExitStack, contextmanager

import numpy as np

from .errors import InputError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_LOWER_BOUND = 3
EXIT_INTERRUPTED = 130

PROG = "milpregions"
DOMAIN_MISSING = ("count: give the input domain with --box LO,HI, --box-file F "
                  "or --center F --radius R")
BOX_FORMAT = "expected LO,HI (two numbers separated by a comma, e.g. --box -1,1)"
STOP_TEXT = {
    "time-limit": "stopped by the time limit",
    "max-regions": "stopped at --max-regions",
}

# Options whose value may start with '-' (e.g. --box -1,1, --margin -1e-3): argparse would read
# such a value as an option, so ``_join_negative_values`` glues it on as ``--box=-1,1``.
_VALUE_OPTIONS = ("--box", "--time-limit", "--margin", "--max-regions", "--radius", "--slice-box")
_NEGATIVE_VALUE = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``milpregions: ...``) and exit status 2."""

    def error(self, message: str):  # noqa: D102 - argparse API
        sub = self.prog[len(PROG):].strip()
        where = f"{sub}: " if sub else ""
        hint = f" (see '{self.prog} --help')"
        self.exit(EXIT_INPUT, f"{PROG}: {where}{message}{hint}\n")


def build_parser() -> argparse.ArgumentParser:
    from .enumerator import DEFAULT_MARGIN

    parser = _Parser(prog=PROG, allow_abbrev=False,
                     description="Exact counts of the activation regions of piecewise-linear "
                                 "networks (ONNX) inside an input box.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subs.required = True

    def domain(p: argparse.ArgumentParser) -> None:
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
        s = p.add_argument_group("low-dimensional domains (instead of a box; see milpregions.domains)")
        s.add_argument("--slice", nargs=3, metavar=("P0", "P1", "P2"),
                       help="the 2-D plane (s,t) -> P0 + s(P1-P0) + t(P2-P0), (s,t) in [0,1]^2 "
                            "(points: .npy or JSON files); count's --regions witnesses are mapped "
                            "back to input space")
        s.add_argument("--line", nargs=2, metavar=("P0", "P1"),
                       help="the segment t -> P0 + t(P1-P0), t in [0,1]")
        s.add_argument("--slice-box", metavar="LO,HI",
                       help="the parameter interval for each of s, t (or t) instead of [0,1]")

    c = subs.add_parser("count", allow_abbrev=False, help="count the activation regions in a box",
                        description="Count, exactly, the full-dimensional activation regions of "
                                    "MODEL inside a box. Exit status 0: exact count; 3: a limit "
                                    "stopped the run (the number is a lower bound); 2: bad "
                                    "input; 1: internal error.")
    c.add_argument("model", metavar="MODEL", help="ONNX file")
    domain(c)
    c.add_argument("--method", choices=("tree", "milp"), default="tree",
                   help="tree: branch-and-bound over activation patterns (default); "
                        "milp: one MILP per region with no-good cuts (slow, a cross-check)")
    c.add_argument("--json", action="store_true",
                   help="print the result as one JSON object on stdout")
    c.add_argument("--regions", metavar="OUT.jsonl",
                   help="write one JSON line per region (pattern, witness, radius)")
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
    c.add_argument("--quiet", action="store_true", help="no progress line and no notices")
    c.add_argument("--bounds", action="store_true",
                   help="also print the architecture bounds (Zaslavsky, Serra et al. 2018, "
                        "Montufar et al. 2014, Hanin-Rolnick scale) next to the count")

    i = subs.add_parser("info", allow_abbrev=False, help="describe an imported model",
                        description="Import MODEL and describe it: input, layers, ops, notices.")
    i.add_argument("model", metavar="MODEL", help="ONNX file")
    i.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    e = subs.add_parser("export", allow_abbrev=False,
                        help="write the counting MILP (big-M) as MPS or LP",
                        description="Write the MILP of record for MODEL on a box (normalised to "
                                    "[-1,1]^d) as an .mps or .lp file, and print its path.")
    e.add_argument("model", metavar="MODEL", help="ONNX file")
    domain(e)
    out = e.add_mutually_exclusive_group(required=True)
    out.add_argument("--mps", metavar="OUT.mps", help="write MPS")
    out.add_argument("--lp", metavar="OUT.lp", help="write CPLEX LP format")
    e.add_argument("--no-tighten", action="store_true",
                   help="skip the LP tightening of the interval bounds (looser big-M)")
    e.add_argument("--quiet", action="store_true", help="no notices")

    hp = subs.add_parser("hash", allow_abbrev=False,
                         help="probabilistic lower bound by random XOR constraints (MIPBound)",
                         description="MIPBound (Serra & Ramalingam 2020; MBound of Gomes, Sabharwal "
                                     "& Selman 2006): add K random parity constraints on the "
                                     "binaries of the counting MILP, T trials per K, and turn the "
                                     "feasible fraction into a lower bound on the number of regions "
                                     "that holds with the given confidence. Not exact.")
    hp.add_argument("model", metavar="MODEL", help="ONNX file")
    domain(hp)
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
    from . import compare as _compare, lines as _lines, sample as _sample, theory as _theory

    for mod in (_sample, _lines, _theory, _compare):  # estimator commands (+ compare)
        mod.add_parser(subs, domain)
    return parser


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--box -1,1`` -> ``--box=-1,1`` (likewise for the other numeric options)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            out.extend(argv[i:])
            break
        if a in _VALUE_OPTIONS and i + 1 < len(argv) and _NEGATIVE_VALUE.match(argv[i + 1]):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


# ---------------------------------------------------------------------------------- helpers


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


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


def run_record(args, box) -> dict:
    """The ``model`` and ``box`` keys every subcommand's ``--json`` output starts from."""
    return {"model": os.fspath(args.model),
            "box": {"lo": [float(v) for v in box.lo], "hi": [float(v) for v in box.hi]}}


def _check_domain(args) -> None:
    sl, ln = getattr(args, "slice", None), getattr(args, "line", None)
    if sl is not None or ln is not None:
        if sl is not None and ln is not None:
            raise InputError(f"{args.command}: give only one of --slice and --line")
        if args.box is not None or args.box_file is not None or args.center is not None:
            raise InputError(f"{args.command}: --slice/--line replace --box, --box-file and "
                             "--center (set the parameter range with --slice-box)")
        if args.slice_box is not None:
            parse_box_text(args.slice_box)
        return
    if getattr(args, "slice_box", None) is not None:
        raise InputError(f"{args.command}: --slice-box needs --slice or --line")
    given = [args.box is not None, args.box_file is not None, args.center is not None]
    if not any(given):
        raise InputError(DOMAIN_MISSING)
    if sum(given) > 1:
        raise InputError(f"{args.command}: give only one of --box, --box-file and --center")
    if args.box is not None:
        parse_box_text(args.box)
    if (args.center is None) != (args.radius is None):
        raise InputError(f"{args.command}: --center and --radius go together")
    if args.radius is not None and not (np.isfinite(args.radius) and args.radius > 0):
        raise InputError(f"--radius {args.radius:g}: the radius must be a positive number")


def _domain_net(args, net):
    """The network on the chosen domain, and its box: a --slice/--line is folded into the first
    layer, and the box is then the parameter box (every method works on it unchanged)."""
    box = _make_box(args, net)
    if hasattr(box, "restrict"):
        from .box import Box

        return box.restrict(net), Box.make(box.lo, box.hi, box.dim)
    return net, box


def _make_box(args, net):
    from .box import Box
    from .api import read_box_file

    if getattr(args, "slice", None) is not None or getattr(args, "line", None) is not None:
        from .domains import make_domain   # a Domain: its lo/hi are the parameter box

        pbox = None if args.slice_box is None else parse_box_text(args.slice_box)
        return make_domain(net.input_dim, slice=args.slice, line=args.line, param_box=pbox)
    if args.box is not None:
        lo, hi = parse_box_text(args.box)
        return Box.make(lo, hi, net.input_dim)
    if args.center is not None:
        from .api import ball_box

        return ball_box(args.center, args.radius, net.input_dim)
    return read_box_file(args.box_file, net.input_dim)


def _configure_logging(quiet: bool, debug: bool) -> tuple[logging.Logger, logging.Handler, int, bool]:
    log = logging.getLogger("milpregions")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    saved = (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO))
    log.propagate = False
    return log, handler, saved[0], saved[1]


@contextmanager
def _pyomo_logging(err, debug: bool):
    """Pyomo logs to stdout through its own handler: send it to stderr, warnings only in debug.

    (Pyomo's writers warn about the placeholder objective of a feasibility model; stdout must
    stay clean for --json and for the printed path.)
    """
    import pyomo.common.log  # noqa: F401 - installs Pyomo's handler, which we then replace

    log = logging.getLogger("pyomo")
    saved = (list(log.handlers), log.level, log.propagate)
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter(f"{PROG}: pyomo: %(message)s"))
    for h in saved[0]:
        log.removeHandler(h)
    log.addHandler(handler)
    log.setLevel(logging.WARNING if debug else logging.ERROR)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        for h in saved[0]:
            log.addHandler(h)
        log.setLevel(saved[1])
        log.propagate = saved[2]


class Progress:
    """A carriage-return status line on a terminal, redrawn at most ``rate`` times a second."""

    def __init__(self, stream, rate: float = 5.0):
        self.stream = stream
        self.interval = 1.0 / rate
        self.last = -math.inf
        self.width = 0

    def __call__(self, regions: int, nodes: int, lps: int, seconds: float) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        line = f"{regions} regions, {nodes} nodes, {lps} LPs, {seconds:.1f} s"
        pad = max(0, self.width - len(line))
        self.width = len(line)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _plural(n: int) -> str:
    return f"{n} region" if n == 1 else f"{n} regions"


def format_count(result) -> str:
    """``8 regions``, or ``at least 3 regions (lower bound: stopped at --max-regions)``."""
    if result.exact:
        return _plural(result.regions)
    why = STOP_TEXT.get(result.stopped, f"stopped ({result.stopped})")
    return f"at least {_plural(result.regions)} (lower bound: {why})"


def format_stats(result) -> list[str]:
    lpr = "n/a" if not result.regions else f"{result.lps_per_region:.2f}"
    rps = "n/a" if result.seconds <= 0 else f"{result.regions_per_second:.1f}"
    lines = [
        f"method: {result.method}",
        f"nodes: {result.nodes}",
        f"LPs: {result.lps}" + (" (MILP solves)" if result.method == "milp" else ""),
        f"LPs per region: {lpr}",
        f"regions per second: {rps}",
        f"seconds: {result.seconds:.3f}",
        f"unstable units: {result.unstable_units} of {sum(result.widths)}",
        f"bound-tightening LPs: {result.bound_lps}",
        f"near-margin regions: {result.near_margin} (inradius <= 10 x margin {result.margin:g})",
    ]
    return lines


def _activation_name(layer) -> str:
    if not hasattr(layer, "neg_slope"):
        g = layer.groups
        sizes = sorted({int(n) for n in (g >= 0).sum(axis=1)})
        return f"max over groups of {'/'.join(str(n) for n in sizes)} ({layer.affine.size} pieces)"
    s = np.asarray(layer.neg_slope)
    if s.size and np.all(s == 0):
        return "ReLU"
    if s.size and np.all(s == -1):
        return "Abs"
    if s.size and np.all(s == s.flat[0]):
        return f"LeakyReLU(alpha={float(s.flat[0]):g})"
    return "PReLU"


def describe(net) -> dict:
    """The ``info`` record of a network (JSON-friendly)."""
    info = dict(net.info)
    layers = []
    for k, layer in enumerate(net.layers, start=1):
        layers.append({"index": k, "name": layer.name, "width": layer.size,
                       "activation": _activation_name(layer),
                       "reads": sorted(int(s) for s in layer.affine.W)})
    return {
        "source": info.get("source"),
        "producer": info.get("producer", ""),
        "opset": info.get("opset"),
        "input_name": info.get("input_name"),
        "input_shape": info.get("input_shape"),
        "input_dim": net.input_dim,
        "layers": layers,
        "widths": list(net.widths),
        "units": int(sum(net.widths)),
        "output_dim": net.output_dim,
        "output_names": info.get("output_names", []),
        "ops": info.get("ops", {}),
        "notices": info.get("notices", []),
    }


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def format_info(d: dict) -> list[str]:
    lines = [
        f"source:   {d['source']}",
        f"producer: {d['producer'] or '-'}",
        f"opset:    {d['opset']}",
        f"input:    {d['input_name']} {_shape_text(d['input_shape'])}, n0 = {d['input_dim']}",
        f"layers:   {len(d['layers'])} (widths {', '.join(map(str, d['widths'])) or '-'})",
    ]
    for L in d["layers"]:
        src = ", ".join("input" if s == 0 else f"layer {s}" for s in L["reads"])
        name = f" ({L['name']})" if L["name"] else ""
        lines.append(f"  layer {L['index']}{name}: {L['width']} units, {L['activation']}, "
                     f"reads {src}")
    outs = ", ".join(d["output_names"])
    lines += [
        f"units:    {d['units']}",
        f"output:   dim {d['output_dim']}" + (f" ({outs})" if outs else ""),
        "ops:      " + (", ".join(f"{op} {n}" for op, n in sorted(d["ops"].items())) or "-"),
    ]
    if d["notices"]:
        lines.append("notices:")
        lines += [f"  {n}" for n in d["notices"]]
    else:
        lines.append("notices:  none")
    return lines


# --------------------------------------------------------------------------------- commands


def cmd_count(args, out, err) -> int:
    from .api import count_regions, load_network
    from .lp import silence_banner

    _check_domain(args)
    net = load_network(args.model)
    box = _make_box(args, net)
    silence_banner()
    progress = None
    if not args.quiet and _is_terminal(err):
        progress = Progress(err)
    found = [0]
    with ExitStack() as stack:
        on_region = None
        if args.regions is not None:
            try:
                fh = stack.enter_context(open(args.regions, "w", encoding="utf-8"))
            except OSError as e:
                raise InputError(f"{args.regions}: cannot write ({e.strerror or e})") from None

            def on_region(region):
                fh.write(region.to_json() + "\n")
                found[0] += 1
        if progress is not None:
            stack.callback(progress.clear)
        if args.method == "milp":
            stack.enter_context(_pyomo_logging(err, args.debug))
        try:
            result = count_regions(net, box, method=args.method, margin=args.margin,
                                   time_limit=args.time_limit, max_regions=args.max_regions,
                                   tighten=not args.no_tighten, on_region=on_region,
                                   progress=progress)
        except KeyboardInterrupt:
            if progress is not None:
                progress.clear()
            got = f" after {found[0]} regions were written to {args.regions}" if args.regions else ""
            err.write(f"{PROG}: interrupted{got}\n")
            return EXIT_INTERRUPTED
    if args.json:
        d = result.to_dict()
        d.update(run_record(args, box))
        if hasattr(box, "to_dict"):                 # --slice / --line: box is the parameter box
            d["domain"] = box.to_dict()
        if args.bounds:
            from .theory import architecture_bounds

            d["bounds"] = architecture_bounds(net, box).to_dict()
        out.write(json.dumps(d) + "\n")
    else:
        out.write(format_count(result) + "\n")
        if args.stats:
            out.write("\n".join(format_stats(result)) + "\n")
        if args.bounds:
            from .theory import architecture_bounds, format_bounds

            out.write("\n".join(format_bounds(architecture_bounds(net, box), result.regions)) + "\n")
    return EXIT_OK if result.exact else EXIT_LOWER_BOUND


def cmd_info(args, out, err) -> int:
    from .api import load_network

    net = load_network(args.model)
    d = describe(net)
    if args.json:
        out.write(json.dumps(d) + "\n")
    else:
        out.write("\n".join(format_info(d)) + "\n")
    return EXIT_OK


def cmd_export(args, out, err) -> int:
    from .api import compute_bounds, load_network
    from .box import normalize
    from .lp import silence_banner
    from .milp import export_milp

    path, suffix = (args.mps, ".mps") if args.mps is not None else (args.lp, ".lp")
    if not path.lower().endswith(suffix):
        flag = "--mps" if suffix == ".mps" else "--lp"
        raise InputError(f"{flag} {path!r}: the file name must end in {suffix}")
    _check_domain(args)
    net, box = _domain_net(args, load_network(args.model))
    silence_banner()
    unit_net = normalize(net, box)
    bounds = compute_bounds(unit_net, tighten=not args.no_tighten)
    try:
        with _pyomo_logging(err, args.debug):
            written = export_milp(unit_net, bounds, path)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    out.write(f"{written}\n")
    return EXIT_OK


COMMANDS = {"count": cmd_count, "info": cmd_info, "export": cmd_export}


def cmd_hash(args, out, err) -> int:
    from .api import load_network
    from .hashing import format_hash, hash_regions
    from .lp import silence_banner

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
    if args.time_limit is not None and not args.time_limit > 0:
        raise InputError(f"--time-limit {args.time_limit:g}: must be positive")
    _check_domain(args)
    net, box = _domain_net(args, load_network(args.model))
    silence_banner()
    with _pyomo_logging(err, args.debug):
        res = hash_regions(net, box, xors=xors, trials=args.trials, confidence=args.confidence,
                           seed=args.seed, time_limit=args.time_limit, tighten=not args.no_tighten)
    if args.json:
        d = res.to_dict()
        d.update(run_record(args, box))
        out.write(json.dumps(d) + "\n")
    else:
        out.write("\n".join(format_hash(res)) + "\n")
    return EXIT_OK if res.stopped is None else EXIT_LOWER_BOUND


COMMANDS["hash"] = cmd_hash


def _module_command(name: str):
    def run(args, out, err) -> int:
        import importlib

        return importlib.import_module(f".{name}", __package__).run(args, out, err)
    return run


COMMANDS.update({"sample": _module_command("sample"), "lines": _module_command("lines"),
                 "bounds": _module_command("theory")})
COMMANDS["compare"] = _module_command("compare")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out, err = sys.stdout, sys.stderr
    debug = os.environ.get("MILPREGIONS_DEBUG", "") not in ("", "0")
    try:
        args = build_parser().parse_args(_join_negative_values(argv))
    except SystemExit as e:  # --help, --version, usage errors (already printed)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_INPUT)
    args.debug = debug
    quiet = getattr(args, "quiet", False) or args.command == "info"  # info lists notices itself
    log, handler, level, propagate = _configure_logging(quiet, debug)
    try:
        return COMMANDS[args.command](args, out, err)
    except InputError as e:
        err.write(f"{PROG}: {_one_line(e)}\n")
        return EXIT_INPUT
    except KeyboardInterrupt:
        err.write(f"{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. `| head`): nothing more to say; keep Python from complaining.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_INTERNAL
    except Exception as e:  # CertificateError and anything unexpected
        if debug:
            traceback.print_exc(file=err)
        name = type(e).__name__
        err.write(f"{PROG}: internal error: {name}: {_one_line(e) or '(no message)'}"
                  + ("" if debug else " (set MILPREGIONS_DEBUG=1 for a traceback)") + "\n")
        return EXIT_INTERNAL
    finally:
        handler.flush()
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
