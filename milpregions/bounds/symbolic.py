"""Symbolic bounds: CROWN/DeepPoly-style back-substitution of linear relaxations.

Layer by layer, every pre-activation ``z_k`` is bounded by a linear function of the input: the
affine map of layer k, then each earlier layer's output replaced by a linear lower or upper
bound of its activation in terms of that layer's pre-activations (the sign of its coefficient
picks which), down to the input, where the box [-1, 1]^d gives numbers. Unlike interval
arithmetic it keeps the correlations between units, so deeper layers get far tighter bounds,
in milliseconds and without an LP (Singh et al. 2019, DeepPoly; Zhang et al. 2018, CROWN).

Relaxations, for a unit with bounds [l, u] and ``h = z if z > 0 else s*z``:

* stable: exact (``h = z`` or ``h = s*z``);
* unstable, s <= 1 (h convex): above by the chord through (l, s*l) and (u, u), below by
  ``alpha*z`` with alpha = 1 if u >= -l else s (the area-minimising choice);
* unstable, s > 1 (h concave): the mirror image.

A max group ``h = max_i z_i`` is bounded below by its piece with the largest lower bound and
above by the largest upper bound of its pieces (exactly by its piece when it is fixed).

The arithmetic is float64; every result is widened by a forward error bound of the whole
back-substitution (n * 2^-53 times the same sums taken in absolute values), then by the
relative ``SLACK`` of the interval bounds, so a rounding never makes a unit look stable.
"""

from __future__ import annotations

import numpy as np

from ..ir.network import MaxLayer, Network
from ..ir.sparse import issparse
from .interval import Bounds, _widen, fixed_argmax_of, max_range

#: back-substitution is skipped (interval bounds kept) when a layer's coefficient matrices
#: would hold more entries than this (wide convolutional layers): memory stays bounded
MAX_ENTRIES = 20_000_000

_U = 2.0 ** -53


def _relaxation(layer, lo: np.ndarray, hi: np.ndarray):
    """Layer j's output bounded by linear maps of its pre-activations z:
    ``Pl z + cl <= h <= Pu z + cu``. Two-piece layers: Pl, Pu are vectors (diagonal maps);
    max layers: (n_groups, n_z) matrices with at most one entry per row."""
    if isinstance(layer, MaxLayer):
        return _max_relaxation(layer, lo, hi)
    s = np.asarray(layer.neg_slope, dtype=np.float64)
    n = lo.size
    al, cl, au, cu = np.empty(n), np.zeros(n), np.empty(n), np.zeros(n)
    active, inactive = lo >= 0, hi <= 0
    stable = active | inactive
    exact = np.where(active, 1.0, s)
    al[stable] = au[stable] = exact[stable]
    un = ~stable
    l, u, su = lo[un], hi[un], s[un]
    chord = (u - su * l) / (u - l)
    # the chord through both kinks' ends; its offset taken from the end that needs more, so
    # that a rounded slope still leaves the line on the right side at both ends
    f_l, f_u = su * l, u
    off = np.where(su <= 1, np.maximum(f_l - chord * l, f_u - chord * u),
                   np.minimum(f_l - chord * l, f_u - chord * u))
    off_err = 4 * _U * (np.abs(f_l) + np.abs(chord * l) + np.abs(f_u) + np.abs(chord * u))
    tangent = np.where(u >= -l, 1.0, su)     # exact on the longer side of the kink
    convex = su <= 1
    # convex: lower = tangent * z, upper = chord; concave: lower = chord, upper = tangent * z
    al[un] = np.where(convex, tangent, chord)
    cl[un] = np.where(convex, 0.0, off - off_err)
    au[un] = np.where(convex, chord, tangent)
    cu[un] = np.where(convex, off + off_err, 0.0)
    return al, cl, au, cu


def _max_relaxation(layer: MaxLayer, lo: np.ndarray, hi: np.ndarray):
    g = layer.groups
    n_g, n_z = g.shape[0], lo.size
    valid = g >= 0
    glo = np.where(valid, lo[np.maximum(g, 0)], -np.inf)
    best = g[np.arange(n_g), glo.argmax(axis=1)]
    Pl = np.zeros((n_g, n_z))
    Pl[np.arange(n_g), best] = 1.0
    fixed = fixed_argmax_of(g, lo, hi)
    Pu = np.zeros((n_g, n_z))
    rows = np.flatnonzero(fixed >= 0)
    Pu[rows, g[rows, fixed[rows]]] = 1.0
    _, top = max_range(g, lo, hi)
    cu = np.where(fixed >= 0, 0.0, top)
    return Pl, np.zeros(n_g), Pu, cu


