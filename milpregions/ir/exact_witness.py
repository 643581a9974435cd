"""The exact half of the certificate check: is a float point strictly inside the open region of
a pattern of the network as stored (floats read as the dyadic rationals they are)?

``ir.pattern.verify_patterns`` decides most points in floats with a proven rounding bound and
sends here only those where some unit lies within that bound of zero. The point's
pre-activations are computed exactly; a unit whose value is exactly zero (or a max piece tied
exactly with the chosen one) is allowed only if it is zero (identical) on the whole region,
which the region's exact affine forms decide.
"""

from __future__ import annotations

import numpy as np

from .dyadic import Dyadic, add, dyadic, matmul
from .network import MaxLayer, Network


def _dense(W) -> np.ndarray:
    return W if isinstance(W, np.ndarray) else W.toarray()


ExactWeights = list[tuple[dict[int, Dyadic], Dyadic, Dyadic | None]]


def exact_weights(net: Network) -> ExactWeights:
    """Per layer the weights, bias and slopes of ``net`` as Dyadics (made once per check)."""
    out = []
    for layer in net.layers:
        aff = layer.affine
        W = {s: dyadic(_dense(w)) for s, w in aff.W.items()}
        slopes = None if isinstance(layer, MaxLayer) else dyadic(layer.neg_slope)
        out.append((W, dyadic(aff.b), slopes))
    return out


def _forward(net: Network, weights, start: Dyadic, pattern: np.ndarray, forms: bool):
    """Per layer the exact pre-activations on the pattern's pieces: values at one point
    (``start`` a vector) or affine forms (``start`` the (d, d+1) identity forms)."""
    vals = [start]
    out, col = [], 0
    for layer, (W, b, slopes) in zip(net.layers, weights):
        if forms:
            B = np.zeros((b.M.shape[0], start.M.shape[1]), dtype=object)
            B[:, -1] = b.M
            bias = Dyadic(B, b.e)
        else:
            bias = b
        z = add([matmul(Ws, vals[s]) for s, Ws in W.items()] + [bias])
        n = layer.size
        want = pattern[col:col + n]
        col += n
        out.append(z)
        if isinstance(layer, MaxLayer):
            G = np.asarray(layer.groups)
            pick = G[np.arange(G.shape[0]), want.astype(np.int64)]
            vals.append(Dyadic(z.M[pick], z.e))
        else:
            s = slopes.M.copy()
            s[want > 0] = 1 << -slopes.e
            vals.append(Dyadic(z.M * (s[:, None] if forms else s), z.e + slopes.e))
    return out


Close = tuple[int, int, int]   # (layer, unit a, -1) or (layer, piece a, piece b): not decided


def exact_witness_error(net: Network, u: np.ndarray, pattern: np.ndarray,
                        close: list[Close], weights: ExactWeights | None = None) -> str | None:
    """None if the float point ``u`` is proven inside the open region of the concatenated
    ``pattern`` of ``net``; else what is not proven.

    ``close``: the units (chosen and other piece of a max group) that the floats could not
    decide at u. Every unit's exact sign at u must be the pattern's (a max group's chosen piece
    at least as large as the others). A unit in ``close`` must moreover be constant on the
    region, exactly: a zero gradient (then it is zero, or one-signed, on all of it; pieces
    identical on it may go either way). One with a nonzero gradient within rounding at a
    witness the search certified has a gradient at rounding level, or the search was wrong:
    whether it splits the region is not decided here. ``weights``: ``exact_weights(net)``.
    """
    if weights is None:
        weights = exact_weights(net)
    z = _forward(net, weights, dyadic(np.asarray(u, dtype=np.float64)), pattern, False)
    col = 0
    for k, (layer, zk) in enumerate(zip(net.layers, z)):
        n = layer.size
        want = pattern[col:col + n]
        col += n
        if isinstance(layer, MaxLayer):
            G = np.asarray(layer.groups)
            for g in range(G.shape[0]):
                i = int(want[g])
                for m in range(G.shape[1]):
                    if m != i and G[g, m] >= 0 and zk.M[G[g, i]] < zk.M[G[g, m]]:
                        return f"layer {k + 1} group {g}: piece {m} is above the chosen {i}"
            continue
        for j in range(n):
            v = zk.M[j]
            if v != 0 and (v > 0) != (want[j] > 0):
                return (f"layer {k + 1} unit {j} is {'on' if v > 0 else 'off'} where the "
                        f"pattern says {'off' if v > 0 else 'on'}")
    if not close:
        return None
    d = net.input_dim
    ident = np.zeros((d, d + 1), dtype=object)
    for i in range(d):
        ident[i, i] = 1
    F = _forward(net, weights, Dyadic(ident, 0), pattern, True)
    for k, a, b in close:
        f = F[k].M[a] if b < 0 else F[k].M[a] - F[k].M[b]
        what = f"unit {a}" if b < 0 else f"pieces {a} and {b}"
        if any(f[:-1]):
            return (f"layer {k + 1}: {what} is within rounding of zero at the point but not "
                    "constant on its region")
        if b >= 0 and f[-1] == 0 and _earlier(net.layers[k], a, b):
            return f"layer {k + 1}: {what} are identical on the region; the first one wins"
    return None


def _earlier(layer: MaxLayer, chosen: int, other: int) -> bool:
    """Whether pre-activation ``other`` comes before ``chosen`` in their group."""
    G = np.asarray(layer.groups)
    for row in G:
        pos = {int(v): i for i, v in enumerate(row) if v >= 0}
        if chosen in pos and other in pos:
            return pos[other] < pos[chosen]
    return False
