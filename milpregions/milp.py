"""The MILP of record (Pyomo, solved by HiGHS through Pyomo), and the slow exact count by no-good cuts.

The network must already be normalised to the box [-1, 1]^n0 (see ``box.normalize``); ``bounds``
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

Objective: the constant 0 (a feasibility problem).

Why this counts exactly what we want: a feasible point puts every vertex x_k in the set of
inputs with pattern d. That set is convex (for a fixed pattern all pre-activations are affine),
so the whole simplex, and its interior, has pattern d: the region of d is full-dimensional.
Conversely every region that contains a delta-simplex (with margin eps on its active units) is
found. A unit identically 0 on a region only needs z <= 0 and never blocks it. Regions too thin
to hold a delta-simplex (inradius below about delta / n0, normalised coordinates) are missed;
so are regions where an active unit never exceeds eps.

``count_milp`` solves, reads d, adds the no-good cut
``sum_{d_j=1} (1 - d_j) + sum_{d_j=0} d_j >= 1`` on all binaries (unstable units and unfixed
max groups) and repeats until the model is infeasible (Serra et al. 2018 style). It is slow (one
MILP per region) and serves as an independent check of the enumerator.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .bounds import Bounds, csr_rows, layer_range, max_candidates
from .errors import InputError
from .network import MaxLayer, Network
from .result import CountResult

log = logging.getLogger("milpregions")

DELTA = 1e-6
EPS = 1e-8
#: HiGHS options for every solve (tolerances well below eps).
HIGHS_OPTIONS = {
    "threads": 1,
    "output_flag": False,
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
    "dual_feasibility_tolerance": 1e-9,
}
#: A unit with d = 0 whose forward-pass pre-activation at the witness is in (0, ZERO_TOL * eps]
#: is accepted as a rounding artefact (e.g. a pre-activation identically 0 on the region that
#: float arithmetic evaluates to 1e-17); anything else disagreeing is a bug.
ZERO_TOL = 1e-2


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
    zidx = [(k, l, j) for k in copies for l, layer in enumerate(layers)
            for j in range(layer.affine.size)]
    hidx = [(k, l, j) for k in copies for l, layer in enumerate(layers) for j in range(layer.size)]
    m.z = pe.Var(zidx, bounds=lambda _, k, l, j: (float(lo[l][j]), float(hi[l][j])))
    m.h = pe.Var(hidx, bounds=lambda _, k, l, j: (float(h_rng[l][0][j]), float(h_rng[l][1][j])))

    rows = [[(s, csr_rows(W)) for s, W in layer.affine.W.items()] for layer in layers]

    def affine_rule(_, k, l, j):
        terms, const = [], float(layers[l].affine.b[j])
        for s, A in rows[l]:
            a, b = A.indptr[j], A.indptr[j + 1]
            for i, c in zip(A.indices[a:b].tolist(), A.data[a:b].tolist()):
                if s == 0:
                    terms.append(c * m.x[i])
                    const += c * delta * float(V[k, i])
                else:
                    terms.append(c * m.h[k, s - 1, i])
        return m.z[k, l, j] == pe.quicksum(terms) + const

    m.affine = pe.Constraint(zidx, rule=affine_rule)

    tp_idx = [(k, l, j) for (k, l, j) in hidx if l in two_piece]
    stable_idx = [(k, l, j) for (k, l, j) in tp_idx if (l, j) not in unstable_set]
    unst_idx = [(k, l, j) for (k, l, j) in tp_idx if (l, j) in unstable_set]

    def stable_rule(_, k, l, j):
        if lo[l][j] > 0:
            return m.h[k, l, j] == m.z[k, l, j]
        return m.h[k, l, j] == float(layers[l].neg_slope[j]) * m.z[k, l, j]

    m.stable = pe.Constraint(stable_idx, rule=stable_rule)

    def s_of(l, j):
        return float(layers[l].neg_slope[j])

    def on_lo(_, k, l, j):
        c = min(0.0, (s_of(l, j) - 1.0) * lo[l][j])
        return m.h[k, l, j] - m.z[k, l, j] >= c * (1 - m.d[l, j])

    def on_hi(_, k, l, j):
        c = max(0.0, (s_of(l, j) - 1.0) * lo[l][j])
        return m.h[k, l, j] - m.z[k, l, j] <= c * (1 - m.d[l, j])

    def off_lo(_, k, l, j):
        c = min(0.0, (1.0 - s_of(l, j)) * hi[l][j])
        return m.h[k, l, j] - s_of(l, j) * m.z[k, l, j] >= c * m.d[l, j]

    def off_hi(_, k, l, j):
        c = max(0.0, (1.0 - s_of(l, j)) * hi[l][j])
        return m.h[k, l, j] - s_of(l, j) * m.z[k, l, j] <= c * m.d[l, j]

    def sign_on(_, k, l, j):
        return m.z[k, l, j] >= eps * m.d[l, j] + float(lo[l][j]) * (1 - m.d[l, j])

    def sign_off(_, k, l, j):
        return m.z[k, l, j] <= float(hi[l][j]) * m.d[l, j]

    for name, rule in (("on_lo", on_lo), ("on_hi", on_hi), ("off_lo", off_lo),
                       ("off_hi", off_hi), ("sign_on", sign_on), ("sign_off", sign_off)):
        setattr(m, name, pe.Constraint(unst_idx, rule=rule))

    # max groups
    def piece(l, g, p) -> int:
        return int(layers[l].groups[g, p])

    fixed_idx = [(k, l, int(g)) for k in copies for l, (fixed, _) in ginfo.items()
                 for g in np.flatnonzero(fixed >= 0)]
    unfixed = [(l, int(g)) for l, (fixed, _) in ginfo.items() for g in np.flatnonzero(fixed < 0)]
    cands = {(l, g): [int(p) for p in np.flatnonzero(ginfo[l][1][g])] for l, g in unfixed}
    piece_idx = [(k, l, g, p) for k in copies for (l, g) in unfixed for p in cands[l, g]]
    pair_idx = [(k, l, g, p, q) for k in copies for (l, g) in unfixed
                for p in cands[l, g] for q in cands[l, g] if q != p]

    m.max_one = pe.Constraint(unfixed, rule=lambda _, l, g: pe.quicksum(
        m.dmax[l, g, p] for p in cands[l, g]) == 1)
    m.max_fixed = pe.Constraint(fixed_idx, rule=lambda _, k, l, g: (
        m.h[k, l, g] == m.z[k, l, piece(l, g, int(ginfo[l][0][g]))]))
    m.max_ge = pe.Constraint(piece_idx, rule=lambda _, k, l, g, p: (
        m.h[k, l, g] >= m.z[k, l, piece(l, g, p)]))

    def max_le(_, k, l, g, p):
        j = piece(l, g, p)
        big = max(0.0, float(h_rng[l][1][g] - lo[l][j]))
        return m.h[k, l, g] <= m.z[k, l, j] + big * (1 - m.dmax[l, g, p])

    m.max_le = pe.Constraint(piece_idx, rule=max_le)

    def max_order(_, k, l, g, p, q):
        # dmax[p] = 1  =>  z_p >= z_q + eps (q earlier), z_p >= z_q (q later): first index on ties
        jp, jq = piece(l, g, p), piece(l, g, q)
        e = eps if q < p else 0.0
        big = max(0.0, e + float(hi[l][jq] - lo[l][jp]))
        return m.z[k, l, jp] - m.z[k, l, jq] >= e - big * (1 - m.dmax[l, g, p])

    m.max_order = pe.Constraint(pair_idx, rule=max_order)

    m.cuts = pe.ConstraintList()
    m.obj = pe.Objective(expr=0.0, sense=pe.minimize)
    return m


def _stable_pattern(net: Network, bounds: Bounds) -> list[np.ndarray]:
    """The pattern of the units without binaries (two-piece: active bits; max: fixed argmax,
    -1 for unfixed groups)."""
    ginfo = max_groups(net, bounds)
    return [ginfo[l][0].astype(np.int64) if l in ginfo
            else np.asarray(bounds.active(l), dtype=bool).copy() for l in range(len(net.layers))]


def _verify(net: Network, pattern: list[np.ndarray], witness: np.ndarray, eps: float) -> None:
    """The forward pass at the witness must give the MILP's pattern (else: a bug)."""
    pre = net.preactivations(witness[None, :])
    tol = ZERO_TOL * max(eps, 1e-12)
    for l, (layer, z, p) in enumerate(zip(net.layers, pre, pattern)):
        if isinstance(layer, MaxLayer):
            got = layer.argmax(z)[0]
            vals = layer._pieces(z)[0]
            bad = np.flatnonzero(got != p)
            # a later piece winning by a rounding artefact (pieces equal on the region): fine
            real = [g for g in bad if not (got[g] > p[g] >= 0
                                           and vals[g, got[g]] - vals[g, p[g]] <= tol)]
            if real:
                g = int(real[0])
                raise RuntimeError(
                    f"MILP pattern disagrees with the forward pass at the witness: layer {l} group "
                    f"{g}: MILP argmax {int(p[g])}, forward argmax {int(got[g])}, pieces "
                    f"{vals[g].tolist()} (witness {witness.tolist()})")
            if bad.size:
                log.debug("layer %d: groups %s have ties within %g at the witness; kept the MILP's "
                          "argmax", l, bad.tolist(), tol)
            continue
        z = z[0]
        got = z > 0
        bad = np.flatnonzero(got != p)
        if not bad.size:
            continue
        # d = 0 with a tiny positive value: a rounding artefact of a pre-activation that is
        # (numerically) 0 on the region. Everything else is a real disagreement.
        real = [j for j in bad if p[j] or z[j] > tol]
        if real:
            j = int(real[0])
            raise RuntimeError(
                f"MILP pattern disagrees with the forward pass at the witness: layer {l} unit {j}: "
                f"MILP bit {int(p[j])}, pre-activation {z[j]:.3e} (witness {witness.tolist()})")
        log.debug("layer %d: units %s are ~0 at the witness (|z| <= %g); kept as inactive",
                  l, bad.tolist(), tol)


