"""The command line: one static table of commands, argument parsing, and the error boundary.

The only code that prints or configures logging; see ``cli.common`` for the exit statuses.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import traceback
from importlib import import_module
from types import ModuleType

from ..errors import InputError
from .common import EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, PROG, Parser, configure_logging, one_line
from .flags import deprecation_warnings

#: the commands, each a module ``cli.<name>`` with ``add_parser(subs)`` and
#: ``run(args, out, err) -> int``; imported when used, so that a count imports no estimator
COMMANDS = ("count", "plot", "info", "export", "hash", "sample", "lines", "bounds", "compare",
            "local", "warm-up")


def command_module(name: str) -> ModuleType:
    return import_module(f".{name.replace('-', '')}", __package__)

# Options whose value may start with '-' (e.g. --box -1,1, --margin -1e-3): argparse would read
# such a value as an option, so ``join_negative_values`` glues it on as ``--box=-1,1``.
_VALUE_OPTIONS = ("--box", "--time-limit", "--margin", "--max-regions", "--radius", "--slice-box")
_NEGATIVE_VALUE = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)


def build_parser(only: str | None = None) -> Parser:
    """The parser of every command, or of the command ``only`` (what a run needs)."""
    from .. import __version__

    parser = Parser(prog=PROG, allow_abbrev=False,
                    description="Exact counts of the activation regions of piecewise-linear "
                                "networks (ONNX) inside an input box.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    subs.required = True
    for name in COMMANDS if only is None else (only,):
        command_module(name).add_parser(subs)
    return parser


def join_negative_values(argv: list[str]) -> list[str]:
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


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out, err = sys.stdout, sys.stderr
    debug = os.environ.get("MILPREGIONS_DEBUG", "") not in ("", "0")
    try:
        only = argv[0] if argv and argv[0] in COMMANDS else None
        args = build_parser(only).parse_args(join_negative_values(argv))
    except SystemExit as e:  # --help, --version, usage errors (already printed)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_INPUT)
    args.debug = debug
    for line in deprecation_warnings(args):
        err.write(f"{PROG}: {line}\n")
    quiet = getattr(args, "quiet", False) or args.command == "info"  # info lists notices itself
    log, handler, level, propagate = configure_logging(quiet, debug)
    try:
        return command_module(args.command).run(args, out, err)
    except InputError as e:
        err.write(f"{PROG}: {one_line(e)}\n")
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
    except OSError as e:
        if e.errno not in _WRITE_ERRORS:
            return _internal(e, debug, err)
        # the machine's, not ours: a full disk, a read-only folder, a file too large
        where = e.filename or (args.regions if getattr(args, "regions", None) else "standard output")
        err.write(f"{PROG}: {where}: cannot write ({e.strerror or e})\n")
        return EXIT_INPUT
    except Exception as e:  # CertificateError and anything unexpected
        return _internal(e, debug, err)
    finally:
        handler.flush()
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate


#: errors of writing a file that say what the machine lacks (exit 2, not an internal error)
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES,
                 errno.EPERM}


def _internal(e: Exception, debug: bool, err) -> int:
    if debug:
        traceback.print_exc(file=err)
    name = type(e).__name__
    err.write(f"{PROG}: internal error: {name}: {one_line(e) or '(no message)'}"
              + ("" if debug else " (set MILPREGIONS_DEBUG=1 for a traceback)") + "\n")
    return EXIT_INTERNAL
