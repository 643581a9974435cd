"""Pictures of the regions of a 2-D domain (the ``plot`` extra: matplotlib).

Every region is drawn as its exact vertex-form polygon (``cells``), not a raster, coloured so
that regions sharing an edge differ (a greedy colouring of the region graph, or of the graph
of linear regions); the zero set of an output (or of a difference of two, a decision
boundary) is one segment per region, since the output is affine there.

For a paper (``PlotStyle``): the faces come from a colour-blind safe palette of light colours
(Paul Tol's "light" scheme by default, or Okabe and Ito's lightened, or greys), boundaries are
dark grey, and level sets are dark lines with a white halo, so that no face colour can be
taken for a level set; the canvas takes the domain's aspect (equal scales, unless one side is
more than ``MAX_RATIO`` times the other); size and dpi are options; a level set that does not
cross the domain is left out of the legend (and reported); a slice marks its three points.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .analysis import RegionAnalysis
from .cells import polygon
from .clip import clip_polygon, clip_segment, outline

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
    """What a picture shows: its polygons (one per activation region), the colours used, the
    level sets' segments, the legend's entries and the level sets that do not cross."""

    polygons: int
    colors: int
    level_segments: int
    legend: tuple[str, ...] = ()
    empty_levels: tuple[str, ...] = ()


#: face colours, light enough that dark boundaries and level sets stand out on every one
PALETTES: dict[str, tuple[str, ...]] = {
    # Paul Tol's "light" qualitative scheme (colour-blind safe), pale grey last
    "tol-light": ("#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99",
                  "#BBCC33", "#AAAA00", "#DDDDDD"),
    # Okabe and Ito's (colour-blind safe), mixed half with white
    "okabe-ito": ("#F2C680", "#ABDAF4", "#80CFB2", "#F8F3A1", "#80B9DA", "#EAAF80",
                  "#E6BFD4"),
    "grey": ("#F0F0F0", "#D4D4D4", "#B8B8B8", "#E2E2E2", "#C6C6C6", "#AAAAAA"),
}
DEFAULT_PALETTE = "tol-light"
#: level sets: dark, told apart by dash pattern too (for print in grey)
LEVEL_STYLES = (("#000000", "solid"), ("#004488", (0, (5, 2))), ("#882255", (0, (3, 1, 1, 1))),
                ("#117733", (0, (1, 1))))
#: beyond this ratio of the domain's sides the axes are not kept at equal scales
MAX_RATIO = 4.0
#: the longer side of the default canvas, inches
LONG_SIDE = 6.0


@dataclass(frozen=True)
class PlotStyle:
    """The canvas: ``size`` (width, height) in inches (None: from the domain's aspect), the
    dpi of a PNG, and the palette of the faces."""

    size: tuple[float, float] | None = None
    dpi: int = 200
    palette: str = DEFAULT_PALETTE

    def __post_init__(self):
        if self.palette not in PALETTES:
            raise InputError(f"palette {self.palette!r}: choose from {', '.join(PALETTES)}")
        if not (isinstance(self.dpi, int) and 10 <= self.dpi <= 2400):
            raise InputError(f"dpi {self.dpi}: must be a whole number from 10 to 2400")
        if self.size is not None and not all(0.5 <= v <= 100 for v in self.size):
            raise InputError(f"size {self.size[0]:g}x{self.size[1]:g}: each side must be "
                             "0.5 to 100 inches")


def parse_size(text: str) -> tuple[float, float]:
    """``W,H`` or ``WxH`` in inches."""
    parts = re.split(r"[,x]", text.strip())
    try:
        w, h = (float(v) for v in parts)
    except ValueError:
        raise InputError(f"--size {text!r}: expected W,H in inches (e.g. 6,4)") from None
    return w, h


def canvas(lo: np.ndarray, hi: np.ndarray, style: PlotStyle) -> tuple[tuple[float, float], bool]:
    """The figure's size in inches and whether the axes keep equal scales: the domain's aspect
    with the longer side ``LONG_SIDE``, unless its sides differ more than ``MAX_RATIO``."""
    ratio = float((hi[1] - lo[1]) / (hi[0] - lo[0]))
    equal = 1.0 / MAX_RATIO <= ratio <= MAX_RATIO
    if style.size is not None:
        return style.size, equal
    r = min(max(ratio, 1.0 / MAX_RATIO), MAX_RATIO)
    size = (LONG_SIDE, LONG_SIDE * r) if r <= 1.0 else (LONG_SIDE / r, LONG_SIDE)
    # room for the title and the axis labels on the short side
    return (max(size[0], 2.5), max(size[1], 2.5)), equal


def _coloring(n: int, edges) -> np.ndarray:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    c = nx.greedy_color(g, strategy="largest_first")
    return np.array([c[i] for i in range(n)], dtype=np.int64)


@dataclass(frozen=True)
class Within:
    """A polygon domain ``A x <= b`` (parameter coordinates) drawn inside the analysed box:
    only the regions ``keep`` (those its exact count found), clipped to it, and its outline."""

    A: np.ndarray
    b: np.ndarray
    keep: np.ndarray                 # bool per region of the analysis

    def segments(self, segs: list[np.ndarray]) -> list[np.ndarray]:
        out = [clip_segment(S, self.A, self.b) for S in segs]
        return [S for S in out if S is not None]


def _level_segments(a: RegionAnalysis, level: OutputLevel,
                    keep: np.ndarray | None = None) -> list[np.ndarray]:
    """Per region where the level set crosses it, the segment (2, 2) in parameter coords
    (only the regions ``keep``, when given)."""
    box = a.problem.box
    out = []
    for i, (cell, M) in enumerate(zip(a.cells, a.maps.maps)):
        if keep is not None and not keep[i]:
            continue
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


def pyplot_for(path):
    """matplotlib's pyplot (Agg backend) to draw ``path``: a .png, .svg or .pdf, or a one-line
    error; so is a missing matplotlib."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        raise InputError(f"{path}: the picture must end in .png, .svg or .pdf")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(f"plotting needs matplotlib: {PLOT_HINT}") from None
    return plt


def save_figure(plt, fig, path, dpi: float) -> None:
    """Lay out, write and close a picture (an ``InputError`` naming the path when it cannot
    be written)."""
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=dpi)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        plt.close(fig)