def _times(C: np.ndarray, W) -> np.ndarray:
    """C @ W for a dense C and a dense or sparse W."""
    if issparse(W):
        return np.asarray((W.T @ C.T).T)
    return C @ W


def _bound_side(net: Network, k: int, relax: list, upper: bool) -> tuple[np.ndarray, np.ndarray]:
    """Back-substitution of z_k's (upper if ``upper`` else lower) bound: (bound, error bound)."""
    layers = net.layers
    aff = layers[k].affine
    n = aff.size
    coef: dict[int, np.ndarray] = {}
    mag: dict[int, np.ndarray] = {}
    for s, W in aff.W.items():
        D = W.toarray() if issparse(W) else np.asarray(W, dtype=np.float64)
        coef[s] = coef.get(s, 0) + D
        mag[s] = mag.get(s, 0) + np.abs(D)
    const = np.array(aff.b, dtype=np.float64)
    cmag = np.abs(const)
    for j in range(k, 0, -1):               # source j = output of layer j - 1
        if j not in coef:
            continue
        C, M = coef.pop(j), mag.pop(j)
        Pl, cl, Pu, cu = relax[j - 1]
        pos, neg = np.maximum(C, 0.0), np.minimum(C, 0.0)
        hi_P, lo_P, hi_c, lo_c = (Pu, Pl, cu, cl) if upper else (Pl, Pu, cl, cu)
        if hi_P.ndim == 1:
            Z = pos * hi_P + neg * lo_P
            ZM = M * np.maximum(np.abs(hi_P), np.abs(lo_P))
        else:
            Z = pos @ hi_P + neg @ lo_P
            ZM = M @ np.maximum(np.abs(hi_P), np.abs(lo_P))
        const = const + pos @ hi_c + neg @ lo_c
        cmag = cmag + M @ np.maximum(np.abs(hi_c), np.abs(lo_c))
        src = layers[j - 1].affine
        const = const + Z @ src.b
        cmag = cmag + ZM @ np.abs(src.b)
        for s, W in src.W.items():
            coef[s] = coef.get(s, 0) + _times(Z, W)
            mag[s] = mag.get(s, 0) + _times(ZM, abs(W))
    A = coef.get(0, np.zeros((n, net.input_dim)))
    AM = mag.get(0, np.zeros((n, net.input_dim)))
    reach = np.abs(A).sum(axis=1)
    value = const + reach if upper else const - reach
    steps = net.input_dim + sum(L.affine.size for L in layers[:k + 1]) + 4
    err = 2 * steps * _U * (cmag + AM.sum(axis=1) + np.abs(const) + reach)
    return value, err


def symbolic_bounds(net: Network, bounds: Bounds, max_entries: int = MAX_ENTRIES) -> Bounds:
    """``bounds`` intersected with back-substitution bounds, layer by layer (each layer's
    relaxation uses the tightened bounds of the layers before it); ``bounds`` itself when the
    coefficients would need more than ``max_entries`` entries."""
    sizes = [net.input_dim] + [L.size for L in net.layers]
    widest = max((L.affine.size * sum(sizes[:k + 1]) for k, L in enumerate(net.layers)),
                 default=0)
    if widest > max_entries:
        return bounds
    los, his, relax = [], [], []
    for k, layer in enumerate(net.layers):
        lo, hi = bounds.lo[k], bounds.hi[k]
        if k > 0:                               # layer 0: back-substitution is the interval
            up, up_err = _bound_side(net, k, relax, True)
            dn, dn_err = _bound_side(net, k, relax, False)
            slo, shi = _widen(dn - dn_err, up + up_err)
            lo, hi = np.maximum(lo, slo), np.minimum(hi, shi)
        los.append(lo)
        his.append(hi)
        relax.append(_relaxation(layer, lo, hi))
    return Bounds(los, his, bounds.lps, bounds.groups)
