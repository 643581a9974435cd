"""Pre-activation bounds of every unit over the normalised box [-1, 1]^d.

Interval arithmetic first; then, optionally, LP tightening of the units it leaves unstable
(the triangle relaxation of each ReLU-like unit, layer by layer, as in MIPVerify's progressive
tightening). Bounds are sound: a non-optimal LP falls back to the interval bound, and every
bound is widened by a small slack so that rounding never makes an unstable unit look stable.

A unit is *stable* when one piece holds on the whole box: inactive if ``hi <= 0`` (then
``z > 0`` never holds), active if ``lo > 0``. Stable units are never branched on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Affine, Network

SLACK = 1e-9  # relative widening of every bound


@dataclass(frozen=True)
class Bounds:
    """Per layer, lower and upper bounds of the pre-activations on [-1, 1]^d."""

    lo: list[np.ndarray]
    hi: list[np.ndarray]
    lps: int = 0

    def inactive(self, k: int) -> np.ndarray:
        return self.hi[k] <= 0

    def active(self, k: int) -> np.ndarray:
        return self.lo[k] > 0

    def unstable(self, k: int) -> np.ndarray:
        return ~(self.inactive(k) | self.active(k))

    @property
    def n_unstable(self) -> int:
        return int(sum(self.unstable(k).sum() for k in range(len(self.lo))))


def activation_range(lo: np.ndarray, hi: np.ndarray, neg_slope: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Range of ``z if z > 0 else s*z`` for z in [lo, hi] (exact, any slope sign)."""
    a_lo = np.where(lo > 0, lo, neg_slope * lo)
    a_hi = np.where(hi > 0, hi, neg_slope * hi)
    cand = [a_lo, a_hi]
    straddle = (lo < 0) & (hi > 0)
    zero = np.where(straddle, 0.0, a_lo)
    cand.append(zero)
    stack = np.stack(cand)
    return stack.min(axis=0), stack.max(axis=0)


