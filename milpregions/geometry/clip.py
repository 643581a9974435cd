"""Polygons and segments of the plane clipped to a polygon ``A x <= b`` (a 2-D polytope
domain's picture: only the parts of the regions inside it, and its outline).

Sutherland-Hodgman for polygons (one half-plane at a time: the clip polygon is convex, so the
result is the exact intersection, convex when the input is), Cyrus-Beck for segments. Only
for drawing: which regions are drawn is decided by the exact count, not by these floats.
"""

from __future__ import annotations

import numpy as np


def clip_polygon(P: np.ndarray, A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The part of the polygon ``P`` (k, 2), in order, where every row ``A x <= b`` holds:
    its vertices in the same order ((0, 2) when nothing is left)."""
    out = np.asarray(P, dtype=np.float64)
    for a, c in zip(A, b):
        if not len(out):
            break
        f = out @ a - c                                   # <= 0: inside
        nxt = np.roll(out, -1, axis=0)
        fn = np.roll(f, -1)
        pts = []
        for p, q, fp, fq in zip(out, nxt, f, fn):
            if fp <= 0:
                pts.append(p)
            if (fp < 0 < fq) or (fq < 0 < fp):
                pts.append(p + fp / (fp - fq) * (q - p))
        out = np.array(pts).reshape(-1, 2)
    return out


def clip_segment(S: np.ndarray, A: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """The part of the segment ``S`` (2, 2) where every row ``A x <= b`` holds (None when
    nothing, or a point, is left)."""
    p, q = np.asarray(S, dtype=np.float64)
    d = q - p
    t0, t1 = 0.0, 1.0
    for a, c in zip(A, b):
        rate, slack = float(a @ d), float(c - a @ p)
        if rate == 0:
            if slack < 0:
                return None
            continue
        t = slack / rate
        if rate > 0:
            t1 = min(t1, t)
        else:
            t0 = max(t0, t)
        if t0 >= t1:
            return None
    return np.array([p + t0 * d, p + t1 * d])


def polygon_area(P: np.ndarray) -> float:
    """The area of a simple polygon (shoelace), 0 for fewer than 3 vertices."""
    if len(P) < 3:
        return 0.0
    x, y = P[:, 0], P[:, 1]
    return 0.5 * abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1)))


def outline(A: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The polygon ``A x <= b`` inside the box [lo, hi] (counter-clockwise vertices)."""
    square = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    return clip_polygon(square, A, b)
