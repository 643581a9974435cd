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
from .exact_witness import Close, exact_weights, exact_witness_error
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


_U = 2.0 ** -53              # unit roundoff of float64
_EPS = 2.0 ** -52
_TINY = 2.0 ** -1060         # absolute error of a product that underflows, with room


def rounding_level(net: Network) -> list[float]:
    """Per layer, a relative bound on the rounding error of its pre-activation maps on a node:
    ``8 eps`` times the number of products summed along every path from the input (each layer
    adds its fan-in). A computed gradient or constant below this fraction of the sum of the
    absolute values of its terms cannot be told from zero."""
    levels, depth = [], [0.0]
    for layer in net.layers:
        n = max(depth[s] + W.shape[1] for s, W in layer.affine.W.items()) if layer.affine.W else 1
        depth.append(float(n))
        levels.append(max(1e-14, 8.0 * _EPS * n))
    return levels


def fan_in(aff) -> int:
    """Terms of one pre-activation's float sum: the weights, the bias, one add per source."""
    return sum(W.shape[1] for W in aff.W.values()) + 1 + len(aff.W)


def _zero_inputs(aff, izero: list[np.ndarray | None], rows: np.ndarray) -> np.ndarray:
    """For the points ``rows``: the units of ``aff`` with a zero bias whose every nonzero weight
    reads an output that is identically zero on the point's region (``izero[s]``, None for
    the input, which never is)."""
    out = np.broadcast_to(aff.b == 0, (rows.size, aff.size)).copy()
    for s, W in aff.W.items():
        live = np.ones((rows.size, W.shape[1])) if izero[s] is None else (~izero[s][rows]) * 1.0
        out &= np.asarray(live @ abs(W).T) == 0
    return out