def _affine_interval(aff: Affine, vlo: list[np.ndarray], vhi: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    c = aff.b.copy()
    r = np.zeros_like(c)
    for s, W in aff.W.items():
        mid = (vlo[s] + vhi[s]) / 2
        rad = (vhi[s] - vlo[s]) / 2
        c += W @ mid
        r += np.abs(W) @ rad
    return c - r, c + r


def _widen(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    slack = SLACK * (1.0 + np.maximum(np.abs(lo), np.abs(hi)))
    return lo - slack, hi + slack


def interval_bounds(net: Network) -> Bounds:
    """Interval-arithmetic bounds of every pre-activation on [-1, 1]^d."""
    d = net.input_dim
    vlo, vhi = [-np.ones(d)], [np.ones(d)]
    los, his = [], []
    for layer in net.layers:
        lo, hi = _widen(*_affine_interval(layer.affine, vlo, vhi))
        los.append(lo)
        his.append(hi)
        alo, ahi = activation_range(lo, hi, layer.neg_slope)
        vlo.append(alo)
        vhi.append(ahi)
    return Bounds(los, his)


def output_interval(net: Network, bounds: Bounds) -> tuple[np.ndarray, np.ndarray]:
    """Interval bounds of the network output given layer bounds."""
    d = net.input_dim
    vlo, vhi = [-np.ones(d)], [np.ones(d)]
    for layer, lo, hi in zip(net.layers, bounds.lo, bounds.hi):
        alo, ahi = activation_range(lo, hi, layer.neg_slope)
        vlo.append(alo)
        vhi.append(ahi)
    return _affine_interval(net.output, vlo, vhi)


LP_SLACK = 1e-7  # relative widening of every LP-derived bound (LP tolerances, rounding)


def _chord(lo: np.ndarray, hi: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope a and intercept c of the line through (lo, s*lo) and (hi, hi); needs lo < 0 < hi."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (hi - s * lo) / (hi - lo)
        c = s * lo - a * lo
    return a, c


def _csc(cols: list[tuple[list[int], list[float]]]):
    """Column-wise (start, index, value) arrays for ``addCols``/``addRows`` (any orientation)."""
    starts = np.zeros(len(cols), dtype=np.int32)
    idx, val = [], []
    for i, (ix, vx) in enumerate(cols):
        starts[i] = len(idx)
        idx.extend(ix)
        val.extend(vx)
    return starts, np.asarray(idx, dtype=np.int32), np.asarray(val, dtype=np.float64)


class _Relaxation:
    """The growing LP: input u in [-1,1]^d, then per layer columns z (with equality rows
    ``z - sum_s W[s] v_s = b``) and h (with the convex relaxation of the activation)."""

    def __init__(self, d: int):
        from .lp import new_highs

        self.h = new_highs()
        self.inf = self.h.getInfinity()
        self.optimal = type(self.h.getModelStatus()).kOptimal
        self.ncols = 0
        self.src: list[np.ndarray] = [self._add_cols(-np.ones(d), np.ones(d))]  # column ids of v_s
        self.z: list[np.ndarray] = []

    def _add_cols(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        n = lo.size
        empty_i = np.zeros(0, dtype=np.int32)
        self.h.addCols(n, np.zeros(n), lo, hi, 0, empty_i, empty_i, np.zeros(0))
        ids = np.arange(self.ncols, self.ncols + n, dtype=np.int32)
        self.ncols += n
        return ids

    def _add_rows(self, lo, hi, rows: list[tuple[list[int], list[float]]]) -> None:
        starts, idx, val = _csc(rows)
        self.h.addRows(len(rows), np.asarray(lo, float), np.asarray(hi, float), idx.size,
                       starts, idx, val)

    def add_preactivations(self, aff: Affine, lo: np.ndarray, hi: np.ndarray) -> None:
        """Columns z in [lo, hi] with ``z - sum_s W[s] v_s = b``."""
        zc = self._add_cols(lo, hi)
        rows = []
        for j in range(aff.size):
            ix, vx = [int(zc[j])], [1.0]
            for s, W in aff.W.items():
                w = W[j]
                nz = np.flatnonzero(w)
                ix.extend(self.src[s][nz].tolist())
                vx.extend((-w[nz]).tolist())
            rows.append((ix, vx))
        self._add_rows(aff.b, aff.b, rows)
        self.z.append(zc)

    def add_activations(self, lo: np.ndarray, hi: np.ndarray, s: np.ndarray) -> None:
        """Columns h in the activation range and the relaxation of ``h = z if z > 0 else s*z``
        on [lo, hi] for the last added z: exact for stable units, the triangle otherwise."""
        zc = self.z[-1]
        alo, ahi = activation_range(lo, hi, s)
        hc = self._add_cols(alo, ahi)
        inf = self.inf
        rlo, rhi, rows = [], [], []
        active, inactive = lo > 0, hi <= 0
        a, c = _chord(lo, hi, s)
        for j in range(lo.size):
            zj, hj = int(zc[j]), int(hc[j])
            if active[j] or inactive[j]:
                slope = 1.0 if active[j] else float(s[j])
                rows.append(([hj, zj], [1.0, -slope]))
                rlo.append(0.0)
                rhi.append(0.0)
                continue
            # convex piece (s <= 1): h >= z, h >= s z, h <= chord; concave (s > 1): flipped
            convex = s[j] <= 1
            # the chord's intercept, loosened by a few ulps of its terms against rounding
            tol = 8 * np.finfo(float).eps * (abs(a[j]) * max(-lo[j], hi[j]) + abs(c[j])) + 1e-15
            for slope in (1.0, float(s[j])):
                rows.append(([hj, zj], [1.0, -slope]))
                rlo.append(0.0 if convex else -inf)
                rhi.append(inf if convex else 0.0)
            rows.append(([hj, zj], [1.0, -float(a[j])]))
            rlo.append(-inf if convex else c[j] - tol)
            rhi.append(c[j] + tol if convex else inf)
        self._add_rows(rlo, rhi, rows)
        self.src.append(hc)

    def optimize(self, col: int, sign: float) -> float | None:
        """min of ``sign * v_col`` over the relaxation (warm re-solve), or None if not optimal."""
        h = self.h
        h.changeColsCost(1, np.array([col], dtype=np.int32), np.array([sign]))
        h.run()
        ok = h.getModelStatus() == self.optimal
        value = h.getObjectiveValue() if ok else None
        h.changeColsCost(1, np.array([col], dtype=np.int32), np.array([0.0]))
        return value


def lp_tighten(net: Network, bounds: Bounds, *, time_limit: float | None = None) -> Bounds:
    """Tighten ``bounds`` (valid on [-1, 1]^d) by LPs over the triangle relaxation, layer by layer.

    For layer k, the LP holds the input u in [-1, 1]^d and, for every earlier layer, its
    pre-activations z and outputs h with the convex hull of each unit's graph on its (already
    tightened) bounds: ``h = z`` if active (lo > 0), ``h = s z`` if inactive (hi <= 0), else
    the triangle with vertices (lo, s lo), (0, 0), (hi, hi). Each unit of layer k that is still
    unstable gets min z_j and max z_j (warm-started re-solves of one persistent HiGHS model).
    Before layer k is tightened, its interval bounds are recomputed from the tightened earlier
    layers. A layer reading only the input gets no LP: its interval bounds are already exact.

    Sound: an LP value is used only when HiGHS reports optimal, and is widened by
    ``LP_SLACK * (1 + |value|)``; no bound is ever looser than the given one or the recomputed
    interval one. With ``time_limit`` (seconds) the remaining LPs are skipped once it is
    exceeded; later layers then still get the (propagated) interval bounds.
    """
    import time

    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    d = net.input_dim
    vlo, vhi = [-np.ones(d)], [np.ones(d)]
    los, his = [], []
    lps = bounds.lps
    relax: _Relaxation | None = None
    for k, layer in enumerate(net.layers):
        ilo, ihi = _widen(*_affine_interval(layer.affine, vlo, vhi))
        lo = np.maximum(bounds.lo[k], ilo)
        hi = np.minimum(bounds.hi[k], ihi)
        unstable = np.flatnonzero((lo <= 0) & (hi > 0))
        input_only = set(layer.affine.W) <= {0}
        out_of_time = deadline is not None and time.perf_counter() > deadline
        if out_of_time:
            relax = None  # no more LPs: stop building the relaxation
        if unstable.size and not input_only and not out_of_time:
            if relax is None:
                relax = _Relaxation(d)
                for j, earlier in enumerate(net.layers[:k]):
                    relax.add_preactivations(earlier.affine, los[j], his[j])
                    relax.add_activations(los[j], his[j], earlier.neg_slope)
            relax.add_preactivations(layer.affine, lo, hi)
            zc = relax.z[-1]
            for j in unstable:
                for sign in (1.0, -1.0):
                    if deadline is not None and time.perf_counter() > deadline:
                        break
                    value = relax.optimize(int(zc[j]), sign)
                    lps += 1
                    if value is None:
                        continue
                    v = sign * value
                    slack = LP_SLACK * (1.0 + abs(v))
                    if sign > 0:
                        lo[j] = max(lo[j], v - slack)
                    else:
                        hi[j] = min(hi[j], v + slack)
            # the LP's own column bounds of z follow the tightened values
            relax.h.changeColsBounds(zc.size, zc, lo, hi)
            relax.add_activations(lo, hi, layer.neg_slope)
        elif relax is not None:
            relax.add_preactivations(layer.affine, lo, hi)
            relax.add_activations(lo, hi, layer.neg_slope)
        los.append(lo)
        his.append(hi)
        alo, ahi = activation_range(lo, hi, layer.neg_slope)
        vlo.append(alo)
        vhi.append(ahi)
    return Bounds(los, his, lps)
