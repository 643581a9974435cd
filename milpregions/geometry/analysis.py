"""Everything beyond the count: cells, the region graph, linear regions, per-region records.

``analyze(problem, regions)`` takes the regions a count delivered (``on_region``) and returns
a ``RegionAnalysis``; ``count_linear_regions`` counts and analyses in one call. Geometry is
reported in the domain's parameter coordinates (the input itself for a box or a ball; (s, t)
or t on a slice or a line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..api import count
from ..errors import InputError
from ..ir.domain import L1Ball, Polytope
from ..ir.result import DEFAULT_FIELDS, REGION_FIELDS, CountResult, Region
from ..problem import Problem, prepare
from ..settings import Settings
from .cells import RegionCell, box_arrays, polygon, region_cell
from .forms import error_factor, region_forms, region_rows
from .graph import RegionGraph, region_graph
from .maps import LinearRegions, OutputMaps, linear_regions

CHUNK = 2048   # regions whose forms are computed together


@dataclass
class RegionAnalysis:
    """The regions of a count and what was asked about them: vertex-form ``cells`` (up to
    ``vertex_dim`` inputs), the ``graph``, the ``linear`` regions and the output ``maps``."""

    problem: Problem
    regions: list[Region]
    cells: list[RegionCell] | None = None
    graph: RegionGraph | None = None
    linear: LinearRegions | None = None
    maps: OutputMaps | None = None

    @property
    def patterns(self) -> list[list[np.ndarray]]:
        return [r.pattern for r in self.regions]

    @property
    def box_volume_scale(self) -> float:
        """Parameter volume per unit of normalised volume."""
        return float(np.prod(self.problem.box.halfwidth))

    def volumes(self) -> np.ndarray | None:
        """Per region its volume in parameter coordinates (None above ``vertex_dim``)."""
        if self.cells is None:
            return None
        return np.array([c.volume() * self.box_volume_scale for c in self.cells])

    def polygons(self) -> list[np.ndarray]:
        """Per region of a 2-D domain its polygon, counter-clockwise, in parameter coordinates."""
        if self.cells is None or self.problem.dim != 2:
            raise InputError("polygons need a 2-D domain (a 2-input box, or --slice)")
        box = self.problem.box
        return [box.from_unit(polygon(c)) for c in self.cells]

    def record(self, i: int, fields: Sequence[str]) -> dict:
        """The ``--regions`` record of region i with ``fields`` (``REGION_FIELDS``)."""
        unknown = set(fields) - set(REGION_FIELDS)
        if unknown:
            raise InputError(f"unknown region field {sorted(unknown)[0]!r}; choose from "
                             + ", ".join(REGION_FIELDS))
        d = self.regions[i].to_dict()
        out = {k: d[k] for k in DEFAULT_FIELDS if k in fields}
        box = self.problem.box
        hw, c = box.halfwidth, box.center
        if "volume" in fields:
            out["volume"] = None if self.cells is None else \
                self.cells[i].volume() * self.box_volume_scale
        if "facets" in fields and self.cells is not None:
            cell = self.cells[i]
            nb = self._facet_neighbours(i)
            facets = []
            for f in range(cell.rows.shape[0]):
                a, b = cell.rows[f, :-1] / hw, cell.rows[f, -1] - cell.rows[f, :-1] @ (c / hw)
                facets.append({"normal": a.tolist(), "offset": float(b),
                               "boundary": bool(cell.on_boundary[f]),
                               "vertices": box.from_unit(cell.facet_vertices(f)).tolist(),
                               "neighbour": nb.get(f)})
            out["facets"] = facets
        elif "facets" in fields:
            out["facets"] = None
        if "map" in fields:
            M = self.maps.maps[i]
            A = M[:, :-1] / hw
            out["map"] = {"A": A.tolist(), "c": (M[:, -1] - A @ c).tolist()}
        if "linear_region" in fields:
            out["linear_region"] = int(self.linear.linear_id[i])
        if "affine_piece" in fields:
            out["affine_piece"] = int(self.linear.piece_id[i])
        if "neighbours" in fields:
            out["neighbours"] = sorted(self._neighbours()[i])
        return out

    def _neighbours(self) -> list[set[int]]:
        if not hasattr(self, "_nb"):
            nb: list[set[int]] = [set() for _ in self.regions]
            for i, j in self.graph.edges.tolist():
                nb[i].add(j)
                nb[j].add(i)
            self._nb = nb
        return self._nb

    def _facet_neighbours(self, i: int) -> dict[int, int]:
        """Facet index -> the neighbour beyond it, for region i (by the facet's plane)."""
        if self.graph is None:
            return {}
        cell = self.cells[i]
        out = {}
        inner = np.flatnonzero(~cell.on_boundary)
        for j in self._neighbours()[i]:
            other = self.cells[j]
            for f in inner:                      # the facet whose vertices lie in j's closure
                V = cell.facet_vertices(f)
                if np.all(V @ other.rows[:, :-1].T + other.rows[:, -1] >= -1e-7):
                    out[int(f)] = j
                    break
        return out


def analyze(problem: Problem, regions: list[Region], *, graph: bool = False,
            linear: bool = False, cells: bool = False, exact: bool = False) -> RegionAnalysis:
    """Cells, the region graph and the linear regions of every region of a finished count.

    ``linear`` implies ``graph``. ``exact``: follow every facet in exact arithmetic (as
    ``--certify``); otherwise floats decide what they decide clearly and the rest is exact.
    """
    if isinstance(problem.domain, (Polytope, L1Ball)):
        raise InputError("cells, the region graph and linear regions of a polytope domain are "
                         "not computed yet (count in its bounding box, or a box)")
    a = RegionAnalysis(problem, regions)
    graph = graph or linear
    d = problem.dim
    net = problem.unit_net
    factor = error_factor(net)
    want_cells = (cells or graph) and d <= problem.settings.vertex_dim
    box = box_arrays(d) if want_cells else None
    cell_list, maps, bounds = [], [], []
    for lo in range(0, len(regions), CHUNK):
        pats = [r.pattern for r in regions[lo:lo + CHUNK]]
        forms = region_forms(net, pats)
        maps.append(forms.out)
        bounds.append(factor * forms.out_mag)
        if want_cells:
            rows, live = region_rows(net, pats, forms, factor)
            cell_list.extend(region_cell(R[L], box) for R, L in zip(rows, live))
    shape = (0, net.output_dim, d + 1)
    a.maps = OutputMaps(np.concatenate(maps) if maps else np.zeros(shape),
                        np.concatenate(bounds) if bounds else np.zeros(shape))
    a.cells = cell_list if want_cells else None
    if linear or graph:
        a.graph = region_graph(problem, a.patterns, a.cells, exact=exact)
    if linear:
        a.linear = linear_regions(problem, a.patterns, a.graph, a.maps)
    return a


def count_linear_regions(model, box=None, *, settings: Settings | None = None,
                         **domain) -> tuple[CountResult, RegionAnalysis]:
    """Count the activation regions of ``model`` on a domain (``prepare``'s arguments) and
    analyse them: the result has ``linear_regions`` and ``affine_pieces``, the analysis the
    graph and the per-region geometry."""
    problem = model if isinstance(model, Problem) else prepare(model, box, settings, **domain)
    found: list[Region] = []
    result = count(problem, on_region=found.append)
    if not result.exact:
        raise InputError("the count was stopped by a limit: linear regions need every region")
    a = analyze(problem, found, linear=True, cells=True, exact=problem.settings.certify)
    result.linear_regions = a.linear.linear_regions
    result.affine_pieces = a.linear.affine_pieces
    return result, a
