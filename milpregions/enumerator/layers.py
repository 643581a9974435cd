"""Layer algebra of the enumeration tree, shared by the vertex path and the LP path.

On a node every fixed layer is affine, so the next layer's pre-activations are ``A u + c``
(``layer_affine``); a choice of bits or argmax pieces turns them into the layer's output map
(``output_map``). ``unit_rows`` and ``group_geometry`` reduce a layer to what a path has to
decide on the node: unit-normal rows of the units or piece pairs that are not settled yet.
The tolerances of both paths are defined here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..bounds import Bounds
from ..ir.network import MaxLayer, Network
from ..ir.pattern import rounding_level

VERTEX_TOL = 1e-10      # a vertex this close to a hyperplane lies on it
#: a vertex closer than this to a hyperplane may lie on it by rounding; one beyond it (and
#: within VERTEX_TOL) marks a real sliver, reported as a cell dropped as too thin
SLIVER_FLOOR = 1e-13
CONST_TOL = 1e-11       # a generous first filter for gradients that may be zero (see unit_rows)
EPS = float(np.finfo(np.float64).eps)
THIN = -1e-9            # an LP radius above this means a nonempty (if thin) set

Maps = list[tuple[np.ndarray, np.ndarray]]   # per source s: the affine map (A_s, c_s) of u


def _row_norms(W) -> np.ndarray:
    if isinstance(W, np.ndarray):
        return np.linalg.norm(W, axis=1)
    return np.sqrt(np.asarray(abs(W).power(2).sum(axis=1)).ravel())


@dataclass
class Units:
    """A two-piece layer: units, their global stability, slopes."""

    sources: list            # [(s, W)]
    b: np.ndarray
    neg_slope: np.ndarray
    fixed: np.ndarray        # pattern of globally stable units (unstable ones: 0)
    cand: np.ndarray         # indices of globally unstable units
    wnorm: np.ndarray        # weight row norms of the candidates
    rtol: float              # relative rounding level of this layer's maps (see ``rounding_level``)


@dataclass
class Groups:
    """A max layer: groups of pieces, and the groups fixed on the whole box."""

    sources: list
    b: np.ndarray
    groups: np.ndarray       # (n_groups, k), -1 padded
    fixed: np.ndarray        # per group the fixed argmax, -1 where not fixed
    live: np.ndarray         # indices of groups not fixed
    cand: np.ndarray         # (n_groups, k) pieces that the bounds allow to win somewhere
    rtol: float              # relative rounding level of this layer's maps


TreeLayer = Units | Groups


def build_layers(net: Network, bounds: Bounds) -> list[TreeLayer]:
    """The network's layers with what the global bounds fixed on the whole box."""
    layers: list[TreeLayer] = []
    for k, (layer, rtol) in enumerate(zip(net.layers, rounding_level(net))):
        sources = sorted(layer.affine.W.items())
        if isinstance(layer, MaxLayer):
            fixed = bounds.fixed_argmax(k).astype(np.int16)
            layers.append(Groups(sources, layer.affine.b, layer.groups, fixed,
                                 np.flatnonzero(fixed < 0), bounds.candidates(k), rtol))
            continue
        cand = np.flatnonzero(bounds.unstable(k))
        wn = sum(_row_norms(W) ** 2 for _, W in sources) ** 0.5
        layers.append(Units(sources, layer.affine.b, layer.neg_slope,
                            bounds.active(k).astype(np.int16), cand, wn[cand], rtol))
    return layers


def _abs_terms(L: TreeLayer, rows: np.ndarray, maps: Maps) -> tuple[np.ndarray, np.ndarray]:
    """For the pre-activations ``rows`` of layer L: the sums of the absolute values of the terms
    of their gradients (``sum_s |W_s| @ |A_s|``, per coordinate) and of their constants
    (``|b| + sum_s |W_s| @ |c_s|``): the scale that their rounding errors are relative to."""
    ga = None
    gc = np.abs(L.b[rows])
    for s, W in L.sources:
        As, cs = maps[s]
        Wr = abs(W[rows])
        t = Wr @ np.abs(As)
        ga = t if ga is None else ga + t
        gc = gc + Wr @ np.abs(cs)
    return np.asarray(ga), np.asarray(gc).ravel()


def layer_affine(L: TreeLayer, maps: Maps) -> tuple[np.ndarray, np.ndarray, float]:
    """Pre-activations of a layer on the node: (A, c), and the size of the maps that fed A."""
    A = None
    c = L.b.copy()
    scale = 0.0
    for s, W in L.sources:
        As, cs = maps[s]
        term = W @ As
        A = term if A is None else A + term
        c += W @ cs
        scale += float(np.linalg.norm(As))
    return np.asarray(A), np.asarray(c), scale


