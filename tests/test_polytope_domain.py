"""Polytope domains (``--polytope``, ``--hull``, ``--norm 1``): counts against exact oracles.

Oracles: a box given as rows or as the hull of its corners counts what the box counts; the
regions of an arrangement of lines (planes) in general position inside a convex polytope P
number 1 + (lines meeting int P) + (vertices in int P) (in 3-D: 1 + planes + lines + points
meeting int P), computed here from the first layer's weights; the L1 ball as rows and as the
hull of the points +-r e_k agree. Regions of a polytope count are checked as data: witnesses
inside P, every inequality (the polytope's rows too) positive at the witness, ``locate``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog

from milpregions import collect_regions, count_regions, prepare
from milpregions.errors import InputError
from milpregions.geometry import analyze

ROOT = Path(__file__).resolve().parents[1]
Z2 = ROOT / "models" / "zaslavsky_2d_8.onnx"
Z3 = ROOT / "models" / "zaslavsky_3d_6.onnx"


def first_layer(path):
    net = prepare(path, (-1.0, 1.0)).network
    aff = net.layers[0].affine
    return np.asarray(aff.W[0], dtype=np.float64), np.asarray(aff.b, dtype=np.float64)


def meets_interior(A, b, P0, D) -> bool:
    """Whether the affine set ``P0 + D t`` meets the open polytope ``A x < b`` (an LP of the
    largest slack s: A (P0 + D t) + s <= b)."""
    k = D.shape[1]
    c = np.zeros(k + 1)
    c[-1] = -1.0
    Aub = np.hstack([A @ D, np.ones((len(A), 1))])
    r = linprog(c, A_ub=Aub, b_ub=b - A @ P0, bounds=[(None, None)] * k + [(None, 1.0)],
                method="highs")
    assert r.status == 0
    s = -r.fun
    assert abs(s) > 1e-7, "not in general position with the polytope: choose another"
    return s > 0


def arrangement_count(W, b, A, c) -> int:
    """Regions of the hyperplanes W x + b = 0 (general position) inside ``A x < c``: every
    nonempty intersection of k hyperplanes (k = 0..d) that meets the interior counts once."""
    d = W.shape[1]
    total = 0
    for k in range(d + 1):
        for S in itertools.combinations(range(len(W)), k):
            if not S:
                total += 1
                continue
            M, m = W[list(S)], -b[list(S)]
            P0 = np.linalg.lstsq(M, m, rcond=None)[0]
            _, sv, Vt = np.linalg.svd(M)
            D = Vt[k:].T                                  # the flat's directions
            total += meets_interior(A, c, P0, D)
    return total


def hull_rows(points):
    from scipy.spatial import ConvexHull

    eq = ConvexHull(points).equations
    return eq[:, :-1], -eq[:, -1]


TRIANGLE = np.array([[-0.9, -0.7], [0.8, -0.6], [0.1, 0.85]])
HEXAGON = np.array([[0.6 * np.cos(t) + 0.05, 0.45 * np.sin(t) - 0.03]
                    for t in np.linspace(0.1, 2 * np.pi + 0.1, 6, endpoint=False)])


@pytest.mark.parametrize("points", [TRIANGLE, HEXAGON], ids=["triangle", "hexagon"])
def test_lines_in_a_polygon_as_rows_and_as_hull(points):
    W, b = first_layer(Z2)
    A, c = hull_rows(points)
    want = arrangement_count(W, b, A, c)
    assert 5 < want < 37
    assert count_regions(Z2, polytope=(A, c)).regions == want
    assert count_regions(Z2, hull=points).regions == want


@pytest.mark.parametrize("radius, center", [(1.0, [0.0, 0.0]), (0.55, [0.2, -0.1])])
def test_l1_ball_in_2d_is_its_diamond(radius, center):
    W, b = first_layer(Z2)
    S = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=float)
    c = radius + S @ np.array(center)
    want = arrangement_count(W, b, S, c)
    got = count_regions(Z2, center=center, radius=radius, norm=1).regions
    corners = np.array(center) + radius * np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])
    assert got == want == count_regions(Z2, hull=corners).regions


def test_planes_in_an_l1_ball_in_3d():
    W, b = first_layer(Z3)
    S = np.array(list(itertools.product([-1.0, 1.0], repeat=3)))
    center = np.array([0.1, -0.05, 0.02])
    c = 0.7 + S @ center
    want = arrangement_count(W, b, S, c)
    assert 1 < want < 42
    r = count_regions(Z3, center=center, radius=0.7, norm=1)
    assert r.exact and r.regions == want


def test_a_box_as_rows_or_hull_counts_what_the_box_counts():
    m = ROOT / "models" / "he_2d_16x16.onnx"
    box = count_regions(m, (-0.5, 0.5)).regions
    A = np.vstack([np.eye(2), -np.eye(2)])
    assert count_regions(m, polytope=(A, np.full(4, 0.5))).regions == box
    corners = np.array(list(itertools.product([-0.5, 0.5], repeat=2)))
    assert count_regions(m, hull=corners).regions == box


def test_a_box_as_rows_on_the_lp_path():
    m = ROOT / "models" / "he_8d_8x8.onnx"
    A = np.vstack([np.eye(8), -np.eye(8)])
    lo = np.linspace(-0.3, -0.2, 8)
    hi = np.linspace(0.25, 0.35, 8)
    want = count_regions(m, (lo, hi))
    got = count_regions(m, polytope=(A, np.concatenate([hi, -lo])))
    assert got.exact and got.regions == want.regions > 10


def test_regions_of_a_polytope_as_data():
    points = HEXAGON
    rs = collect_regions(Z2, hull=points)
    dom = rs.problem.domain
    assert len(rs) == rs.result.regions
    assert dom.contains(rs.witnesses).all()
    for i in range(len(rs)):
        A, b = rs.inequalities(i)
        assert A.shape[0] == 8 + len(dom.b)          # the lines, then the polytope's rows
        v = A @ rs.witnesses[i] + b
        assert (v > 0).all() and (v >= rs.radii[i] - 1e-9).all()
    X = np.random.default_rng(0).uniform(-1, 1, (3000, 2))
    idx = rs.locate_many(X)
    inside = dom.contains(X)
    assert (idx[~inside] == -1).all() and (idx[inside] >= 0).all()
    pats = rs.problem.network.pattern(X[inside])[0]
    assert all(np.array_equal(pats[j], rs.pattern(int(i))[0])
               for j, i in enumerate(idx[inside]))


def test_bad_polytopes_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="unbounded"):
        count_regions(Z2, polytope=([[1.0, 0.0]], [1.0]))
    with pytest.raises(InputError, match="empty"):
        count_regions(Z2, polytope=([[1.0, 0.0], [-1.0, 0.0], [0, 1], [0, -1]],
                                    [-1.0, -1.0, 1, 1]))
    with pytest.raises(InputError, match="no full-dimensional hull"):
        count_regions(Z2, hull=[[0, 0], [1, 1], [2, 2]])
    with pytest.raises(InputError, match="row 1 of the polytope's A is zero"):
        count_regions(Z2, polytope=([[1.0, 0.0], [0.0, 0.0]], [1.0, 1.0]))
    # an L1 ball in 64-D is counted lifted (128 parameters, one row), not as 2^64 facets
    lifted = prepare(ROOT / "models" / "digits_mlp.onnx", center=np.zeros(64), radius=1.0,
                     norm=1).domain
    assert lifted.source == "l1" and lifted.dim == 128 and lifted.gates == 1
    hex_ = {"A": hull_rows(HEXAGON)[0].tolist(), "b": hull_rows(HEXAGON)[1].tolist()}
    with pytest.raises(InputError, match="--jobs"):
        count_regions(Z2, polytope=(np.array(hex_["A"]), np.array(hex_["b"])), jobs=2)
    with pytest.raises(InputError, match="--method milp"):
        count_regions(Z2, polytope=(np.array(hex_["A"]), np.array(hex_["b"])), method="milp")
    problem = prepare(Z2, polytope=(np.array(hex_["A"]), np.array(hex_["b"])))
    with pytest.raises(InputError, match="polytope domain are not computed"):
        analyze(problem, [], graph=True)


def test_cli_polytope_hull_and_l1(cli, tmp_path):
    W, b = first_layer(Z2)
    A, c = hull_rows(HEXAGON)
    want = arrangement_count(W, b, A, c)
    (tmp_path / "p.json").write_text(json.dumps({"A": A.tolist(), "b": c.tolist()}))
    np.savez(tmp_path / "p.npz", A=A, b=c)
    np.save(tmp_path / "h.npy", HEXAGON)
    for flag, f in (("--polytope", "p.json"), ("--polytope", "p.npz"), ("--hull", "h.npy")):
        code, out, _ = cli("count", Z2, flag, tmp_path / f)
        assert (code, out) == (0, f"{want} regions\n")
    (tmp_path / "c.json").write_text("[0.2, -0.1]")
    S = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=float)
    want = arrangement_count(W, b, S, 0.55 + S @ np.array([0.2, -0.1]))
    code, out, _ = cli("count", Z2, "--center", tmp_path / "c.json", "--radius", 0.55,
                       "--norm", 1, "--json")
    d = json.loads(out)
    assert code == 0 and d["regions"] == want and d["domain"]["source"] == "l1"
    code, _, err = cli("count", Z2, "--box", "-1,1", "--hull", tmp_path / "h.npy")
    assert code == 2 and "give only one of" in err
    code, _, err = cli("count", Z2, "--box", "-1,1", "--norm", "1")
    assert code == 2 and "--norm is the norm of the --center ball" in err
    code, _, err = cli("count", Z2, "--hull", tmp_path / "h.npy", "--linear")
    assert code == 2 and "polytope domain" in err


def test_a_count_beyond_the_python_trial_streams_each_region_once():
    # 18,165 regions: the Python trial outgrows its node limit and the compiled walk counts
    # from the start; none of the trial's regions may reach the stream
    from milpregions.testing.constructions import he_mlp

    net = he_mlp(2, [100, 100], seed=0)
    A = np.vstack([np.eye(2), -np.eye(2)])
    rs = collect_regions(net, polytope=(A, np.ones(4)))
    assert rs.result.exact and len(rs) == rs.result.regions == 18165
    keys = rs.layout.keys(rs.records)
    assert len(np.unique(keys, axis=0)) == len(rs)
    assert np.array_equal(rs.locate_many(rs.witnesses), np.arange(len(rs)))