def make_solver(new_vars: bool = False):
    """A persistent HiGHS solver (through Pyomo) for repeated solves of one model.

    Between solves only constraints are added or removed (no-good cuts, parity blocks), and,
    with ``new_vars``, variables: the other change checks are skipped.
    """
    from pyomo.contrib.appsi.solvers import Highs

    solver = Highs()
    if not solver.available():
        raise RuntimeError("HiGHS is not available to Pyomo (pip install highspy)")
    solver.config.load_solution = False
    solver.config.stream_solver = False
    solver.highs_options = dict(HIGHS_OPTIONS)
    uc = solver.update_config
    uc.check_for_new_or_removed_vars = new_vars
    uc.check_for_new_or_removed_constraints = True
    uc.check_for_new_or_removed_params = False
    uc.check_for_new_objective = False
    uc.update_constraints = False
    uc.update_vars = False
    uc.update_params = False
    uc.update_named_expressions = False
    return solver


def count_milp(net: Network, bounds: Bounds, *, delta: float = DELTA, eps: float = EPS,
               time_limit: float | None = None, max_regions: int | None = None,
               on_region: Callable[[list[np.ndarray], np.ndarray, float], None] | None = None,
               ) -> CountResult:
    """Count the activation regions by repeated MILP solves with no-good cuts.

    ``net`` is normalised to [-1, 1]^n0. For every region found, ``on_region(pattern, witness_u,
    radius)`` is called with the pattern (per layer: a bool array ``z > 0`` for a two-piece
    layer, an int array of argmax positions within the groups for a max layer, as
    ``Network.pattern``), the witness (the centroid of
    the witness simplex, normalised coordinates) and a lower bound on the region's inradius
    (the simplex's inradius, delta / n0). ``lps`` counts MILP solves. A time or region limit
    returns ``exact=False`` with ``stopped`` set; ``regions`` is then a lower bound.
    ``unstable_units`` in the result counts unstable two-piece units plus unfixed max groups.
    """
    _check_args(net, bounds, delta, eps)
    if time_limit is not None and time_limit < 0:
        raise InputError(f"time_limit must be >= 0, got {time_limit!r}")
    if max_regions is not None and max_regions < 0:
        raise InputError(f"max_regions must be >= 0, got {max_regions!r}")
    t0 = time.perf_counter()
    n0 = net.input_dim
    V = simplex_vertices(n0)
    radius = delta * simplex_inradius(V)
    unstable = _two_piece_unstable(net, bounds)
    ginfo = max_groups(net, bounds)
    mbin = _max_binaries(ginfo)
    n_groups = sum(int((fixed < 0).sum()) for fixed, _ in ginfo.values())
    base = _stable_pattern(net, bounds)

    def result(regions: int, solves: int, stopped: str | None) -> CountResult:
        return CountResult(regions=regions, exact=stopped is None, method="milp",
                           seconds=time.perf_counter() - t0, lps=solves, stopped=stopped,
                           margin=eps, input_dim=n0, widths=list(net.widths),
                           unstable_units=len(unstable) + n_groups, bound_lps=bounds.lps)

    if max_regions == 0:
        return result(0, 0, "max-regions")
    if not unstable and not mbin:
        # One pattern on the whole box: the box itself is the region (ball of radius 1 at 0).
        witness = np.zeros(n0)
        _verify(net, base, witness, eps)
        if on_region is not None:
            on_region([p.copy() for p in base], witness, 1.0)
        return result(1, 0, None)

    import pyomo.environ as pe
    from pyomo.contrib.appsi.base import TerminationCondition as TC

    m = build_milp(net, bounds, delta, eps)
    solver = make_solver()
    regions = solves = 0
    shift = delta * V.mean(axis=0)
    while True:
        if time_limit is not None:
            remaining = time_limit - (time.perf_counter() - t0)
            if remaining <= 0:
                return result(regions, solves, "time-limit")
            solver.config.time_limit = remaining
        res = solver.solve(m)
        solves += 1
        tc = res.termination_condition
        if tc in (TC.infeasible, TC.infeasibleOrUnbounded):
            # Every variable is bounded, so "infeasible or unbounded" means infeasible.
            log.debug("milp: infeasible after %d regions, %d solves", regions, solves)
            return result(regions, solves, None)
        if tc == TC.maxTimeLimit:
            return result(regions, solves, "time-limit")
        if tc != TC.optimal:
            raise RuntimeError(f"HiGHS (via Pyomo) stopped with {tc.name} on the counting MILP")
        if max_regions is not None and regions >= max_regions:
            # one region more than asked for exists: the count is a lower bound
            return result(regions, solves, "max-regions")
        res.solution_loader.load_vars()
        bits = {u: int(round(pe.value(m.d[u]))) for u in unstable}
        pattern = [p.copy() for p in base]
        for (l, j), b in bits.items():
            pattern[l][j] = bool(b)
        gbits = {u: int(round(pe.value(m.dmax[u]))) for u in mbin}
        for (l, g, p), b in gbits.items():
            if b:
                pattern[l][g] = p
        if any((p < 0).any() for l, p in enumerate(pattern) if l in ginfo):
            raise RuntimeError("MILP solution has a max group without a chosen piece")
        # an input that no unit reads appears in no constraint and gets no value: any is fine
        x = np.array([pe.value(m.x[i], exception=False) or 0.0 for i in range(n0)], dtype=np.float64)
        witness = x + shift
        _verify(net, pattern, witness, eps)
        regions += 1
        if on_region is not None:
            on_region(pattern, witness, radius)
        m.cuts.add(pe.quicksum([(1 - m.d[u]) if b else m.d[u] for u, b in bits.items()]
                               + [(1 - m.dmax[u]) if b else m.dmax[u] for u, b in gbits.items()])
                   >= 1)


def export_milp(net: Network, bounds: Bounds, path, delta: float = DELTA, eps: float = EPS) -> Path:
    """Write the model of ``build_milp`` to ``path``: ``.mps`` or ``.lp`` (by suffix)."""
    path = Path(path)
    fmt = {".mps": "mps", ".lp": "lp"}.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot export the MILP to '{path.suffix or path.name}': "
                         f"use a .mps or .lp file name")
    m = build_milp(net, bounds, delta, eps)
    m.write(str(path), format=fmt, io_options={"symbolic_solver_labels": True})
    return path
