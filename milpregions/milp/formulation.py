"""The MILP of record (Pyomo): the big-M model with a simplex witness.

The network must already be normalised to the box [-1, 1]^n0 (see ``ir.domain.normalize``); ``bounds``
are pre-activation bounds valid on that box (``bounds.interval_bounds`` or LP-tightened ones).

Formulation: a simplex witness
------------------------------
Counting needs *full-dimensional* regions. The textbook margin "d=1 => z >= eps, d=0 => z <= -eps"
is wrong for counting: a unit whose pre-activation is identically 0 on a full-dimensional region
(e.g. a layer-2 unit with zero bias that reads only units which are off there) would make that
region infeasible. Instead the model asks for a small simplex that lies inside one region.

Fix the vertices v_0..v_n0 of a regular simplex in R^n0, centred at 0 with circumradius 1
(``simplex_vertices``). Variables:

- ``x[i]``, i < n0: the centre of the witness simplex; its bounds keep every vertex
  ``x_k = x + delta * v_k`` inside [-1, 1]^n0.
- ``d[l, j]`` in {0, 1}: one binary per *unstable* unit j of a two-piece layer l (bounds
  L <= 0 < U), shared by all copies. Stable units get no binary.
- ``z[k, l, j]``, ``h[k, l, j]``: pre-activation and output of unit j of layer l at vertex k
  (copy k = 0..n0 of the network), with bounds L <= z <= U and the exact range of h.

Constraints, for every copy k (indices 0-based, as in ``Network.layers`` and ``Bounds``):

- ``affine[k, l, j]``:  z = sum_s W_s[j] . v_s + b_j, where v_0 = x_k and v_s = h[k, s-1, :].
- stable active unit (L > 0):    ``stable[k, l, j]``: h = z.
- stable inactive unit (U <= 0): ``stable[k, l, j]``: h = s z   (s = the unit's neg_slope).
- unstable unit, h = z if z > 0 else s z, generalised big-M (exact for 0/1 d, any s):

      on_lo:   h - z   >= min(0, (s-1) L) (1 - d)       on_hi:  h - z   <= max(0, (s-1) L) (1 - d)
      off_lo:  h - s z >= min(0, (1-s) U) d             off_hi: h - s z <= max(0, (1-s) U) d
      sign_on:  z >= eps d + L (1 - d)                  (d = 1  =>  z >= eps)
      sign_off: z <= U d                                (d = 0  =>  z <= 0)

  For s = 0 this is the classic h >= z, h <= z - L(1-d), h >= 0, h <= U d.

Max layers (maxout, MaxPool; ``network.MaxLayer``): ``z[k, l, j]`` holds every piece (all
``affine.size`` pre-activations) and ``h[k, l, g]`` every group output, with bounds
``[max_i L_i, max_i U_i]`` over the group's pieces. ``bounds.max_candidates`` drops the pieces
that can never be the argmax (first index on ties) given the bounds; a group with a single
candidate f is *fixed*: ``max_fixed[k, l, g]``: h_g = z_f, no binary. An unfixed group with
candidate positions C gets binaries ``dmax[l, g, p]``, p in C, shared by all copies, and

      max_one[l, g]:          sum_{p in C} dmax[l, g, p] = 1
      max_ge[k, l, g, p]:     h_g >= z_p                                   (every p in C)
      max_le[k, l, g, p]:     h_g <= z_p + (max_i U_i - L_p) (1 - dmax[l, g, p])
      max_order[k, l, g, p, q], q in C, q != p  (the tie-break: first index on ties):
          z_p - z_q >= e - max(0, e + U_q - L_p) (1 - dmax[l, g, p]),  e = eps if q < p else 0

  so dmax[p] = 1 forces z_p >= z_q + eps for earlier pieces, z_p >= z_q for later ones, and
  h_g = z_p. Restricting to C loses nothing: the argmax at any x is a candidate, so the max
  over C is the max over the group. The pattern of the group is the p with dmax = 1, the same
  convention as ``Network.pattern`` (argmax, first index on ties): a region on which two pieces
  coincide identically is found once, under the earlier piece; a region on which piece p is
  the strict maximum needs margin eps over the earlier pieces only (like eps on ReLU units).

Weights W_s may be dense numpy arrays or scipy.sparse (CNN layers); rows are read from CSR.

Scaling: every ``z`` and ``h`` variable is held in units of its own bound scale
(``max(|L|, |U|)``, so its value lies in [-1, 1]) and every row is divided by the scale of the
unit or group it belongs to. Rows of a net whose pre-activations range over 1e-4 .. 1e8 then
have coefficients near 1 (unscaled, HiGHS reported such models infeasible with regions left).
``eps`` stays absolute; in a variable's own units it may fall below the solver's tolerance, so
``count`` never trusts a solution's pattern at its point alone (see there).

Objective: the constant 0 (a feasibility problem).

Why this counts exactly what we want: a feasible point puts every vertex x_k in the set of
inputs with pattern d. That set is convex (for a fixed pattern all pre-activations are affine),
so the whole simplex, and its interior, has pattern d: the region of d is full-dimensional.
Conversely every region that contains a delta-simplex (with margin eps on its active units) is
found. A unit identically 0 on a region only needs z <= 0 and never blocks it. Regions too thin
to hold a delta-simplex (inradius below about delta / n0, normalised coordinates) are missed;
so are regions where an active unit never exceeds eps.

The no-good count lives in ``milp.count``, the file export in ``milp.export``.
"""

