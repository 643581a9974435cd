"""Limits and statistics of one enumeration: node ticks, time and region limits, LP calls.

Both cell paths and the driver report here, so the limits are checked in one place: the time
limit every 256 nodes and before every LP (a node may need many LPs), the region limit before
a region is counted. A limit that is hit raises ``Stop``; the driver turns it into a lower
bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..solver.highs import ChebyshevLP

ProgressCallback = Callable[[int, int, int, float], None]
StopRequest = Callable[[], bool]        # True once the caller wants the count to stop


@dataclass
class Stats:
    nodes: int = 0
    regions: int = 0
    near_margin: int = 0
    dead_leaves: int = 0
    thin_dropped: int = 0                 # leaves with a ball of radius in (0, margin] only
    thickest_dropped: float = 0.0         # the largest such radius
    min_radius: float = float("inf")      # the smallest certified radius of a counted region
    undecided: int = 0                    # witnesses whose patterns rest on rounding
    bounded: int = 0                      # over all of R^d (``recession``): bounded regions,
    unbounded: int = 0                    # unbounded ones,
    extent_undecided: int = 0             # and those the LP's tolerance leaves undecided
    start: float = field(default_factory=time.perf_counter)

    def dropped(self, depth: float) -> None:
        """A cell of positive ``depth`` (an upper bound of its inradius) <= margin was dropped."""
        if depth > 0:
            self.thin_dropped += 1
            self.thickest_dropped = max(self.thickest_dropped, float(depth))


class Stop(Exception):
    """A limit stopped the enumeration; ``why`` is "time-limit", "max-regions", "interrupted"
    (the caller's stop request, checked where the count is consistent) or "trial":
    a trial run outgrew its node limit, see ``TreeCounter``."""

    def __init__(self, why: str):
        self.why = why


class Budget:
    """The LP of the run, its limits, its statistics and the progress callback."""

    def __init__(self, lp: ChebyshevLP, *, time_limit: float | None, max_regions: int | None,
                 progress: ProgressCallback | None, should_stop: StopRequest | None = None):
        self.lp = lp
        self.should_stop = should_stop
        self.time_limit = time_limit
        self.max_regions = max_regions
        self.progress = progress
        self.stats = Stats()
        # a trial run (``TreeCounter``): Stop("trial") past this many nodes or this moment
        self.node_limit: int | None = None
        self.trial_until: float = float("inf")     # time.perf_counter()

    def solve(self, ids, F: np.ndarray, extra: np.ndarray | None = None) -> tuple[float, np.ndarray | None]:
        """A Chebyshev LP; the time limit is checked here too (a node may need many LPs)."""
        if self.time_limit is not None and time.perf_counter() - self.stats.start > self.time_limit:
            raise Stop("time-limit")
        if self.should_stop is not None and self.should_stop():
            raise Stop("interrupted")
        return self.lp.solve(ids, F, extra=extra)

    def tick(self) -> None:
        """One node of the tree; every 256 nodes: the time limit and the progress callback (a
    trial's limits every 16)."""
        st = self.stats
        st.nodes += 1
        # a trial looks every 16 nodes: a Python node of the digits CNN costs ~5 ms
        if self.node_limit is not None and st.nodes & 15 == 0 and (
                st.nodes > self.node_limit or time.perf_counter() > self.trial_until):
            raise Stop("trial")
        if st.nodes & 255 == 0:
            elapsed = time.perf_counter() - st.start
            if self.time_limit is not None and elapsed > self.time_limit:
                raise Stop("time-limit")
            if self.should_stop is not None and self.should_stop():
                raise Stop("interrupted")
            if self.progress is not None:
                self.progress(st.regions, st.nodes, self.lp.solves, elapsed)

    def check(self, nodes: int) -> None:
        """After a block of compiled nodes: the time limit and the progress callback."""
        elapsed = time.perf_counter() - self.stats.start
        if self.time_limit is not None and elapsed > self.time_limit:
            raise Stop("time-limit")
        if self.should_stop is not None and self.should_stop():
            raise Stop("interrupted")
        if self.progress is not None:
            self.progress(self.stats.regions, nodes, self.lp.solves, elapsed)

    def region(self) -> None:
        """One more region, unless the region limit is reached."""
        st = self.stats
        if self.max_regions is not None and st.regions >= self.max_regions:
            # a region beyond the limit exists: stop, the count is a lower bound
            raise Stop("max-regions")
        st.regions += 1
