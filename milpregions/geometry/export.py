"""Files of an analysis: the region graph (GraphML through networkx, or JSON) and the polygons
of a 2-D domain (GeoJSON)."""

from __future__ import annotations

import json
import os

from ..errors import InputError
from .analysis import RegionAnalysis

GRAPH_FORMATS = (".graphml", ".json")


def check_graph_path(path: str) -> None:
    """A graph file name this module can write (checked before a long count)."""
    if os.path.splitext(path)[1].lower() not in GRAPH_FORMATS:
        raise InputError(f"--graph {path}: the file must end in .graphml or .json")


def _node_attrs(a: RegionAnalysis, i: int) -> dict:
    r = a.regions[i].to_dict()
    out = {"pattern": json.dumps(r["pattern"]), "witness": json.dumps(r["witness"])}
    if a.linear is not None:
        out["linear_region"] = int(a.linear.linear_id[i])
        out["affine_piece"] = int(a.linear.piece_id[i])
    if a.cells is not None:
        out["volume"] = float(a.cells[i].volume() * a.box_volume_scale)
    return out


def graph_summary(a: RegionAnalysis) -> dict:
    """Edges, average degree, the 2 d bound on it (Gaines & Bi) and connected components."""
    g = a.graph
    return {"edges": int(len(g.edges)), "average_degree": g.average_degree,
            "degree_bound": 2 * a.problem.dim, "components": g.components(),
            "exact_regions": g.exact_regions}


def write_graph(a: RegionAnalysis, path: str) -> None:
    """The region graph with its nodes' patterns and witnesses (and linear region, affine piece
    and volume when known)."""
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".graphml":
            import networkx as nx

            g = a.graph.to_networkx()
            for i in range(len(a.regions)):
                g.nodes[i].update(_node_attrs(a, i))
            nx.write_graphml(g, path)
        else:
            nodes = []
            for i in range(len(a.regions)):
                n = {"id": i, **_node_attrs(a, i)}
                n["pattern"], n["witness"] = json.loads(n["pattern"]), json.loads(n["witness"])
                nodes.append(n)
            with open(path, "w", encoding="utf-8") as fh:
                json.dump({**graph_summary(a), "nodes": nodes,
                           "edges": a.graph.edges.tolist()}, fh)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None


def write_polygons(a: RegionAnalysis, path: str) -> int:
    """The regions of a 2-D domain as GeoJSON polygons (parameter coordinates), with their
    index, pattern, linear region and affine piece; returns the number of polygons."""
    feats = []
    for i, P in enumerate(a.polygons()):
        ring = P.tolist() + [P[0].tolist()]
        props = {"region": i, "pattern": a.regions[i].to_dict()["pattern"]}
        if a.linear is not None:
            props["linear_region"] = int(a.linear.linear_id[i])
            props["affine_piece"] = int(a.linear.piece_id[i])
        feats.append({"type": "Feature", "properties": props,
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"type": "FeatureCollection", "features": feats}, fh)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    return len(feats)
