"""A point MILP for random-parity (XOR) hashing: one witness point with a margin, as arrays.

The MILP of record (``formulation``) asks for a small simplex inside a region: n0 + 1 copies of
the network. That is what an exact count needs (a unit identically zero on a region must not
block it). A lower bound needs less: any binary vector that some point x of the box realises
with every unstable unit at least ``margin`` away from zero is a full-dimensional region (the
signs hold on a neighbourhood of x). So this model has one copy of the network; regions on
which an unstable unit is identically zero, or thinner than the margin, are not solutions
(a lower bound only loses them). ``milpregions.estimators.hashing`` adds parity rows to it.

Columns (normalised coordinates, every z and h in units of its own bound scale, every row
divided by its unit's scale, as in ``formulation``):

- ``x[i]`` in [-1, 1], i < n0;
- per layer l: ``z[l, j]`` (pre-activations) and ``h[l, j]`` (outputs: units or groups);
- one binary per unstable unit of a two-piece layer (bounds L <= 0 < U), and one per candidate
  piece of a max group that is not fixed (``formulation.max_groups``).

Rows: the affine maps; h = z (or s z) for stable units; for an unstable unit with binary d the
big-M rows of ``formulation`` (``on_lo``, ``on_hi``, ``off_lo``, ``off_hi``) and the margins

    d = 1  =>  z >= m,        d = 0  =>  z <= -m        (m = ``margin``, in the unit's scale);

for a max group: one chosen piece (sum of its binaries = 1), h >= every candidate piece,
h <= the chosen one (big-M), and the chosen piece above every other candidate by m (in the
larger of the two pieces' scales), on both sides: a tie at one point is not a full-dimensional
cell. Objective 0.

``Binaries`` maps activation patterns (``Network.pattern``) to binary vectors and back, and
``region_rows`` gives the rows of a pattern's region in input space, for a Chebyshev-ball check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..bounds import Bounds, csr_rows, layer_range
from ..ir.network import MaxLayer, Network
from .count import region_rows as pattern_rows
from .formulation import _check_args, max_groups

#: the margin of the point MILP, in each unit's own bound scale: well above HiGHS's
#: feasibility tolerance (1e-9), so a solution's signs hold at its point
MARGIN = 1e-7


class Binaries:
    """The binaries of the point MILP, in order: per layer, its unstable units (two-piece) or
    the candidate pieces of its unfixed groups (max layer). ``names[i]`` is ``(l, j)`` for a
    unit and ``(l, g, p)`` for piece p of group g."""

    def __init__(self, net: Network, bounds: Bounds):
        self.net = net
        self.layer_of: list[tuple[str, np.ndarray, np.ndarray | None]] = []
        ginfo = max_groups(net, bounds)
        names: list[tuple] = []
        base: list[np.ndarray] = []
        for l, layer in enumerate(net.layers):
            if isinstance(layer, MaxLayer):
                fixed, cand = ginfo[l]
                gs, ps = np.nonzero(cand & (fixed < 0)[:, None])
                names += [(l, int(g), int(p)) for g, p in zip(gs, ps)]
                self.layer_of.append(("max", gs, ps))
                base.append(np.where(fixed >= 0, fixed, 0).astype(np.int64))
            else:
                js = np.flatnonzero(bounds.unstable(l))
                names += [(l, int(j)) for j in js]
                self.layer_of.append(("unit", js, None))
                base.append(np.asarray(bounds.active(l), dtype=bool).copy())
        self.names = names
        self.base = base

    def __len__(self) -> int:
        return len(self.names)

    def from_patterns(self, patterns: list[np.ndarray]) -> np.ndarray:
        """(P, N) uint8 binary vectors of a batch of patterns (per layer (P, n_l), as
        ``Network.pattern``)."""
        cols = []
        for (kind, a, b), pat in zip(self.layer_of, patterns):
            pat = np.asarray(pat)
            if kind == "unit":
                cols.append(pat[:, a].astype(np.uint8))
            else:
                cols.append((pat[:, a] == b[None, :]).astype(np.uint8))
        n = patterns[0].shape[0] if patterns else 0
        return np.hstack(cols) if cols else np.zeros((n, 0), dtype=np.uint8)

    def pattern(self, d: np.ndarray) -> list[np.ndarray] | None:
        """The pattern (per layer) of a binary vector; None if a max group has not exactly one
        chosen candidate."""
        d = np.asarray(d)
        out, col = [], 0
        for (kind, a, b), base in zip(self.layer_of, self.base):
            p = base.copy()
            n = a.size
            part = d[col:col + n]
            col += n
            if kind == "unit":
                p[a] = part > 0
            else:
                chosen = part > 0
                if n:
                    per = np.bincount(a[chosen], minlength=p.size)
                    groups = np.unique(a)
                    if np.any(per[groups] != 1):
                        return None
                    p[a[chosen]] = b[chosen]
            out.append(p)
        return out


def region_rows(net: Network, pattern: list[np.ndarray], binaries: Binaries) -> np.ndarray | None:
    """The region of ``pattern`` as unit-normal rows [a, c] (a . u + c >= 0) in normalised
    coordinates: every unit that has a binary on its side, every chosen piece of an unfixed
    group above the others (stable units and fixed groups hold on the whole box). None when a
    pre-activation constant on the region contradicts the pattern (a constant unit is on iff
    its constant is > 0)."""
    return pattern_rows(net, pattern, [a for _, a, _ in binaries.layer_of])


@dataclass
class PointMILP:
    """The point MILP as arrays: columns [``col_lo``, ``col_hi``] (``integer`` lists the
    integer ones), rows ``row_lo <= A v <= row_hi`` with A in CSR (``starts``, ``index``,
    ``value``). ``x_cols`` are the n0 input columns, ``binary_cols`` the binaries in the order
    of ``binaries``."""

    col_lo: np.ndarray
    col_hi: np.ndarray
    integer: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    starts: np.ndarray
    index: np.ndarray
    value: np.ndarray
    x_cols: np.ndarray
    binary_cols: np.ndarray
    binaries: Binaries
    margin: float

    @property
    def n_cols(self) -> int:
        return int(self.col_lo.size)

    @property
    def n_rows(self) -> int:
        return int(self.row_lo.size)


class _Rows:
    """Rows collected as COO triplets, then CSR."""

    def __init__(self):
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.n = 0

    def add(self, lo, hi, terms) -> None:
        """``len(lo)`` rows; ``terms`` = [(cols, vals)], each an array of one column (and
        value) per row (scalars broadcast), or (row_in_block, cols, vals) triplets."""
        lo = np.atleast_1d(np.asarray(lo, dtype=np.float64))
        hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), lo.shape)
        k = lo.size
        for t in terms:
            if len(t) == 3:
                rr, cc, vv = t
            else:
                cc, vv = t
                rr = np.arange(k)
            cc = np.broadcast_to(np.asarray(cc, dtype=np.int64), np.shape(rr))
            vv = np.broadcast_to(np.asarray(vv, dtype=np.float64), np.shape(rr))
            self.r.append(np.asarray(rr, dtype=np.int64) + self.n)
            self.c.append(cc.ravel())
            self.v.append(vv.ravel())
        self.lo.append(lo)
        self.hi.append(np.array(hi))
        self.n += k

    def csr(self):
        r = np.concatenate(self.r) if self.r else np.zeros(0, np.int64)
        c = np.concatenate(self.c) if self.c else np.zeros(0, np.int64)
        v = np.concatenate(self.v) if self.v else np.zeros(0)
        keep = v != 0.0
        r, c, v = r[keep], c[keep], v[keep]
        order = np.lexsort((c, r))
        r, c, v = r[order], c[order], v[order]
        starts = np.searchsorted(r, np.arange(self.n)).astype(np.int32)
        lo = np.concatenate(self.lo) if self.lo else np.zeros(0)
        hi = np.concatenate(self.hi) if self.hi else np.zeros(0)
        return lo, hi, starts, c.astype(np.int32), v


def _scale(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    s = np.maximum(np.abs(lo), np.abs(hi)).astype(np.float64)
    return np.where(s > 0, s, 1.0)


def build_point_milp(net: Network, bounds: Bounds, margin: float = MARGIN) -> PointMILP:
    """The point MILP of the module docstring for ``net`` normalised to [-1, 1]^n0 with
    pre-activation ``bounds`` valid there."""
    _check_args(net, bounds, 0.5, margin)
    n0 = net.input_dim
    layers = net.layers
    binaries = Binaries(net, bounds)
    col_lo: list[np.ndarray] = [-np.ones(n0)]
    col_hi: list[np.ndarray] = [np.ones(n0)]
    ncol = [n0]

    def cols(lo, hi) -> np.ndarray:
        start = ncol[0]
        col_lo.append(np.asarray(lo, dtype=np.float64))
        col_hi.append(np.asarray(hi, dtype=np.float64))
        ncol[0] += len(col_lo[-1])
        return np.arange(start, ncol[0])

    x_cols = np.arange(n0)
    src_cols = [x_cols]
    src_scale = [np.ones(n0)]
    rows = _Rows()
    bin_cols: list[np.ndarray] = []
    m = float(margin)
    for l, layer in enumerate(layers):
        lo = np.asarray(bounds.lo[l], dtype=np.float64)
        hi = np.asarray(bounds.hi[l], dtype=np.float64)
        h_lo, h_hi = layer_range(layer, lo, hi)
        zs, hs = _scale(lo, hi), _scale(h_lo, h_hi)
        zc = cols(lo / zs, hi / zs)
        hc = cols(h_lo / hs, h_hi / hs)
        n = layer.affine.size
        # affine: z'_j - sum_s sum_i W_s[j, i] scale_i / zs_j v_s[i] = b_j / zs_j
        terms = [(np.arange(n), zc, 1.0)]
        for s, W in layer.affine.W.items():
            A = csr_rows(W)
            rr = np.repeat(np.arange(n), np.diff(A.indptr))
            terms.append((rr, src_cols[s][A.indices],
                          -A.data * src_scale[s][A.indices] / zs[rr]))
        b = np.asarray(layer.affine.b, dtype=np.float64) / zs
        rows.add(b, b, terms)
        kind, a, pcs = binaries.layer_of[l]
        if kind == "unit":
            s_ = np.asarray(layer.neg_slope, dtype=np.float64) * np.ones(n)
            act, inact = lo > 0, hi <= 0
            for mask, slope in ((act, np.ones(n)), (inact, s_)):
                j = np.flatnonzero(mask)
                if j.size:
                    rows.add(np.zeros(j.size), 0.0,
                             [(hc[j], hs[j] / zs[j]), (zc[j], -slope[j])])
            j = a
            if j.size:
                dc = cols(np.zeros(j.size), np.ones(j.size))
                bin_cols.append(dc)
                inv = 1.0 / zs[j]
                sj, lj, uj = s_[j], lo[j], hi[j]
                H = (hc[j], hs[j] * inv)
                c1 = np.minimum(0.0, (sj - 1.0) * lj) * inv
                c2 = np.maximum(0.0, (sj - 1.0) * lj) * inv
                c3 = np.minimum(0.0, (1.0 - sj) * uj) * inv
                c4 = np.maximum(0.0, (1.0 - sj) * uj) * inv
                inf = np.full(j.size, np.inf)
                rows.add(c1, inf, [H, (zc[j], -1.0), (dc, c1)])               # on_lo
                rows.add(-inf, c2, [H, (zc[j], -1.0), (dc, c2)])              # on_hi
                rows.add(np.zeros(j.size), inf, [H, (zc[j], -sj), (dc, -c3)])  # off_lo
                rows.add(-inf, np.zeros(j.size), [H, (zc[j], -sj), (dc, -c4)])  # off_hi
                rows.add(lj * inv, inf, [(zc[j], 1.0), (dc, -(m - lj * inv))])  # d=1: z' >= m
                rows.add(-inf, np.full(j.size, -m), [(zc[j], 1.0), (dc, -(uj * inv + m))])
        else:
            G = layer.groups
            fixed, cand = max_groups(net, bounds)[l]
            fg = np.flatnonzero(fixed >= 0)
            if fg.size:
                jf = G[fg, fixed[fg]]
                rows.add(np.zeros(fg.size), 0.0, [(hc[fg], 1.0), (zc[jf], -zs[jf] / hs[fg])])
            if a.size:
                dc = cols(np.zeros(a.size), np.ones(a.size))
                bin_cols.append(dc)
                groups = np.unique(a)
                gi = np.searchsorted(groups, a)
                rows.add(np.ones(groups.size), 1.0, [(gi, dc, np.ones(a.size))])   # one piece
                jp = G[a, pcs]
                inf = np.full(a.size, np.inf)
                rows.add(np.zeros(a.size), inf, [(hc[a], 1.0), (zc[jp], -zs[jp] / hs[a])])
                big = np.maximum(0.0, h_hi[a] - lo[jp]) / hs[a]
                rows.add(-inf, big, [(hc[a], 1.0), (zc[jp], -zs[jp] / hs[a]), (dc, big)])
                # chosen piece p above every other candidate q of its group by m
                pi, qi = [], []
                for g in groups:
                    k = np.flatnonzero(a == g)
                    for u in k:
                        for v in k:
                            if u != v:
                                pi.append(u)
                                qi.append(v)
                if pi:
                    pi, qi = np.array(pi), np.array(qi)
                    jp_, jq_ = jp[pi], jp[qi]
                    sc = np.maximum(zs[jp_], zs[jq_])
                    bigo = np.maximum(0.0, m + (hi[jq_] - lo[jp_]) / sc)
                    rows.add(m - bigo, np.full(pi.size, np.inf),
                             [(zc[jp_], zs[jp_] / sc), (zc[jq_], -zs[jq_] / sc), (dc[pi], -bigo)])
        src_cols.append(hc)
        src_scale.append(hs)
    row_lo, row_hi, starts, index, value = rows.csr()
    bc = np.concatenate(bin_cols) if bin_cols else np.zeros(0, dtype=np.int64)
    return PointMILP(col_lo=np.concatenate(col_lo), col_hi=np.concatenate(col_hi),
                     integer=bc.astype(np.int32), row_lo=row_lo, row_hi=row_hi, starts=starts,
                     index=index, value=value, x_cols=x_cols, binary_cols=bc.astype(np.int64),
                     binaries=binaries, margin=m)
