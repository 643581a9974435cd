"""The activation pattern just beyond a facet, from the facet's vertices (floats, checked).

Beyond the relative interior of a facet F of a region, every unit either keeps its sign from
F, or vanishes on all of F and takes the sign of its derivative along the outward normal (or is
identically zero there: off); a max group keeps the piece that is largest on all of F, the one
with the largest derivative among pieces tied on all of F (``certify.adjacency`` proves it).
So the pattern beyond F is read layer by layer from the values at F's vertices (F is their
hull) and the derivative along the normal, each layer taken on its own new piece.

A decision is taken only when its numbers are clear by a wide factor of their magnitudes;
otherwise the facet is reported ``close`` and the caller decides it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.network import MaxLayer, Network

ZERO = 1e-11    # |value| / magnitude below this: zero on the facet
CLEAR = 1e-7    # above this: clearly nonzero; between the two the facet is decided exactly


@dataclass(frozen=True)
class FacetBatch:
    """Facets to look beyond: ``points`` (N, d) their vertices, grouped by facet, facet f
    owning ``points[starts[f]:starts[f+1]]``; ``normals`` (F, d) outward directions."""

    points: np.ndarray
    starts: np.ndarray
    normals: np.ndarray


@dataclass(frozen=True)
class Beyond:
    """Per facet the concatenated pattern beyond it (F, n_units) and whether it was ``close``."""

    patterns: np.ndarray
    close: np.ndarray


def _affine(aff, vals, mags, ders, dmags):
    z = np.broadcast_to(aff.b, (vals[0].shape[0], aff.size)).copy()
    zm = np.broadcast_to(np.abs(aff.b), z.shape).copy()
    dz = np.zeros((ders[0].shape[0], aff.size))
    dzm = np.zeros_like(dz)
    for s, W in aff.W.items():
        Wt, At = W.T, abs(W).T
        z += np.asarray(vals[s] @ Wt)
        zm += np.asarray(mags[s] @ At)
        dz += np.asarray(ders[s] @ Wt)
        dzm += np.asarray(dmags[s] @ At)
    return z, zm, dz, dzm


def patterns_beyond(net: Network, batch: FacetBatch) -> Beyond:
    """The pattern beyond every facet of ``batch`` (``net``: a ``Problem.unit_net``)."""
    X, starts, Dv = batch.points, batch.starts, batch.normals
    nf = Dv.shape[0]
    owner = np.repeat(np.arange(nf), np.diff(np.append(starts, X.shape[0])))
    vals, mags, ders, dmags = [X], [np.abs(X)], [Dv], [np.abs(Dv)]
    close = np.zeros(nf, dtype=bool)
    out = []
    for layer in net.layers:
        z, zm, dz, dzm = _affine(layer.affine, vals, mags, ders, dmags)
        if isinstance(layer, MaxLayer):
            choice, pick, c = _groups(layer, z, zm, dz, dzm, starts, owner)
            close |= c
            out.append(choice)
            rows = np.arange(z.shape[0])[:, None]
            vals.append(z[rows, pick[owner]])
            mags.append(zm[rows, pick[owner]])
            frows = np.arange(nf)[:, None]
            ders.append(dz[frows, pick])
            dmags.append(dzm[frows, pick])
            continue
        on, c = _units(z, zm, dz, dzm, starts)
        close |= c
        out.append(on)
        slope = np.where(on, 1.0, layer.neg_slope)
        vals.append(z * slope[owner])
        mags.append(zm * np.abs(slope)[owner])
        ders.append(dz * slope)
        dmags.append(dzm * np.abs(slope))
    pats = np.concatenate([o.astype(np.int64) for o in out], axis=1) if out else \
        np.zeros((nf, 0), dtype=np.int64)
    return Beyond(pats, close)


def _units(z, zm, dz, dzm, starts):
    hi = np.maximum.reduceat(z, starts, axis=0)
    lo = np.minimum.reduceat(z, starts, axis=0)
    mag = np.maximum.reduceat(zm, starts, axis=0) + 1e-300
    size = np.maximum(hi, -lo) / mag
    vanish = size <= ZERO
    band = (size > ZERO) & (size < CLEAR)
    keep_on = hi > -lo
    # a unit that keeps a sign must keep it at every vertex of the facet
    mixed = ~vanish & np.where(keep_on, lo < -ZERO * mag, hi > ZERO * mag)
    dsize = np.abs(dz) / (dzm + 1e-300)
    dband = vanish & (dsize > ZERO) & (dsize < CLEAR)
    on = np.where(vanish, (dz > 0) & (dsize >= CLEAR), keep_on)
    return on, (band | mixed | dband).any(axis=1)


def _groups(layer: MaxLayer, z, zm, dz, dzm, starts, owner):
    G = layer.groups
    pad = G < 0
    Gi = np.maximum(G, 0)
    Z = np.where(pad, -np.inf, z[:, Gi])                          # (N, g, k)
    Zm = zm[:, Gi]
    top = Z.max(axis=2, keepdims=True)
    tmag = np.take_along_axis(Zm, Z.argmax(axis=2)[:, :, None], axis=2)
    gap = (top - Z) / (Zm + tmag + 1e-300)                        # >= 0, inf for padding
    worst = np.maximum.reduceat(gap, starts, axis=0)              # per facet, piece, pair
    tied = worst <= ZERO
    band = ((worst > ZERO) & (worst < CLEAR)).any(axis=(1, 2))
    if not tied.any(axis=2).all():
        band |= ~tied.any(axis=2).all(axis=1)
    D = np.where(pad[None] | ~tied, -np.inf, dz[:, Gi])          # (F, g, k)
    Dm = dzm[:, Gi]
    dtop = D.max(axis=2, keepdims=True)
    dgap = np.where(np.isfinite(D), (dtop - D) / (Dm + np.take_along_axis(
        Dm, D.argmax(axis=2)[:, :, None], axis=2) + 1e-300), np.inf)
    band |= ((dgap > ZERO) & (dgap < CLEAR)).any(axis=(1, 2))
    choice = np.argmax(dgap <= ZERO, axis=2)                      # the first of the best
    pick = Gi[np.arange(G.shape[0])[None, :], choice]             # (F, g) unit indices
    return choice, pick, band
