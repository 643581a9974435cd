"""Random-point pattern sampling (``milpregions.estimators.sample``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.errors import InputError
from milpregions.estimators.sample import (
    FrequencyCounter,
    PatternHasher,
    chao1,
    good_turing,
    parse_dist,
    sample_patterns,
)
from milpregions.ir.domain import Box
from milpregions.ir.network import Affine, MaxLayer, Network
from milpregions.testing import constructions as C


def test_distinct_patterns_never_exceed_the_exact_count_and_reach_it():
    net = C.montufar_folding(2, 2, 2)                        # 16 equal-area regions in [0,1]^2
    r = sample_patterns(net, Box.make(0, 1, 2), 20000, seed=0, batch=999)
    assert r.distinct == 16 and r.f1 == 0 and r.f2 == 0
    assert r.chao1 == 16 and r.chao1_ci == (16.0, 16.0)
    assert r.coverage == 1.0 and r.good_turing == 16


def test_random_net_lower_bound_and_batch_independence():
    net = C.he_mlp(2, [8, 8], seed=3)
    exact = count_regions(net, (-1, 1), tighten=False).regions
    a = sample_patterns(net, Box.make(-1, 1, 2), 30000, seed=5, batch=30000)
    b = sample_patterns(net, Box.make(-1, 1, 2), 30000, seed=5, batch=777)
    assert a.distinct == b.distinct and a.f1 == b.f1 and a.f2 == b.f2   # same points, other batches
    assert a.distinct <= exact
    assert a.chao1_ci[0] <= a.chao1 <= a.chao1_ci[1]


def test_hash_counts_match_exact_pattern_counts():
    net = C.he_mlp(3, [10, 6], seed=1)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (5000, 3))
    pats = np.concatenate([p.astype(np.int8) for p in net.pattern(X)], axis=1)
    _, want = np.unique(pats, axis=0, return_counts=True)
    h = PatternHasher(net, seed=7)
    fc = FrequencyCounter()
    for k in range(0, 5000, 600):
        fc.add(h(X[k:k + 600]))
    assert sorted(fc.frequencies()) == sorted(want)


def test_max_groups_hash_the_argmax():
    W = np.array([[1.0, 0], [0, 1.0], [-1.0, 0], [0, -1.0]])
    layer = MaxLayer(Affine({0: W}, np.zeros(4)), np.array([[0, 1, 2, 3]]))
    net = Network(2, (layer,), Affine({1: np.ones((1, 1))}, np.zeros(1)))
    r = sample_patterns(net, Box.make(-1, 1, 2), 4000, seed=0)
    assert r.distinct == 4                              # the four argmax cones of max(|x|, |y|)


def test_gauss_rejection_keeps_points_in_the_box():
    net = C.montufar_folding(1, 2, 3)                   # 8 regions in [0, 1]
    r = sample_patterns(net, Box.make(0, 1, 1), 5000, dist="gauss:0.3", seed=1)
    assert r.distinct == 8
    r = sample_patterns(net, Box.make(0, 1, 1), 5000, dist="gauss:0.01", seed=1)
    assert r.distinct == 2                              # only the two middle regions
    with pytest.raises(InputError, match="fall in the box"):
        sample_patterns(C.he_mlp(8, [4], 0), Box.make(0, 1e-3, 8), 100, dist="gauss:10", seed=0)


def test_estimator_formulas():
    # Chao1 bias-corrected: D + (N-1)/N f1 (f1-1) / (2 (f2+1))
    S, se, (lo, hi) = chao1(100, 50, 10, 5)
    assert S == pytest.approx(50 + 0.99 * 90 / 12)
    assert lo < S < hi and lo > 50 and se > 0
    C_, gt, gt_se = good_turing(100, 50, 10)
    assert C_ == 0.9 and gt == pytest.approx(50 / 0.9)
    assert gt_se == pytest.approx(50 * math.sqrt(10 * 0.9) / 100 / 0.81)
    assert good_turing(10, 10, 10)[1] is None


def test_parse_dist():
    assert parse_dist("uniform") == ("uniform", 0.0)
    assert parse_dist("gauss:0.5") == ("gauss", 0.5)
    for bad in ("gauss", "gauss:-1", "gauss:x", "normal"):
        with pytest.raises(InputError):
            parse_dist(bad)
    with pytest.raises(InputError):
        sample_patterns(C.he_mlp(2, [3], 0), Box.make(-1, 1, 2), 0)


def test_many_points_memory_stays_flat():
    net = C.he_mlp(2, [8], seed=0)                      # 1e6 points, small batches: quick
    r = sample_patterns(net, Box.make(-1, 1, 2), 1_000_000, seed=0, batch=1 << 17)
    assert r.points == 1_000_000 and r.distinct <= 37 and r.seconds < 30


@pytest.mark.parametrize("n0,widths,seed", [(2, [8, 8], 3), (3, [6, 6], 1), (4, [5, 5], 2)])
def test_every_sampled_pattern_is_an_enumerated_region(n0, widths, seed):
    # sampling never finds a pattern the exact enumeration missed (points within 1e-9 of a
    # boundary, where the pattern is not that of any full-dimensional region, excepted)
    from milpregions.estimators.lines import boundary_distances

    net = C.he_mlp(n0, widths, seed=seed)
    regions = []
    count_regions(net, (-1, 1), on_region=regions.append)
    exact = {np.concatenate(r.pattern).astype(np.int8).tobytes() for r in regions}
    assert len(exact) == len(regions)
    X = np.random.default_rng(seed).uniform(-1, 1, (20000, n0))
    X = X[boundary_distances(net, X) > 1e-9]
    sampled = {np.concatenate(p).astype(np.int8).tobytes()
               for p in zip(*[q.astype(np.int8) for q in net.pattern(X)])}
    assert sampled <= exact
    assert len(sampled) > len(exact) // 4          # the check is not vacuous
    assert sample_patterns(net, Box.make(-1, 1, n0), 20000, seed=seed).distinct <= len(exact)
