"""How much of the domain a running count has covered, for a progress display and an ETA.

The share is estimated by volume: ``SAMPLES`` uniform points of the normalised box are drawn
once, and a point is covered when the region that holds it has been counted. Every counted
region's pattern is already in the driver (a compiled block hands back its leaves' patterns
as one array), so the check costs one hash per leaf, vectorised per block, and nothing per
node. A pattern is hashed to 64 bits (a sum of its entries times random odd multipliers,
modulo 2^64): two patterns that differ in one entry never collide, others with chance 2^-64.

The share only grows (a point is counted once), and it reaches 1 at the end of a complete
count unless a sample point lies in a cell thinner than the margin (measure zero for uniform
points). It survives the restart from the Python trial to the compiled walk: the compiled
walk counts the same regions again, so the points the trial covered are covered anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..ir.network import Network
from .budget import ProgressCallback

log = logging.getLogger(__name__)

#: a count shows its cover from its first report after this many seconds (a shorter count never
#: draws the sample)
DRAW_AFTER = 0.5
SAMPLES = 4096              # standard error of the share <= 0.8%
CHUNK = 512                 # points per forward pass (memory ~ CHUNK x units)


class Cover:
    """The share of [-1, 1]^d covered by the regions counted so far (``add`` their patterns).

    The sample (a forward pass of ``samples`` points: 0.1-0.3 s on the digits models) is drawn
    when the share is first asked for, at a count's first progress report after ``DRAW_AFTER``
    seconds, so a short count never pays for it; patterns added before then wait as copies."""

    def __init__(self, net: Network, samples: int = SAMPLES, seed: int = 0):
        self._net, self._samples, self._seed = net, samples, seed
        self._keys: np.ndarray | None = None
        self._pending: list[np.ndarray] = []
        self._share = 0.0

    @property
    def share(self) -> float:
        if self._keys is None:
            self._draw()
        return self._share

    def _draw(self) -> None:
        net, samples = self._net, self._samples
        rng = np.random.default_rng(self._seed)
        width = sum(layer.size for layer in net.layers)
        self._mult = rng.integers(0, 2 ** 63, size=width, dtype=np.uint64) * np.uint64(2) \
            + np.uint64(1)
        keys = []
        for start in range(0, samples, CHUNK):
            U = rng.uniform(-1.0, 1.0, size=(min(CHUNK, samples - start), net.input_dim))
            keys.append(self._hash(np.concatenate(
                [np.asarray(p).reshape(len(U), -1).astype(np.int16) for p in net.pattern(U)],
                axis=1) if width else np.zeros((len(U), 0), dtype=np.int16)))
        self._keys, counts = np.unique(np.concatenate(keys), return_counts=True)
        self._weight = counts / samples
        self._seen = np.zeros(len(self._keys), dtype=bool)
        pending, self._pending = self._pending, []
        for P in pending:
            self._mark(P)

    def _hash(self, patterns: np.ndarray) -> np.ndarray:
        """One uint64 per row of ``patterns`` (flat patterns, one per row)."""
        P = np.asarray(patterns).astype(np.int64).astype(np.uint64)
        with np.errstate(over="ignore"):
            return (P * self._mult).sum(axis=1, dtype=np.uint64)

    def add(self, patterns: np.ndarray) -> None:
        """Regions counted: their flat patterns, one per row (copied: the caller may reuse
        the array)."""
        P = np.array(patterns)
        if P.ndim == 1:
            P = P[None, :]
        if not len(P):
            return
        if self._keys is None:
            self._pending.append(P)
        else:
            self._mark(P)

    def _mark(self, P: np.ndarray) -> None:
        h = self._hash(P)
        i = np.minimum(np.searchsorted(self._keys, h), len(self._keys) - 1)
        hit = i[self._keys[i] == h]
        new = np.unique(hit[~self._seen[hit]])
        if len(new):
            self._seen[new] = True
            self._share = min(1.0, self._share + float(self._weight[new].sum()))


class Pace:
    """An ETA from the cover: the seconds left at the pace since ``restart`` (the start, or the
    end of a compile, whose minutes would otherwise stretch every later estimate), i.e. the
    time since then times (1 - covered) / (the share covered since then)."""

    def __init__(self):
        self._since: tuple[float, float] | None = None

    def restart(self) -> None:
        """Measure the pace from the next report on."""
        self._since = None

    def eta(self, seconds: float, covered: float) -> float | None:
        """Seconds left, None until the cover has grown since the pace was (re)started."""
        if self._since is None:
            self._since = (seconds, covered)
            return None
        t0, c0 = self._since
        gained = covered - c0
        if gained <= 0.0 or seconds <= t0:
            return None
        return (seconds - t0) * max(0.0, 1.0 - covered) / gained


class CoverReport:
    """A progress callback that hands the display the cover (``display.cover(share)``) before
    each report; any other attribute is the display's (``compiling``, ``compiled``)."""

    def __init__(self, display, cover: Cover):
        self.display, self.cover_of_count = display, cover

    def __call__(self, regions: int, nodes: int, lps: int, seconds: float) -> None:
        if seconds >= DRAW_AFTER:
            self.display.cover(self.cover_of_count.share)
        self.display(regions, nodes, lps, seconds)

    def __getattr__(self, name: str):
        return getattr(self.display, name)


def watch_cover(progress: ProgressCallback | None,
                net: Network) -> tuple[ProgressCallback | None, Cover | None]:
    """For a progress display that can show the cover (it has a ``cover(share)`` method), a
    ``Cover`` of ``net`` and a callback that hands it the share before each report; else the
    callback unchanged and None."""
    if progress is None or not callable(getattr(progress, "cover", None)):
        return progress, None
    cover = Cover(net)
    return CoverReport(progress, cover), cover


#: kernel -> what it is, and the CPU seconds of its first compile measured on the project's
#: machine (a fresh cache, one process per kernel; README, "Quick start"): the wall time on an
#: idle core, longer when the cores are shared
KERNELS = {
    "kernel": ("the counting kernel of plain MLPs (vertex walk)", 31.0),
    "vertex_kernel": ("the vertex counting kernel", 54.0),
    "lp_kernel": ("the LP counting kernel", 65.0),
    # the float check of witnesses that a count with a compiled walk runs
    "witness_kernel": ("the compiled witness check", 4.0),
}


def about(seconds: float) -> str:
    """A rough duration: ``about 40 s``, ``about 2 min``."""
    if seconds < 90:
        return f"about {max(10, int(seconds / 10.0 + 0.5) * 10)} s"
    return f"about {int(seconds / 60.0 + 0.5)} min"


def compile_notice(name: str, cache: str) -> str:
    """The line announcing the first compile of the kernel ``name``."""
    what, seconds = KERNELS[name]
    return (f"compiling {what} once ({about(seconds)} of one core; cached in {cache}, later "
            "counts load it in about 1 s; `milpregions warm-up` compiles every kernel ahead)")


@contextmanager
def compiling(progress, name: str, warm: bool, cache: str) -> Iterator[None]:
    """Around the load of a compiled kernel: when it is not in the cache (``warm`` False) and
    someone watches (``progress`` not None), the notice goes to the display's
    ``compiling(text)`` (its own line, then a status that keeps ticking) or else to the log,
    and the display's ``compiled(seconds)`` hears when it is done."""
    if warm or progress is None:
        yield
        return
    text = compile_notice(name, cache)
    show = getattr(progress, "compiling", None)
    if show is not None:
        show(text)
    else:
        log.info(text)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        done = getattr(progress, "compiled", None)
        if done is not None:
            done(time.perf_counter() - t0)
