"""Regions as data: the regions of a count as one object a program can query.

``collect_regions(model, box, ...)`` counts and returns a ``RegionSet``: per region its pattern,
witness (input space) and radius (normalised), stored as compact records (``ir.region_file``:
bit-packed patterns, float64 witnesses), in memory or, with ``path="out.mpr"``, written to
disk as the count streams and memory-mapped back (a count never holds more than a chunk).
On request per region: its inequalities and the local affine map of the output (both computed
from the pattern, ``forms``), and ``locate(x)``: the region of a point (a float forward pass,
then a lookup of the packed pattern, ``ir.pattern_index``). ``to_networkx()`` gives the region
graph when ``graph=True`` asked for it. ``RegionSet.read(path, problem)`` opens a ``.mpr``
file written by ``count --regions out.mpr`` or by ``RegionSet.write``.

Geometry (inequalities, maps, ``locate``) is in the domain's parameter coordinates: the input
itself for a box or a ball, (s, t) or t on a slice or a line; witnesses are input points.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import NamedTuple

import numpy as np

from ..api import count
from ..errors import InputError
from ..ir.domain import domain_rows
from ..ir.file_lock import REGIONS_BUSY, FileLock
from ..ir.pattern_index import PatternIndex
from ..ir.region_file import (
    RegionLayout,
    RegionWriter,
    is_region_file,
    read_region_file,
    write_records,
)
from ..ir.result import CountResult, Region
from ..problem import Problem, prepare
from ..settings import Settings
from .analysis import analyze
from .forms import error_factor, region_forms, region_rows
from .graph import RegionGraph

LOCATE_CHUNK = 16384     # points per forward pass of ``locate_many``


class Inequalities(NamedTuple):
    """A region as ``A x + b > 0`` (one row per unit or max-piece pair whose sign is fixed
    on the region and whose gradient is not zero, then a polytope domain's own rows; the
    domain's box is not included), in the
    domain's parameter coordinates. Rows are scaled to unit norm in normalised coordinates, so
    ``A x + b`` at a point is its distance to the row's hyperplane there (box scaled to
    [-1, 1]^d)."""

    A: np.ndarray
    b: np.ndarray


class AffineMap(NamedTuple):
    """The network's output on a region: ``F(x) = A x + c`` (parameter coordinates)."""

    A: np.ndarray
    c: np.ndarray


def _meta(problem: Problem, model) -> dict:
    return {"domain": problem.domain.to_dict(),
            "model": os.fspath(model) if isinstance(model, (str, os.PathLike)) else None,
            "input_dim": problem.network.input_dim, "dim": problem.dim}


def region_writer(problem: Problem, path: str | os.PathLike | None = None,
                  model=None) -> RegionWriter:
    """A writer of the problem's regions (``on_region=lambda r: w.add(*r)``) to a ``.mpr``
    file, or to memory with ``path=None``."""
    layout = RegionLayout.of(problem.unit_net, problem.network.input_dim)
    return RegionWriter(layout, path, _meta(problem, model))


