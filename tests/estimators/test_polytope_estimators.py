"""sample, lines, hash and compare on polytope domains (an L1 ball, a hull, rows) against the
exact count on the same polytope: sampled patterns are counted regions and reach the count;
every chord's count is the exact count of the segment (``count --line``); every region MIPBound
exhibits is a region of the polytope's exact count, and its bound is below the count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from milpregions import count_regions, prepare
from milpregions.estimators.body import body_of_problem
from milpregions.estimators.compare import compare_estimators
from milpregions.estimators.hashing import hash_regions
from milpregions.estimators.lines import count_segment, run_lines
from milpregions.estimators.sample import sample_patterns
from milpregions.inputs import hull_domain, l1_ball_domain, polytope_domain
from milpregions.ir.domain import Segment
from milpregions.ir.network import mlp

MODELS = Path(__file__).resolve().parents[2] / "models"
Z3 = MODELS / "zaslavsky_3d_6.onnx"
HE2 = MODELS / "he_2d_8x8.onnx"
HE3 = MODELS / "he_3d_16x16.onnx"
TRIANGLE = np.array([[-0.9, -0.7], [0.8, -0.6], [0.1, 0.85]])


def _key(pattern) -> bytes:
    return b"".join(np.asarray(p, dtype=np.int64).tobytes() for p in pattern)


def _exact(problem):
    found: list = []
    from milpregions.api import count

    r = count(problem, on_region=found.append)
    assert r.exact and r.regions == len(found)
    return {_key(x.pattern) for x in found}


def _net(d: int, seed: int, widths: tuple[int, ...]):
    """A small random ReLU net (weights rounded to 0.01) whose regions in the domains below
    are all wide enough for 200,000 uniform points to hit each (checked once by hand)."""
    rng = np.random.default_rng(seed)
    sizes = [d, *widths, 1]
    Ws = [np.round(rng.normal(size=(b, a)), 2) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.round(rng.uniform(-0.5, 0.5, size=b), 2) for b in sizes[1:]]
    return mlp(Ws, bs)


ROWS = (np.array([[1.0, 1.0, 0.0], [-1.0, 0.3, 0.2], [0.1, -1.0, 0.5], [0.0, 0.2, -1.0]]),
        np.array([0.8, 0.9, 0.7, 0.6]))
DOMAINS = {
    "l1-3d": (lambda: _net(3, 18, (4, 2)), lambda: l1_ball_domain([0.1, -0.2, 0.05], 0.9, 3)),
    "hull-2d": (lambda: _net(2, 4, (6, 3)), lambda: hull_domain(TRIANGLE)),
    "rows-3d": (lambda: _net(3, 18, (4, 2)), lambda: polytope_domain(*ROWS)),
}


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_sampled_patterns_are_the_polytope_regions(name):
    net, make = DOMAINS[name]
    problem = prepare(net(), make())
    want = _exact(problem)
    assert len(want) >= 20
    net = problem.restricted
    r = sample_patterns(net, body_of_problem(problem), 200_000, seed=0)
    assert r.distinct == len(want)            # small nets, many points: every region is hit
    X = body_of_problem(problem).uniform(np.random.default_rng(1), 20_000)
    pats = net.pattern(X)
    seen = {_key([p[i] for p in pats]) for i in range(len(X))}
    assert seen <= want


def test_sampling_misses_only_tiny_regions_of_a_real_model():
    # zaslavsky_3d_6 in an L1 ball: 40 regions, three of them with inscribed balls below
    # 2.5e-3 near the centre; uniform points never exceed the count
    problem = prepare(Z3, l1_ball_domain([0.1, -0.2, 0.05], 0.9, 3))
    want = _exact(problem)
    r = sample_patterns(problem.restricted, body_of_problem(problem), 100_000, seed=0)
    assert len(want) - 4 <= r.distinct <= len(want)


def test_gauss_sample_stays_inside_and_below_the_count():
    problem = prepare(HE2, hull_domain(TRIANGLE))
    want = _exact(problem)
    r = sample_patterns(problem.restricted, body_of_problem(problem), 20_000, dist="gauss:0.3",
                        seed=0)
    assert 1 < r.distinct <= len(want)


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_each_chord_count_is_the_exact_segment_count(name):
    net, make = DOMAINS[name]
    model = net()
    problem = prepare(model, make())
    body = body_of_problem(problem)
    P, Q = body.chords(np.random.default_rng(7), 6)
    r = run_lines(problem.restricted, body, 6, 0, seed=7)
    for k, (p, q) in enumerate(zip(P, Q)):
        exact = count_regions(model, Segment.through(p, q)).regions
        assert r.regions_per_line[k] == exact == count_segment(problem.restricted, p, q)[0]
        assert r.lengths[k] == pytest.approx(np.linalg.norm(q - p))
    assert r.body == "polytope" and r.estimate_from_lines is not None


def test_no_poisson_number_for_a_polytope_in_four_dimensions():
    problem = prepare(MODELS / "he_4d_8x8.onnx", l1_ball_domain(np.zeros(4), 0.7, 4))
    r = run_lines(problem.restricted, body_of_problem(problem), 5, 50, seed=0)
    assert r.estimate_from_lines is None and r.estimate_from_distance is None
    assert r.mean_distance is not None and r.to_dict()["estimate_from_lines"] is None


@pytest.mark.parametrize("points", [0, 300])
def test_hash_exhibits_only_regions_of_the_polytope(points):
    problem = prepare(HE3, l1_ball_domain([0.1, -0.2, 0.05], 0.8, 3))
    want = _exact(problem)
    seen: list = []
    res = hash_regions(problem, trials=6, xors=[3, 6], seed=0, points=points, time_limit=60,
                       on_region=seen.append)
    keys = {_key(p) for p in seen}
    assert len(keys) == len(seen) == res.regions_seen >= 1
    assert keys <= want
    assert res.lower_bound <= len(want)
    if points == 0:
        assert res.found["milp"] >= 1        # the MILP with the rows found regions inside


def test_hash_on_a_thin_hull_finds_regions_inside_only():
    # a triangle in a corner of its bounding box: seeds uniform in the box would mostly fall
    # outside; the seeds are uniform inside, and every region is checked inside
    tri = np.array([[-1.0, -1.0], [1.0, -0.9], [-0.9, 1.0]])
    problem = prepare(HE2, hull_domain(tri))
    want = _exact(problem)
    seen: list = []
    res = hash_regions(problem, trials=5, xors=[4], seed=1, points=2000, on_region=seen.append)
    assert {_key(p) for p in seen} <= want and res.lower_bound <= len(want)


def test_compare_on_a_polytope_counts_it_exactly():
    problem = prepare(_net(3, 18, (4, 2)), l1_ball_domain([0.1, -0.2, 0.05], 0.9, 3))
    want = _exact(problem)
    r = compare_estimators(problem, points=[1000, 100_000], lines=[20], distance_points=[500])
    assert r.exact and r.regions == len(want)
    distinct = [row.estimate for row in r.rows if row.estimator == "sample: distinct"]
    assert distinct[-1] == len(want) and all(d <= len(want) for d in distinct)
    lines = [row for row in r.rows if row.estimator.startswith("lines:")]
    assert lines and lines[0].estimate is not None and lines[0].interval is not None