def frame_axes(ax, plt, a: RegionAnalysis, lo: np.ndarray, hi: np.ndarray, equal: bool,
               axis_labels: tuple[str, str], frame: np.ndarray | None = None) -> None:
    """The domain's frame (the box, or the polygon ``frame``), a slice's three points,
    limits, aspect and axis labels."""
    if frame is None:
        ax.add_patch(plt.Rectangle(lo, *(hi - lo), fill=False, ec="0.1", lw=1.0))
    else:
        patch = plt.Polygon(frame, closed=True, fill=False, ec="0.1", lw=1.0)
        patch.set_gid("domain")
        ax.add_patch(patch)
    _mark_slice_points(ax, a, lo, hi)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal" if equal else "auto")
    ax.set_xlabel(axis_labels[0], fontsize=12)
    ax.set_ylabel(axis_labels[1], fontsize=12)
    ax.tick_params(labelsize=10)


def plot_regions(a: RegionAnalysis, path, *, color: str = "activation",
                 levels: tuple[OutputLevel, ...] = (), title: str | None = None,
                 axis_labels: tuple[str, str] = ("$x_1$", "$x_2$"),
                 style: PlotStyle = PlotStyle(), within: Within | None = None) -> PlotSummary:
    """Draw the regions of ``a`` (a 2-D analysis with its graph, and linear regions for
    ``color="linear"``) to ``path`` (.png, .svg or .pdf), on the canvas of ``style``;
    ``within``: only the regions of a polygon domain, clipped to it (activation colours)."""
    plt = pyplot_for(path)
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection, PolyCollection

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
    palette = PALETTES[style.palette]
    # more colours than the palette holds (rare: greedy colourings of these graphs take ~5)
    # repeat it; the boundaries still part every pair of neighbours
    faces = [palette[int(c) % len(palette)] for c in shade]
    box = a.problem.box
    lo, hi = box.lo, box.hi
    frame, keep = None, None
    if within is not None:
        if color == "linear":
            raise InputError("plot: a polygon domain is drawn by activation region only")
        keep = within.keep
        frame = outline(within.A, within.b, lo, hi)
        clipped = [clip_polygon(P, within.A, within.b) for P in polys]
        drawn = [i for i in range(n) if keep[i] and len(clipped[i]) >= 3]
        polys = [clipped[i] for i in drawn]
        faces = [faces[i] for i in drawn]
        n = len(drawn)
        edges = [(i, j) for i, j in edges if keep[i] and keep[j]]
    size, equal = canvas(lo, hi, style)
    fig, ax = plt.subplots(figsize=size)
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
        shared = _shared_edges(a, edges)
        if within is not None:
            shared = within.segments(shared)
        ax.add_collection(LineCollection(shared, colors="0.15", linewidths=0.6))
    nseg, empty = 0, []
    halo = [patheffects.withStroke(linewidth=3.6, foreground="white")]
    for i, lv in enumerate(levels):
        segs = _level_segments(a, lv, keep)
        if within is not None:
            segs = within.segments(segs)
        nseg += len(segs)
        if not segs:
            empty.append(lv.label)      # nothing to draw: not in the legend either
            continue
        c, dash = LEVEL_STYLES[i % len(LEVEL_STYLES)]
        lc = LineCollection(segs, colors=c, linewidths=1.8, linestyles=dash, label=lv.label)
        lc.set_path_effects(halo)
        ax.add_collection(lc)
    frame_axes(ax, plt, a, lo, hi, equal, axis_labels, frame)
    legend: tuple[str, ...] = ()
    if len(empty) < len(levels):
        lg = ax.legend(loc="upper right", fontsize=9, framealpha=0.9)
        legend = tuple(t.get_text() for t in lg.get_texts())
    ax.set_title(title if title is not None else _title(a, color), fontsize=12)
    save_figure(plt, fig, path, style.dpi)
    return PlotSummary(n, k, nseg, legend, tuple(empty))