@dataclasses.dataclass
class RegionSet:
    """The counted regions of ``problem`` (None: a file read without its problem, which
    gives the stored data but no geometry and no ``locate``); ``records``: one record per
    region (``RegionLayout.dtype``); ``result`` the count's summary when this set was counted
    here; ``graph`` the region graph when asked for."""

    layout: RegionLayout
    records: np.ndarray
    problem: Problem | None = None
    result: CountResult | None = None
    graph: RegionGraph | None = None
    meta: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index: PatternIndex | None = None

    # -- the stored data --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Region:
        rec = self.records[i]
        return Region(self.layout.decode(rec), np.array(rec["witness"]), float(rec["radius"]))

    def __iter__(self) -> Iterator[Region]:
        for i in range(len(self)):
            yield self[i]

    @property
    def witnesses(self) -> np.ndarray:
        """(N, n0) witnesses in input space (a view of the records)."""
        return self.records["witness"]

    @property
    def parameters(self) -> np.ndarray:
        """(N, dim) witnesses in the domain's parameter coordinates (those of ``inequalities``,
        ``affine_map`` and ``locate``): the witnesses themselves for a box, ball or polytope,
        (s, t) or t on a slice or a line (least squares, to rounding)."""
        to_param = getattr(self._need_problem().domain, "to_param", None)
        W = np.asarray(self.witnesses)
        return W if to_param is None else to_param(W)

    @property
    def radii(self) -> np.ndarray:
        """(N,) certified radii (normalised coordinates)."""
        return self.records["radius"]

    def pattern(self, i: int) -> list[np.ndarray]:
        """Region i's per-layer pattern: bools for units, piece indices for max groups."""
        return self.layout.decode(self.records[i])

    # -- geometry from the pattern ----------------------------------------------------------

    def _need_problem(self) -> Problem:
        if self.problem is None:
            raise InputError("this region set was read without its problem; give it "
                             "(RegionSet.read(path, problem)) for geometry and locate")
        return self.problem

    def inequalities(self, i: int) -> Inequalities:
        """Region i as ``A x + b > 0`` inside the domain's box (parameter coordinates)."""
        p = self._need_problem()
        net, pat = p.unit_net, [self.pattern(i)]
        forms = region_forms(net, pat)
        rows, live = region_rows(net, pat, forms, error_factor(net))
        R = rows[0][live[0]]
        hw, c = p.box.halfwidth, p.box.center
        A = R[:, :-1] / hw
        b = R[:, -1] - A @ c
        cut = domain_rows(p.domain)
        if cut is not None:                          # the domain's own rows, b - A x > 0
            G = -cut[0]
            n = np.linalg.norm(G * hw, axis=1)       # unit norm in normalised coordinates
            A = np.vstack([A, G / n[:, None]])
            b = np.concatenate([b, cut[1] / n])
        return Inequalities(A, b)

    def affine_map(self, i: int) -> AffineMap:
        """The output of the network on region i as ``A x + c`` (parameter coordinates)."""
        p = self._need_problem()
        M = region_forms(p.unit_net, [self.pattern(i)]).out[0]
        hw, c = p.box.halfwidth, p.box.center
        A = M[:, :-1] / hw
        return AffineMap(A, M[:, -1] - A @ c)

    # -- the region of a point --------------------------------------------------------------

    def locate(self, x) -> int | None:
        """The index of the region of the point ``x`` (parameter coordinates), None when
        ``x`` is outside the domain (its box; a polytope: open, ``A x < b``) or its pattern is
        not a counted region."""
        i = int(self.locate_many(np.asarray(x, dtype=np.float64).reshape(1, -1))[0])
        return None if i < 0 else i

    def locate_many(self, X: np.ndarray) -> np.ndarray:
        """``locate`` for the rows of X: region indices, -1 where none.

        The pattern of a point is that of a float forward pass of the network on the domain
        (``Problem.restricted``) with the tie rule of every count: a unit is on iff its
        pre-activation is > 0, a max group takes its first largest piece. A point on a boundary
        therefore gets the pattern of the region on the off side (or of the first piece), which
        is found when that region was counted and its closure holds the point; a point within
        rounding of a boundary may land on either side; a point in a cell thinner than the
        margin (not counted) gives -1.
        """
        p = self._need_problem()
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != p.dim:
            raise InputError(f"points of dimension {X.shape[1]}; the domain has {p.dim} "
                             "parameters")
        out = np.full(len(X), -1, dtype=np.int64)
        box = p.box
        ok = ((X >= box.lo) & (X <= box.hi)).all(axis=1)
        cut = domain_rows(p.domain)
        if cut is not None:                          # open: A x < b
            ok &= (cut[1][None, :] - X @ cut[0].T > 0).all(axis=1)
        inside = np.flatnonzero(ok)
        if inside.size == 0 or len(self) == 0:
            return out
        if self._index is None:
            self._index = PatternIndex(self.layout.keys(self.records))
        for lo in range(0, inside.size, LOCATE_CHUNK):     # forward passes in bounded memory
            rows = inside[lo:lo + LOCATE_CHUNK]
            pats = p.restricted.pattern(X[rows])
            out[rows] = self._index.find(self.layout.pattern_keys(pats))
        return out

    # -- graph and files --------------------------------------------------------------------

    def to_networkx(self):
        """The region graph as a ``networkx.Graph`` (nodes: region indices, with ``witness``
        and ``radius``); only when the graph was asked for (``collect_regions(graph=True)``)."""
        if self.graph is None:
            raise InputError("the region graph was not computed; collect_regions(..., "
                             "graph=True) computes it")
        g = self.graph.to_networkx()
        for i in range(len(self)):
            g.nodes[i]["witness"] = [float(v) for v in self.records[i]["witness"]]
            g.nodes[i]["radius"] = float(self.records[i]["radius"])
        return g

    def write(self, path: str | os.PathLike) -> None:
        """Write the regions to ``path``: ``.mpr`` (compact, readable back with ``read``) or
        JSON lines (one ``Region.to_json`` a line), in chunks."""
        if is_region_file(path):
            write_records(path, self.layout, self.meta, self.records)
            return
        try:
            with open(path, "w", encoding="utf-8") as fh:
                for region in self:
                    fh.write(region.to_json() + "\n")
        except OSError as e:
            raise InputError(f"{path}: cannot write ({e.strerror or e})") from None

    @classmethod
    def read(cls, path: str | os.PathLike, problem: Problem | None = None) -> RegionSet:
        """Open a ``.mpr`` file (memory-mapped). With ``problem``, its layout must match the
        file's (same layers and witness dimension), and geometry and ``locate`` work."""
        f = read_region_file(path)
        if problem is not None:
            want = RegionLayout.of(problem.unit_net, problem.network.input_dim)
            if want != f.layout:
                raise InputError(f"{path}: its patterns are not those of this problem's "
                                 f"network ({f.layout.to_dict()} vs {want.to_dict()})")
        return cls(f.layout, f.records, problem, meta=f.meta)