from __future__ import annotations

import math

import numpy as np

from ..bounds import Bounds, csr_rows, layer_range, max_candidates
from ..errors import InputError
from ..ir.network import MaxLayer, Network

DELTA = 1e-6
EPS = 1e-8


def simplex_vertices(n: int) -> np.ndarray:
    """The (n+1, n) vertices of a regular simplex in R^n, centred at 0, circumradius 1."""
    if n < 1:
        raise ValueError("simplex dimension must be at least 1")
    E = np.eye(n + 1) - 1.0 / (n + 1)          # e_k - mean, rows in the sum-zero hyperplane
    # Orthonormal basis of the sum-zero hyperplane: the first n left singular vectors of E.
    U, _, _ = np.linalg.svd(E)
    V = E @ U[:, :n]
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    V -= V.mean(axis=0)                         # exact centring against rounding
    return V


def simplex_inradius(V: np.ndarray) -> float:
    """Radius of the largest ball around the centroid of the simplex with vertices V (rows)."""
    n = V.shape[1]
    M = np.vstack([V.T, np.ones(n + 1)])        # [V^T; 1] lambda = [x; 1]
    Minv = np.linalg.inv(M)
    grad = Minv[:, :n]                          # gradients of the barycentric coordinates
    return float(np.min((1.0 / (n + 1)) / np.linalg.norm(grad, axis=1)))


def _check_args(net: Network, bounds: Bounds, delta: float, eps: float) -> None:
    if not (0 < delta <= 0.5):
        raise InputError(f"delta must be in (0, 0.5] (normalised coordinates), got {delta!r}")
    if not (eps >= 0 and math.isfinite(eps)):
        raise InputError(f"eps must be a finite number >= 0, got {eps!r}")
    if len(bounds.lo) != len(net.layers):
        raise InputError(f"bounds have {len(bounds.lo)} layers but the network has {len(net.layers)}")
    for l, layer in enumerate(net.layers):
        n = layer.affine.size
        if bounds.lo[l].shape != (n,) or bounds.hi[l].shape != (n,):
            raise InputError(f"bounds of layer {l} do not match its {n} pre-activations")


def unstable_units(bounds: Bounds) -> list[tuple[int, int]]:
    """The (layer, unit) indices of two-piece layers that get a binary, in layer order
    (layers that ``bounds`` marks as max layers are skipped: see ``max_groups``)."""
    return [(l, int(j)) for l in range(len(bounds.lo)) if not bounds.is_max(l)
            for j in np.flatnonzero(bounds.unstable(l))]


def _two_piece_unstable(net: Network, bounds: Bounds) -> list[tuple[int, int]]:
    return [(l, int(j)) for l, layer in enumerate(net.layers) if not isinstance(layer, MaxLayer)
            for j in np.flatnonzero(bounds.unstable(l))]


def max_groups(net: Network, bounds: Bounds) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per max layer l: ``(fixed, cand)`` with ``fixed[g]`` the fixed argmax position of group g
    or -1, and ``cand`` the (n_groups, k) candidate mask (``bounds.max_candidates``)."""
    out = {}
    for l, layer in enumerate(net.layers):
        if isinstance(layer, MaxLayer):
            cand = max_candidates(layer.groups, bounds.lo[l], bounds.hi[l])
            fixed = np.where(cand.sum(axis=1) == 1, cand.argmax(axis=1), -1)
            out[l] = (fixed, cand)
    return out


def _max_binaries(groups_info) -> list[tuple[int, int, int]]:
    """(layer, group, position) of every binary of unfixed max groups (candidate pieces only)."""
    return [(l, int(g), int(p)) for l, (fixed, cand) in groups_info.items()
            for g in np.flatnonzero(fixed < 0) for p in np.flatnonzero(cand[g])]


def _scale(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per variable the larger of its bounds' magnitudes (1 for a variable fixed at 0)."""
    s = np.maximum(np.abs(lo), np.abs(hi)).astype(np.float64)
    return np.where(s > 0, s, 1.0)


