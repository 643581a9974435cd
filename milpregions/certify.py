"""Exact certificates of a count, in rational arithmetic (``count --certify``).

The network is taken exactly as stored: every float weight, bias, slope and domain bound is a
rational (``fractions.Fraction(float)``), and the normalised coordinates u in [-1, 1]^d are
mapped to inputs exactly (``x = lo + (hi - lo)(u + 1)/2`` for a box or ball; through the exact
points for a slice or segment), so no rounding of the normalisation enters.

- **Region certificate.** Along a region's pattern every pre-activation is an exact affine form
  of u. The region is certified by its witness w (the float witness, itself a rational) when
  w is strictly inside the box and every unit is strictly on its side at w or identically zero
  on the region (then it is off), and every chosen max piece is strictly above the earlier
  pieces and strictly above or identical to the later ones. The open set around w where these
  strict signs hold then has the pattern: the region is full-dimensional, whatever tolerances
  the float search used.
- **Completeness** (inputs of dimension 1 or 2). Distinct patterns have disjoint regions, so
  when the exact lengths (areas) of the certified regions add up to the length (area) of the
  parameter box, no full-dimensional region is missing: the count is that of the network as
  stored, with no margin. In higher dimension, or when the measures fall short (a region
  thinner than the search margin), completeness is undecided and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .ir.domain import Ball, Box
from .ir.network import MaxLayer, Network
from .problem import Problem

Form = list  # exact affine form [g_1, ..., g_d, c] of u


@dataclass(frozen=True)
class Certification:
    """The exact verdict on a count: ``certified`` when every region has a certificate and
    (1-D/2-D) their measures fill the box; ``why`` says what is missing otherwise."""

    certified: bool
    regions_certified: int
    regions_failed: int
    measure_found: Fraction | None        # total exact length / area of the certified regions
    measure_box: Fraction | None
    why: str = ""


def _fr(v) -> Fraction:
    return Fraction(float(v))


def _input_forms(problem: Problem) -> list[Form]:
    """The inputs as exact affine forms of the normalised coordinates u."""
    dom, box = problem.domain, problem.box
    d = box.dim
    lo = [_fr(v) for v in box.lo]
    hi = [_fr(v) for v in box.hi]

    def param(k: int) -> Form:      # parameter k = lo + (hi - lo)(u_k + 1)/2
        f = [Fraction(0)] * (d + 1)
        f[k] = (hi[k] - lo[k]) / 2
        f[d] = (hi[k] + lo[k]) / 2
        return f

    params = [param(k) for k in range(d)]
    if isinstance(dom, (Box, Ball)):
        return params
    P = [[_fr(v) for v in p] for p in dom.points]
    dirs = [[P[j + 1][i] - P[0][i] for i in range(len(P[0]))] for j in range(d)]
    forms = []
    for i in range(len(P[0])):
        f = [Fraction(0)] * (d + 1)
        f[d] = P[0][i]
        for j in range(d):
            for t in range(d + 1):
                f[t] += dirs[j][i] * params[j][t]
        forms.append(f)
    return forms


def _dense_row(W, j: int) -> np.ndarray:
    """Row j of a dense or scipy.sparse weight matrix."""
    return W[j] if isinstance(W, np.ndarray) else W[[j]].toarray()[0]


def _region_forms(net: Network, inputs: list[Form], pattern: list[np.ndarray]):
    """Per layer: the exact pre-activation forms on the region of ``pattern``."""
    d1 = len(inputs[0])
    values = [inputs]
    pre_all = []
    for layer, p in zip(net.layers, pattern):
        aff = layer.affine
        pre = []
        for j in range(aff.size):
            f = [Fraction(0)] * d1
            f[-1] = _fr(aff.b[j])
            for s, W in aff.W.items():
                row = _dense_row(W, j)
                for i in np.flatnonzero(row):
                    w = _fr(row[i])
                    src = values[s][i]
                    for t in range(d1):
                        if src[t]:
                            f[t] += w * src[t]
            pre.append(f)
        pre_all.append(pre)
        if isinstance(layer, MaxLayer):
            out = [pre[int(layer.groups[g, int(p[g])])] for g in range(layer.size)]
        else:
            out = []
            for j, f in enumerate(pre):
                s = Fraction(1) if p[j] else _fr(layer.neg_slope[j])
                out.append([s * v for v in f])
        values.append(out)
    return pre_all


def _value(f: Form, w: list[Fraction]) -> Fraction:
    return sum((a * b for a, b in zip(f[:-1], w)), f[-1])


def _halfspaces(net: Network, pre_all, pattern) -> list[Form] | None:
    """The region as exact strict halfspaces ``f(u) > 0`` (forms identically zero on it are
    left out); None when a constant form contradicts the pattern (the region is empty)."""
    out = []
    for layer, pre, p in zip(net.layers, pre_all, pattern):
        if isinstance(layer, MaxLayer):
            G = layer.groups
            for g in range(layer.size):
                i = int(p[g])
                for m in range(G.shape[1]):
                    if m == i or G[g, m] < 0:
                        continue
                    diff = [a - b for a, b in zip(pre[int(G[g, i])], pre[int(G[g, m])])]
                    if not any(diff):          # identical pieces: the earlier one wins
                        if m < i:
                            return None
                        continue
                    out.append(diff)
            continue
        for j, f in enumerate(pre):
            if not any(f):                     # identically zero: off
                if p[j]:
                    return None
                continue
            out.append(f if p[j] else [-v for v in f])
    return out


def _clip(poly: list[tuple[Fraction, Fraction]], f: Form) -> list:
    """Sutherland-Hodgman: the part of a convex polygon where f >= 0 (exact)."""
    out = []
    n = len(poly)
    for k in range(n):
        p, q = poly[k], poly[(k + 1) % n]
        fp = f[0] * p[0] + f[1] * p[1] + f[2]
        fq = f[0] * q[0] + f[1] * q[1] + f[2]
        if fp >= 0:
            out.append(p)
        if (fp > 0 > fq) or (fp < 0 < fq):
            t = fp / (fp - fq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def _measure(H: list[Form], d: int) -> Fraction:
    """Exact length (d = 1) or area (d = 2) of {u in [-1, 1]^d : f(u) >= 0 for f in H}."""
    if d == 1:
        lo, hi = Fraction(-1), Fraction(1)
        for a, c in H:
            if a > 0:
                lo = max(lo, -c / a)
            elif a < 0:
                hi = min(hi, -c / a)
            elif c < 0:
                return Fraction(0)
        return max(Fraction(0), hi - lo)
    one = Fraction(1)
    poly = [(-one, -one), (one, -one), (one, one), (-one, one)]
    for f in H:
        poly = _clip(poly, f)
        if len(poly) < 3:
            return Fraction(0)
    n = len(poly)
    twice = sum(poly[k][0] * poly[(k + 1) % n][1] - poly[(k + 1) % n][0] * poly[k][1]
                for k in range(n))
    return abs(twice) / 2


def certify(problem: Problem, regions: list[tuple[list[np.ndarray], np.ndarray]]) -> Certification:
    """Check ``regions`` (per region: its per-layer pattern and its witness in normalised
    coordinates) exactly against the network as stored (see the module docstring)."""
    net = problem.network
    inputs = _input_forms(problem)
    d = problem.dim
    ok = failed = 0
    total = Fraction(0)
    for pattern, u in regions:
        w = [Fraction(float(v)) for v in u]
        if not all(-1 < v < 1 for v in w):
            failed += 1
            continue
        pre_all = _region_forms(net, inputs, pattern)
        H = _halfspaces(net, pre_all, pattern)
        if H is None or not all(_value(f, w) > 0 for f in H):
            failed += 1
            continue
        ok += 1
        if d <= 2:
            total += _measure(H, d)
    box = Fraction(2) ** d if d <= 2 else None
    if failed:
        return Certification(False, ok, failed, None, None,
                             f"{failed} witnesses do not hold exactly")
    if d > 2:
        return Certification(False, ok, 0, None, None,
                             "completeness is decided exactly only for 1-D and 2-D domains")
    if total != box:
        return Certification(False, ok, 0, total, box,
                             f"the certified regions cover {float(total / box):.12g} of the box: "
                             "regions thinner than the margin are missing")
    return Certification(True, ok, 0, total, box)
