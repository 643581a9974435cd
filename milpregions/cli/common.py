"""What every command shares: exit codes, one-line errors, logging, progress, the JSON envelope.

Exit status: 0 exact count (or the command succeeded); 3 a limit stopped the count (the number
is a lower bound and says so); 2 bad input, one line ``milpregions: <message>``; 1 internal
error (a witness failed its check, or anything unexpected), one line, and a traceback only with
``MILPREGIONS_DEBUG=1``; 4 ``count --certify`` could not certify the count exactly (the number
is the float count, and the output says what is missing); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import time
from contextlib import contextmanager, redirect_stdout

from ..errors import InputError
from ..ir.result import run_envelope
from .notices import OncePerProcess

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_LOWER_BOUND = 3
EXIT_UNCERTIFIED = 4
EXIT_UNDECIDED = 5          # some counted patterns rest on decisions within rounding
EXIT_INTERRUPTED = 130

PROG = "milpregions"
STOP_TEXT = {
    "time-limit": "stopped by the time limit",
    "max-regions": "stopped at --max-regions",
    "interrupted": "interrupted",
    "worker-lost": "a worker process died; with --checkpoint the same command resumes",
}


class StopOnSignals:
    """While entered, SIGINT (Ctrl-C) and SIGTERM ask the running count to stop: it then ends
    at its next consistent point with a lower bound. A second Ctrl-C interrupts at once.
    Called, it says whether a stop was asked for (the library's ``should_stop``)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested: str | None = None
        self._saved: dict = {}

    def __call__(self) -> bool:
        return self.requested is not None

    def _handle(self, signum, frame) -> None:
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __enter__(self) -> StopOnSignals:
        for sig in self.SIGNALS:
            self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``milpregions: ...``) and exit status 2."""

    def error(self, message: str):  # noqa: D102 - argparse API
        sub = self.prog[len(PROG):].strip()
        where = f"{sub}: " if sub else ""
        hint = f" (see '{self.prog} --help')"
        self.exit(EXIT_INPUT, f"{PROG}: {where}{message}{hint}\n")


def one_line(text) -> str:
    return " ".join(str(text).split())


def write_json(out, command: str, args, domain, body: dict) -> None:
    """One JSON object: the shared envelope (schema, command, model, domain, box, versions),
    then the command's own fields."""
    d = run_envelope(command, os.fspath(args.model), domain)
    d.update(body)
    text = json.dumps(d) + "\n"
    # a Ctrl-C now would cut the record in half: it waits until the record is out
    with _signals_held():
        out.write(text)
        out.flush()


