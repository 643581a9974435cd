"""Decision boundaries of a classifier: what each predicted class holds, where the boundary runs.

The predicted class of x is the first largest logit (ties: the first index, as in MaxPool);
with one logit f the classes are 0 (f <= 0) and 1 (f > 0). ``decision_network`` appends the
decision to the network as one more activation layer (a max group over the logits; for one
logit a ReLU unit on f), so the activation regions of the augmented network are exactly the
(activation region, class) *cells* with nonempty interior: the existing tree counts them
(every walk, compiled, ``certify``), the last layer's piece is the class and the pattern
before it the activation region. From the cells and the region graph of the augmented
network (``graph.region_graph``, exact adjacency through facets):

- ``class_regions[c]``: the activation regions holding a cell of class c;
- ``crossed``: the activation regions holding two classes or more (the boundary crosses them);
- ``decision_regions``: connected components of the cell graph restricted to edges between
  cells of one class (connected through (n-1)-faces: sets touching at a lower-dimensional face
  only are apart);
- ``boundary_pieces``: the (n-1)-faces between two cells of different classes, one per edge
  of the cell graph. Inside one activation region the cells of two classes meet in at most one
  face (the logits are affine there), so on a generic network this is the count of Tseran &
  Montufar (2021): per activation region, the pairs of classes whose tie set meets it;
- ``merged_pieces`` (up to ``vertex_dim`` inputs, where the cells have vertex form; 1-D: the
  pieces): pieces merged where the boundary continues on one hyperplane from one activation
  region into another: two pieces between the same two classes, in different regions, with a
  common (d-2)-face (common vertices within ``TOUCH``; in 2-D an endpoint), on one hyperplane
  (decided on the exact tie forms). None above ``vertex_dim``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..ir.network import Affine, Layer, MaxLayer, Network
from ..ir.pattern import concat_pattern
from ..ir.result import CountResult, Region
from ..problem import Problem, load_network, prepare
from ..settings import Settings
from .analysis import RegionAnalysis, analyze
from .maps import _UnionFind

TOUCH = 1e-9   # vertices of two pieces this close (normalised coordinates) are one point


def decision_network(net: Network) -> Network:
    """``net`` with its decision appended as a last activation layer reading the logits' own
    sources: a max group over the m logits (m >= 2; the piece is the class), or for one logit
    a ReLU unit on it (the bit is the class). The output is that layer's value."""
    m = net.output_dim
    if m < 1:
        raise InputError("--decision needs a classifier: the network has no logits")
    k = len(net.layers) + 1
    if m == 1:
        last: Layer | MaxLayer = Layer(net.output, np.zeros(1), name="decision")
    else:
        last = MaxLayer(net.output, np.arange(m, dtype=np.int64).reshape(1, m), name="decision")
    info = dict(net.info)
    info["decision"] = {"logits": m}
    return Network(net.input_dim, net.layers + (last,), Affine({k: np.eye(1)}, np.zeros(1)), info)


def class_count(problem: Problem) -> int:
    """The number of classes of an augmented problem (2 for one logit)."""
    last = problem.network.layers[-1]
    return int(last.groups.shape[1]) if isinstance(last, MaxLayer) else 2


def prepare_decision(model, domain=None, settings: Settings | None = None, *,
                     input_shape=None, output: str | None = None, **kw) -> Problem:
    """The Problem of ``model``'s decision cells (``prepare``'s arguments): the network as
    loaded (cut at ``output`` if given), augmented by ``decision_network``."""
    net = load_network(model, input_shape=input_shape, output=output)
    return prepare(decision_network(net), domain, settings, **kw)


@dataclass(frozen=True)
class Decision:
    """The decision counts of a finished count of cells (see the module's docstring). Per cell
    ``region_id`` (its activation region), ``class_id`` and ``decision_id`` (its decision
    region); ``pieces`` (P, 2) the cell pairs of the boundary pieces and ``merged_id`` (P,)
    each piece's merged piece (None above ``vertex_dim``)."""

    classes: int
    cells: int
    regions: int
    class_regions: tuple[int, ...]
    crossed: int
    decision_regions: int
    class_decision_regions: tuple[int, ...]
    boundary_pieces: int
    merged_pieces: int | None
    region_id: np.ndarray = field(repr=False)
    class_id: np.ndarray = field(repr=False)
    decision_id: np.ndarray = field(repr=False)
    pieces: np.ndarray = field(repr=False)
    merged_id: np.ndarray | None = field(repr=False)

    def to_dict(self) -> dict:
        return {"classes": self.classes, "cells": self.cells, "regions": self.regions,
                "class_regions": list(self.class_regions), "crossed": self.crossed,
                "decision_regions": self.decision_regions,
                "class_decision_regions": list(self.class_decision_regions),
                "boundary_pieces": self.boundary_pieces, "merged_pieces": self.merged_pieces}


