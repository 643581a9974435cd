"""MIPBound (``milpregions.estimators.hashing``): parity encoding, statistics, and bounds vs exact counts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.bounds import compute_bounds
from milpregions.errors import InputError
from milpregions.estimators.hashing import (
    HashResult,
    add_parity,
    binomial_tail,
    hash_lower_bound,
    hash_regions,
    mbound_chernoff_error,
    mbound_slack,
    model_binaries,
    survival_lower_limit,
)
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import mlp
from milpregions.testing import constructions as C

# ------------------------------------------------------------------------------ parity encoding


def _feasible(m) -> bool:
    from pyomo.contrib.appsi.base import TerminationCondition as TC
    from pyomo.contrib.appsi.solvers import Highs

    from milpregions.solver.pyomo_highs import HIGHS_OPTIONS

    s = Highs()
    s.config.load_solution = False
    # the same options as the package (a different "threads" would clash with HiGHS's global
    # thread scheduler in later solves)
    s.highs_options = dict(HIGHS_OPTIONS)
    tc = s.solve(m).termination_condition
    assert tc in (TC.optimal, TC.infeasible, TC.infeasibleOrUnbounded), tc
    return tc == TC.optimal


@pytest.mark.parametrize("subsets", [[(0,)], [(0, 1, 2, 3)], [(1, 3)], [(0, 2), (1, 2, 3)]])
def test_parity_encoding_matches_brute_force(subsets):
    import pyomo.environ as pe

    n = 4
    rng = np.random.default_rng(len(subsets) * 7 + len(subsets[0]))
    for bits in itertools.product((0, 1), repeat=n):
        parities = [int(p) for p in rng.integers(0, 2, len(subsets))]
        m = pe.ConcreteModel()
        m.d = pe.Var(range(n), within=pe.Binary)
        for i, b in enumerate(bits):
            m.d[i].fix(b)
        m.obj = pe.Objective(expr=0.0)
        m.h = pe.Block()
        binaries = model_binaries(m)
        assert len(binaries) == n
        for S, p in zip(subsets, parities):
            add_parity(m.h, binaries, S, p)
        for v in binaries:  # appsi wants variables, not fixed values: pin by bounds instead
            val = v.value
            v.unfix()
            v.setlb(val)
            v.setub(val)
        want = all(sum(bits[i] for i in S) % 2 == p for S, p in zip(subsets, parities))
        assert _feasible(m) == want, (bits, subsets, parities)


def test_parity_aux_bounds_and_empty_subset():
    import pyomo.environ as pe

    m = pe.ConcreteModel()
    m.d = pe.Var(range(5), within=pe.Binary)
    m.h = pe.Block()
    b = model_binaries(m)
    add_parity(m.h, b, [0, 1, 2, 3, 4], 1)
    add_parity(m.h, b, [0, 1, 2], 0)
    assert [(y.lb, y.ub) for y in m.h.xor_y.values()] == [(0, 2), (0, 1)]
    assert add_parity(m.h, b, [], 1) is None


# ---------------------------------------------------------------------------------- statistics


def test_all_trials_feasible_is_mbound():
    # c = T: the bound 2^(K - alpha) fails with probability 2^(-alpha T) = gamma (MBound, delta=1/2)
    for T in (1, 3, 7, 20):
        for gamma in (0.05, 0.01):
            a = mbound_slack(T, T, gamma)
            assert math.isclose(2 ** (-a * T), gamma, rel_tol=1e-9)
            assert math.isclose(mbound_chernoff_error(a, 0.5, T), gamma, rel_tol=1e-9)


def test_binomial_rule_is_exact_and_not_weaker_than_chernoff():
    for T in (5, 7, 15):
        for c in range(1, T + 1):
            for gamma in (0.1, 0.05, 0.001):
                p = survival_lower_limit(c, T, gamma)
                assert 0 < p < 1
                assert binomial_tail(c, T, p) <= gamma * (1 + 1e-9)
                assert binomial_tail(c, T, min(1.0, p * 1.001)) > gamma  # the largest such p
                # MBound's Chernoff statement with delta = c/T - 1/2 at our slack is never better
                a = -math.log2(p)
                if c < T and 2 ** a * c / T > 1:
                    assert mbound_chernoff_error(a, c / T - 0.5, T) >= gamma * (1 - 1e-9)
        assert survival_lower_limit(0, T, 0.05) == 0.0
        assert mbound_slack(0, T, 0.05) == math.inf


# ---------------------------------------------------------------------- bounds vs exact counts


def one_unit():
    return mlp([np.array([[1.0]]), np.ones((1, 1))], [np.array([0.2]), np.zeros(1)])


NETS = [
    ("montufar 1d p2 d3", lambda: C.montufar_folding(1, 2, 3), (0.0, 1.0)),
    ("montufar 2d p2 d2", lambda: C.montufar_folding(2, 2, 2), (0.0, 1.0)),
    ("general position 2d n8", lambda: C.general_position_layer(2, 8, 0), None),
    ("he 2d 6x6", lambda: C.he_mlp(2, [6, 6], 0), None),
    ("one unit", one_unit, None),
]


@pytest.mark.parametrize("name,make,box", NETS, ids=[n for n, _, _ in NETS])
def test_bound_never_exceeds_exact_count(name, make, box):
    net = make()
    exact = count_regions(net, box).regions
    for seed in (0, 1):
        res = hash_regions(net, box, seed=seed)
        assert isinstance(res, HashResult)
        assert 1 <= res.lower_bound <= exact, (name, seed, res)
        assert res.regions_seen <= exact and res.probabilistic_bound <= exact
        assert res.lower_bound == max(res.regions_seen, res.probabilistic_bound)
        assert res.feasible[0] == 1 and res.trials[0] == 1          # K = 0: the model is feasible
        assert res.confidence == 0.95 and res.stopped is None
        assert res.solves >= 1 and res.seconds > 0
        for K, c in res.feasible.items():
            if K:
                assert res.trials[K] == 7 and 0 <= c <= 7


def test_xors_given_and_reproducible():
    net, box = C.general_position_layer(2, 8, 0), None
    a = hash_regions(net, box, xors=3, trials=5, seed=3)
    b = hash_regions(net, box, xors=[3], trials=5, seed=3)
    assert sorted(a.feasible) == [0, 3] and a.trials[3] == 5
    assert (a.feasible, a.lower_bound, a.bounds) == (b.feasible, b.lower_bound, b.bounds)
    assert a.gamma_per_k == pytest.approx(0.05)
    c = hash_regions(net, box, xors=[2, 4], trials=3, seed=3, confidence=0.9)
    assert sorted(c.feasible) == [0, 2, 4] and c.gamma_per_k == pytest.approx(0.05)
    assert c.lower_bound <= 37
    d = c.to_dict()
    assert d["probabilistic"] is True and d["feasible"]["2"] == c.feasible[2]


def test_all_stable_network_is_one_region():
    net = C.all_stable(2, [4], 0)
    unit = normalize(net, Box.make(-1.0, 1.0, 2))
    res = hash_lower_bound(unit, compute_bounds(unit), seed=0)
    assert res.lower_bound == 1 and res.binaries == 0


def test_bad_arguments():
    net = one_unit()
    with pytest.raises(InputError):
        hash_regions(net, xors=0)
    with pytest.raises(InputError):
        hash_regions(net, trials=0)
    with pytest.raises(InputError):
        hash_regions(net, confidence=1.0)
    with pytest.raises(InputError):
        hash_regions(net, time_limit=0)


def test_time_limit_drops_partial_trials():
    net = C.he_mlp(3, [16, 16], 0)
    res = hash_regions(net, None, time_limit=0.5, seed=0, tighten=False)
    assert res.stopped == "time-limit"
    assert res.lower_bound >= 0 and res.seconds < 5
    for K, t in res.trials.items():
        assert t == (1 if K == 0 else 7)  # a K whose trials were cut short is dropped