@contextmanager
def _signals_held():
    """SIGINT and SIGTERM held while the block runs, then delivered, where Python can set
    signal handlers (the main thread). Handlers, not a signal mask: a process-directed signal
    goes to any thread that does not block it (numpy's BLAS threads), and Python then runs its
    handler in the main thread anyway, in the middle of the block."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    old = {sig: signal.signal(sig, lambda sig, frame: arrived.append(sig)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in old.items():        # None: a handler set outside Python
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        for sig in dict.fromkeys(arrived):
            signal.raise_signal(sig)


def configure_logging(quiet: bool, debug: bool) -> tuple[logging.Logger, logging.Handler, int, bool]:
    log = logging.getLogger("milpregions")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    handler.addFilter(OncePerProcess())         # a model's notice once per process
    saved = (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO))
    log.propagate = False
    return log, handler, saved[0], saved[1]


@contextmanager
def pyomo_logging(err, debug: bool):
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
    """A live status display on a terminal (rich), redrawn at most ``rate`` times a second:
    regions, regions/s, nodes, LPs and time; the share of the domain counted so far and an ETA
    from it (``cover``, one process); for a count in batches (``--jobs``, ``--executor``) the
    batches running, queued and finished, the share of the domain the finished ones cover and
    an ETA from it (``tasks``). A first compile of a kernel is announced on its own line and
    the status says it is compiling, with the seconds ticking (``compiling``, ``compiled``)."""

    def __init__(self, stream, rate: float = 5.0):
        from ..enumerator.progress import Pace

        self.stream = stream
        self.interval = 1.0 / rate
        self.last = -math.inf
        self.live = None
        self.task_line = ""
        self.covered: float | None = None
        self.pace = Pace()
        self.regions = 0
        self._ticker = None

    def tasks(self, t) -> None:
        """The batches' state (``parallel.TaskProgress``), shown with the next redraw."""
        eta = "ETA -" if t.eta is None else f"ETA {_duration(t.eta)}"
        self.task_line = (f"{t.busy} running, {t.queued} queued, {t.finished}/{t.total} batches "
                          f"done, {100 * t.covered:.1f}% covered, {eta}")

    def cover(self, share: float) -> None:
        """The share of the domain whose regions are counted (one process), for the next
        report."""
        self.covered = share

    def __call__(self, regions: int, nodes: int, lps: int, seconds: float) -> None:
        if regions < self.regions:      # a trial walk was dropped: the pace starts again
            self.pace.restart()
        self.regions = regions
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        rate = f"{regions / seconds:,.0f}" if seconds > 0 else "-"
        line = f"{regions:,} regions ({rate}/s), {nodes:,} nodes, {lps:,} LPs, {seconds:.1f} s"
        if self.covered is not None and not self.task_line:
            eta = self.pace.eta(seconds, self.covered)
            line += (f", {100 * self.covered:.1f}% covered, "
                     + ("ETA -" if eta is None else f"ETA {_duration(eta)}"))
        self.draw(line + ("\n" + self.task_line if self.task_line else ""))

    def compiling(self, text: str) -> None:
        """A kernel is being compiled: ``text`` on its own line, then a status that keeps
        ticking (from a thread: the compile holds the main one) until ``compiled``."""
        import threading

        self.say(f"{PROG}: {text}")
        stop = threading.Event()
        t0 = time.monotonic()

        def tick() -> None:
            while not stop.wait(self.interval):
                self.draw(f"compiling: {time.monotonic() - t0:.0f} s")
        thread = threading.Thread(target=tick, name="milpregions-compiling", daemon=True)
        self._ticker = (stop, thread)
        thread.start()

    def compiled(self, seconds: float) -> None:
        """The compile is done: the ticking stops, one line says how long it took, and the
        ETA's pace is measured from here on."""
        if self._ticker is not None:
            stop, thread = self._ticker
            stop.set()
            thread.join()
            self._ticker = None
        self.say(f"{PROG}: compiled in {_duration(seconds)}")
        self.pace.restart()
        self.last = -math.inf

    def say(self, text: str) -> None:
        """A line of its own above the live status."""
        if self.live is None:
            self.draw("")
        self.live.console.print(text, markup=False, highlight=False)

    def draw(self, text: str) -> None:
        if self.live is None:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, force_terminal=True, highlight=False)
            self.live = Live(console=console, auto_refresh=False, transient=True,
                             redirect_stdout=False, redirect_stderr=False)
            self.live.start()
        from rich.text import Text

        self.live.update(Text(text), refresh=True)

    def clear(self) -> None:
        if self._ticker is not None:
            self._ticker[0].set()
            self._ticker = None
        if self.live is not None:
            self.live.stop()
            self.live = None


class ProgressLines(Progress):
    """``--progress`` on a non-terminal (a log file, a batch job): the same text as plain
    lines, one every ``every`` seconds."""

    def __init__(self, stream, every: float = 5.0):
        super().__init__(stream, rate=1.0 / every)
        self.last = time.monotonic()            # the first line after ``every`` seconds

    def draw(self, text: str) -> None:
        self.stream.write(text.replace("\n", "; ") + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        self.draw(text)

    def clear(self) -> None:
        if self._ticker is not None:
            self._ticker[0].set()
            self._ticker = None


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def check_positive(option: str, value: float | None) -> None:
    """A time limit or similar option: None or a positive finite number."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError(f"{option} {value:g}: must be positive")


@contextmanager
def stdout_to_stderr(active: bool = True):
    """While the block runs, whatever is printed on standard output (by Python code or by a
    library at the file-descriptor level: Ray's messages about a dead worker, a solver's
    banner) goes to standard error, so that stdout carries the JSON alone."""
    if not active:
        yield
        return
    try:
        fd_out, fd_err = sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):       # not a real file (tests, notebooks)
        with redirect_stdout(sys.stderr):
            yield
        return
    sys.stdout.flush()
    saved = os.dup(fd_out)
    os.dup2(fd_err, fd_out)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd_out)
        os.close(saved)
