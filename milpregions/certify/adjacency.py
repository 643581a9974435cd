"""A count proven complete: every facet of every counted region leads to a counted region.

Let U be the union of the closed regions found. If U missed part of the domain, a generic
segment from a point outside U to a point inside would leave U through the relative interior
of some facet F of a region R in U, into no region of U. So U is the whole domain as soon as,
for every facet F of every counted region that is not on the domain's boundary, the region
just beyond a point q in the relative interior of F is counted.

That region is well defined: beyond relint F, every unit either keeps its (nonzero) sign from
F, or vanishes on all of F and is affine on the far side, with one sign along all of F; so the
pattern at q + eps v (v the outward normal, eps small) is the pattern of one full-dimensional
region adjacent to all of F (``exact.pattern_near``). When that pattern was not counted, the
region is new, not a doubt: it gets an exact witness on the segment from q and is counted in
turn (the float search missed it, being thinner than its margin). The search is then an exact
enumeration by adjacency, seeded with the float search's regions; every decision in it is
exact (``facets``), or is reported undecided.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..ir.pattern import concat_pattern
from ..problem import Problem
from .exact import (
    ExactNetwork,
    Halfspaces,
    as_fraction_point,
    exact_network,
    halfspaces,
    pattern_near,
    region_forms,
    strictly_inside,
)
from .exact_lp import bounded_exactly
from .facets import region_facets


@dataclass(frozen=True)
class Certification:
    """The exact verdict on a count.

    ``certified``: every region has an exact witness and every facet was followed, so
    ``regions`` is the count of the network as stored, with no margin. ``added`` are the
    regions the float search missed (pattern, witness in normalised coordinates), ``rejected``
    the patterns it counted that are no full-dimensional region; ``decisions`` the exact
    decisions made (facets and proven non-facets); ``why`` what is missing otherwise.
    """

    certified: bool
    regions: int
    added: list = field(default_factory=list)
    rejected: int = 0
    decisions: int = 0
    undecided: int = 0
    why: str = ""
    bounded: int | None = None      # over all of R^d: the certified regions that are bounded


def _key(pattern) -> bytes:
    return concat_pattern(pattern).tobytes()


def _exact_region(xn: ExactNetwork, pattern) -> Halfspaces:
    return halfspaces(xn, region_forms(xn, pattern), pattern)


def _witness_beyond(H: Halfspaces, Q, D: int, v) -> tuple[np.ndarray, int] | None:
    """A point Q/D + eps v strictly inside H (exact), or None if there is none near Q/D."""
    F0 = H.A.dot(Q) + H.c * D          # values at Q/D, times D
    F1 = H.A.dot(v)                     # derivatives along v
    eps = Fraction(1)
    for f0, f1 in zip(F0, F1):
        if f0 < 0 or (f0 == 0 and f1 <= 0):
            return None
        if f0 > 0 and f1 < 0:
            eps = min(eps, Fraction(int(f0), int(-f1) * D))
    eps /= 2
    Q2 = Q * eps.denominator + np.asarray(v, dtype=object) * (eps.numerator * D)
    D2 = D * eps.denominator
    return (Q2, D2) if strictly_inside(H, Q2, D2) else None


def domain_keys(xn: ExactNetwork) -> frozenset:
    """The primitive keys of a polytope domain's rows (its boundary's planes)."""
    if xn.domain_rows is None:
        return frozenset()
    return frozenset(tuple(int(v) for v in row) for row in xn.domain_rows)


def _seed(xn: ExactNetwork, d: int):
    """A region and witness near the centre, for when the float search gave none."""
    for v in ([1] * d, list(range(1, d + 1)), [(-1) ** k * (k + 2) for k in range(d)]):
        v = np.array(v, dtype=object)
        Q = np.zeros(d, dtype=object)
        p = pattern_near(xn, Q, 1, v)
        H = _exact_region(xn, p)
        if not H.empty:
            w = _witness_beyond(H, Q, 1, v)
            if w is not None:
                return p, H, w
    return None


def region_neighbours(xn: ExactNetwork, pattern) -> list[list[np.ndarray]] | None:
    """The patterns beyond the facets of a region that are not on the domain's boundary, each
    decided exactly (one per facet); None when some facet could not be decided or the
    pattern is no full-dimensional region."""
    H = _exact_region(xn, pattern)
    if H.empty:
        return None
    rf = region_facets(H, xn.dim, in_box=xn.box, boundary=domain_keys(xn))
    if rf.undecided:
        return None
    return [pattern_near(xn, f.Q, f.D, f.v) for f in rf.facets if not f.on_boundary]


def certify(problem: Problem, regions: list, deadline: float | None = None) -> Certification:
    """Certify (and complete) the regions found by a float search: per region its per-layer
    pattern and its witness in normalised coordinates."""
    xn = exact_network(problem)
    d = problem.dim
    boundary = domain_keys(xn)
    known: set[bytes] = set()
    queue: deque = deque()
    failed: list[bytes] = []
    for pattern, u in regions:
        H = _exact_region(xn, pattern)
        Q, D = as_fraction_point(u)
        if not H.empty and strictly_inside(H, Q, D):
            known.add(_key(pattern))
            queue.append((pattern, H))
        else:
            failed.append(_key(pattern))
    added = []
    if not queue:
        seed = _seed(xn, d)
        if seed is None:
            return Certification(False, 0, why="no region has an exact witness")
        p, H, w = seed
        known.add(_key(p))
        queue.append((p, H))
        added.append((p, w))
    decisions = undecided = bounded = 0
    shared: dict[bytes, set] = {}     # per region not yet followed: facets known from beyond
    done: set[bytes] = set()
    while queue:
        if deadline is not None and time.perf_counter() > deadline:
            return Certification(False, len(known), added, 0, decisions, undecided,
                                 "the certification was stopped by the time limit")
        pattern, H = queue.popleft()
        done.add(_key(pattern))
        rf = region_facets(H, d, shared.pop(_key(pattern), frozenset()), xn.box, boundary)
        if not xn.box:
            bounded += bounded_exactly(H.A)
        decisions += len(rf.facets) + rf.proven_not
        undecided += rf.undecided
        for f in rf.facets:
            if f.on_boundary:
                continue
            p2 = pattern_near(xn, f.Q, f.D, f.v)
            k2 = _key(p2)
            # the facet is the whole common face: the region beyond knows it already
            if k2 in known:
                if k2 not in done:
                    shared.setdefault(k2, set()).add(f.plane)
                continue
            H2 = _exact_region(xn, p2)
            w = None if H2.empty else _witness_beyond(H2, f.Q, f.D, f.v)
            if w is None:
                undecided += 1
                continue
            known.add(k2)
            shared.setdefault(k2, set()).add(f.plane)
            queue.append((p2, H2))
            added.append((p2, w))
    rejected = sum(1 for k in failed if k not in known)
    if undecided:
        return Certification(False, len(known), added, rejected, decisions, undecided,
                             f"{undecided} decisions could not be made exactly")
    return Certification(True, len(known), added, rejected, decisions, 0,
                         bounded=None if xn.box else bounded)
