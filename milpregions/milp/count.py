"""The slow exact count of the MILP of record by no-good cuts (Serra et al. 2018 style).

``count_milp`` solves, reads d, adds the no-good cut
``sum_{d_j=1} (1 - d_j) + sum_{d_j=0} d_j >= 1`` on all binaries (unstable units and unfixed
max groups) and repeats until the model is infeasible (Serra et al. 2018 style). It is slow (one
MILP per region) and serves as an independent check of the enumerator.

Every witness goes through ``ir.pattern.verify_patterns``, the certificate check of the tree.
HiGHS meets rows only to its tolerance, so a solution's point may not have the solution's
pattern (a unit that should be on by eps sits a hair below zero): the pattern is then decided
on the region's own rows by a Chebyshev LP, counted with that LP's centre as its witness if the
region holds a ball, and cut without being counted otherwise (``rejected``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from ..bounds import Bounds
from ..errors import CertificateError, SolverError
from ..ir.network import MaxLayer, Network
from ..ir.pattern import concat_pattern, verify_patterns
from ..ir.result import CountResult
from ..settings import Settings
from ..solver.highs import ChebyshevLP
from ..solver.pyomo_highs import Status, make_solver, solve_status
from .formulation import (
    DELTA,
    EPS,
    _check_args,
    _max_binaries,
    _two_piece_unstable,
    build_milp,
    max_groups,
    simplex_inradius,
    simplex_vertices,
)

log = logging.getLogger("milpregions")


def _stable_pattern(net: Network, bounds: Bounds) -> list[np.ndarray]:
    """The pattern of the units without binaries (two-piece: active bits; max: fixed argmax,
    -1 for unfixed groups)."""
    ginfo = max_groups(net, bounds)
    return [ginfo[l][0].astype(np.int64) if l in ginfo
            else np.asarray(bounds.active(l), dtype=bool).copy() for l in range(len(net.layers))]


def _holds(net: Network, u: np.ndarray, pattern: list[np.ndarray]) -> bool:
    try:
        verify_patterns(net, u[None, :], concat_pattern(pattern)[None, :])
    except CertificateError:
        return False
    return True


def region_rows(net: Network, pattern: list[np.ndarray],
                only: list[np.ndarray] | None = None) -> np.ndarray | None:
    """The region of ``pattern`` as unit-normal rows [a, c] (a . u + c >= 0) in float; None
    when a constant pre-activation contradicts the pattern. ``only``: per layer, the units (or
    the groups of a max layer) whose rows are wanted (None: all of them)."""
    d = net.input_dim
    values = [np.hstack([np.eye(d), np.zeros((d, 1))])]
    rows = []
    for k, (layer, p) in enumerate(zip(net.layers, pattern)):
        keep = None if only is None else np.asarray(only[k], dtype=np.int64)
        aff = layer.affine
        pre = np.zeros((aff.size, d + 1))
        pre[:, d] = aff.b
        for s_, W in aff.W.items():
            pre += W @ values[s_]
        if isinstance(layer, MaxLayer):
            G = layer.groups
            pick = G[np.arange(G.shape[0]), np.asarray(p, dtype=np.int64)]
            for g in range(G.shape[0]) if keep is None else np.unique(keep):
                i = pick[g]
                for j in G[g][G[g] >= 0]:
                    if j != i:
                        rows.append(pre[i] - pre[j])
            values.append(pre[pick])
        else:
            on = np.asarray(p, dtype=bool)
            sel = slice(None) if keep is None else keep
            rows.extend(np.where(on[sel, None], pre[sel], -pre[sel]))
            slope = np.where(on, 1.0, layer.neg_slope)
            values.append(pre * slope[:, None])
    R = np.array(rows).reshape(-1, d + 1)
    norm = np.linalg.norm(R[:, :d], axis=1)
    flat = norm <= 1e-12 * np.abs(R).max(axis=1, initial=0.0)
    if np.any(R[flat, d] < 0):
        return None
    R = R[~flat]
    return R / norm[~flat, None]


def _chebyshev(lp: ChebyshevLP, net: Network, pattern) -> tuple[float, np.ndarray | None]:
    """The largest ball in the region of ``pattern`` (radius, centre), or (0, None)."""
    R = region_rows(net, pattern)
    if R is None:
        return 0.0, None
    r, u = lp.solve((), np.zeros((0, net.input_dim + 1)), extra=R)
    return (r, u) if u is not None and r > 0 else (0.0, None)


def count_milp(net: Network, bounds: Bounds, *, delta: float = DELTA, eps: float = EPS,
               time_limit: float | None = None, max_regions: int | None = None,
               on_region: Callable[[list[np.ndarray], np.ndarray, float], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> CountResult:
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
    Settings(method="milp", time_limit=time_limit, max_regions=max_regions)   # the same checks
    t0 = time.perf_counter()
    n0 = net.input_dim
    V = simplex_vertices(n0)
    radius = delta * simplex_inradius(V)
    unstable = _two_piece_unstable(net, bounds)
    ginfo = max_groups(net, bounds)
    mbin = _max_binaries(ginfo)
    n_groups = sum(int((fixed < 0).sum()) for fixed, _ in ginfo.values())
    base = _stable_pattern(net, bounds)

    undecided = 0

    def result(regions: int, solves: int, stopped: str | None) -> CountResult:
        return CountResult(regions=regions, exact=stopped is None, method="milp",
                           seconds=time.perf_counter() - t0, lps=solves, stopped=stopped,
                           margin=eps, input_dim=n0, widths=list(net.widths),
                           unstable_units=len(unstable) + n_groups, bound_lps=bounds.lps,
                           undecided=undecided)

    if not unstable and not mbin:
        # One pattern on the whole box: the box itself is the region (ball of radius 1 at 0).
        witness = np.zeros(n0)
        undecided = len(verify_patterns(net, witness[None, :], concat_pattern(base)[None, :]))
        if on_region is not None:
            on_region([p.copy() for p in base], witness, 1.0)
        return result(1, 0, None)

    import pyomo.environ as pe

    m = build_milp(net, bounds, delta, eps)
    solver = make_solver()
    lp = ChebyshevLP(n0)
    regions = solves = rejected = 0
    shift = delta * V.mean(axis=0)
    while True:
        if should_stop is not None and should_stop():       # between solves: consistent
            return result(regions, solves, "interrupted")
        if time_limit is not None:
            remaining = time_limit - (time.perf_counter() - t0)
            if remaining <= 0:
                return result(regions, solves, "time-limit")
        else:
            remaining = None
        status, res = solve_status(solver, m, remaining, "the counting MILP")
        solves += 1
        if status is Status.INFEASIBLE:
            log.debug("milp: infeasible after %d regions, %d solves", regions, solves)
            return result(regions, solves, None)
        if status is Status.TIMEOUT:
            return result(regions, solves, "time-limit")
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
            raise SolverError("MILP solution has a max group without a chosen piece")
        # an input that no unit reads appears in no constraint and gets no value: any is fine
        x = np.array([pe.value(m.x[i], exception=False) or 0.0 for i in range(n0)], dtype=np.float64)
        witness, r = x + shift, radius
        if not _holds(net, witness, pattern):
            # the solver met a row only to its tolerance: the region's own rows decide
            r, witness = _chebyshev(lp, net, pattern)
            if witness is None or not _holds(net, witness, pattern):
                rejected += 1
                log.debug("milp: solution %d is no region (solver tolerance): cut", solves)
        if witness is not None:
            undecided += len(verify_patterns(net, witness[None, :],
                                             concat_pattern(pattern)[None, :]))
            regions += 1
            if on_region is not None:
                on_region(pattern, witness, r)
        m.cuts.add(pe.quicksum([(1 - m.d[u]) if b else m.d[u] for u, b in bits.items()]
                               + [(1 - m.dmax[u]) if b else m.dmax[u] for u, b in gbits.items()])
                   >= 1)
