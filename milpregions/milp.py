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
- ``d[l, j]`` in {0, 1}: one binary per *unstable* unit j of layer l (bounds L < 0 < U), shared by
  all copies. Stable units get no binary.
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

Objective: the constant 0 (a feasibility problem).

Why this counts exactly what we want: a feasible point puts every vertex x_k in the set of
inputs with pattern d. That set is convex (for a fixed pattern all pre-activations are affine),
so the whole simplex, and its interior, has pattern d: the region of d is full-dimensional.
Conversely every region that contains a delta-simplex (with margin eps on its active units) is
found. A unit identically 0 on a region only needs z <= 0 and never blocks it. Regions too thin
to hold a delta-simplex (inradius below about delta / n0, normalised coordinates) are missed;
so are regions where an active unit never exceeds eps.

``count_milp`` solves, reads d, adds the no-good cut
``sum_{d_j=1} (1 - d_j) + sum_{d_j=0} d_j >= 1`` on the unstable binaries and repeats until
the model is infeasible (Serra et al. 2018 style). It is slow (one MILP per region) and serves
as an independent check of the enumerator.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .bounds import Bounds, activation_range
from .errors import InputError
from .network import Network
from .result import CountResult

log = logging.getLogger("milpregions")

DELTA = 1e-4
EPS = 1e-6
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
        if bounds.lo[l].shape != (layer.size,) or bounds.hi[l].shape != (layer.size,):
            raise InputError(f"bounds of layer {l} do not match its {layer.size} units")


def unstable_units(bounds: Bounds) -> list[tuple[int, int]]:
    """The (layer, unit) indices that get a binary, in layer order."""
    return [(l, int(j)) for l in range(len(bounds.lo)) for j in np.flatnonzero(bounds.unstable(l))]


def build_milp(net: Network, bounds: Bounds, delta: float = DELTA, eps: float = EPS):
    """The Pyomo ConcreteModel of the module docstring (objective 0: a feasibility problem).

    Components: ``x[i]``, ``d[l, j]`` (unstable units only), ``z[k, l, j]``, ``h[k, l, j]``
    (copy k = 0..n0), constraints ``affine``, ``stable``, ``on_lo``, ``on_hi``, ``off_lo``,
    ``off_hi``, ``sign_on``, ``sign_off``, an empty ``cuts`` ConstraintList, objective ``obj``.
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

    units = [(l, j) for l, layer in enumerate(layers) for j in range(layer.size)]
    unstable = unstable_units(bounds)
    unstable_set = set(unstable)
    m.d = pe.Var(unstable, within=pe.Binary)

    lo = [np.asarray(a, dtype=np.float64) for a in bounds.lo]
    hi = [np.asarray(a, dtype=np.float64) for a in bounds.hi]
    h_rng = [activation_range(lo[l], hi[l], layer.neg_slope) for l, layer in enumerate(layers)]
    idx = [(k, l, j) for k in copies for (l, j) in units]
    m.z = pe.Var(idx, bounds=lambda _, k, l, j: (float(lo[l][j]), float(hi[l][j])))
    m.h = pe.Var(idx, bounds=lambda _, k, l, j: (float(h_rng[l][0][j]), float(h_rng[l][1][j])))

    def source_terms(k: int, s: int, w: np.ndarray):
        """Terms of w . v_s for copy k, with the constant part returned separately."""
        const = 0.0
        terms = []
        for i in np.flatnonzero(w):
            c = float(w[i])
            if s == 0:
                terms.append(c * m.x[int(i)])
                const += c * delta * float(V[k, i])
            else:
                terms.append(c * m.h[k, s - 1, int(i)])
        return terms, const

    def affine_rule(_, k, l, j):
        aff = layers[l].affine
        terms, const = [], float(aff.b[j])
        for s, W in aff.W.items():
            t, c = source_terms(k, s, W[j])
            terms += t
            const += c
        return m.z[k, l, j] == pe.quicksum(terms) + const

    m.affine = pe.Constraint(idx, rule=affine_rule)

    stable_idx = [(k, l, j) for (k, l, j) in idx if (l, j) not in unstable_set]
    unst_idx = [(k, l, j) for (k, l, j) in idx if (l, j) in unstable_set]

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

    m.cuts = pe.ConstraintList()
    m.obj = pe.Objective(expr=0.0, sense=pe.minimize)
    return m


def _stable_pattern(net: Network, bounds: Bounds) -> list[np.ndarray]:
    return [np.asarray(bounds.active(l), dtype=bool).copy() for l in range(len(net.layers))]


def _verify(net: Network, pattern: list[np.ndarray], witness: np.ndarray, eps: float) -> None:
    """The forward pass at the witness must give the MILP's pattern (else: a bug)."""
    pre = net.preactivations(witness[None, :])
    for l, (z, p) in enumerate(zip(pre, pattern)):
        z = z[0]
        got = z > 0
        bad = np.flatnonzero(got != p)
        if not bad.size:
            continue
        # d = 0 with a tiny positive value: a rounding artefact of a pre-activation that is
        # (numerically) 0 on the region. Everything else is a real disagreement.
        real = [j for j in bad if p[j] or z[j] > ZERO_TOL * max(eps, 1e-12)]
        if real:
            j = int(real[0])
            raise RuntimeError(
                f"MILP pattern disagrees with the forward pass at the witness: layer {l} unit {j}: "
                f"MILP bit {int(p[j])}, pre-activation {z[j]:.3e} (witness {witness.tolist()})")
        log.debug("layer %d: units %s are ~0 at the witness (|z| <= %g); kept as inactive",
                  l, bad.tolist(), ZERO_TOL * eps)


