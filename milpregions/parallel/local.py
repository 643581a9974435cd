"""Counts on several processes: the subtrees of the first layer's cells as tasks.

The driver splits the tree at the end of layer 1 (``TreeCounter.split``: the compiled walk
where the network allows, else the Python one) and hands the cells out in batches, round robin
so that neighbouring (similar) cells go to different batches. A worker process gets the
``Problem`` once, counts every cell of a batch into one ``TreeCounter`` and returns its result,
and the regions when the caller wants them. The tasks and the subtree of each are the same
whatever the number of workers or the order in which batches finish, so the count is too.

Workers ignore SIGINT; the driver's ``should_stop`` (a signal handler) sets an event that every
worker's counter checks at its consistent points, so an interrupt ends with the partial sum as
a lower bound, exactly as a time limit does. A worker that dies (kill -9, out of memory) ends
the count the same way, ``stopped="worker-lost"``.

On Ray or Dask (``engines``) the same batches are the cluster's tasks; an interrupt cancels
the running ones (their partial counts are lost, what finished stands), a time limit reaches
them as a deadline.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..enumerator import TreeCounter
from ..enumerator.budget import Stop
from ..ir.result import CountResult
from ..problem import Problem
from ..settings import Settings
from .batch import Batch, BatchResult, WorkerLost, count_batch
from .checkpoint import Checkpoint
from .coverage import cell_fractions
from .engines import open_engine
from .processes import Workers

#: batches per worker: enough that a slow batch does not leave the other workers idle long
BATCHES_PER_WORKER = 16
#: a task's budget: a compiled walk that outgrows it returns the rest of its subtrees as new
#: tasks, so one big subtree cannot keep the other workers idle at the end of a count
TASK_SECONDS = Settings.task_seconds


@dataclass(frozen=True)
class TaskProgress:
    """What a progress display may show of a count in batches (``progress.tasks(...)``):
    batches running and waiting, finished (this run and recorded before) of ``total``, the
    share of the box the finished ones cover, and the seconds left at this run's pace (None
    before one finishes)."""

    busy: int
    queued: int
    finished: int
    total: int
    covered: float
    eta: float | None


def _merge(parts: list[CountResult], template: CountResult, seconds: float,
           stopped: str | None) -> CountResult:
    """One CountResult for the whole count from the batches' results."""
    regions = sum(r.regions for r in parts)
    radii = [r.min_radius for r in parts if r.min_radius is not None]
    return CountResult(
        regions=regions, exact=stopped is None, method="tree", seconds=seconds,
        nodes=template.nodes + sum(r.nodes for r in parts),
        lps=template.lps + sum(r.lps for r in parts), stopped=stopped,
        margin=template.margin, near_margin=sum(r.near_margin for r in parts),
        input_dim=template.input_dim, widths=template.widths,
        unstable_units=template.unstable_units, bound_lps=template.bound_lps,
        thin_dropped=template.thin_dropped + sum(r.thin_dropped for r in parts),
        thickest_dropped=max([template.thickest_dropped] + [r.thickest_dropped for r in parts]),
        min_radius=min(radii) if radii else None,
        undecided=template.undecided + sum(r.undecided for r in parts))


