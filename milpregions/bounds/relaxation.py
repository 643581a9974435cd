"""LP tightening of interval bounds: the triangle relaxation, layer by layer (MIPVerify-style).

The LP itself (columns, rows, warm re-solves) lives in ``solver.highs.GrowingLP``; this module
only says which rows the relaxation of each layer has.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.network import Affine, MaxLayer, Network
from ..solver.highs import LP_ITERATIONS, GrowingLP, Minimum
from .interval import (
    Bounds,
    _affine_interval,
    _groups_of,
    _widen,
    activation_range,
    csr_rows,
    layer_range,
    max_candidates,
    max_range,
)

LP_SLACK = 1e-7  # relative widening of every LP-derived bound (LP tolerances, rounding)


def _chord(lo: np.ndarray, hi: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope a and intercept c of the line through (lo, s*lo) and (hi, hi); needs lo < 0 < hi."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (hi - s * lo) / (hi - lo)
        c = s * lo - a * lo
    return a, c


class _Relaxation:
    """The growing LP: input u in [-1,1]^d, then per layer columns z (with equality rows
    ``z - sum_s W[s] v_s = b``) and h (with the convex relaxation of the activation)."""

    def __init__(self, d: int, lp_iterations: int = LP_ITERATIONS):
        self.lp = GrowingLP(lp_iterations=lp_iterations)
        self.inf = self.lp.inf
        self._add_cols = self.lp.add_cols
        self._add_rows = self.lp.add_rows
        self.src: list[np.ndarray] = [self._add_cols(-np.ones(d), np.ones(d))]  # column ids of v_s
        self.z: list[np.ndarray] = []

    def add_preactivations(self, aff: Affine, lo: np.ndarray, hi: np.ndarray) -> None:
        """Columns z in [lo, hi] with ``z - sum_s W[s] v_s = b`` (W dense or sparse)."""
        zc = self._add_cols(lo, hi)
        mats = [(self.src[s], csr_rows(W)) for s, W in aff.W.items()]
        rows = []
        for j in range(aff.size):
            ix, vx = [int(zc[j])], [1.0]
            for cols, A in mats:
                a, b = A.indptr[j], A.indptr[j + 1]
                ix.extend(cols[A.indices[a:b]].tolist())
                vx.extend((-A.data[a:b]).tolist())
            rows.append((ix, vx))
        self._add_rows(aff.b, aff.b, rows)
        self.z.append(zc)

    def add_layer(self, layer, lo: np.ndarray, hi: np.ndarray) -> None:
        """The outputs of ``layer`` for the last added z (two-piece or max layer)."""
        if isinstance(layer, MaxLayer):
            self.add_max(layer.groups, lo, hi)
        else:
            self.add_activations(lo, hi, layer.neg_slope)

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

    def add_max(self, groups: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Columns h_g in ``[max lo, max hi]`` and the relaxation of ``h_g = max_i z_i``:
        ``h_g = z_f`` for a fixed group, else ``h_g >= z_i`` for every piece and
        ``h_g <= sum_{i in C} (z_i - lo_i) + max_{i in C} lo_i`` over the distinct candidates C.
        The last one is valid: all terms are >= 0, and the argmax i* is a candidate, so the right
        side is >= z_{i*} - lo_{i*} + max lo >= z_{i*} (max_C lo = max over all pieces)."""
        zc = self.z[-1]
        glo, ghi = max_range(groups, lo, hi)
        hc = self._add_cols(glo, ghi)
        inf = self.inf
        cand = max_candidates(groups, lo, hi)
        rlo, rhi, rows = [], [], []
        for g in range(groups.shape[0]):
            hg = int(hc[g])
            c = np.unique(groups[g][cand[g]])
            if c.size == 1:
                rows.append(([hg, int(zc[c[0]])], [1.0, -1.0]))
                rlo.append(0.0)
                rhi.append(0.0)
                continue
            for i in np.unique(groups[g][groups[g] >= 0]):
                rows.append(([hg, int(zc[i])], [1.0, -1.0]))
                rlo.append(0.0)
                rhi.append(inf)
            rhs = float(glo[g] - lo[c].sum())
            tol = 8 * np.finfo(float).eps * (abs(glo[g]) + np.abs(lo[c]).sum()) * (c.size + 1) + 1e-15
            rows.append(([hg] + zc[c].tolist(), [1.0] + [-1.0] * c.size))
            rlo.append(-inf)
            rhi.append(rhs + tol)
        self._add_rows(rlo, rhi, rows)
        self.src.append(hc)

    def optimize(self, col: int, sign: float, should_stop=None) -> Minimum:
        """min of ``sign * v_col`` over the relaxation (warm re-solve): HiGHS's optimum and a
        safe lower bound (``solver.highs.GrowingLP``, which also asks ``should_stop``)."""
        return self.lp.minimize(col, sign, should_stop)