def verify_patterns(net: Network, U: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """Prove that each point U[i] is strictly inside the open region of pattern[i]; return the
    indices of the points whose patterns rest on decisions within rounding (undecided).

    A float forward pass carries a proven bound on its distance from the exact pre-activations
    (rounding of every product and sum, and of every coefficient of ``net`` once: the
    normalised first layer is rounded once from the exact map): a unit whose value clears its
    bound has the sign it shows; a max piece that clears the others by their bounds wins. A
    unit that does not, but whose bias is zero and whose inputs are all identically zero on
    the region (ReLU units off), is zero there and may go either way. Points with any other
    unit within its bound go to the exact check (``exact_witness``): proven if those units are
    exactly constant on the region with the pattern's sign (or zero), else undecided. A unit
    beyond its bound on the wrong side raises CertificateError.

    The bound of a unit: ``2 (m + 4) 2^-53`` times the sum of its terms' magnitudes (m terms),
    plus the row sum of its absolute weights times the largest error of the point's inputs
    (one number per point and layer: cheap, and far below any value it must separate).
    A unit within the tree's ``rounding_level`` of the sum of its terms' magnitudes (which the
    tree may have taken for constant) is checked exactly as well, even when the bound
    separates it: a rounding-level slope is real, and it may split the region.
    """
    U = np.asarray(U, dtype=np.float64)
    N = U.shape[0]
    values, err = [U], [np.zeros(N)]             # per layer output: values, largest error
    izero: list[np.ndarray | None] = [None]      # outputs identically zero on the region
    close: dict[int, list[Close]] = {}           # per point, the units not decided
    col = 0
    for k, (layer, rtol) in enumerate(zip(net.layers, rounding_level(net))):
        aff = layer.affine
        z = aff.apply(values)
        za = np.broadcast_to(np.abs(aff.b), z.shape).copy()
        for s, W in aff.W.items():
            za += np.abs(values[s]) @ abs(W).T
        E = za * (2 * (fan_in(aff) + 4) * _U)
        for s, W in aff.W.items():
            if s:
                E += err[s][:, None] * np.asarray(abs(W).sum(axis=1)).ravel()[None, :]
        E += (fan_in(aff) + 1) * _TINY
        E *= 1 + 1e-6
        n = layer.size
        want = pattern[:, col:col + n]
        col += n
        if isinstance(layer, MaxLayer):
            zero = _zero_inputs(aff, izero, np.arange(N))       # pieces identically 0
            _max_layer(k, layer, z, E, rtol * za, want, U, close, values, err, zero)
            izero.append(np.zeros((N, n), dtype=bool))
            continue
        on = want > 0
        bad = ((z > 0) != on) & (np.abs(z) > E)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise CertificateError(
                f"witness {U[i].tolist()} has z={z[i, j]:.3e} at layer {k + 1} unit {j}, "
                f"but its region's pattern says {'on' if on[i, j] else 'off'}")
        # decided: beyond the proven bound and beyond the tree's rounding level (a unit the
        # tree may have taken for constant is checked exactly)
        decided = np.abs(z) > np.maximum(E, rtol * za)
        iz = np.zeros((N, n), dtype=bool)
        rows = np.flatnonzero(~decided.all(axis=1))
        if rows.size:
            iz[rows] = _zero_inputs(aff, izero, rows)
            for i, j in np.argwhere(~decided & ~iz):
                close.setdefault(int(i), []).append((k, int(j), -1))
        izero.append(iz | (~on & (layer.neg_slope == 0)[None, :]))
        v = np.where(on, z, layer.neg_slope * z)
        # the pattern's piece (points with a unit not decided go to the exact check anyway)
        smax = max(1.0, float(np.abs(layer.neg_slope).max(initial=0.0)))
        err.append((smax * E.max(axis=1, initial=0.0)
                    + 2 * _U * np.abs(v).max(axis=1, initial=0.0)) * (1 + 1e-6))
        values.append(v)
    undecided = []
    weights = exact_weights(net) if close else None
    for i, units in close.items():
        if exact_witness_error(net, U[i], np.asarray(pattern[i]), units, weights) is not None:
            undecided.append(i)
    return np.array(sorted(undecided), dtype=np.int64)


def _max_layer(k: int, layer: MaxLayer, z: np.ndarray, E: np.ndarray, level: np.ndarray,
               want: np.ndarray, U: np.ndarray, close: dict[int, list[Close]], values: list,
               err: list, zero: np.ndarray) -> None:
    """``verify_patterns`` on a max layer: the chosen piece must clear every other piece by
    their bounds; pairs that do not go to the exact check, except a chosen piece and a later
    one that are both identically zero on the region (``zero``: zero bias, every input
    identically zero there, as MaxPool over ReLUs that are off): they are the same function
    there, and the first one wins the tie, as the pattern says."""
    N = z.shape[0]
    G = layer.groups
    if (want < 0).any() or (want >= G.shape[1]).any():
        i, g = np.argwhere((want < 0) | (want >= G.shape[1]))[0]
        raise CertificateError(f"witness {U[i].tolist()}: layer {k + 1} group {g} has "
                               f"no piece {int(want[i, g])}")
    pieces = layer._pieces(z)                                   # (N, g, k)
    perr = np.where(G >= 0, E[:, np.maximum(G, 0)], 0.0)
    plev = np.where(G >= 0, level[:, np.maximum(G, 0)], 0.0)
    w = want[:, :, None].astype(np.int64)
    chosen = np.take_along_axis(pieces, w, axis=2)
    cerr = np.take_along_axis(perr, w, axis=2)
    with np.errstate(invalid="ignore"):
        diff = chosen - pieces                                  # -inf pads: +inf
        tol = (cerr + perr) * (1 + 1e-6) + 4 * _U * np.abs(diff)
    other = (G >= 0)[None, :, :] & (np.arange(G.shape[1])[None, None, :] != w)
    bad = (other & (diff < -tol)).any(axis=2)                  # proven wrong
    if bad.any():
        i, g = np.argwhere(bad)[0]
        raise CertificateError(
            f"witness {U[i].tolist()}: at layer {k + 1} group {g} the maximum is piece "
            f"{int(pieces[i, g].argmax())}, but its region's pattern says {int(want[i, g])}")
    idx = G[np.arange(G.shape[0])[None, :], want.astype(np.int64)]       # (N, g)
    clev = np.take_along_axis(plev, w, axis=2)
    Gs = np.maximum(G, 0)
    pzero = zero[:, Gs] & (G >= 0)[None, :, :]                  # (N, g, k)
    czero = np.take_along_axis(pzero, w, axis=2)
    later = np.arange(G.shape[1])[None, None, :] > w
    tied_zero = czero & pzero & later
    for i, g, m in np.argwhere(other & ~tied_zero & (diff <= np.maximum(tol, clev + plev))):
        close.setdefault(int(i), []).append((k, int(idx[i, g]), int(G[g, m])))
    values.append(np.take_along_axis(z, idx, axis=1))
    err.append(cerr.max(axis=(1, 2)) if cerr.size else np.zeros(N))