def predicted_class(pattern: list[np.ndarray]) -> int:
    """The class of a cell: the last layer's piece (or bit)."""
    return int(np.asarray(pattern[-1]).ravel()[0])


def region_ids(patterns) -> tuple[int, np.ndarray]:
    """The number of activation regions among cells' ``patterns`` and each cell's region."""
    keys: dict[bytes, int] = {}
    ids = np.array([keys.setdefault(concat_pattern(p[:-1]).tobytes(), len(keys))
                    for p in patterns], dtype=np.int64)
    return len(keys), ids


def _decision_regions(n: int, edges: np.ndarray, cls: np.ndarray, m: int):
    uf = _UnionFind(n)
    for i, j in edges[cls[edges[:, 0]] == cls[edges[:, 1]]].tolist():
        uf.union(i, j)
    total, lab = uf.labels()
    per_class = [len(np.unique(lab[cls == c])) for c in range(m)]
    return total, tuple(per_class), lab


def decide(problem: Problem, cells: list[Region], *, exact: bool = False,
           analysis: RegionAnalysis | None = None) -> tuple[Decision, RegionAnalysis]:
    """The decision counts of the counted ``cells`` of a ``prepare_decision`` problem (every
    cell of a finished count). ``exact``: follow every facet exactly (``--certify``)."""
    a = analysis if analysis is not None else analyze(problem, cells, graph=True, cells=True,
                                                      exact=exact)
    m = class_count(problem)
    n = len(cells)
    pats = a.patterns
    cls = np.array([predicted_class(p) for p in pats], dtype=np.int64).reshape(n)
    n_regions, rid = region_ids(pats)
    held = np.zeros((n_regions, m), dtype=bool)
    held[rid, cls] = True
    edges = a.graph.edges
    total, per_class, lab = _decision_regions(n, edges, cls, m)
    pieces = edges[cls[edges[:, 0]] != cls[edges[:, 1]]] if len(edges) else edges
    merged, merged_id = None, None
    if problem.dim == 1:
        merged, merged_id = len(pieces), np.arange(len(pieces))
    elif a.cells is not None:
        merged, merged_id = _merge(problem, a, pieces, cls, rid)
    d = Decision(m, n, n_regions, tuple(int(v) for v in held.sum(axis=0)),
                 int((held.sum(axis=1) >= 2).sum()), total, per_class, len(pieces), merged,
                 rid, cls, lab, pieces, merged_id)
    return d, a


def _piece_vertices(a: RegionAnalysis, i: int, j: int) -> np.ndarray:
    """The vertices of the common facet of cells i and j (normalised coordinates)."""
    cell = a.cells[i]
    for f, nb in a._facet_neighbours(i).items():
        if nb == j:
            return cell.facet_vertices(f)
    raise InputError(f"cells {i} and {j} are adjacent in the graph but share no facet in "
                     "vertex form")


def _share_a_ridge(P: np.ndarray, Q: np.ndarray, d: int) -> bool:
    """Whether two coplanar (d-1)-faces, given by their vertices, have a (d-2)-dimensional
    face in common: d-1 affinely independent vertices of P within ``TOUCH`` of vertices of
    Q (their hull lies in both faces; a common face of two faces is spanned by common
    vertices)."""
    near = np.abs(P[:, None, :] - Q[None, :, :]).max(axis=2) <= TOUCH
    S = P[near.any(axis=1)]
    if len(S) < d - 1:
        return False
    if d == 2:
        return True
    return int(np.linalg.matrix_rank(S[1:] - S[0], tol=1e3 * TOUCH)) >= d - 2