_SETTINGS = {f.name for f in dataclasses.fields(Settings)}


def collect_regions(model, box=None, *, path: str | os.PathLike | None = None,
                    graph: bool = False, **options) -> RegionSet:
    """Count the regions of ``model`` on a domain and return them as a ``RegionSet``.

    ``model``, ``box`` and the domain keywords (``slice``, ``line``, ``center``, ``radius``,
    ``input_shape``, ``output``) are those of ``count_regions``, or ``model`` is a prepared
    ``Problem``; the other keywords are ``Settings`` (``margin``, ``time_limit``, ...).
    ``path`` (``.mpr``): write the regions there while counting and memory-map them back
    (memory stays flat in the count); else they are held in memory, compactly. ``graph``:
    also compute the region graph (``to_networkx``; needs a whole count).
    ``result`` holds the count's summary; when a limit stopped it, the set is what was found.
    """
    if isinstance(model, Problem):
        if options:
            raise InputError("a prepared Problem has its domain and settings already")
        problem = model
    else:
        settings = Settings(**{k: v for k, v in options.items() if k in _SETTINGS})
        domain = {k: v for k, v in options.items() if k not in _SETTINGS}
        problem = prepare(model, box, settings, **domain)
    if path is not None and not is_region_file(path):
        raise InputError(f"{path}: a regions file for a region set ends in .mpr")
    with ExitStack() as held:
        if path is not None:
            # a second count writing the same file is refused, as ``count --regions`` is
            held.enter_context(FileLock(path, REGIONS_BUSY, create=True))
        with region_writer(problem, path, model) as w:
            result = count(problem, on_region=lambda r: w.add(r.pattern, r.witness, r.radius))
    if path is not None:
        rs = RegionSet.read(path, problem)
    else:
        rs = RegionSet(w.layout, w.records(), problem, meta=w.meta)
    rs.result = result
    if graph:
        if not result.exact:
            raise InputError("the count was stopped by a limit: the region graph needs "
                             "every region")
        if len(rs) != result.regions:
            raise InputError("the exact certification rejected float regions; the graph "
                             "needs the certified regions alone")
        rs.graph = analyze(problem, list(rs), graph=True).graph
    return rs
