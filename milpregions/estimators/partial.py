"""What a count will cost, from a short sample of it: ``count --estimate``.

``cell_estimate``: the regions of a network are partitioned by the cells of its first layer
(``TreeCounter.split``, what ``--jobs`` hands out). The cells are counted exactly one by one
in a random order for a few seconds; with k of the M cells counted, ``M x mean`` estimates the
count without bias (simple random sampling without replacement), with the standard error
``M s / sqrt(k) sqrt(1 - k/M)`` from the sample's spread ``s``, and the time likewise.

``partial_estimate`` (networks of one layer, or when not even one cell finishes): the walk
counts for the seconds given, and the share of the domain its regions cover
(``enumerator.progress.Cover``) scales regions and time up. The walk is depth first, so that
part of the domain is one contiguous piece, and where regions are denser there the
extrapolation is off by that ratio (12x early on a He MLP): the weaker kind, and it says so.

Both are estimates, said so wherever they are printed; a count that finishes within the sample
is the exact count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..enumerator import TreeCounter
from ..enumerator.budget import Stop
from ..enumerator.progress import Cover
from ..problem import Problem

#: below this share the extrapolation rests on too little of the domain to say a number
MIN_COVER = 1e-3


@dataclass(frozen=True)
class PartialEstimate:
    """A timed start of a count and its extrapolation to the whole domain."""

    regions: int                    # counted in the sample
    covered: float                  # the share of the domain (by volume) they cover
    seconds: float                  # the sample's enumeration time
    exact: bool                     # the count finished within the sample
    stopped: str | None             # what ended the sample ("time-limit", "max-regions", ...)

    @property
    def predicted_regions(self) -> float | None:
        """regions / covered (the exact count when it finished); None below ``MIN_COVER``."""
        if self.exact:
            return float(self.regions)
        return None if self.covered < MIN_COVER else self.regions / self.covered

    @property
    def predicted_seconds(self) -> float | None:
        """seconds / covered: the enumeration of one process, the compiled walk loaded."""
        if self.exact:
            return self.seconds
        return None if self.covered < MIN_COVER else self.seconds / self.covered

    def to_dict(self) -> dict:
        return {"kind": "exact" if self.exact else "extrapolated from the share covered",
                "regions_counted": self.regions, "covered": self.covered,
                "sample_seconds": self.seconds, "stopped": self.stopped,
                "predicted_regions": self.predicted_regions,
                "predicted_seconds": self.predicted_seconds}


def partial_estimate(problem: Problem, seconds: float | None = 10.0,
                     max_regions: int | None = None, should_stop=None,
                     progress=None) -> PartialEstimate:
    """Count ``problem`` with the tree for ``seconds`` (and/or up to ``max_regions``), on the
    compiled walk where the network has one (loaded, or compiled, before the clock starts), and
    extrapolate by the share of the domain covered."""
    s = problem.settings
    tc = TreeCounter(problem.unit_net, problem.search_bounds(should_stop), margin=s.margin,
                     vertex_dim=s.vertex_dim, time_limit=seconds, max_regions=max_regions,
                     progress=progress, should_stop=should_stop, compiled=True)
    if tc.cover is None:
        tc.cover = Cover(problem.unit_net)
    result = tc.run()
    return PartialEstimate(result.regions, 1.0 if result.exact else tc.cover.share,
                           result.seconds, result.exact, result.stopped)


@dataclass(frozen=True)
class CellEstimate:
    """Cells of the first layer counted exactly in a random order, and the extrapolation."""

    cells: int                      # M: the first layer's cells
    counted: np.ndarray             # the regions of each cell counted (k of them)
    seconds: np.ndarray             # the time each took
    split_seconds: float            # the time the split took

    @property
    def exact(self) -> bool:
        return len(self.counted) == self.cells

    @property
    def predicted_regions(self) -> float:
        return self.cells * float(np.mean(self.counted)) if len(self.counted) else 0.0

    @property
    def standard_error(self) -> float:
        """Of ``predicted_regions`` (0 when every cell was counted)."""
        k, M = len(self.counted), self.cells
        if k < 2 or k == M:
            return 0.0 if k == M else float("inf")
        return M * float(np.std(self.counted, ddof=1)) / np.sqrt(k) * np.sqrt(1.0 - k / M)

    @property
    def predicted_seconds(self) -> float:
        """The split plus M x the mean time of a cell (one process, the compiled walk loaded)."""
        return self.split_seconds + self.cells * float(np.mean(self.seconds))

    def to_dict(self) -> dict:
        return {"kind": "exact" if self.exact else "random first-layer cells",
                "cells": self.cells, "cells_counted": len(self.counted),
                "regions_counted": int(np.sum(self.counted)),
                "sample_seconds": self.split_seconds + float(np.sum(self.seconds)),
                "predicted_regions": self.predicted_regions,
                "standard_error": (self.standard_error if np.isfinite(self.standard_error)
                                   else None),
                "predicted_seconds": self.predicted_seconds}


def cell_estimate(problem: Problem, seconds: float = 10.0, should_stop=None,
                  progress=None, seed: int = 0,
                  max_cells: int | None = None) -> CellEstimate | None:
    """Count random cells of the first layer exactly for about ``seconds`` (or ``max_cells``
    of them); None for a network of one layer, or when not one cell was counted in the time (a
    cell still running when the time is up is dropped: its count would be partial)."""
    if len(problem.unit_net.layers) < 2:
        return None
    s = problem.settings
    tc = TreeCounter(problem.unit_net, problem.search_bounds(should_stop), margin=s.margin,
                     vertex_dim=s.vertex_dim, time_limit=4 * seconds + 10.0, progress=progress,
                     should_stop=should_stop, compiled=True)
    t0 = time.perf_counter()
    try:
        split = tc.split()
    except Stop:
        return None
    split_seconds = time.perf_counter() - t0
    until = t0 + seconds
    order = np.random.default_rng(seed).permutation(len(split))
    counted, took = [], []
    st = tc.budget.stats
    for i in order[:max_cells]:
        left = until - time.perf_counter()
        if left <= 0:
            break
        before, t = st.regions, time.perf_counter()
        try:
            rest = tc.count_split_cells(split.batch([int(i)]), seconds=left)
        except Stop:
            break
        if rest:
            break                       # the time ran out inside this cell
        counted.append(st.regions - before)
        took.append(time.perf_counter() - t)
    if not counted:
        return None
    return CellEstimate(len(split), np.array(counted), np.array(took), split_seconds)