def output_map(L: TreeLayer, choice: np.ndarray, A: np.ndarray,
               c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The layer's outputs as an affine map of u, once its bits / argmax pieces are chosen."""
    if isinstance(L, Units):
        slope = np.where(choice > 0, 1.0, L.neg_slope)
        return slope[:, None] * A, slope * c
    idx = L.groups[np.arange(L.groups.shape[0]), choice]
    return A[idx], c[idx]


def unit_rows(L: Units, A: np.ndarray, c: np.ndarray, scale: float, maps: Maps,
              box: bool = True):
    """Bits of units constant on the node, and the unit-normal rows of the live units.

    A unit is constant on the node when its computed gradient is within rounding of zero,
    relative to the terms it was summed from (``_abs_terms``), never to the norms of
    unrelated weights: a gradient 1e-8 next to a weight 1e4 on a unit that is off on the node
    is a real slope. Its bit is then the sign of its constant, decided the same way.

    Returns ``(bits, cand, An, cn)``: ``bits`` a fresh pattern of the layer (the caller owns
    it), ``cand`` the live units, ``An u + cn`` their signed distances (None when no unit of
    the layer is globally unstable). ``box=False`` (nodes in all of R^d): no unit is settled
    as one-signed on the box.
    """
    bits = L.fixed.copy()
    cand = L.cand
    if cand.size == 0:
        return bits, cand, None, None
    a = A[cand]
    nrm = np.linalg.norm(a, axis=1)
    const = _constant(L, cand, nrm, L.wnorm, scale, maps)
    if const.any():
        _, gc = _abs_terms(L, cand[const], maps)
        bits[cand[const]] = c[cand[const]] > L.rtol * gc
        live = ~const
        cand, a, nrm = cand[live], a[live], nrm[live]
    An, cn = a / nrm[:, None], c[cand] / nrm
    # one-signed on the whole box [-1,1]^d with this node's maps (hence on the node)
    if not box:
        return bits, cand, An, cn
    reach = np.abs(An).sum(axis=1)
    on, off = cn - reach > VERTEX_TOL, cn + reach < -VERTEX_TOL
    if on.any() or off.any():
        bits[cand[on]] = 1
        live = ~(on | off)
        cand, An, cn = cand[live], An[live], cn[live]
    return bits, cand, An, cn


class GroupGeometry(NamedTuple):
    """The live groups of a max layer on a node (see ``group_geometry``)."""

    G: np.ndarray            # (g, k) piece indices, -1 padded
    Ap: np.ndarray           # (g, k, d) piece gradients
    cp: np.ndarray           # (g, k) piece constants
    possible: np.ndarray     # (g, k) pieces that can win somewhere on the node
    active: np.ndarray       # (g, k, k) pairs whose difference is not constant on the node
    inv: np.ndarray          # (g, k, k) 1 / |grad(z_i - z_m)| on active pairs, else 0
    R: np.ndarray            # (g, k, k, d) unit-normal rows of z_i - z_m >= 0
    rc: np.ndarray           # (g, k, k) their constants


def group_geometry(L: Groups, A: np.ndarray, c: np.ndarray, scale: float,
                   maps: Maps, box: bool = True) -> GroupGeometry:
    """For the live groups: piece maps, which pieces can win at all, and unit-normal pair rows.

    ``R[g, i, m], rc[g, i, m]``: the unit-normal row of ``z_i - z_m >= 0``; ``active`` marks
    the pairs whose difference is not constant on the node. ``box=False`` (nodes in all of
    R^d): no piece is dropped as beaten on the whole box.
    """
    G = L.groups[L.live]
    valid = G >= 0
    Gs = np.maximum(G, 0)
    Ap, cp = A[Gs], c[Gs]                                        # (g, k, d), (g, k)
    D = Ap[:, :, None, :] - Ap[:, None, :, :]                    # (g, k, k, d): i - m
    N = np.linalg.norm(D, axis=3)
    dc = cp[:, :, None] - cp[:, None, :]
    pn = np.linalg.norm(Ap, axis=2)
    k = G.shape[1]
    pair = valid[:, :, None] & valid[:, None, :] & ~np.eye(k, dtype=bool)
    # pieces identical on the node: their difference is within rounding of zero, relative to
    # the terms both were summed from (a cheap generous filter first)
    const = N <= CONST_TOL * (pn[:, :, None] + pn[:, None, :] + scale)
    ctol = btol = CONST_TOL * (np.abs(cp)[:, :, None] + np.abs(cp)[:, None, :] + 1.0)
    if const.any():
        ga, gc = _abs_terms(L, Gs.ravel(), maps)
        gn = np.linalg.norm(ga, axis=1).reshape(Gs.shape)
        gc = gc.reshape(Gs.shape)
        const &= N <= L.rtol * (gn[:, :, None] + gn[:, None, :])
        ctol = L.rtol * (gc[:, :, None] + gc[:, None, :])
    earlier = np.tril(np.ones((k, k), dtype=bool), -1)           # m < i
    wins = np.where(earlier, dc > ctol, dc >= -ctol)
    possible = valid & L.cand[L.live] & ~(pair & const & ~wins).any(axis=2)
    active = pair & ~const
    inv = np.where(active, 1.0 / np.where(active, N, 1.0), 0.0)
    # a piece that another piece beats on the whole box [-1,1]^d (with this node's maps)
    # never wins on the node: the range of z_i - z_m over the box is dc -+ |D|_1
    if box:
        beaten = (dc + np.abs(D).sum(axis=3) < -btol) & pair
        possible &= ~beaten.any(axis=2)
    R = D * inv[..., None]
    rc = dc * inv
    return GroupGeometry(G, Ap, cp, possible, active, inv, R, rc)


def _constant(L: TreeLayer, rows: np.ndarray, nrm: np.ndarray, wnorm, scale: float,
              maps: Maps) -> np.ndarray:
    """Which of the pre-activations ``rows`` (gradient norms ``nrm``) are constant on the node:
    within rounding of zero relative to the terms they were summed from (``_abs_terms``),
    after a cheap generous filter. ``unit_rows`` decides constants the same way."""
    maybe = nrm <= max(CONST_TOL, L.rtol) * wnorm * scale
    const = np.zeros(rows.size, dtype=bool)
    if maybe.any():
        ga, _ = _abs_terms(L, rows[maybe], maps)
        const[maybe] = nrm[maybe] <= L.rtol * np.linalg.norm(ga, axis=1)
    return const


def region_rows(layers: list[TreeLayer], frames, pattern: np.ndarray, d: int) -> np.ndarray:
    """The rows ``[a, b]`` (unit ``a``) of the region of ``pattern`` on the node of the last
    frame: every unstable unit on its side and every chosen max piece above the other pieces
    of its group, as affine functions of u with the maps of ``frames`` (one per layer).
    Units constant on the region and pieces identical to the chosen one give no row."""
    out = [np.zeros((0, d + 1))]
    col = 0
    for f in frames:
        L = layers[f.k]
        n = L.fixed.size
        choice = pattern[col:col + n]
        col += n
        if isinstance(L, Units):
            cand = L.cand
            if not cand.size:
                continue
            a, cc = f.A[cand], f.c[cand]
            nrm = np.linalg.norm(a, axis=1)
            live = ~_constant(L, cand, nrm, L.wnorm, f.scale, f.maps)
            sgn = np.where(choice[cand[live]] > 0, 1.0, -1.0) / nrm[live]
            out.append(np.column_stack([a[live] * sgn[:, None], cc[live] * sgn]))
            continue
        if not L.live.size:
            continue
        G = L.groups[L.live]
        chosen = G[np.arange(G.shape[0]), choice[L.live]]           # (g,) the winning entries
        others = np.where(G >= 0, G, chosen[:, None])               # padding: the chosen itself
        i_rows = np.repeat(chosen, G.shape[1])
        m_rows = others.ravel()
        keep = i_rows != m_rows
        i_rows, m_rows = i_rows[keep], m_rows[keep]
        if not i_rows.size:
            continue
        D = f.A[i_rows] - f.A[m_rows]
        dc = f.c[i_rows] - f.c[m_rows]
        N = np.linalg.norm(D, axis=1)
        ga, _ = _abs_terms(L, np.concatenate([i_rows, m_rows]), f.maps)
        gn = np.linalg.norm(ga, axis=1)
        same = N <= L.rtol * (gn[:i_rows.size] + gn[i_rows.size:])
        live = ~same
        inv = 1.0 / N[live]
        out.append(np.column_stack([D[live] * inv[:, None], dc[live] * inv]))
    return np.vstack(out)


def certified_radius(H: np.ndarray, u: np.ndarray, box: bool = True) -> float:
    """The radius of the largest ball around u inside [-1, 1]^d and every row of H (unit
    normals): evaluated directly, so it holds up to the rounding of these few products.
    ``box=False``: inside the rows alone (all of R^d), capped at 1 as the LP path caps radii,
    less the rounding of the products (u may lie far outside [-1, 1]^d there)."""
    r = 1.0 - float(np.abs(u).max(initial=0.0)) if box else 1.0
    if H.shape[0]:
        r = min(r, float((H[:, :-1] @ u + H[:, -1]).min()))
        if not box:
            r -= row_rounding(H, u)
    return r


def row_rounding(H: np.ndarray, u: np.ndarray) -> float:
    """A bound on the rounding of ``H[:, :-1] @ u + H[:, -1]`` in floats, per row (the
    largest): ``(d + 2) eps (|a| . |u| + |b|)``."""
    d = H.shape[1] - 1
    return (d + 2) * EPS * float((np.abs(H[:, :-1]) @ np.abs(u) + np.abs(H[:, -1])).max(initial=0.0))
