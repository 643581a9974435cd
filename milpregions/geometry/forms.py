"""The affine forms of one activation region, in floats with a bound on their rounding error.

Along a pattern every pre-activation and the output are affine forms of the normalised
coordinates u (rows ``[g_1 .. g_d, c]``). ``region_forms`` computes them in float64, for a
batch of regions at once (one matrix product per layer and source), together
with *magnitude forms*: the same sums with every term replaced by its absolute value. A
computed coefficient is then within ``error_factor(net) * magnitude`` of the exact one (the
standard bound of a sum of n floats, gamma_n = n eps / (1 - n eps), summed over the layers and
doubled), so a float difference beyond it is a proof that two forms differ; anything closer is
decided exactly (``maps``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.network import MaxLayer, Network

EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class RegionForms:
    """For a batch of R regions: per layer the pre-activation forms ``pre[k]`` (R, n_k, d+1)
    and their magnitudes, and the output's (R, m, d+1)."""

    pre: list[np.ndarray]
    pre_mag: list[np.ndarray]
    out: np.ndarray
    out_mag: np.ndarray


def error_factor(net: Network) -> float:
    """A bound on |computed - exact| / magnitude for every coefficient ``region_forms`` gives."""
    terms = net.input_dim + 2                    # the input map folded into the first layer
    for aff in [layer.affine for layer in net.layers] + [net.output]:
        terms += sum(W.shape[1] for W in aff.W.values()) + 2
    return 2.0 * terms * EPS / (1.0 - terms * EPS)


def _times(W, V: np.ndarray) -> np.ndarray:
    """W @ V[r] for every r: (n, m) times (R, m, k) -> (R, n, k); W dense or sparse."""
    R, m, k = V.shape
    out = np.asarray(W @ V.transpose(1, 0, 2).reshape(m, R * k))
    return out.reshape(-1, R, k).transpose(1, 0, 2)


def _apply(aff, values: list[np.ndarray], mags: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    R, _, d1 = values[0].shape
    z = np.zeros((R, aff.size, d1))
    zm = np.zeros((R, aff.size, d1))
    z[:, :, -1] = aff.b
    zm[:, :, -1] = np.abs(aff.b)
    for s, W in aff.W.items():
        z += _times(W, values[s])
        zm += _times(abs(W), mags[s])
    return z, zm


def pattern_matrix(net: Network, patterns) -> list[np.ndarray]:
    """Per layer the (R, n_k) patterns of a batch of per-layer patterns."""
    return [np.array([p[k] for p in patterns]).reshape(len(patterns), layer.size)
            for k, layer in enumerate(net.layers)]


def region_forms(net: Network, patterns) -> RegionForms:
    """The forms of ``net`` (a ``Problem.unit_net``) on the regions of a batch of per-layer
    ``patterns``."""
    d, R = net.input_dim, len(patterns)
    eye = np.broadcast_to(np.hstack([np.eye(d), np.zeros((d, 1))]), (R, d, d + 1))
    values, mags = [eye], [eye]
    pre, pre_mag = [], []
    for layer, P in zip(net.layers, pattern_matrix(net, patterns)):
        z, zm = _apply(layer.affine, values, mags)
        pre.append(z)
        pre_mag.append(zm)
        if isinstance(layer, MaxLayer):
            pick = layer.groups[np.arange(layer.size)[None, :], P.astype(np.int64)]   # (R, g)
            values.append(np.take_along_axis(z, pick[:, :, None], axis=1))
            mags.append(np.take_along_axis(zm, pick[:, :, None], axis=1))
        else:
            slope = np.where(P.astype(bool), 1.0, layer.neg_slope)[:, :, None]
            values.append(z * slope)
            mags.append(zm * np.abs(slope))
    out, out_mag = _apply(net.output, values, mags)
    return RegionForms(pre, pre_mag, out, out_mag)


def region_rows(net: Network, patterns, forms: RegionForms,
                factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The regions of a batch as rows ``a.u + b >= 0`` with |a| = 1: (R, M, d+1), and which
    of them are ``live`` (R, M): units and piece pairs whose gradient is not zero within its
    error bound (the box is not included)."""
    R = len(patterns)
    rows, mags, live = [], [], []
    for layer, P, z, zm in zip(net.layers, pattern_matrix(net, patterns), forms.pre,
                               forms.pre_mag):
        if isinstance(layer, MaxLayer):
            G = layer.groups
            win = G[np.arange(G.shape[0])[None, :], P.astype(np.int64)]          # (R, g)
            g, m = np.nonzero(G >= 0)                                          # every piece
            other = G[g, m]
            rows.append(np.take_along_axis(z, win[:, g, None], axis=1) - z[:, other])
            mags.append(np.take_along_axis(zm, win[:, g, None], axis=1) + zm[:, other])
            live.append(win[:, g] != other[None, :])
            continue
        sign = np.where(P.astype(bool), 1.0, -1.0)[:, :, None]
        rows.append(z * sign)
        mags.append(zm)
        live.append(np.ones(P.shape, dtype=bool))
    if not rows:
        d1 = net.input_dim + 1
        return np.zeros((R, 0, d1)), np.zeros((R, 0), dtype=bool)
    Rw, M, L = np.concatenate(rows, axis=1), np.concatenate(mags, axis=1), \
        np.concatenate(live, axis=1)
    norm = np.sqrt((Rw[:, :, :-1] ** 2).sum(axis=2))
    L &= norm > factor * np.sqrt((M[:, :, :-1] ** 2).sum(axis=2))
    return Rw / np.where(L, norm, 1.0)[:, :, None], L