def _merge(problem: Problem, a: RegionAnalysis, pieces: np.ndarray, cls: np.ndarray,
           rid: np.ndarray) -> tuple[int, np.ndarray]:
    """Union of the pieces that continue each other: same pair of classes, different
    activation regions, on one hyperplane (exact tie forms), with a common (d-2)-face."""
    P = len(pieces)
    uf = _UnionFind(P)
    if P < 2:
        return P, np.arange(P)
    d = problem.dim
    faces = [_piece_vertices(a, int(i), int(j)) for i, j in pieces]
    pair = np.sort(cls[pieces], axis=1)
    from scipy.spatial import cKDTree

    pts = np.concatenate(faces)
    owner = np.repeat(np.arange(P), [len(f) for f in faces])
    lines = _TieLines(problem, a)
    tried: set[tuple[int, int]] = set()
    for s, t in cKDTree(pts).query_pairs(TOUCH, p=np.inf, output_type="ndarray").tolist():
        p, q = sorted((int(owner[s]), int(owner[t])))
        if p == q or (p, q) in tried or not np.array_equal(pair[p], pair[q]):
            continue
        tried.add((p, q))
        if uf.find(p) == uf.find(q):
            continue
        if rid[pieces[p, 0]] == rid[pieces[q, 0]] and rid[pieces[p, 1]] == rid[pieces[q, 1]]:
            continue
        if _share_a_ridge(faces[p], faces[q], d) and lines.same(pieces[p], pieces[q], pair[p]):
            uf.union(p, q)
    return uf.labels()


class _TieLines:
    """Whether two pieces lie on one hyperplane: the tie form of their two classes on each
    piece's cells, proportional. Floats rule out what differs beyond a bound on their
    rounding; the rest is decided on the exact forms (``certify.exact``)."""

    def __init__(self, problem: Problem, a: RegionAnalysis):
        from .forms import error_factor, region_forms

        self.problem, self.patterns = problem, a.patterns
        f = region_forms(problem.unit_net, self.patterns)
        factor = error_factor(problem.unit_net)
        self.pre, self.err = f.pre[-1], factor * f.pre_mag[-1]
        self.xn = None

    def _tie(self, cell: int, pair) -> tuple[np.ndarray, np.ndarray]:
        z, e = self.pre[cell], self.err[cell]
        if z.shape[0] == 1:                       # one logit: its zero set
            return z[0], e[0]
        return z[pair[0]] - z[pair[1]], e[pair[0]] + e[pair[1]]

    def _exact_tie(self, cell: int, pair) -> list[int]:
        from ..certify import exact_network
        from ..certify.exact import region_forms

        if self.xn is None:
            self.xn = exact_network(self.problem)
        z = region_forms(self.xn, self.patterns[cell])[-1]
        row = z[0] if z.shape[0] == 1 else z[pair[0]] - z[pair[1]]
        return [int(v) for v in row]

    def same(self, p, q, pair) -> bool:
        # the tie form of a piece: on either of its cells (they share the piece's region
        # when the piece is inside one; otherwise both cells' forms vanish on it alike)
        u, eu = self._tie(int(p[0]), pair)
        v, ev = self._tie(int(q[0]), pair)
        eps = np.finfo(np.float64).eps
        cross = np.outer(u, v) - np.outer(v, u)
        bound = (np.outer(eu, np.abs(v) + ev) + np.outer(np.abs(u), ev)
                 + np.outer(ev, np.abs(u) + eu) + np.outer(np.abs(v), eu)) * 1.01 \
            + 4 * eps * (np.abs(np.outer(u, v)) + np.abs(np.outer(v, u)))
        if np.any(np.abs(cross) > bound):
            return False
        U, V = self._exact_tie(int(p[0]), pair), self._exact_tie(int(q[0]), pair)
        k = len(U)
        if not any(U) or not any(V):
            return False
        return all(U[i] * V[j] == U[j] * V[i] for i in range(k) for j in range(i + 1, k))


def count_decision(model, box=None, *, settings: Settings | None = None,
                   **domain) -> tuple[CountResult, Decision]:
    """Count the decision cells of a classifier on a domain (``prepare``'s arguments, and
    ``output``/``input_shape``) and return the count of cells and the ``Decision``; the
    result's ``regions`` is the number of cells. A prepared ``prepare_decision`` Problem is
    taken as it is."""
    from ..api import count

    problem = model if isinstance(model, Problem) else prepare_decision(model, box, settings,
                                                                          **domain)
    if "decision" not in problem.network.info:
        raise InputError("count_decision: the Problem was not prepared by prepare_decision")
    found: list[Region] = []
    result = count(problem, on_region=found.append)
    if not result.exact:
        raise InputError("the count was stopped by a limit: the decision counts need every cell")
    if len(found) != result.regions:
        raise InputError(f"the exact certification rejected {result.certify_rejected} float "
                         "cells; the decision counts need the certified cells alone")
    d, _ = decide(problem, found, exact=problem.settings.certify)
    return result, d
