"""Pictures of the regions of a 2-D domain (the ``plot`` extra: matplotlib).

Every region is drawn as its exact vertex-form polygon (``cells``), not a raster, coloured so
that regions sharing an edge differ (a greedy colouring of the region graph, or of the graph
of linear regions); the zero set of an output (or of a difference of two, a decision
boundary) is one segment per region, since the output is affine there.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .analysis import RegionAnalysis
from .cells import polygon

PLOT_HINT = "pip install 'milpregions[plot]' (or pip install matplotlib)"
FORMATS = (".png", ".svg", ".pdf")
_LEVEL = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*(?:=\s*(\S+))?\s*$")


@dataclass(frozen=True)
class OutputLevel:
    """The set where output ``k`` (minus output ``j``) equals ``value``."""

    k: int
    j: int | None = None
    value: float = 0.0

    @property
    def label(self) -> str:
        f = f"y{self.k}" + ("" if self.j is None else f" - y{self.j}")
        return f"{f} = {self.value:g}"


def parse_level(text: str, outputs: int) -> OutputLevel:
    """``K``, ``K-J`` or either with ``=VALUE`` (outputs numbered from 0)."""
    m = _LEVEL.match(text)
    if m is None:
        raise InputError(f"--output-level {text!r}: expected K, K-J, K=VALUE or K-J=VALUE "
                         "(output indices from 0)")
    k, j = int(m.group(1)), None if m.group(2) is None else int(m.group(2))
    for i in (k, j):
        if i is not None and i >= outputs:
            raise InputError(f"--output-level {text!r}: the model has {outputs} output"
                             + ("" if outputs == 1 else "s") + f", numbered 0 to {outputs - 1}")
    try:
        v = 0.0 if m.group(3) is None else float(m.group(3))
    except ValueError:
        raise InputError(f"--output-level {text!r}: {m.group(3)!r} is not a number") from None
    return OutputLevel(k, j, v)


@dataclass(frozen=True)
class PlotSummary:
    """What a picture shows: its polygons (one per activation region), the colours used."""

    polygons: int
    colors: int
    level_segments: int


def _coloring(n: int, edges) -> np.ndarray:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    c = nx.greedy_color(g, strategy="largest_first")
    return np.array([c[i] for i in range(n)], dtype=np.int64)


def _level_segments(a: RegionAnalysis, level: OutputLevel) -> list[np.ndarray]:
    """Per region where the level set crosses it, the segment (2, 2) in parameter coords."""
    box = a.problem.box
    out = []
    for cell, M in zip(a.cells, a.maps.maps):
        g = M[level.k] if level.j is None else M[level.k] - M[level.j]
        along = np.array([-g[1], g[0]])
        if not along.any():
            continue                       # constant on the region
        P = polygon(cell)
        vals = P @ g[:-1] + g[-1] - level.value
        pts = []
        for t in range(len(P)):
            p, q = P[t], P[(t + 1) % len(P)]
            fp, fq = vals[t], vals[(t + 1) % len(P)]
            if fp == 0:
                pts.append(p)
            if (fp < 0 < fq) or (fq < 0 < fp):
                pts.append(p + fp / (fp - fq) * (q - p))
        if len(pts) >= 2:
            seg = np.array(pts)
            t = seg @ along
            if t.max() > t.min():
                out.append(box.from_unit(seg[[int(np.argmin(t)), int(np.argmax(t))]]))
    return out


def _shared_edges(a: RegionAnalysis, pairs) -> list[np.ndarray]:
    """The common edge of each pair of adjacent regions (parameter coordinates)."""
    box = a.problem.box
    out = []
    for i, j in pairs:
        f = {v: k for k, v in a._facet_neighbours(i).items()}.get(j)
        if f is not None:
            out.append(box.from_unit(a.cells[i].facet_vertices(f)))
    return out


def plot_regions(a: RegionAnalysis, path, *, color: str = "activation",
                 levels: tuple[OutputLevel, ...] = (), title: str | None = None,
                 axis_labels: tuple[str, str] = ("$x_1$", "$x_2$")) -> PlotSummary:
    """Draw the regions of ``a`` (a 2-D analysis with its graph, and linear regions for
    ``color="linear"``) to ``path`` (.png, .svg or .pdf)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        raise InputError(f"{path}: the picture must end in .png, .svg or .pdf")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.collections import LineCollection, PolyCollection
    except ImportError:
        raise InputError(f"plotting needs matplotlib: {PLOT_HINT}") from None
    polys = a.polygons()
    n = len(polys)
    edges = a.graph.edges.tolist()
    if color == "linear":
        lid = a.linear.linear_id
        between = {(int(min(lid[i], lid[j])), int(max(lid[i], lid[j])))
                   for i, j in edges if lid[i] != lid[j]}
        shade = _coloring(a.linear.linear_regions, sorted(between))[lid]
    else:
        shade = _coloring(n, edges)
    k = int(shade.max()) + 1 if n else 1
    cmap = matplotlib.colormaps["tab20" if k > 10 else "tab10"]
    faces = [cmap(int(s) % cmap.N) for s in shade]
    faces = [(0.55 + 0.45 * r, 0.55 + 0.45 * g, 0.55 + 0.45 * b, 1.0) for r, g, b, _ in faces]
    fig, ax = plt.subplots(figsize=(6.0, 6.0))
    pc = PolyCollection(polys, facecolors=faces, edgecolors="none", linewidths=0)
    pc.set_gid("regions")
    ax.add_collection(pc)
    if color == "linear":
        lid = a.linear.linear_id
        inner = [(i, j) for i, j in edges if lid[i] == lid[j]]
        outer = [(i, j) for i, j in edges if lid[i] != lid[j]]
        ax.add_collection(LineCollection(_shared_edges(a, inner), colors="0.45",
                                         linewidths=0.5, linestyles=(0, (2, 2))))
        ax.add_collection(LineCollection(_shared_edges(a, outer), colors="0.1",
                                         linewidths=0.8))
    else:
        ax.add_collection(LineCollection(_shared_edges(a, edges), colors="0.15",
                                         linewidths=0.6))
    nseg = 0
    for lv, c in zip(levels, ("crimson", "navy", "darkgreen", "darkorange")):
        segs = _level_segments(a, lv)
        nseg += len(segs)
        ax.add_collection(LineCollection(segs, colors=c, linewidths=1.8, label=lv.label))
    box = a.problem.box
    lo, hi = box.lo, box.hi
    ax.add_patch(plt.Rectangle(lo, *(hi - lo), fill=False, ec="0.1", lw=1.0))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel(axis_labels[0], fontsize=12)
    ax.set_ylabel(axis_labels[1], fontsize=12)
    ax.tick_params(labelsize=10)
    if levels:
        ax.legend(loc="upper right", fontsize=9, framealpha=0.9)
    ax.set_title(title if title is not None else _title(a, color), fontsize=12)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=200 if ext == ".png" else None)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        plt.close(fig)
    return PlotSummary(n, k, nseg)


def _title(a: RegionAnalysis, color: str) -> str:
    name = a.problem.network.info.get("model_name") or ""
    s = f"{len(a.regions):,} activation regions"
    if a.linear is not None:
        s += f", {a.linear.linear_regions:,} linear regions"
    return f"{name}\n{s}" if name else s