def build_milp(net: Network, bounds: Bounds, delta: float = DELTA, eps: float = EPS):
    """The Pyomo ConcreteModel of the module docstring (objective 0: a feasibility problem).

    Components: ``x[i]``, ``d[l, j]`` (unstable two-piece units), ``dmax[l, g, p]`` (candidate
    pieces of unfixed max groups), ``z[k, l, j]`` (every pre-activation), ``h[k, l, j]`` (every
    layer output: unit or group), copy k = 0..n0; constraints ``affine``, ``stable``, ``on_lo``,
    ``on_hi``, ``off_lo``, ``off_hi``, ``sign_on``, ``sign_off``, ``max_one``, ``max_fixed``,
    ``max_ge``, ``max_le``, ``max_order``; an empty ``cuts`` ConstraintList; objective ``obj``.
    Weights may be dense or scipy.sparse.
    """
    import pyomo.environ as pe

    _check_args(net, bounds, delta, eps)
    n0 = net.input_dim
    V = simplex_vertices(n0)
    copies = range(n0 + 1)
    layers = net.layers

    m = pe.ConcreteModel(name="milpregions")
    # Keep every vertex x + delta v_k inside [-1, 1]^n0.
    x_lo = -1.0 + delta * np.max(-V, axis=0)
    x_hi = 1.0 - delta * np.max(V, axis=0)
    m.x = pe.Var(range(n0), bounds=lambda _, i: (float(x_lo[i]), float(x_hi[i])))

    two_piece = [l for l, layer in enumerate(layers) if not isinstance(layer, MaxLayer)]
    unstable = _two_piece_unstable(net, bounds)
    unstable_set = set(unstable)
    m.d = pe.Var(unstable, within=pe.Binary)
    ginfo = max_groups(net, bounds)
    mbin = _max_binaries(ginfo)
    m.dmax = pe.Var(mbin, within=pe.Binary)

    lo = [np.asarray(a, dtype=np.float64) for a in bounds.lo]
    hi = [np.asarray(a, dtype=np.float64) for a in bounds.hi]
    h_rng = [layer_range(layer, lo[l], hi[l]) for l, layer in enumerate(layers)]
    # every z and h is held in units of its own bound scale (|value| <= 1), and every row is
    # divided by the scale of the unit or group it belongs to: a net whose pre-activations
    # range over 1e-4 .. 1e8 gives HiGHS rows with coefficients near 1, and eps is relative
    z_scale = [_scale(lo[l], hi[l]) for l in range(len(layers))]
    h_scale = [_scale(*h_rng[l]) for l in range(len(layers))]
    zidx = [(k, l, j) for k in copies for l, layer in enumerate(layers)
            for j in range(layer.affine.size)]
    hidx = [(k, l, j) for k in copies for l, layer in enumerate(layers) for j in range(layer.size)]
    m.z = pe.Var(zidx, bounds=lambda _, k, l, j: (float(lo[l][j] / z_scale[l][j]),
                                                  float(hi[l][j] / z_scale[l][j])))
    m.h = pe.Var(hidx, bounds=lambda _, k, l, j: (float(h_rng[l][0][j] / h_scale[l][j]),
                                                  float(h_rng[l][1][j] / h_scale[l][j])))

    def Z(k, l, j):             # the pre-activation, in its own units
        return float(z_scale[l][j]) * m.z[k, l, j]

    def H(k, l, j):
        return float(h_scale[l][j]) * m.h[k, l, j]

    rows = [[(s, csr_rows(W)) for s, W in layer.affine.W.items()] for layer in layers]

    def affine_rule(_, k, l, j):
        inv = 1.0 / float(z_scale[l][j])
        terms, const = [], float(layers[l].affine.b[j])
        for s, A in rows[l]:
            a, b = A.indptr[j], A.indptr[j + 1]
            for i, c in zip(A.indices[a:b].tolist(), A.data[a:b].tolist()):
                if s == 0:
                    terms.append(c * inv * m.x[i])
                    const += c * delta * float(V[k, i])
                else:
                    terms.append(c * float(h_scale[s - 1][i]) * inv * m.h[k, s - 1, i])
        return m.z[k, l, j] == pe.quicksum(terms) + const * inv

    m.affine = pe.Constraint(zidx, rule=affine_rule)

    tp_idx = [(k, l, j) for (k, l, j) in hidx if l in two_piece]
    stable_idx = [(k, l, j) for (k, l, j) in tp_idx if (l, j) not in unstable_set]
    unst_idx = [(k, l, j) for (k, l, j) in tp_idx if (l, j) in unstable_set]

    def stable_rule(_, k, l, j):
        inv = 1.0 / float(z_scale[l][j])
        if lo[l][j] > 0:
            return H(k, l, j) * inv == m.z[k, l, j]
        return H(k, l, j) * inv == float(layers[l].neg_slope[j]) * m.z[k, l, j]

    m.stable = pe.Constraint(stable_idx, rule=stable_rule)

    def s_of(l, j):
        return float(layers[l].neg_slope[j])

    def unit(rule):
        """A unit's row, divided by the unit's scale."""
        def scaled(_, k, l, j):
            return rule(k, l, j, 1.0 / float(z_scale[l][j]))
        return scaled

    def on_lo(k, l, j, inv):
        c = min(0.0, (s_of(l, j) - 1.0) * lo[l][j])
        return H(k, l, j) * inv - m.z[k, l, j] >= c * inv * (1 - m.d[l, j])

    def on_hi(k, l, j, inv):
        c = max(0.0, (s_of(l, j) - 1.0) * lo[l][j])
        return H(k, l, j) * inv - m.z[k, l, j] <= c * inv * (1 - m.d[l, j])

    def off_lo(k, l, j, inv):
        c = min(0.0, (1.0 - s_of(l, j)) * hi[l][j])
        return H(k, l, j) * inv - s_of(l, j) * m.z[k, l, j] >= c * inv * m.d[l, j]

    def off_hi(k, l, j, inv):
        c = max(0.0, (1.0 - s_of(l, j)) * hi[l][j])
        return H(k, l, j) * inv - s_of(l, j) * m.z[k, l, j] <= c * inv * m.d[l, j]

    def sign_on(k, l, j, inv):
        # eps is absolute (in the unit's own units eps / scale, which may be below the
        # solver's tolerance: ``count`` then checks the region on its own rows)
        return m.z[k, l, j] >= eps * inv * m.d[l, j] + float(lo[l][j]) * inv * (1 - m.d[l, j])

    def sign_off(k, l, j, inv):
        return m.z[k, l, j] <= float(hi[l][j]) * inv * m.d[l, j]

    for name, rule in (("on_lo", on_lo), ("on_hi", on_hi), ("off_lo", off_lo),
                       ("off_hi", off_hi), ("sign_on", sign_on), ("sign_off", sign_off)):
        setattr(m, name, pe.Constraint(unst_idx, rule=unit(rule)))

    # max groups: rows divided by the group's output scale
    def piece(l, g, p) -> int:
        return int(layers[l].groups[g, p])

    fixed_idx = [(k, l, int(g)) for k in copies for l, (fixed, _) in ginfo.items()
                 for g in np.flatnonzero(fixed >= 0)]
    unfixed = [(l, int(g)) for l, (fixed, _) in ginfo.items() for g in np.flatnonzero(fixed < 0)]
    cands = {(l, g): [int(p) for p in np.flatnonzero(ginfo[l][1][g])] for l, g in unfixed}
    piece_idx = [(k, l, g, p) for k in copies for (l, g) in unfixed for p in cands[l, g]]
    pair_idx = [(k, l, g, p, q) for k in copies for (l, g) in unfixed
                for p in cands[l, g] for q in cands[l, g] if q != p]

    def ginv(l, g):
        return 1.0 / float(h_scale[l][g])

    m.max_one = pe.Constraint(unfixed, rule=lambda _, l, g: pe.quicksum(
        m.dmax[l, g, p] for p in cands[l, g]) == 1)
    m.max_fixed = pe.Constraint(fixed_idx, rule=lambda _, k, l, g: (
        m.h[k, l, g] == Z(k, l, piece(l, g, int(ginfo[l][0][g]))) * ginv(l, g)))
    m.max_ge = pe.Constraint(piece_idx, rule=lambda _, k, l, g, p: (
        m.h[k, l, g] >= Z(k, l, piece(l, g, p)) * ginv(l, g)))

    def max_le(_, k, l, g, p):
        j = piece(l, g, p)
        big = max(0.0, float(h_rng[l][1][g] - lo[l][j]))
        inv = ginv(l, g)
        return m.h[k, l, g] <= Z(k, l, j) * inv + big * inv * (1 - m.dmax[l, g, p])

    m.max_le = pe.Constraint(piece_idx, rule=max_le)

    def max_order(_, k, l, g, p, q):
        # dmax[p] = 1  =>  z_p >= z_q + eps (q earlier), z_p >= z_q (q later): first index on
        # ties; eps relative to the larger of the two pieces' scales
        jp, jq = piece(l, g, p), piece(l, g, q)
        sc = max(float(z_scale[l][jp]), float(z_scale[l][jq]))
        e = eps / sc if q < p else 0.0
        big = max(0.0, e + float(hi[l][jq] - lo[l][jp]) / sc)
        return (Z(k, l, jp) - Z(k, l, jq)) / sc >= e - big * (1 - m.dmax[l, g, p])

    m.max_order = pe.Constraint(pair_idx, rule=max_order)

    m.cuts = pe.ConstraintList()
    m.obj = pe.Objective(expr=0.0, sense=pe.minimize)
    return m
