"""Pre-activation bounds of every unit over the normalised box [-1, 1]^d.

Interval arithmetic first; then, optionally, LP tightening of the units it leaves unstable
(the triangle relaxation of each ReLU-like unit, layer by layer, as in MIPVerify's progressive
tightening). Bounds are sound: a non-optimal LP falls back to the interval bound, and every
bound is widened by a small slack so that rounding never makes an unstable unit look stable.

A unit of a two-piece ``Layer`` is *stable* when one piece holds on the whole box: inactive if
``hi <= 0`` (then ``z > 0`` never holds), active if ``lo > 0``. Stable units are never branched on.

For a ``MaxLayer`` the bounds are those of its pre-activations z (all pieces, ``affine.size``
entries); group g's output lies in ``[max_i lo_i, max_i hi_i]`` over its pieces. A piece is a
*candidate* of its group if its bounds allow it to be the argmax (first index on ties) somewhere
in the box; a group with a single candidate is *fixed* (``Bounds.fixed_argmax``), the max-layer
analogue of a stable unit.

Weights may be dense ``numpy`` arrays or ``scipy.sparse`` arrays/matrices (CNN layers); they
are used only through ``W @ x``, ``abs(W)`` and CSR rows, never densified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Affine, MaxLayer, Network

SLACK = 1e-9  # relative widening of every bound


def csr_rows(W):
    """``W`` (dense or scipy.sparse) as a CSR array with summed duplicates: iterate row j via
    ``indices[indptr[j]:indptr[j+1]]`` / ``data[...]``. Explicit zeros are dropped."""
    import scipy.sparse as sp

    A = W.tocsr() if sp.issparse(W) else sp.csr_array(np.asarray(W, dtype=np.float64))
    A = A.copy() if A is W else A
    A.sum_duplicates()
    A.eliminate_zeros()
    return A


def _pieces(groups: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_groups, k) lower and upper bounds of every piece; padding gets -inf."""
    valid = groups >= 0
    g = np.maximum(groups, 0)
    return np.where(valid, lo[g], -np.inf), np.where(valid, hi[g], -np.inf)


