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

from ..ir.network import Affine, MaxLayer, Network

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
    and ``hi_i >= lo_m`` for every later one, and no earlier piece is the same entry of z.
    The argmax at any x is always a candidate (it is
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


def _affine_interval(aff: Affine, vlo: list[np.ndarray],
                     vhi: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
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


def unbounded_bounds(net: Network) -> Bounds:
    """The bounds of every pre-activation over all of R^d (``AllSpace``): none, so every unit
    is unstable and every piece a candidate; the tree settles what is constant or one-signed
    node by node. Written as -inf / +inf, never computed (interval arithmetic on infinite
    inputs would meet inf * 0)."""
    los, his = [], []
    for layer in net.layers:
        n = int(np.asarray(layer.affine.b).size)
        los.append(np.full(n, -np.inf))
        his.append(np.full(n, np.inf))
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
