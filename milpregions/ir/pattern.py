"""Activation patterns: their per-layer form, their JSON form, and the one certificate checker.

A pattern is, per two-piece layer, the bits ``z_j > 0`` (bool array) and, per max layer, the
position of the winning piece within each group (int array). Inside the enumerator it is one
concatenated int array (``flat``); ``split_pattern`` gives the per-layer form. In JSON a
two-piece layer is a string of '0'/'1' and a max layer a list of piece indices, so that two
distinct patterns never print alike.

``verify_patterns`` is the only certificate check: the tree, the MILP count and the tests all
call it on their witnesses.
"""

from __future__ import annotations

import numpy as np

from ..errors import CertificateError
from .network import MaxLayer, Network


def pattern_record(pattern: list[np.ndarray]) -> list:
    """A per-layer pattern in JSON form: '0'/'1' strings for bit layers, index lists for max
    layers (argmax positions are ints, bits are bools)."""
    out: list = []
    for layer in pattern:
        a = np.asarray(layer).ravel()
        if a.dtype == bool:
            out.append("".join("1" if b else "0" for b in a))
        else:
            out.append([int(v) for v in a])
    return out


def concat_pattern(pattern: list[np.ndarray]) -> np.ndarray:
    """A per-layer pattern as one int array (the inverse of ``split_pattern``)."""
    if not pattern:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.asarray(p).astype(np.int64).ravel() for p in pattern])


def split_pattern(net: Network, flat: np.ndarray) -> list[np.ndarray]:
    """A concatenated pattern as one array per layer: bools for units, argmax indices for groups."""
    out, i = [], 0
    for layer in net.layers:
        n = layer.size
        part = flat[i:i + n]
        out.append(part.astype(np.int64) if isinstance(layer, MaxLayer) else part.astype(bool))
        i += n
    return out


def verify_patterns(net: Network, U: np.ndarray, pattern: np.ndarray) -> None:
    """Check by a plain forward pass that each point U[i] has the concatenated pattern[i].

    A pre-activation within rounding error of zero (a unit constant at zero on the region), or
    a max-group piece within rounding error of the maximum (pieces identical on the region),
    may go either way. Raises CertificateError on any other disagreement.
    """
    values, avalues = [U], [np.abs(U)]
    col = 0
    for k, layer in enumerate(net.layers):
        aff = layer.affine
        z = aff.apply(values)
        za = np.broadcast_to(np.abs(aff.b), z.shape).copy()
        for s, W in aff.W.items():
            za += avalues[s] @ abs(W).T
        tol = 1e-9 * (za + 1e-300)
        n = layer.size
        want = pattern[:, col:col + n]
        col += n
        if isinstance(layer, MaxLayer):
            G = layer.groups
            pieces = layer._pieces(z)                                   # (N, g, k)
            ptol = np.where(G >= 0, tol[:, np.maximum(G, 0)], 0.0)
            chosen = np.take_along_axis(pieces, want[:, :, None].astype(np.int64), axis=2)[:, :, 0]
            ctol = np.take_along_axis(ptol, want[:, :, None].astype(np.int64), axis=2)[:, :, 0]
            bad = (want < 0) | (chosen < pieces.max(axis=2) - ctol - ptol.max(axis=2))
            if bad.any():
                i, g = np.argwhere(bad)[0]
                raise CertificateError(
                    f"witness {U[i].tolist()}: at layer {k + 1} group {g} the maximum is piece "
                    f"{int(pieces[i, g].argmax())}, but its region's pattern says {int(want[i, g])}")
            idx = G[np.arange(G.shape[0])[None, :], want.astype(np.int64)]
            values.append(np.take_along_axis(z, idx, axis=1))
            avalues.append(np.take_along_axis(za, idx, axis=1))
            continue
        on = want > 0
        bad = (on != (z > 0)) & (np.abs(z) > tol)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise CertificateError(
                f"witness {U[i].tolist()} has z={z[i, j]:.3e} at layer {k + 1} unit {j}, "
                f"but its region's pattern says {'on' if on[i, j] else 'off'}")
        values.append(np.where(on, z, layer.neg_slope * z))
        avalues.append(np.where(on, za, np.abs(layer.neg_slope) * za))
