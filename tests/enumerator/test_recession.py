"""Over all of R^d: the Chebyshev LP without the box (HiGHS against the exact simplex), and the
bounded / unbounded decision of ``enumerator.recession`` on polyhedra with known answers."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from milpregions.enumerator.recession import Extent, extent, input_rank
from milpregions.ir.network import mlp
from milpregions.solver.exact_simplex import chebyshev_exact
from milpregions.solver.highs import ChebyshevLP, RecessionLP


def unit_rows(A, b) -> np.ndarray:
    """Rows ``[a, b]`` of ``a . u + b >= 0``, scaled to unit ``a``."""
    A = np.asarray(A, dtype=float)
    n = np.linalg.norm(A, axis=1)
    return np.column_stack([A / n[:, None], np.asarray(b, dtype=float) / n])


TRIANGLE = unit_rows([[1, 0], [0, 1], [-1, -1]], [0, 0, 1])          # inradius 1/(2 + sqrt 2)
QUADRANT = unit_rows([[1, 0], [0, 1], [1, 1]], [0, 0, 5])             # the third row redundant
STRIP = unit_rows([[1, 0], [-1, 0], [1, 1]], [0, 1, 3])               # holds the line x = 0.5
WEDGE = unit_rows([[1, -0.1], [-1, -0.1], [0, -1]], [0, 0, 4])        # a cone, y <= 0 (and 4)
WEDGE_CUT = unit_rows([[1, -0.1], [-1, -0.1], [0, 1]], [0, 0, 4])     # the same cut at y = -4
SIMPLEX_3D = unit_rows([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, -1, -1]], [0, 0, 0, 2])


@pytest.mark.parametrize("rows, bounded", [(TRIANGLE, True), (SIMPLEX_3D, True),
                                           (WEDGE_CUT, True), (QUADRANT, False), (STRIP, False),
                                           (WEDGE, False)])
def test_extent_of_known_polyhedra(rows, bounded):
    assert extent(rows, RecessionLP()) is (Extent.BOUNDED if bounded else Extent.UNBOUNDED)


def test_a_nearly_dependent_set_of_rows_is_undecided():
    # x >= 0, y >= 0 and -x - y >= -1 with y tilted by 1e-12 out of the plane of a 3-D slab:
    # rank 3 only by 1e-12, below what the LP's tolerance resolves
    rows = unit_rows([[1, 0, 0], [0, 1, 0], [-1, -1, 1e-12], [-1, -1, -1e-12]], [0, 0, 1, 1])
    assert extent(rows, RecessionLP()) is Extent.UNDECIDED


def test_fewer_rows_than_d_plus_one_never_bound():
    assert extent(unit_rows([[1, 0], [0, 1]], [1, 1]), RecessionLP()) is Extent.UNBOUNDED


def test_input_rank():
    W = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]])
    assert input_rank(mlp([W, np.ones((1, 2))], [np.zeros(2), np.zeros(1)])) == 1
    assert input_rank(mlp([np.eye(3), np.ones((1, 3))], [np.zeros(3), np.zeros(1)])) == 3


@pytest.mark.parametrize("rows, r", [(TRIANGLE, 1 / (2 + np.sqrt(2))), (QUADRANT, 1.0),
                                     (STRIP, 0.5), (SIMPLEX_3D, None)])
def test_free_chebyshev_lp_against_the_exact_simplex(rows, r):
    exact = chebyshev_exact(rows, box=False)
    r_lp, u = ChebyshevLP(rows.shape[1] - 1, box=False).solve(tuple(range(len(rows))), rows)
    assert abs(r_lp - float(exact.r)) < 1e-12
    if r is not None:
        assert abs(r_lp - r) < 1e-12
    # the point the LP returns holds its ball: every row at least r there, none capped by a box
    assert (rows[:, :-1] @ u + rows[:, -1] >= r_lp - 1e-12).all()


def test_free_chebyshev_lp_reaches_beyond_the_box():
    # the half-plane x >= 7: in the box it is empty, in R^2 it holds a unit ball
    rows = unit_rows([[1, 0]], [-7])
    assert ChebyshevLP(2).solve((1,), rows)[0] < 0
    r, u = ChebyshevLP(2, box=False).solve((1,), rows)
    assert r == pytest.approx(1.0) and u[0] >= 8 - 1e-9
    assert chebyshev_exact(rows, box=False).r == 1


def test_free_chebyshev_of_an_empty_set_is_negative_exactly():
    rows = unit_rows([[1, 0], [-1, 0]], [-5, 4])                      # x >= 5 and x <= 4
    exact = chebyshev_exact(rows, box=False)
    assert exact.r == Fraction(-1, 2)
    r, _ = ChebyshevLP(2, box=False).solve((1, 2), rows)
    assert r == pytest.approx(-0.5)


def test_random_free_polytopes_agree_with_the_exact_simplex():
    rng = np.random.default_rng(0)
    lp = ChebyshevLP(3, box=False)
    for _ in range(20):
        rows = unit_rows(rng.standard_normal((6, 3)), rng.standard_normal(6))
        r_lp, _ = lp.solve(tuple(rng.integers(0, 1 << 30, 6)), rows)
        assert abs(r_lp - float(chebyshev_exact(rows, box=False).r)) < 1e-9


@pytest.mark.parametrize("A, bounded", [([[1, 0], [0, 1], [-1, -1]], True),
                                        ([[1, 0], [0, 1], [1, 1]], False),
                                        ([[1, 0], [-1, 0], [1, 1]], False),
                                        ([[1, -1], [-1, -1], [0, 1]], True),
                                        ([[1, -1], [-1, -1], [0, -1]], False),
                                        ([[1, 0], [-1, 0], [2, 0], [-3, 0]], False)])
def test_bounded_exactly(A, bounded):
    from milpregions.certify.exact_lp import bounded_exactly

    assert bounded_exactly(np.array(A, dtype=object)) is bounded


def test_exact_facet_point_over_r_n():
    # x >= 0, y >= 0: the facet x = 0 is a ray, unbounded (the box version would see t* > 0
    # only inside the box); x >= 0 and x <= -1 (after the facet row): no facet
    from milpregions.certify.exact_lp import facet_point

    A, c = np.array([[1, 0], [0, 1]], dtype=object), np.array([0, 0], dtype=object)
    u = facet_point(A, c, 0, box=False)
    assert u is not None and u[0] == 0 and u[1] > 0
    A2, c2 = np.array([[1, 0], [-1, 0]], dtype=object), np.array([0, -1], dtype=object)
    assert facet_point(A2, c2, 0, box=False) is None
