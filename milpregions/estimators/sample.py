"""Sampling estimators of the number of activation regions (the cheap estimators to check).

Draw N random points in the box, compute their activation patterns (``Network.pattern``: one
bit per two-piece unit, the argmax per max group) in batches, and count how often each
pattern occurs. Memory does not grow with N, only with the number of distinct patterns:
each pattern is hashed to two independent 64-bit values (dot products, modulo 2^64, of the
pattern with random uint64 weights; two distinct patterns collide with probability about
2^-128), frequencies are counted per batch with ``np.unique`` and merged into sorted arrays.

Reported:

- ``distinct``: distinct patterns seen, a lower bound on the number of regions (every point
  of a continuous distribution lies, with probability 1, in the interior of a region).
- ``f1``, ``f2``: patterns seen exactly once / twice.
- Chao1, bias-corrected form (Chao 1987; Chao 2005, as in EstimateS):
  ``S = D + ((N-1)/N) f1 (f1-1) / (2 (f2+1))``, variance
  ``v = ((N-1)/N) f1(f1-1)/(2(f2+1)) + ((N-1)/N)^2 f1(2f1-1)^2/(4(f2+1)^2)
  + ((N-1)/N)^2 f1^2 f2 (f1-1)^2/(4(f2+1)^4)``, and the log-normal 95% interval
  ``[D + T/K, D + T K]``, ``T = S - D``, ``K = exp(1.96 sqrt(ln(1 + v/T^2)))``
  (the interval is [D, D] when T = 0).
- Good-Turing coverage (Good 1953; Chao & Lee 1992): ``C = 1 - f1/N``, estimate ``D / C``;
  its standard error by the delta method with a binomial variance for f1,
  ``se(C) = sqrt(f1 (1 - f1/N)) / N``, ``se = D se(C) / C^2`` (it ignores the variance of D;
  treat it as indicative). Undefined (None) when every pattern is a singleton (C = 0).

Both estimators assume the patterns are drawn from a fixed distribution over regions (region
volume / total volume for uniform points); they are known to underestimate when many regions
are tiny, which is what an exact count checks.

Point distributions: ``uniform`` in the box, or ``gauss:STD``: independent normals around the
box centre with standard deviation STD (input units, each coordinate), restricted to the box
by *rejection* (points outside are redrawn; clipping would pile mass on the faces). If fewer
than 0.1% of the draws land in the box the run stops with an error. A polytope domain
(``ir.domain.Polytope``) is sampled by ``estimators.body``: the L1 ball exactly, others by
rejection from their bounding box, ``gauss`` around the Chebyshev centre; the patterns are
those of the network itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError
from ..ir.domain import Box, Polytope
from ..ir.network import Network
from .body import Body, body_of
from .text import estimate_text

ELEMENT_BUDGET = 1 << 22        # float64 pre-activations per batch (32 MB): sets the default batch


@dataclass
class SampleResult:
    points: int
    distinct: int
    f1: int
    f2: int
    chao1: float
    chao1_se: float
    chao1_ci: tuple[float, float]
    coverage: float
    good_turing: float | None
    good_turing_se: float | None
    seconds: float
    dist: str
    seed: int | None
    batch: int
    stopped: str | None = None          # "interrupted": fewer points than asked for

    def to_dict(self) -> dict:
        d = asdict(self)
        d["chao1_ci"] = list(self.chao1_ci)
        d["regions"] = self.distinct           # the shared names: distinct patterns are a lower bound
        d["exact"] = False
        d["lower_bound"] = True
        return d


def parse_dist(text: str) -> tuple[str, float]:
    """``uniform`` -> ("uniform", 0); ``gauss:STD`` -> ("gauss", STD)."""
    if text == "uniform":
        return "uniform", 0.0
    if text.startswith("gauss:"):
        try:
            std = float(text[6:])
        except ValueError:
            std = float("nan")
        if not (math.isfinite(std) and std > 0):
            raise InputError(f"dist {text!r}: gauss:STD needs a positive standard deviation")
        return "gauss", std
    raise InputError(f"dist {text!r}: expected uniform or gauss:STD (e.g. gauss:0.1)")


class PatternHasher:
    """Two independent 64-bit linear hashes of activation patterns (mod 2^64)."""

    def __init__(self, net: Network, seed: int | None = None):
        rng = np.random.default_rng(None if seed is None else [int(seed), 0x5EED])
        n = sum(net.widths)
        # odd weights: a difference of +-1 in one coordinate never vanishes mod 2^64
        self.weights = rng.integers(0, 2 ** 63, size=(n, 2), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.net = net

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """(B, n0) points -> (B, 2) uint64 hashes of their patterns."""
        out = np.zeros((X.shape[0], 2), dtype=np.uint64)
        off = 0
        with np.errstate(over="ignore"):
            for P in self.net.pattern(X):
                P = P.astype(np.uint64)
                w = self.weights[off:off + P.shape[1]]
                out += P @ w
                off += P.shape[1]
        return out


class FrequencyCounter:
    """Counts of hashed keys, merged lazily (geometric) so that N points cost O(N log D)."""

    def __init__(self):
        self.keys = np.zeros((0, 2), dtype=np.uint64)
        self.counts = np.zeros(0, dtype=np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_size = 0

    @staticmethod
    def _unique(keys: np.ndarray, counts: np.ndarray | None = None):
        order = np.lexsort((keys[:, 1], keys[:, 0]))
        k = keys[order]
        c = np.ones(len(k), dtype=np.int64) if counts is None else counts[order]
        if len(k) == 0:
            return k, c
        new = np.ones(len(k), dtype=bool)
        new[1:] = np.any(k[1:] != k[:-1], axis=1)
        starts = np.flatnonzero(new)
        return k[starts], np.add.reduceat(c, starts)

    def add(self, hashes: np.ndarray) -> None:
        k, c = self._unique(hashes)
        self._pending.append((k, c))
        self._pending_size += len(k)
        if self._pending_size > max(len(self.keys), 1 << 16):
            self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        keys = np.concatenate([self.keys] + [k for k, _ in self._pending])
        counts = np.concatenate([self.counts] + [c for _, c in self._pending])
        self.keys, self.counts = self._unique(keys, counts)
        self._pending, self._pending_size = [], 0

    def frequencies(self) -> np.ndarray:
        self._merge()
        return self.counts


def chao1(n: int, distinct: int, f1: int, f2: int) -> tuple[float, float, tuple[float, float]]:
    """Bias-corrected Chao1 estimate, its standard error and log-normal 95% interval."""
    a = (n - 1) / n if n > 0 else 0.0
    S = distinct + a * f1 * (f1 - 1) / (2 * (f2 + 1))
    var = (a * f1 * (f1 - 1) / (2 * (f2 + 1))
           + a * a * f1 * (2 * f1 - 1) ** 2 / (4 * (f2 + 1) ** 2)
           + a * a * f1 ** 2 * f2 * (f1 - 1) ** 2 / (4 * (f2 + 1) ** 4))
    T = S - distinct
    if T <= 0 or var <= 0:
        return float(S), math.sqrt(max(var, 0.0)), (float(distinct), float(S))
    K = math.exp(1.96 * math.sqrt(math.log(1 + var / T ** 2)))
    return float(S), math.sqrt(var), (distinct + T / K, distinct + T * K)


def good_turing(n: int, distinct: int, f1: int) -> tuple[float, float | None, float | None]:
    """(coverage, D / coverage, delta-method standard error); None when the coverage is 0."""
    C = 1.0 - f1 / n
    if C <= 0:
        return 0.0, None, None
    se_c = math.sqrt(f1 * (1 - f1 / n)) / n
    return C, distinct / C, distinct * se_c / C ** 2


def default_batch(net: Network) -> int:
    return int(max(1, min(1 << 16, ELEMENT_BUDGET // max(1, sum(net.widths) + net.input_dim))))


def _draw(rng, body: Body, n: int, kind: str, std: float) -> np.ndarray:
    if kind == "uniform":
        return body.uniform(rng, n)
    return body.gauss(rng, n, std)


def sample_stream(net: Network, box: Box | Polytope, checkpoints, *, dist: str = "uniform",
                  seed: int | None = None, batch: int | None = None,
                  progress=None, should_stop: Callable[[], bool] | None = None,
                  ) -> Iterator[SampleResult]:
    """One stream of random points in ``box`` (a Box, or a polytope domain: see
    ``estimators.body``), read at each of the increasing ``checkpoints``:
    a SampleResult per checkpoint (the first n points of the stream; ``seconds`` cumulative).
    Once ``should_stop()`` says True (checked after every batch) the stream ends with a result
    for the points drawn so far, ``stopped="interrupted"``."""
    checkpoints = [int(c) for c in checkpoints]
    if not checkpoints or checkpoints[0] < 1:
        raise InputError(f"points must be at least 1, got {checkpoints[0] if checkpoints else 0}")
    if any(b <= a for a, b in zip(checkpoints, checkpoints[1:])):
        raise InputError(f"checkpoints must increase, got {checkpoints}")
    if batch is not None and batch < 1:
        raise InputError(f"batch must be at least 1, got {batch}")
    kind, std = parse_dist(dist)
    batch = default_batch(net) if batch is None else int(batch)
    body = body_of(box)
    rng = np.random.default_rng(seed)
    hasher = PatternHasher(net, seed)
    counter = FrequencyCounter()
    t0 = time.perf_counter()
    done = 0
    total = checkpoints[-1]
    stopped = None
    for cp in checkpoints:
        while done < cp:
            m = min(batch, cp - done)
            counter.add(hasher(_draw(rng, body, m, kind, std)))
            done += m
            if progress is not None:
                progress(done, total)
            if should_stop is not None and should_stop():
                stopped = "interrupted"
                break
        freq = counter.frequencies()
        D = int(len(freq))
        f1 = int(np.count_nonzero(freq == 1))
        f2 = int(np.count_nonzero(freq == 2))
        S, se, ci = chao1(done, D, f1, f2)
        C, gt, gt_se = good_turing(done, D, f1)
        yield SampleResult(done, D, f1, f2, S, se, ci, C, gt, gt_se,
                           time.perf_counter() - t0, dist, seed, batch, stopped)
        if stopped is not None:
            return


def sample_patterns(net: Network, box: Box | Polytope, points: int, *, dist: str = "uniform",
                    seed: int | None = None, batch: int | None = None,
                    progress=None, should_stop: Callable[[], bool] | None = None,
                    ) -> SampleResult:
    """Pattern frequencies of ``points`` random points in ``box``, and the estimators above
    (on fewer points if ``should_stop`` ends it early: see ``sample_stream``)."""
    if points < 1:
        raise InputError(f"points must be at least 1, got {points}")
    *_, last = sample_stream(net, box, [points], dist=dist, seed=seed, batch=batch,
                             progress=progress, should_stop=should_stop)
    return last


def format_sample(r: SampleResult) -> list[str]:
    """The lines of ``milpregions sample``: counts with thousands separators, every estimate
    with one decimal and labelled ``(estimate)`` (``estimators.text``)."""
    e = estimate_text
    gt = "n/a (every pattern seen once)" if r.good_turing is None else \
        f"{e(r.good_turing)} +- {e(r.good_turing_se)} (estimate)"
    return [
        f"{r.distinct:,} distinct patterns in {r.points:,} points (a lower bound on the regions)",
        f"singletons f1: {r.f1:,}, doubletons f2: {r.f2:,}",
        f"Chao1 (bias-corrected): {e(r.chao1)} +- {e(r.chao1_se)} "
        f"(estimate; 95% CI {e(r.chao1_ci[0])} .. {e(r.chao1_ci[1])})",
        f"Good-Turing coverage {r.coverage:.4f}: {gt}",
        f"seconds: {r.seconds:.3f} ({r.points / max(r.seconds, 1e-9):,.0f} points/s, "
        f"batch {r.batch:,}, dist {r.dist}, seed {r.seed})",
    ] + ([] if r.stopped is None else [f"interrupted after {r.points:,} points"])
