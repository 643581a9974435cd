"""The picture of a classifier's decision on a 2-D domain: each (region, class) cell filled in
its class's colour, activation boundaries thin, the pieces of the decision boundary thick."""

from __future__ import annotations

from .analysis import RegionAnalysis
from .decision import Decision
from .plot import (
    PALETTES,
    PlotStyle,
    PlotSummary,
    _shared_edges,
    canvas,
    frame_axes,
    pyplot_for,
    save_figure,
)


def plot_decision(a: RegionAnalysis, d: Decision, path, *, title: str | None = None,
                  axis_labels: tuple[str, str] = ("$x_1$", "$x_2$"),
                  style: PlotStyle | None = None) -> PlotSummary:
    """Draw the cells of ``a`` (the 2-D analysis of a ``prepare_decision`` count, with its
    graph) coloured by ``d``'s classes to ``path`` (.png, .svg or .pdf); the summary's
    ``level_segments`` are the boundary pieces drawn."""
    plt = pyplot_for(path)
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.patches import Patch

    style = style if style is not None else PlotStyle()
    polys = a.polygons()
    palette = PALETTES[style.palette]
    # the classes predicted somewhere take the palette in order (repeated beyond its length;
    # the thick boundary still parts every two classes)
    held = [c for c in range(d.classes) if d.class_regions[c]]
    tint = {c: palette[k % len(palette)] for k, c in enumerate(held)}
    faces = [tint[int(c)] for c in d.class_id]
    edges = a.graph.edges
    rid = d.region_id
    inner = [(i, j) for i, j in edges.tolist() if rid[i] != rid[j]
             and d.class_id[i] == d.class_id[j]]
    box = a.problem.box
    lo, hi = box.lo, box.hi
    size, equal = canvas(lo, hi, style)
    fig, ax = plt.subplots(figsize=size)
    pc = PolyCollection(polys, facecolors=faces, edgecolors="none", linewidths=0)
    pc.set_gid("cells")
    ax.add_collection(pc)
    ax.add_collection(LineCollection(_shared_edges(a, inner), colors="0.35", linewidths=0.5))
    pieces = _shared_edges(a, d.pieces.tolist())
    lc = LineCollection(pieces, colors="#000000", linewidths=2.0)
    lc.set_gid("boundary")
    lc.set_path_effects([patheffects.withStroke(linewidth=3.8, foreground="white")])
    ax.add_collection(lc)
    frame_axes(ax, plt, a, lo, hi, equal, axis_labels)
    handles = [Patch(facecolor=tint[c], edgecolor="0.3", label=f"class {c}") for c in held]
    lg = ax.legend(handles=handles, loc="upper right", fontsize=9, framealpha=0.9)
    if title is None:
        title = (f"{d.regions:,} activation regions, {d.crossed:,} crossed\n"
                 f"{d.decision_regions:,} decision regions, {d.boundary_pieces:,} boundary "
                 "pieces")
    ax.set_title(title, fontsize=12)
    save_figure(plt, fig, path, style.dpi)
    return PlotSummary(len(polys), len(held), len(pieces),
                       tuple(t.get_text() for t in lg.get_texts()))
