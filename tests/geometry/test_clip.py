"""``geometry.clip``: polygons and segments clipped to a convex polygon, checked against
areas (the clipped cells of a box count tile the polygon) and against the polygon's exact
count (the cells that keep an area are its regions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from milpregions import prepare
from milpregions.api import count
from milpregions.geometry import analyze
from milpregions.geometry.clip import clip_polygon, clip_segment, outline, polygon_area
from milpregions.inputs import hull_domain, l1_ball_domain

HE2 = Path(__file__).resolve().parents[2] / "models" / "he_2d_8x8.onnx"


def _key(pattern) -> bytes:
    return b"".join(np.asarray(p, dtype=np.int64).tobytes() for p in pattern)


def test_clip_small_cases():
    sq = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], dtype=float)
    A, b = np.array([[1.0, 1.0]]), np.array([2.0])            # x + y <= 2: a triangle
    assert polygon_area(clip_polygon(sq, A, b)) == pytest.approx(2.0)
    assert clip_polygon(sq, A, np.array([-1.0])).shape == (0, 2)
    assert polygon_area(clip_polygon(sq, A, np.array([5.0]))) == pytest.approx(4.0)
    S = clip_segment(np.array([[0, 0], [2, 2.0]]), A, b)
    assert S == pytest.approx(np.array([[0, 0], [1, 1.0]]))
    assert clip_segment(np.array([[2, 2], [3, 3.0]]), A, b) is None
    assert polygon_area(outline(A, b, np.zeros(2), 2 * np.ones(2))) == pytest.approx(2.0)


@pytest.mark.parametrize("domain", [
    hull_domain(np.array([[-0.9, -0.7], [0.8, -0.6], [0.1, 0.85]])),
    l1_ball_domain([0.1, 0.0], 0.8, 2),
])
def test_clipped_box_cells_tile_the_polygon_and_are_its_regions(domain):
    poly = prepare(HE2, domain)
    inside: list = []
    assert count(poly, on_region=inside.append).exact
    boxed = prepare(HE2, domain.box)
    every: list = []
    count(boxed, on_region=every.append)
    a = analyze(boxed, every, cells=True)
    clipped = [clip_polygon(P, domain.A, domain.b) for P in a.polygons()]
    areas = np.array([polygon_area(P) for P in clipped])
    frame = outline(domain.A, domain.b, domain.box.lo, domain.box.hi)
    assert areas.sum() == pytest.approx(polygon_area(frame), rel=1e-9)
    with_area = {_key(r.pattern) for r, s in zip(every, areas) if s > 1e-9}
    assert with_area == {_key(r.pattern) for r in inside}