def count_parallel(problem: Problem, jobs: int | None, *,
                   on_region: Callable[[list, np.ndarray, float], None] | None = None,
                   progress: Callable[[int, int, int, float], None] | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   checkpoint: Checkpoint | None = None, executor: str = "local",
                   address: str | None = None,
                   task_seconds: float | None = TASK_SECONDS) -> CountResult:
    """The tree count of ``problem`` (two layers or more) in batches of layer-1 subtrees, on
    ``jobs`` worker processes (0: one per core; None: in this process), or as tasks of a Ray
    or Dask cluster (``executor``; ``address`` a running one, else a local one of ``jobs``
    CPUs, all cores when None or 0).

    ``on_region(pattern, u, r)`` gets every region once, as batches finish. Limits (the
    settings' time limit; ``should_stop``) make the count a lower bound: the sum over the
    finished batches and what the stopped ones had counted. ``max_regions`` is not supported
    here (the order in which regions are found is not defined across workers). With
    ``checkpoint``, finished batches are recorded and the ones recorded before are skipped
    (their statistics are summed in; their regions were reported by the earlier run).
    ``task_seconds``: a task's budget, after which a compiled walk hands back its unexplored
    rest as new tasks (recorded in the checkpoint with the task that made them). A progress
    callable with a ``tasks`` method also gets a ``TaskProgress`` before each report.
    """
    s = problem.settings
    if s.max_regions is not None:
        raise ValueError("max_regions is not supported with batches of subtrees")
    if jobs == 0:
        jobs = os.cpu_count() or 1
    start = time.perf_counter()
    deadline = None if s.time_limit is None else time.time() + s.time_limit
    splitter = TreeCounter(problem.unit_net, problem.tree_bounds, margin=s.margin,
                           vertex_dim=s.vertex_dim, time_limit=s.time_limit,
                           should_stop=should_stop)
    try:
        cells = splitter.split()
    except Stop as stop:                # stopped while splitting: nothing counted yet
        return _merge([], splitter.finish(stop.why), time.perf_counter() - start, stop.why)
    template = splitter.finish()
    engine = None
    if executor != "local":
        engine = open_engine(executor, problem, address, jobs or None, s.connect_timeout)
        jobs = engine.workers()
    n_batches = max(1, min(len(cells), (jobs or 1) * BATCHES_PER_WORKER))
    done: dict[int, CountResult] = {}
    root: dict[int, int] = {}           # task -> the batch of layer-1 cells it descends from
    want = on_region is not None
    order = np.arange(len(cells))
    # (task, the cell indices of a batch of layer-1 cells, packed only when it is sent, or a
    # task handed back): the driver holds the cells once, not a packed copy of all of them
    todo: list[tuple[int, np.ndarray | Batch]] = []
    if checkpoint is not None:
        n_batches = checkpoint.batches(n_batches)
        done = checkpoint.finished()
        for tid, parent, stored in checkpoint.pending_tasks():
            root[tid] = parent
            todo.append((tid, Batch(stored, want, task_seconds)))
    todo = [(i, order[i::n_batches]) for i in range(n_batches)
            if i not in done and order[i::n_batches].size] + todo
    root.update({i: i for i, _ in todo if i < n_batches})
    next_id = max([n_batches - 1, *done, *root]) + 1
    parts = list(done.values())
    held: list[BatchResult] = []        # stopped batches: reported after every finished one
    finished_ids: list[int] = []        # tasks finished in this run
    open_tasks: dict[int, int] = {}     # batch of layer-1 cells -> its tasks not finished yet
    for tid in root:
        if tid not in done:
            open_tasks[root[tid]] = open_tasks.get(root[tid], 0) + 1
    stopped = None
    n_workers = 1 if jobs is None else max(1, min(jobs, len(todo)))
    queue = deque(todo)
    in_flight = 2 * n_workers           # tasks sent ahead: the workers never wait for one

    def next_task() -> tuple[int, Batch]:
        tid, x = queue.popleft()
        return tid, x if isinstance(x, Batch) else Batch(cells.batch(x), want, task_seconds)

    def settle(tid: int, out: BatchResult) -> list[tuple[int, Batch]]:
        """Take a finished task in; the new tasks of its frontier, to submit."""
        nonlocal stopped, next_id
        if out.result.stopped is not None:
            stopped = stopped or out.result.stopped
            held.append(out)
            return []
        parts.append(out.result)
        finished_ids.append(tid)
        if on_region is not None:
            for pat, u, r in out.regions:
                on_region(pat, u, r)
        new = []
        for cells_of_task in out.frontier:
            new.append((next_id, Batch(cells_of_task, want, task_seconds)))
            root[next_id] = root[tid]
            next_id += 1
        if checkpoint is not None:
            checkpoint.record(tid, out.result,
                              [(nid, root[nid], b.cells) for nid, b in new])
        open_tasks[root[tid]] += len(new) - 1
        return new

    # the share of the box each batch covers, for a progress display that can show it
    show_tasks = getattr(progress, "tasks", None)
    share = {}
    if show_tasks is not None:
        fractions = cell_fractions(cells, problem.unit_net)
        share = {i: float(fractions[order[i::n_batches]].sum()) for i in range(n_batches)}
    covered0 = sum(share.get(i, 0.0) for i in range(n_batches) if not open_tasks.get(i))
    t_split = time.perf_counter()
    # the pace is measured from the first batch this run finishes: before it, the workers'
    # start and their first load of the compiled walk would stretch every estimate (2 min for
    # a count of 36 s)
    first: list[tuple[float, float]] = []

    def report(waiting: int) -> None:
        if progress is None:
            return
        if show_tasks is not None:
            covered = sum(share.get(i, 0.0) for i in range(n_batches) if not open_tasks.get(i))
            busy = min(n_workers, waiting)
            elapsed = time.perf_counter() - t_split
            if not first and covered > covered0:
                first.append((elapsed, covered))
            t0, c0 = first[0] if first else (0.0, covered0)
            eta = None
            if covered >= 1.0:
                eta = 0.0
            elif covered > c0 and elapsed > t0:
                eta = (elapsed - t0) * (1.0 - covered) / (covered - c0)
            show_tasks(TaskProgress(busy, waiting - busy, len(done) + len(finished_ids),
                                    len(done) + len(finished_ids) + waiting, covered, eta))
        every = parts + [h.result for h in held]
        progress(sum(r.regions for r in every), sum(r.nodes for r in every),
                 sum(r.lps for r in every), time.perf_counter() - start)

    if engine is not None:
        try:
            pending: dict = {}
            while True:
                while queue and stopped is None and len(pending) < in_flight:
                    tid, batch = next_task()
                    pending[engine.submit(batch, deadline)] = tid
                if not pending:
                    break
                try:
                    for h in engine.ready(list(pending), 0.2):
                        queue.extend(settle(pending.pop(h), engine.result(h)))
                except WorkerLost:
                    stopped = "worker-lost"
                if should_stop is not None and should_stop() and stopped is None:
                    stopped = "interrupted"
                if stopped in ("interrupted", "worker-lost"):
                    engine.cancel(list(pending))    # what finished stands
                    break
                report(len(pending) + len(queue))
        finally:
            engine.close()
    elif jobs is None:                  # in this process, task after task
        while queue:
            if stopped is None and should_stop is not None and should_stop():
                stopped = "interrupted"
            if stopped is not None:
                break
            tid, batch = next_task()
            queue.extend(settle(tid, count_batch(problem, batch, deadline, should_stop)))
            report(len(queue))
    else:
        pool = Workers(n_workers, problem, deadline)
        lost = False
        try:
            while True:
                try:
                    for w in pool.idle():
                        if not queue or stopped is not None:
                            break
                        pool.send(w, *next_task())
                    if not pool.busy:
                        break
                    for tid, out in pool.results(0.2):
                        queue.extend(settle(tid, out))
                except WorkerLost:
                    # a worker that died (kill -9, out of memory): what finished stands
                    lost, stopped = True, "worker-lost"
                    break
                if should_stop is not None and should_stop() and stopped is None:
                    stopped = "interrupted"
                if stopped is not None:
                    pool.request_stop()
                report(len(pool.busy) + len(queue))
        finally:
            pool.close(lost)
    for out in held:                    # partial: counted now, redone by a resumed run
        parts.append(out.result)
        if on_region is not None:
            for pat, u, r in out.regions:
                on_region(pat, u, r)
    return _merge(parts, template, time.perf_counter() - start, stopped)
