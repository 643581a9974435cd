"""Many counts, one result each: ``count_each`` counts every prepared Problem whole, with its
own settings, in this process or on spawned worker processes (one problem per task).

Where ``parallel`` splits one count into subtrees, this runs many independent counts side by
side (the balls around many data points, a series of checkpoints). The workers follow
``parallel.processes``: spawned (not forked: HiGHS keeps a process-wide thread pool), one pipe
each, the driver waiting on the pipes and the processes' sentinels together, so a worker that
dies (kill -9, out of memory) is seen at once and named, never waited for. Not
``concurrent.futures.ProcessPoolExecutor``: its manager thread can block for ever on the half
message of a killed worker. Workers never act on SIGINT or SIGTERM (blocked while they start,
ignored after): the driver decides when to stop and tells them through a shared event, which
every count checks at its consistent points. A worker whose driver has gone stops too.

A task is one whole Problem, pickled in the driver when it is sent (the problems may be a lazy
sequence: nothing is held for the problems not yet sent). A task is sent only to an idle
worker, which is reading its pipe: a large problem never blocks the driver on a busy worker.
Measured on the digits CNN (64 inputs; ``benchmarks/local.py``): a Problem pickles to 0.8 MB
in about 1 ms, against seconds of counting, so the network is not shipped separately.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait

from ..api import count
from ..errors import CertificateError, InputError, SolverError
from ..ir.result import CountResult
from ..parallel.processes import EXIT_UNGUARDED, UNGUARDED, one_library_thread_in_new_processes
from ..problem import Problem
from ..solver.highs import silence_banner

#: errors a worker's count may raise that keep their type in the driver (with the problem named)
_KEPT = {cls.__name__: cls for cls in (InputError, CertificateError, SolverError)}
#: the signals a worker never acts on (the driver handles them and tells the workers)
_DRIVER_SIGNALS = {signal.SIGINT, signal.SIGTERM}
#: how often (seconds) the driver asks ``should_stop`` while counts run on workers
POLL_SECONDS = 0.2


class WorkerError(RuntimeError):
    """A worker process died while it held a problem, or its count failed with an error that
    does not cross processes as itself; ``index`` names the problem (None: no problem held)."""

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.index = index


def _label(name: Callable[[int], str] | None, i: int) -> str:
    return f"problem {i}" if name is None else name(i)


def _check(problem, i: int, name, on_workers: bool) -> Problem:
    if not isinstance(problem, Problem):
        raise InputError(f"{_label(name, i)}: expected a prepared Problem, got "
                         f"{type(problem).__name__}")
    s = problem.settings
    if on_workers and (s.jobs is not None or s.executor != "local"):
        raise InputError(f"{_label(name, i)}: its settings ask for workers of its own (jobs "
                         f"{s.jobs}, executor {s.executor}); with count_each(jobs=...) each "
                         "problem is counted in one worker process")
    return problem


def count_each(problems: Sequence[Problem], jobs: int | None = None, *,
               should_stop: Callable[[], bool] | None = None,
               on_result: Callable[[int, CountResult], None] | None = None,
               name: Callable[[int], str] | None = None) -> list[CountResult | None]:
    """Count each prepared Problem whole, with its own settings; the results in input order.

    ``jobs`` None or 1: one after the other in this process (a problem whose settings ask for
    ``jobs`` is then counted in parallel itself); 0: one worker process per core; n: n spawned
    worker processes (at most one per problem), one problem per task, handed out in input
    order. ``problems`` may be any sequence (``len`` and indexing), also one that prepares each
    problem when it is indexed; each is indexed once.

    A problem's ``settings.time_limit`` applies to its count alone and, when it stops the
    count, gives a lower bound (``exact`` False) as always. ``on_result(i, result)`` is called
    in this process as each count finishes (in the order they finish). Once ``should_stop()``
    says True (asked between problems, and every ``POLL_SECONDS`` while workers count), no
    new problem starts and the running counts stop at their next consistent point (their
    result a lower bound, ``stopped="interrupted"``); the problems never started are None.

    Errors name the problem (``name(i)``, default ``problem i``): an InputError,
    CertificateError or SolverError of a count keeps its type; anything else from a worker,
    and a worker process that died, is a ``WorkerError`` with the problem's ``index``.
    """
    n = len(problems)
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0):
        raise InputError(f"jobs must be an integer >= 0, got {jobs}")
    if jobs == 0:
        jobs = os.cpu_count() or 1
    if jobs is None or jobs == 1 or n == 0:
        return _serially(problems, should_stop, on_result, name)
    return _on_workers(problems, min(jobs, n), should_stop, on_result, name)


def _serially(problems, should_stop, on_result, name) -> list[CountResult | None]:
    results: list[CountResult | None] = [None] * len(problems)
    for i in range(len(problems)):
        if should_stop is not None and should_stop():
            break
        problem = _check(problems[i], i, name, on_workers=False)
        try:
            result = count(problem, should_stop=should_stop)
        except InputError as e:
            raise InputError(f"{_label(name, i)}: {e}") from e
        except Exception as e:
            e.add_note(f"while counting {_label(name, i)}")
            raise
        results[i] = result
        if on_result is not None:
            on_result(i, result)
    return results


def _serve(conn, stop, driver: int) -> None:
    """A worker: count each (index, pickled Problem) received; answer (index, kind, payload)
    with kind ``done`` (a CountResult), ``skipped`` (stop was asked before it started) or
    ``error`` (type name, message, traceback)."""
    for sig in _DRIVER_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _DRIVER_SIGNALS)   # pending ones are dropped
    # stdout is the driver's (a table, one JSON object): a library that writes there (Pyomo's
    # warnings, a solver banner) writes to stderr instead
    os.dup2(2, 1)
    silence_banner()

    def stopped() -> bool:
        return stop.is_set() or os.getppid() != driver

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        i, blob = message
        if stopped():
            reply = (i, "skipped", None)
        else:
            try:
                reply = (i, "done", count(pickle.loads(blob), should_stop=stopped))
            except Exception as e:
                reply = (i, "error", (type(e).__name__, str(e), traceback.format_exc()))
        try:
            conn.send(reply)
        except OSError:
            return


class _Workers:
    """``n`` spawned worker processes, each holding at most one problem."""

    def __init__(self, n: int):
        if getattr(mp.current_process(), "_inheriting", False):
            # a worker being started whose import of the main script started these counts
            # again (no main guard): leave quietly, the driver says why (``_lost``)
            sys.exit(EXIT_UNGUARDED)
        ctx = mp.get_context("spawn")
        self.stop = ctx.Event()
        self.procs, self.conns = [], []
        self.held: dict[int, int] = {}          # worker -> the problem it counts
        # blocked while they start: a Ctrl-C at the terminal reaches the whole process group,
        # and a worker must not die of it before it ignores it (the driver gets it on unblock)
        saved = signal.pthread_sigmask(signal.SIG_BLOCK, _DRIVER_SIGNALS)
        try:
            for _ in range(n):
                parent, child = ctx.Pipe()
                p = ctx.Process(target=_serve, args=(child, self.stop, os.getpid()),
                                daemon=True)
                self.conns.append(parent)
                with one_library_thread_in_new_processes():
                    p.start()
                child.close()       # the worker holds the only other end: EOF if it dies
                self.procs.append(p)
        except BaseException:
            self.close(clean=False)
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, saved)

    def idle(self) -> list[int]:
        return [w for w in range(len(self.procs)) if w not in self.held]

    def _lost(self, w: int, name) -> WorkerError | InputError:
        p = self.procs[w]
        p.join(timeout=1)
        code = p.exitcode
        if code == EXIT_UNGUARDED:
            return InputError(UNGUARDED)
        i = self.held.get(w)
        what = f"{_label(name, i)}: the worker process counting it" if i is not None \
            else "a worker process holding no problem"
        return WorkerError(f"{what} (pid {p.pid}) died (exit code {code})", i)

    def send(self, w: int, i: int, blob: bytes, name) -> None:
        try:
            self.conns[w].send((i, blob))
        except OSError:             # BrokenPipeError: the worker is gone
            self.held[w] = i
            raise self._lost(w, name) from None
        self.held[w] = i

    def replies(self, timeout: float, name) -> list[tuple[int, str, object]]:
        """The replies that came within ``timeout`` seconds; a WorkerError when a worker died
        (after the replies it sent before)."""
        watch = {self.conns[w]: w for w in self.held}
        ready = wait(list(watch) + [p.sentinel for p in self.procs], timeout)
        out = []
        for r in ready:
            if r in watch:
                w = watch[r]
                try:
                    i, kind, payload = r.recv()
                except (EOFError, OSError):
                    raise self._lost(w, name) from None
                del self.held[w]
                out.append((i, kind, payload))
        for w, p in enumerate(self.procs):
            if p.exitcode is not None:      # no worker exits before the driver lets it go
                raise self._lost(w, name)
        return out

    def close(self, clean: bool) -> None:
        """Let the workers go: told to exit when ``clean``, else (an error, a second Ctrl-C)
        killed; they hold nothing that needs saving."""
        self.stop.set()
        if clean:
            for conn in self.conns:
                try:
                    conn.send(None)
                except OSError:
                    pass
        for p in self.procs:
            p.join(timeout=10 if clean else 0.5)
            if p.exitcode is None:
                p.kill()
                p.join()
        for conn in self.conns:
            conn.close()


def _rebuild(i: int, payload, name) -> Exception:
    """The driver's exception for a count that failed on a worker."""
    kind, message, tb = payload
    cls = _KEPT.get(kind)
    e = cls(f"{_label(name, i)}: {message}") if cls is not None else \
        WorkerError(f"{_label(name, i)}: {kind}: {message}", i)
    e.add_note("in the worker process:\n" + tb.rstrip())
    return e


def _on_workers(problems, n_workers: int, should_stop, on_result,
                name) -> list[CountResult | None]:
    n = len(problems)
    results: list[CountResult | None] = [None] * n
    next_i = 0
    stopping = False
    pool = _Workers(n_workers)
    clean = False
    try:
        while True:
            if not stopping and should_stop is not None and should_stop():
                stopping = True
                pool.stop.set()             # running counts stop at their next check
            if not stopping:
                for w in pool.idle():
                    if next_i >= n:
                        break
                    problem = _check(problems[next_i], next_i, name, on_workers=True)
                    try:
                        blob = pickle.dumps(problem, protocol=pickle.HIGHEST_PROTOCOL)
                    except Exception as e:
                        raise InputError(f"{_label(name, next_i)}: cannot be sent to a worker "
                                         f"process ({type(e).__name__}: {e})") from None
                    pool.send(w, next_i, blob, name)
                    next_i += 1
            if not pool.held:
                break
            for i, kind, payload in pool.replies(POLL_SECONDS, name):
                if kind == "error":
                    raise _rebuild(i, payload, name)
                if kind == "done":
                    results[i] = payload
                    if on_result is not None:
                        on_result(i, payload)
        clean = True
    finally:
        pool.close(clean)
    return results
