"""Worker processes on this machine, one pipe each: the driver sends a task to an idle worker
and waits on the pipes and the processes' sentinels together.

Not ``concurrent.futures.ProcessPoolExecutor``: when a worker is killed (kill -9, out of
memory) in the middle of writing its result, the executor's manager thread blocks for ever on
the half message and the driver cannot exit (seen in CPython 3.11). Here a dead worker's pipe
reads as end of file, so the driver sees the loss at once; workers are daemons, spawned (not
forked: HiGHS keeps a process-wide thread pool), run BLAS in one thread, ignore SIGINT (the
driver decides when to stop) and check a shared stop event at their consistent points.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import wait

from ..errors import InputError
from ..problem import Problem
from .batch import Batch, BatchResult, WorkerLost, count_batch

#: the exit status of a worker whose start re-ran a count: the script that started it counts
#: with jobs > 1 outside ``if __name__ == "__main__":`` (spawned workers import the script)
EXIT_UNGUARDED = 86
UNGUARDED = ("worker processes cannot start: the script counts with jobs > 1 outside "
             "`if __name__ == \"__main__\":`, and every spawned worker imports the script "
             "again; put the count under that guard (or count with jobs=1)")
#: seconds a worker may take to start (import the package, unpickle the problem)
START_SECONDS = 300.0


@contextmanager
def sigint_ignored_by_new_processes() -> Iterator[None]:
    """SIGINT ignored while the block spawns worker processes, which keep it ignored from
    their first instruction (an ignored signal stays so across exec, and Python leaves it so).
    A Ctrl-C at a terminal goes to the whole process group: only the driver should hear it,
    stop the count and close its workers. (Dask's workers killed by it lost the problem
    scattered to them, and the count ended in an internal error instead of its lower bound.)
    A Ctrl-C while the block runs is not heard."""
    old = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or old is None:
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


#: the thread pools of BLAS and OpenMP, one thread each in a worker process (where the user has
#: not set them): one worker per core already keeps the cores busy, and N workers with N BLAS
#: threads each would put N^2 threads on N cores (Dask's nannies and Ray set the same for
#: their workers; on 2 cores the count's speed is the same within noise, benchmarks/scale.py
#: --blas, and the workers use 1-3% less CPU)
ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: held while the environment carries ``ONE_THREAD`` for a spawn: two pools started by two
#: threads at once take turns, so neither removes what the other still needs
_ONE_THREAD_ENVIRON = threading.Lock()


@contextmanager
def one_library_thread_in_new_processes() -> Iterator[None]:
    """``ONE_THREAD`` set to 1 in the environment that processes started in the block
    inherit, unless already set; the environment restored after (a name left as it was if
    someone changed it meanwhile). The environment is the process's: another thread that
    starts a process during the block passes the setting on too."""
    with _ONE_THREAD_ENVIRON:
        added = [name for name in ONE_THREAD if name not in os.environ]
        for name in added:
            os.environ[name] = "1"
        try:
            yield
        finally:
            for name in added:
                if os.environ.get(name) == "1":
                    del os.environ[name]


def _serve(conn, problem: Problem, stop, deadline: float | None) -> None:
    """A worker: say it is ready, then count each (task id, batch) received, send back
    (task id, result)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    driver = os.getppid()
    # asked to stop, or orphaned (the driver was killed: its batches are lost anyway)
    stopped = lambda: stop.value != 0 or os.getppid() != driver      # noqa: E731
    try:
        conn.send("ready")
        while True:
            message = conn.recv()
            if message is None:
                return
            tid, batch = message
            conn.send((tid, count_batch(problem, batch, deadline, stopped)))
    except (EOFError, OSError):
        return                  # the driver is gone (kill -9): nothing to report to, no noise