def _to_tighten(layer, lo: np.ndarray, hi: np.ndarray, near: float | None) -> np.ndarray:
    """Pre-activations worth an LP: unstable units, or candidate pieces of unfixed max groups;
    with ``near``, only units whose zero lies within ``near * (hi - lo)`` of an end of their
    bounds (the ones an LP might make stable)."""
    if isinstance(layer, MaxLayer):
        cand = max_candidates(layer.groups, lo, hi)
        cand &= (cand.sum(axis=1) > 1)[:, None]
        return np.unique(layer.groups[cand])
    unstable = (lo <= 0) & (hi > 0)
    if near is not None:
        unstable &= np.minimum(-lo, hi) <= near * (hi - lo)
    return np.flatnonzero(unstable)


def lp_tighten(net: Network, bounds: Bounds, *, time_limit: float | None = None,
               near: float | None = None,
               should_stop: Callable[[], bool] | None = None,
               lp_iterations: int = LP_ITERATIONS) -> Bounds:
    """Tighten ``bounds`` (valid on [-1, 1]^d) by LPs over the triangle relaxation, layer by layer.

    For layer k, the LP holds the input u in [-1, 1]^d and, for every earlier layer, its
    pre-activations z and outputs h with the convex hull of each unit's graph on its (already
    tightened) bounds: ``h = z`` if active (lo > 0), ``h = s z`` if inactive (hi <= 0), else
    the triangle with vertices (lo, s lo), (0, 0), (hi, hi). A max group gets ``h = z_f`` if
    fixed, else ``h >= z_i`` for every piece, ``h <= max_i hi_i`` (column bound) and
    ``h <= sum_{i in C} (z_i - lo_i) + max_i lo_i`` (C: the candidates; see
    ``_Relaxation.add_max``). Each unit of layer k that is still unstable (for a max layer:
    each candidate piece of an unfixed group) gets min z_j and max z_j (warm-started re-solves
    of one persistent HiGHS model). Before layer k is tightened, its interval bounds are
    recomputed from the tightened earlier layers. A layer reading only the input gets no LP:
    its interval bounds are already exact.

    Sound whatever HiGHS does with tiny coefficients or tolerances: a bound is the *safe*
    lower bound of ``GrowingLP.minimize`` (weak duality with the rows exactly as added, float
    error subtracted), capped by HiGHS's optimum widened by ``LP_SLACK * (1 + |value|)``; no
    bound is ever looser than the given one or the recomputed interval one. With ``time_limit``
    (seconds) the remaining LPs are skipped once it is exceeded; later layers then still get
    the (propagated) interval bounds. With ``near``, only the two-piece units near stability
    get LPs (see ``_to_tighten``). One LP stops at ``solver.highs.LP_SECONDS`` or
    ``LP_ITERATIONS`` and keeps its safe bound (or the given one); ``should_stop`` is asked
    within every LP at least every ``SLICE_SECONDS`` (``errors.Interrupted`` once it says True).
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
        unstable = _to_tighten(layer, lo, hi, near)
        input_only = set(layer.affine.W) <= {0}
        out_of_time = deadline is not None and time.perf_counter() > deadline
        if out_of_time:
            relax = None  # no more LPs: stop building the relaxation
        if unstable.size and not input_only and not out_of_time:
            if relax is None:
                relax = _Relaxation(d, lp_iterations)
                for j, earlier in enumerate(net.layers[:k]):
                    relax.add_preactivations(earlier.affine, los[j], his[j])
                    relax.add_layer(earlier, los[j], his[j])
            relax.add_preactivations(layer.affine, lo, hi)
            zc = relax.z[-1]
            for j in unstable:
                for sign in (1.0, -1.0):
                    if deadline is not None and time.perf_counter() > deadline:
                        break
                    m = relax.optimize(int(zc[j]), sign, should_stop)
                    lps += 1
                    # min sign*z_j >= m.safe is proven by weak duality with every coefficient;
                    # HiGHS's widened optimum caps it, so no bound is tighter than HiGHS says
                    best = m.safe
                    if m.value is not None:
                        best = min(best, m.value - LP_SLACK * (1.0 + abs(m.value)))
                    if not np.isfinite(best):
                        continue
                    if sign > 0:
                        lo[j] = max(lo[j], best)
                    else:
                        hi[j] = min(hi[j], -best)
            # the LP's own column bounds of z follow the tightened values
            relax.lp.set_col_bounds(zc, lo, hi)
            relax.add_layer(layer, lo, hi)
        elif relax is not None:
            relax.add_preactivations(layer.affine, lo, hi)
            relax.add_layer(layer, lo, hi)
        los.append(lo)
        his.append(hi)
        alo, ahi = layer_range(layer, lo, hi)
        vlo.append(alo)
        vhi.append(ahi)
    return Bounds(los, his, lps, _groups_of(net))
