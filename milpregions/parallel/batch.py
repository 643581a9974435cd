"""A batch of subtrees, the task of every executor: counted into one ``TreeCounter`` where
it runs (a worker process, a cluster's worker, or the driver). A batch with a budget of
``seconds`` that a compiled walk outgrows comes back counted so far, with the rest of its
walk (its stack entries) as new tasks: dynamic load balancing with no shared state."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..enumerator import TreeCounter
from ..enumerator.budget import Stop
from ..ir.result import CountResult
from ..problem import Problem


class WorkerLost(Exception):
    """A worker died while it held a task (and the engine's retries, if any, did too)."""


@dataclass(frozen=True)
class Batch:
    """Subtrees to count: cells from ``Split.batch`` and whether to return the regions found
    in them."""

    cells: object
    want_regions: bool
    seconds: float | None = None    # then a compiled walk hands back what it has not explored


@dataclass
class BatchResult:
    """What a batch counted: its result, and its regions when the batch asked for them."""


    result: CountResult
    regions: list           # (pattern per layer, witness u in [-1, 1]^d, radius)
    frontier: list          # the unexplored rest as new tasks' cells (``PackedStack``)


def count_batch(p: Problem, batch: Batch, deadline: float | None,
                should_stop: Callable[[], bool] | None) -> BatchResult:
    """Count one batch (in a worker, or in the driver when there is none)."""
    s = p.settings
    regions: list = []
    on_region = (lambda pat, u, r: regions.append((pat, u, r))) if batch.want_regions else None
    remaining = None if deadline is None else max(0.0, deadline - time.time())
    counter = TreeCounter(p.unit_net, p.tree_bounds, margin=s.margin, vertex_dim=s.vertex_dim,
                          time_limit=remaining, on_region=on_region, should_stop=should_stop)
    stopped = None
    frontier: list = []
    try:
        frontier = counter.count_split_cells(batch.cells, batch.seconds)
    except Stop as stop:
        stopped = stop.why
    return BatchResult(counter.finish(stopped), regions, frontier)
