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