def _make_solver():
    from pyomo.contrib.appsi.solvers import Highs

    solver = Highs()
    if not solver.available():
        raise RuntimeError("HiGHS is not available to Pyomo (pip install highspy)")
    solver.config.load_solution = False
    solver.config.stream_solver = False
    solver.highs_options = dict(HIGHS_OPTIONS)
    # Between solves only constraints (the cuts) are added: skip the other change checks.
    uc = solver.update_config
    uc.check_for_new_or_removed_vars = False
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
    radius)`` is called with the pattern (one bool array per layer), the witness (the centroid of
    the witness simplex, normalised coordinates) and a lower bound on the region's inradius
    (the simplex's inradius, delta / n0). ``lps`` counts MILP solves. A time or region limit
    returns ``exact=False`` with ``stopped`` set; ``regions`` is then a lower bound.
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
    unstable = unstable_units(bounds)
    base = _stable_pattern(net, bounds)

    def result(regions: int, solves: int, stopped: str | None) -> CountResult:
        return CountResult(regions=regions, exact=stopped is None, method="milp",
                           seconds=time.perf_counter() - t0, lps=solves, stopped=stopped,
                           margin=eps, input_dim=n0, widths=list(net.widths),
                           unstable_units=len(unstable), bound_lps=bounds.lps)

    if max_regions == 0:
        return result(0, 0, "max-regions")
    if not unstable:
        # One pattern on the whole box: the box itself is the region (ball of radius 1 at 0).
        witness = np.zeros(n0)
        _verify(net, base, witness, eps)
        if on_region is not None:
            on_region([p.copy() for p in base], witness, 1.0)
        return result(1, 0, None)

    import pyomo.environ as pe
    from pyomo.contrib.appsi.base import TerminationCondition as TC

    m = build_milp(net, bounds, delta, eps)
    solver = _make_solver()
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
        # an input that no unit reads appears in no constraint and gets no value: any is fine
        x = np.array([pe.value(m.x[i], exception=False) or 0.0 for i in range(n0)], dtype=np.float64)
        witness = x + shift
        _verify(net, pattern, witness, eps)
        regions += 1
        if on_region is not None:
            on_region(pattern, witness, radius)
        m.cuts.add(pe.quicksum(((1 - m.d[u]) if b else m.d[u] for u, b in bits.items())) >= 1)


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