class Workers:
    """``n`` spawned worker processes that count batches of ``problem``."""

    def __init__(self, n: int, problem: Problem, deadline: float | None):
        if getattr(mp.current_process(), "_inheriting", False):
            # this process is a worker being started, and importing the main script started
            # another count: leave quietly, the driver reports it (``_wait_ready``)
            sys.exit(EXIT_UNGUARDED)
        ctx = mp.get_context("spawn")
        # a flag in shared memory, not an Event: a semaphore left behind by a killed driver
        # makes the resource tracker warn about leaked objects
        self.stop = ctx.RawValue("b", 0)
        self.procs, self.conns = [], []
        for _ in range(n):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_serve, args=(child, problem, self.stop, deadline),
                            daemon=True)
            with sigint_ignored_by_new_processes(), one_library_thread_in_new_processes():
                p.start()
            child.close()           # the worker holds the only other end: EOF if it dies
            self.procs.append(p)
            self.conns.append(parent)
        self.busy: dict[int, int] = {}      # worker -> the task it holds
        try:
            self._wait_ready()
        except BaseException:
            self.close(lost=True)
            raise

    def _wait_ready(self) -> None:
        """Wait until every worker has started; a worker that died while starting is an error
        before any task is sent (``InputError`` for an unguarded script, else ``WorkerLost``)."""
        waiting = {self.conns[w]: w for w in range(len(self.procs))}
        while waiting:
            ready = wait(list(waiting) + [self.procs[w].sentinel for w in waiting.values()],
                         START_SECONDS)
            if not ready:
                raise WorkerLost(f"worker processes did not start within {START_SECONDS:.0f} s")
            for r in ready:
                if r in waiting:
                    try:
                        r.recv()
                    except (EOFError, OSError):
                        continue            # died: its sentinel tells how
                    del waiting[r]
            for w in list(waiting.values()):
                p = self.procs[w]
                if p.exitcode is not None:
                    if p.exitcode == EXIT_UNGUARDED:
                        raise InputError(UNGUARDED)
                    raise WorkerLost(f"worker {p.pid} died while starting "
                                     f"(exit code {p.exitcode})")

    def request_stop(self) -> None:
        """Running batches stop at their next check (a lower bound, as a time limit gives)."""
        self.stop.value = 1

    def idle(self) -> list[int]:
        return [w for w in range(len(self.procs)) if w not in self.busy]

    def send(self, worker: int, tid: int, batch: Batch) -> None:
        """Task ``tid`` to an idle worker; raises ``WorkerLost`` when it has died."""
        try:
            self.conns[worker].send((tid, batch))
        except OSError:             # BrokenPipeError: the worker is gone
            raise WorkerLost(f"worker {self.procs[worker].pid} died") from None
        self.busy[worker] = tid

    def results(self, timeout: float) -> list[tuple[int, BatchResult]]:
        """The (task, result) pairs that came back within ``timeout`` seconds; raises
        ``WorkerLost`` when a worker died (whether or not it held a task)."""
        watch = {self.conns[w]: w for w in self.busy}
        ready = wait(list(watch) + [p.sentinel for p in self.procs], timeout)
        out = []
        for r in ready:
            if r in watch:
                w = watch[r]
                try:
                    tid, result = r.recv()
                except (EOFError, OSError):
                    raise WorkerLost(f"worker {self.procs[w].pid} died") from None
                del self.busy[w]
                out.append((tid, result))
        if any(p.exitcode is not None for p in self.procs):
            raise WorkerLost("a worker process died")
        return out

    def close(self, lost: bool) -> None:
        """Let the workers go: each is told to leave; after a loss, or with batches still
        running, one that has not left within 5 s is terminated."""
        self.stop.value = 1
        # every live worker is told to leave: an idle one at once, a busy one once it has sent
        # the batch it stops (else it waited on its pipe until the join's 5 s ran out: a Ctrl-C
        # or a lost worker ended a count 5 s late)
        for p, conn in zip(self.procs, self.conns):
            if p.exitcode is None:
                try:
                    conn.send(None)
                except OSError:
                    pass
        for p in self.procs:
            p.join(timeout=None if not lost and not self.busy else 5)
            if p.exitcode is None:
                p.terminate()
                p.join()
        for conn in self.conns:
            conn.close()
