"""``estimators.body``: points, chords, distances and intrinsic volumes of a box or a polytope
domain, against closed forms (the octahedron's intrinsic volumes, the L1 ball's marginals, a
box given as rows) and exact boundary checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from milpregions.errors import InputError
from milpregions.estimators.body import (
    BoxBody,
    PolytopeBody,
    body_of,
    intrinsic_volumes,
)
from milpregions.inputs import hull_domain, l1_ball_domain, polytope_domain
from milpregions.ir.domain import Box


def _box_rows(lo, hi):
    d = len(lo)
    A = np.vstack([np.eye(d), -np.eye(d)])
    return A, np.concatenate([hi, -np.asarray(lo)])


@pytest.mark.parametrize("lo,hi", [([-1.0, 0.5], [2.0, 1.25]), ([0.0, -1.0, 2.0], [1.0, 3.0, 2.5])])
def test_a_box_as_rows_has_the_box_intrinsic_volumes(lo, hi):
    A, b = _box_rows(lo, hi)
    V = PolytopeBody(polytope_domain(A, b)).volumes()
    want = intrinsic_volumes(np.subtract(hi, lo))
    assert V == pytest.approx(want, rel=1e-5)            # the bounding box is widened by 1e-6


def test_octahedron_and_triangle_intrinsic_volumes():
    r = 0.7
    V = PolytopeBody(l1_ball_domain([0.1, -0.2, 0.3], r, 3)).volumes()
    edge = r * math.sqrt(2)
    want = [1.0, 12 * edge * math.acos(1 / 3) / (2 * math.pi), 2 * math.sqrt(3) * r ** 2,
            4 / 3 * r ** 3]
    assert V == pytest.approx(want, rel=1e-12)
    T = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert PolytopeBody(hull_domain(T)).volumes() == pytest.approx([1.0, 6.0, 6.0], rel=1e-12)
    one = PolytopeBody(polytope_domain(np.array([[1.0], [-2.0]]), np.array([0.5, 1.0])))
    assert one.volumes() == pytest.approx([1.0, 1.0])
    assert PolytopeBody(l1_ball_domain(np.zeros(4), 1.0, 4)).volumes() is None


def test_l1_ball_points_are_inside_and_uniform():
    c, r, d = np.array([0.3, -0.1, 0.2, 0.0, 1.0]), 0.5, 5
    body = PolytopeBody(l1_ball_domain(c, r, d))
    X = body.uniform(np.random.default_rng(0), 200_000)
    assert X.shape == (200_000, d) and body.inside(X).all()
    # |x_1 - c_1| / r has the law P[. > t] = (1 - t)^d; its mean is 1 / (d + 1)
    t = np.abs(X[:, 0] - c[0]) / r
    assert t.mean() == pytest.approx(1 / (d + 1), abs=3e-3)
    for q in (0.1, 0.3, 0.6):
        assert np.mean(t > q) == pytest.approx((1 - q) ** d, abs=4e-3)
    # every orthant equally often
    orth = ((X - c) > 0) @ (1 << np.arange(d))
    assert np.bincount(orth, minlength=2 ** d).min() > 0.85 * len(X) / 2 ** d


def test_rejection_in_a_hull_and_its_error_when_too_thin():
    tri = hull_domain(np.array([[-0.9, -0.7], [0.8, -0.6], [0.1, 0.85]]))
    X = PolytopeBody(tri).uniform(np.random.default_rng(1), 5000)
    assert len(X) == 5000 and tri.contains(X).all()
    # a sliver along the diagonal of [0, 1]^3: about 4e-6 of its bounding box
    P = np.array([[0, 0, 0], [1, 1, 1], [1e-3, 0, 0], [0, 1e-3, 0]], dtype=float)
    with pytest.raises(InputError, match=r"^uniform: only [0-9.e-]+ of the points drawn fall in "
                                         r"the polytope \(.* of .*; at least 0\.001 needed\)"):
        PolytopeBody(hull_domain(P)).uniform(np.random.default_rng(2), 1000)


def test_gauss_points_stay_inside_around_the_chebyshev_centre():
    tri = hull_domain(np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]))
    body = PolytopeBody(tri)
    inr = 2 / (2 + math.sqrt(2))                            # the incircle's centre and radius
    assert body.center() == pytest.approx([inr, inr], abs=1e-7)
    X = body.gauss(np.random.default_rng(3), 4000, 0.3)
    assert len(X) == 4000 and tri.contains(X).all()
    far = PolytopeBody(hull_domain(np.array([[0, 0], [1e-3, 0], [0, 1.0]])))
    with pytest.raises(InputError, match=r"^gauss:5: only .* fall in the polytope"):
        far.gauss(np.random.default_rng(0), 100, 5.0)


@pytest.mark.parametrize("domain", [
    hull_domain(np.array([[-0.9, -0.7], [0.8, -0.6], [0.1, 0.85]])),
    l1_ball_domain([0.2, 0.1, -0.3], 0.8, 3),
    polytope_domain(np.array([[1.0, 1.0], [-1.0, 0.2], [0.3, -1.0]]), np.array([1.0, 0.5, 0.7])),
])
def test_chords_end_on_the_boundary(domain):
    body = body_of(domain)
    P, Q = body.chords(np.random.default_rng(4), 300)
    A, b = domain.A, domain.b
    nrm = np.linalg.norm(A, axis=1)
    for E in (P, Q):
        slack = (b[None, :] - E @ A.T) / nrm[None, :]       # >= 0 inside, 0 on a facet
        assert slack.min() > -1e-12
        assert np.abs(slack.min(axis=1)).max() < 1e-12      # every endpoint on some facet
    assert np.all(np.linalg.norm(Q - P, axis=1) > 0)
    M = (P + Q) / 2
    assert domain.contains(M).all()
    X = body.uniform(np.random.default_rng(5), 100)
    d = body.face_distances(X)
    assert np.all(d > 0) and np.all(d <= (b[None, :] - X @ A.T).min(axis=1) / nrm.min() + 1e-15)


def test_box_body_matches_the_box_formulas():
    box = Box.make([-1.0, 0.0], [1.0, 3.0], 2)
    body = body_of(box)
    assert isinstance(body, BoxBody) and body.volumes() == [1.0, 5.0, 6.0]
    P, Q = body.chords(np.random.default_rng(0), 50)
    on_face = np.minimum(np.abs(P - box.lo), np.abs(P - box.hi)).min(axis=1)
    assert on_face.max() < 1e-12
