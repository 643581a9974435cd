"""The affine forms of one activation region, in floats with a bound on their rounding error.

Along a pattern every pre-activation and the output are affine forms of the normalised
coordinates u (rows ``[g_1 .. g_d, c]``). ``region_forms`` computes them in float64 together
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
    """Per layer the pre-activation forms ``pre[k]`` (n_k, d+1) and their magnitudes, and the
    output's (m, d+1), on one region."""

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


def _apply(aff, values: list[np.ndarray], mags: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    d1 = values[0].shape[1]
    z = np.zeros((aff.size, d1))
    zm = np.zeros((aff.size, d1))
    z[:, -1] = aff.b
    zm[:, -1] = np.abs(aff.b)
    for s, W in aff.W.items():
        z += np.asarray(W @ values[s])
        zm += np.asarray(abs(W) @ mags[s])
    return z, zm


def region_forms(net: Network, pattern: list[np.ndarray]) -> RegionForms:
    """The forms of ``net`` (a ``Problem.unit_net``) on the region of ``pattern``."""
    d = net.input_dim
    eye = np.hstack([np.eye(d), np.zeros((d, 1))])
    values, mags = [eye], [eye.copy()]
    pre, pre_mag = [], []
    for layer, p in zip(net.layers, pattern):
        z, zm = _apply(layer.affine, values, mags)
        pre.append(z)
        pre_mag.append(zm)
        if isinstance(layer, MaxLayer):
            pick = layer.groups[np.arange(layer.size), np.asarray(p, dtype=np.int64)]
            values.append(z[pick])
            mags.append(zm[pick])
        else:
            slope = np.where(np.asarray(p, dtype=bool), 1.0, layer.neg_slope)
            values.append(z * slope[:, None])
            mags.append(zm * np.abs(slope)[:, None])
    out, out_mag = _apply(net.output, values, mags)
    return RegionForms(pre, pre_mag, out, out_mag)


def region_rows(net: Network, pattern: list[np.ndarray], forms: RegionForms,
                factor: float) -> np.ndarray:
    """The region as rows ``a.u + b >= 0`` with |a| = 1 (units and piece pairs whose gradient
    is not zero within its error bound; the box is not included)."""
    R, M = [], []
    for layer, p, z, zm in zip(net.layers, pattern, forms.pre, forms.pre_mag):
        if isinstance(layer, MaxLayer):
            G = layer.groups
            win = G[np.arange(G.shape[0]), np.asarray(p, dtype=np.int64)]
            other = (G >= 0) & (G != win[:, None])
            g, m = np.nonzero(other)
            R.append(z[win[g]] - z[G[g, m]])
            M.append(zm[win[g]] + zm[G[g, m]])
            continue
        sign = np.where(np.asarray(p, dtype=bool), 1.0, -1.0)
        R.append(z * sign[:, None])
        M.append(zm)
    if not R:
        return np.zeros((0, net.input_dim + 1))
    R, M = np.concatenate(R), np.concatenate(M)
    norm = np.sqrt((R[:, :-1] ** 2).sum(axis=1))
    live = norm > factor * np.sqrt((M[:, :-1] ** 2).sum(axis=1))
    return R[live] / norm[live, None]