def max_candidates(groups: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(n_groups, k) bool: piece i of a group can be its argmax (first index on ties) somewhere
    in the box given pre-activation bounds [lo, hi]: ``hi_i > lo_m`` for every earlier piece m
    and ``hi_i >= lo_m`` for every later one, and no earlier piece is the same entry of z. The argmax at any x is always a candidate (it is
    >= every other piece there), so a group with one candidate has the same argmax everywhere."""
    plo, phi = _pieces(groups, lo, hi)
    k = groups.shape[1]
    earlier = np.tri(k, k, -1, dtype=bool)          # [i, m]: m < i
    later = earlier.T                               # [i, m]: m > i
    ok = ((phi[:, :, None] > plo[:, None, :]) | ~earlier[None]) & \
         ((phi[:, :, None] >= plo[:, None, :]) | ~later[None])
    # a piece repeating an earlier piece's index equals it everywhere: it never wins a tie
    dup = ((groups[:, :, None] == groups[:, None, :]) & earlier[None]).any(axis=2)
    return (groups >= 0) & ok.all(axis=2) & ~dup


def fixed_argmax_of(groups: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per group, the position (within the group) of its only candidate piece, else -1."""
    cand = max_candidates(groups, lo, hi)
    return np.where(cand.sum(axis=1) == 1, cand.argmax(axis=1), -1)


def max_range(groups: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Range of ``max_{i in group} z_i`` for z in [lo, hi]: ``[max_i lo_i, max_i hi_i]``."""
    plo, phi = _pieces(groups, lo, hi)
    return plo.max(axis=1), phi.max(axis=1)


@dataclass(frozen=True)
class Bounds:
    """Per layer, lower and upper bounds of the pre-activations on [-1, 1]^d.

    ``groups[k]`` is the ``MaxLayer.groups`` of layer k, or None for a two-piece layer; the
    empty tuple (the default) means that no layer is a MaxLayer. ``interval_bounds`` and
    ``lp_tighten`` fill it in. ``active``/``inactive``/``unstable`` are meaningful for two-piece
    layers; for max layers use ``fixed_argmax`` / ``candidates``.
    """

    lo: list[np.ndarray]
    hi: list[np.ndarray]
    lps: int = 0
    groups: tuple = ()

    def is_max(self, k: int) -> bool:
        return k < len(self.groups) and self.groups[k] is not None

    def inactive(self, k: int) -> np.ndarray:
        return self.hi[k] <= 0

    def active(self, k: int) -> np.ndarray:
        return self.lo[k] > 0

    def unstable(self, k: int) -> np.ndarray:
        return ~(self.inactive(k) | self.active(k))

    def candidates(self, k: int) -> np.ndarray:
        """Max layer k: (n_groups, k) bool, the pieces that can be the argmax (``max_candidates``)."""
        if not self.is_max(k):
            raise ValueError(f"layer {k} is not a max layer")
        return max_candidates(self.groups[k], self.lo[k], self.hi[k])

    def fixed_argmax(self, k: int) -> np.ndarray:
        """Max layer k: per group the index within the group of the piece that is the argmax on
        the whole box, else -1. That holds when it is the group's only candidate, e.g. when its
        lower bound exceeds every other piece's upper bound (ties: see ``max_candidates``)."""
        if not self.is_max(k):
            raise ValueError(f"layer {k} is not a max layer")
        return fixed_argmax_of(self.groups[k], self.lo[k], self.hi[k])

    @property
    def n_unstable(self) -> int:
        """Units that get binaries: unstable units of two-piece layers plus groups of max
        layers that are not fixed (each such group counts once, whatever its size)."""
        n = 0
        for k in range(len(self.lo)):
            n += int((self.fixed_argmax(k) < 0).sum()) if self.is_max(k) else int(self.unstable(k).sum())
        return n


def _groups_of(net: Network) -> tuple:
    return tuple(l.groups if isinstance(l, MaxLayer) else None for l in net.layers)


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


def layer_range(layer, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Range of the layer's outputs given pre-activation bounds (two-piece or max layer)."""
    if isinstance(layer, MaxLayer):
        return max_range(layer.groups, lo, hi)
    return activation_range(lo, hi, layer.neg_slope)


def _affine_interval(aff: Affine, vlo: list[np.ndarray], vhi: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    c = np.array(aff.b, dtype=np.float64)
    r = np.zeros_like(c)
    for s, W in aff.W.items():
        mid = (vlo[s] + vhi[s]) / 2
        rad = (vhi[s] - vlo[s]) / 2
        c += np.asarray(W @ mid).ravel()
        r += np.asarray(abs(W) @ rad).ravel()
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
        alo, ahi = layer_range(layer, lo, hi)
        vlo.append(alo)
        vhi.append(ahi)
    return Bounds(los, his, 0, _groups_of(net))


def output_interval(net: Network, bounds: Bounds) -> tuple[np.ndarray, np.ndarray]:
    """Interval bounds of the network output given layer bounds."""
    d = net.input_dim
    vlo, vhi = [-np.ones(d)], [np.ones(d)]
    for layer, lo, hi in zip(net.layers, bounds.lo, bounds.hi):
        alo, ahi = layer_range(layer, lo, hi)
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
        if not rows:
            return
        starts, idx, val = _csc(rows)
        self.h.addRows(len(rows), np.asarray(lo, float), np.asarray(hi, float), idx.size,
                       starts, idx, val)

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

    def optimize(self, col: int, sign: float) -> float | None:
        """min of ``sign * v_col`` over the relaxation (warm re-solve), or None if not optimal."""
        h = self.h
        h.changeColsCost(1, np.array([col], dtype=np.int32), np.array([sign]))
        h.run()
        ok = h.getModelStatus() == self.optimal
        value = h.getObjectiveValue() if ok else None
        h.changeColsCost(1, np.array([col], dtype=np.int32), np.array([0.0]))
        return value


def _to_tighten(layer, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Pre-activations worth an LP: unstable units, or candidate pieces of unfixed max groups."""
    if isinstance(layer, MaxLayer):
        cand = max_candidates(layer.groups, lo, hi)
        cand &= (cand.sum(axis=1) > 1)[:, None]
        return np.unique(layer.groups[cand])
    return np.flatnonzero((lo <= 0) & (hi > 0))


def lp_tighten(net: Network, bounds: Bounds, *, time_limit: float | None = None) -> Bounds:
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
        unstable = _to_tighten(layer, lo, hi)
        input_only = set(layer.affine.W) <= {0}
        out_of_time = deadline is not None and time.perf_counter() > deadline
        if out_of_time:
            relax = None  # no more LPs: stop building the relaxation
        if unstable.size and not input_only and not out_of_time:
            if relax is None:
                relax = _Relaxation(d)
                for j, earlier in enumerate(net.layers[:k]):
                    relax.add_preactivations(earlier.affine, los[j], his[j])
                    relax.add_layer(earlier, los[j], his[j])
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
