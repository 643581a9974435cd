"""Local complexity: the count in the ball around each point equals the analytic count of the
arrangement the ball meets (central and Zaslavsky arrangements, where a ball meets exactly the
hyperplanes with |w.x + b| < r |w|_1), and a direct ``count_regions(model, center=x,
radius=r)``; on worker processes the same; a time limit marks lower bounds."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from milpregions import count_regions
from milpregions.errors import InputError
from milpregions.ir.network import mlp
from milpregions.studies.local import check_radii, local_complexity, read_points, summarize
from milpregions.testing.constructions import (
    central_count,
    concurrent_layer,
    general_position_layer,
    he_mlp,
    zaslavsky_count,
)

MODELS = Path(__file__).resolve().parents[2] / "models"


def _layer(net):
    return net.layers[0].affine.W[0], net.layers[0].affine.b


def _room(W, b, x, skip=()) -> float:
    """The largest L-inf radius around x whose ball meets none of the hyperplanes outside
    ``skip``: min |w.x + b| / |w|_1."""
    keep = [i for i in range(W.shape[0]) if i not in skip]
    return float(np.min(np.abs(W[keep] @ x + b[keep]) / np.abs(W[keep]).sum(axis=1)))


def test_balls_in_a_central_arrangement_hold_the_regions_of_the_hyperplanes_they_meet():
    net = concurrent_layer(3, 5, 0, n2=0)            # 5 generic planes through 0 in R^3
    W, b = _layer(net)
    rng = np.random.default_rng(1)
    x_none = rng.uniform(-0.6, 0.6, 3)
    v = rng.normal(size=3)
    x_one = v - (W[0] @ v) / (W[0] @ W[0]) * W[0]   # on plane 0
    line = np.cross(W[0], W[1])                      # planes 0 and 1 meet on this line
    x_two = 0.6 * line / np.max(np.abs(line))
    r = 0.5 * min(_room(W, b, x_none), _room(W, b, x_one, {0}), _room(W, b, x_two, {0, 1}))
    assert r > 1e-3
    lc = local_complexity(net, [np.zeros(3), x_none, x_one, x_two], [r, 0.5])
    assert lc.counts[:, 0].tolist() == [central_count(3, 5), 1, 2, 4] and lc.counts[0, 1] == 22
    assert lc.complete and lc.exact.all() and lc.counted.all()


def test_a_ball_around_a_vertex_of_a_zaslavsky_arrangement_holds_its_2_to_the_d_orthants():
    net = general_position_layer(3, 5, 1)            # every vertex inside [-1, 1]^3
    W, b = _layer(net)
    vertices, room = [], []
    for S in combinations(range(5), 3):
        v = np.linalg.solve(W[list(S)], -b[list(S)])
        vertices.append(v)
        room.append(_room(W, b, v, set(S)))
    r = 0.5 * min(room)
    lc = local_complexity(net, vertices + [np.zeros(3)], [r, 1.0])
    assert lc.counts[:10, 0].tolist() == [8] * 10
    assert lc.counts[10, 1] == zaslavsky_count(3, 5) == 26     # the ball is the whole box


def test_counts_equal_direct_counts_and_image_shaped_points_are_read_as_images():
    net = he_mlp(3, [8, 8], 2)
    X = np.random.default_rng(4).uniform(-1, 1, (4, 3))
    lc = local_complexity(net, X, (0.05, 0.3))
    direct = [[count_regions(net, center=x, radius=r).regions for r in (0.05, 0.3)] for x in X]
    assert lc.counts.tolist() == direct and lc.complete
    assert len({c for row in direct for c in row}) > 3          # not all alike
    s = lc.summary[1]
    col = np.array([d[1] for d in direct], dtype=float)
    assert (s.radius, s.points, s.counted, s.lower_bounds) == (0.3, 4, 4, 0)
    assert (s.min, s.max, s.mean, s.median) == (col.min(), col.max(), col.mean(),
                                                 np.median(col))
    cnn = MODELS / "digits_cnn.onnx"
    images = np.load(MODELS / "digits_test_images.npy")[[0, 3]]
    lc = local_complexity(cnn, images.reshape(2, 1, 8, 8), 0.01)
    assert lc.counts[:, 0].tolist() == [count_regions(cnn, center=x, radius=0.01).regions
                                        for x in images] == [2, 4]


def test_two_workers_count_what_one_process_counts():
    net = he_mlp(2, [8, 8], 0)
    X = np.random.default_rng(0).uniform(-1, 1, (5, 2))
    one = local_complexity(net, X, [0.1, 0.3])
    seen = []
    two = local_complexity(net, X, [0.1, 0.3], jobs=2,
                           on_count=lambda i, j, r: seen.append((i, j, r.regions)))
    assert two.counts.tolist() == one.counts.tolist() and two.complete
    assert sorted(seen) == [(i, j, int(one.counts[i, j])) for i in range(5) for j in range(2)]
    assert one.counts.sum() > 2 * one.counts.size               # balls with several regions


def test_a_time_limit_marks_the_counts_it_stopped_as_lower_bounds():
    net = he_mlp(6, [16, 16], 0)                     # 935,763 regions in [-1, 1]^6
    far = np.full(6, 0.37)
    lc = local_complexity(net, [far, np.zeros(6)], [1e-3, 1.0], time_limit=0.5)
    tiny = count_regions(net, center=far, radius=1e-3)
    assert lc.counts[0, 0] == tiny.regions and lc.exact[0, 0] and tiny.exact
    assert not lc.exact[1, 1] and lc.stopped[1][1] == "time-limit"
    assert 0 < lc.counts[1, 1] < 935_763 and not lc.complete
    assert lc.summary[1].lower_bounds >= 1 and lc.summary[0].lower_bounds == 0
    rec = lc.record(1)["counts"][1]
    assert rec["lower_bound"] and not rec["exact"] and rec["stopped"] == "time-limit"


def test_the_l1_ball_of_a_2d_network_is_its_diamond():
    # x1 = 0, x2 = 0, x1 = x2 through 0, and x1 + x2 = 1.5: it cuts two corners off the
    # L-inf ball of radius 1 but misses the L1 ball (x1 + x2 <= 1 there)
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    net = mlp([W, np.ones((1, 4))], [np.array([0.0, 0.0, 0.0, -1.5]), np.zeros(1)])
    inf = local_complexity(net, [[0.0, 0.0]], [0.5, 1.0])
    one = local_complexity(net, [[0.0, 0.0]], [0.5, 1.0], norm="1")
    assert inf.counts.tolist() == [[6, 8]] and one.counts.tolist() == [[6, 6]]
    shifted = local_complexity(net, [[0.5, 0.5]], [0.6], norm="1")   # reaches x1 + x2 = 1.6
    assert shifted.counts.tolist() == [[6]]     # a diagonal, two corners cut, one across it
    # above 12 inputs the L1 ball is counted lifted (tests/test_l1_ball_lifted.py has oracles)
    big = he_mlp(13, [4], 0)
    lc = local_complexity(big, [np.zeros(13)], 0.5, norm="1")
    assert lc.counts.tolist() == [[count_regions(big, center=np.zeros(13), radius=0.5,
                                                 norm=1).regions]]
    with pytest.raises(InputError, match=r"^unknown norm '2'; choose one of inf, 1$"):
        local_complexity(net, [[0.0, 0.0]], 0.1, norm="2")


def test_points_files_and_their_errors(tmp_path):
    X = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]])
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "x.csv").write_text("a,b\n" + "\n".join(f"{p},{q}" for p, q in X) + "\n")
    (tmp_path / "x.json").write_text(json.dumps(X.tolist()))
    for name in ("x.npy", "x.csv", "x.json"):
        assert np.array_equal(read_points(tmp_path / name, 2), X)
    assert read_points([0.5, 0.25], 2).tolist() == [[0.5, 0.25]]      # one flat point
    assert read_points(np.zeros((5, 1, 8, 8)), 64, (1, 8, 8)).shape == (5, 64)
    np.save(tmp_path / "x3.npy", np.zeros((4, 3)))
    with pytest.raises(InputError, match=r"x3\.npy: points of shape \(4, 3\) have 3 numbers each "
                                         r"but the network has 2 inputs$"):
        read_points(tmp_path / "x3.npy", 2)
    with pytest.raises(InputError, match=r"^points: points of shape \(2, 8, 7\) have 56 numbers "
                                         r"each but the network has 64 inputs \(input shape "
                                         r"1x8x8\)$"):
        read_points(np.zeros((2, 8, 7)), 64, (1, 8, 8))
    with pytest.raises(InputError, match=r"nope\.npy: no such file$"):
        read_points(tmp_path / "nope.npy", 2)
    with pytest.raises(InputError, match=r"x\.txt: points must be a \.npy, \.csv or \.json file$"):
        read_points(tmp_path / "x.txt", 2)
    with pytest.raises(InputError, match=r"^points: point 1 is not finite$"):
        read_points([[0.0, 0.0], [np.nan, 1.0]], 2)
    with pytest.raises(InputError, match=r"^points: no points \(shape \(0, 2\)\)$"):
        read_points(np.zeros((0, 2)), 2)
    with pytest.raises(InputError, match=r"^the radius must be a positive number, got 0$"):
        check_radii(0.0)
    with pytest.raises(InputError, match=r"^the radius must be a positive number, got -1$"):
        check_radii([0.1, -1])
    with pytest.raises(InputError, match=r"^radius 0.1 is given twice$"):
        check_radii([0.1, 0.5, 0.1])


def test_the_summary_statistics():
    s = summarize(0.5, np.array([1, 2, 22, 7, -1]), np.array([True, True, False, True, False]),
                  np.array([True, True, True, True, False]))
    assert (s.points, s.counted, s.lower_bounds, s.min, s.max) == (5, 4, 1, 1, 22)
    assert (s.mean, s.median, s.q1, s.q3) == (8.0, 4.5, 1.75, 10.75)
    assert s.std == pytest.approx(np.sqrt(70.5), rel=1e-15) and not s.exact
    none = summarize(0.5, np.array([-1]), np.array([False]), np.array([False]))
    assert none.counted == 0 and none.mean is None and none.to_dict()["median"] is None


def test_a_count_stopped_before_its_first_region_is_not_a_zero_in_the_statistics():
    """A count interrupted (or out of time) before it found a region says nothing: it is a
    count not made, like one never begun, while a stopped count with regions is a lower
    bound."""
    from milpregions.ir.result import CountResult
    from milpregions.studies.local import assemble

    def result(regions, stopped):
        return CountResult(regions=regions, exact=stopped is None, method="tree", seconds=0.1,
                           stopped=stopped)

    lc = assemble(np.zeros((3, 2)), (0.5,), "inf",
                  [result(7, None), result(0, "interrupted"), result(4, "time-limit")])
    assert lc.counts[:, 0].tolist() == [7, -1, 4]
    assert [row[0] for row in lc.stopped] == [None, "interrupted", "time-limit"]
    s = lc.summary[0]
    assert (s.counted, s.lower_bounds, s.min, s.mean) == (2, 1, 4, 5.5)


@pytest.mark.parametrize("d", [3, 4])
def test_the_l1_ball_in_three_and_four_dimensions_is_counted_as_its_polytope(d):
    """From 3 inputs the L1 ball is counted lifted (a polytope domain): each count equals count's
    ``norm=1`` on the same ball, and lies between the counts of the inscribed L-inf ball
    (radius r / d, inside the L1 ball) and the L-inf ball of radius r (which holds it)."""
    net = he_mlp(d, [6, 6], 1)
    X = np.random.default_rng(d).uniform(-0.5, 0.5, (2, d))
    radii = (0.3, 0.9)
    one = local_complexity(net, X, radii, norm="1")
    inf = local_complexity(net, X, radii)
    inner = local_complexity(net, X, tuple(r / d for r in radii))
    for i, x in enumerate(X):
        for j, r in enumerate(radii):
            want = count_regions(net, center=x, radius=r, norm=1).regions
            assert one.counts[i, j] == want
            assert inner.counts[i, j] <= want <= inf.counts[i, j]
    assert one.complete and one.norm == "1"
    with pytest.raises(InputError, match=r"^the L1 ball in 3 dimensions is a polytope domain, "
                                         r"counted by the tree only: not with method milp$"):
        local_complexity(he_mlp(3, [4], 0), [[0.0, 0.0, 0.0]], 0.1, norm="1", method="milp")