def _mark_slice_points(ax, a: RegionAnalysis, lo: np.ndarray, hi: np.ndarray) -> None:
    """On a slice, its three points P0, P1, P2 (at s, t = (0, 0), (1, 0), (0, 1)) where they
    lie in the drawn box."""
    from matplotlib import patheffects

    domain = a.problem.domain
    if getattr(domain, "kind", None) != "slice":
        return
    span = hi - lo
    for name, st, marker in (("$P_0$", (0.0, 0.0), "o"), ("$P_1$", (1.0, 0.0), "s"),
                             ("$P_2$", (0.0, 1.0), "^")):
        p = np.array(st)
        if np.any(p < lo - 1e-9 * span) or np.any(p > hi + 1e-9 * span):
            continue
        ax.plot(*p, marker=marker, ms=7, mfc="black", mec="white", mew=1.2, ls="none",
                zorder=5, clip_on=False)
        # the label inside the box, away from the nearest sides
        off = np.where(p - lo < 0.5 * span, 6, -6)
        ax.annotate(name, p, xytext=tuple(off), textcoords="offset points", fontsize=10,
                    ha="left" if off[0] > 0 else "right",
                    va="bottom" if off[1] > 0 else "top", zorder=6,
                    path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])


def _title(a: RegionAnalysis, color: str) -> str:
    name = a.problem.network.info.get("model_name") or ""
    s = f"{len(a.regions):,} activation regions"
    if a.linear is not None:
        s += f", {a.linear.linear_regions:,} linear regions"
    return f"{name}\n{s}" if name else s
