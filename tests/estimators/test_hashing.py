"""MIPBound (``milpregions.estimators.hashing``): statistics, bounds against exact counts, the
time limit and interrupts, the CLI."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.bounds import compute_bounds
from milpregions.cli.main import main
from milpregions.errors import InputError
from milpregions.estimators.hashing import (
    DEFAULT_TRIALS,
    HashResult,
    _Oracle,
    binomial_tail,
    hash_lower_bound,
    hash_regions,
    mbound_chernoff_error,
    mbound_slack,
    plan_from_levels,
    survival_lower_limit,
)
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import mlp
from milpregions.problem import prepare
from milpregions.settings import Settings
from milpregions.testing import constructions as C

MODELS = Path(__file__).resolve().parents[2] / "models"

# ---------------------------------------------------------------------------------- statistics


def test_all_trials_feasible_is_mbound():
    # c = T: the bound 2^(K - alpha) fails with probability 2^(-alpha T) = gamma (MBound, delta=1/2)
    for T in (1, 3, 7, 20):
        for gamma in (0.05, 0.01):
            a = mbound_slack(T, T, gamma)
            assert math.isclose(2 ** (-a * T), gamma, rel_tol=1e-9)
            assert math.isclose(mbound_chernoff_error(a, 0.5, T), gamma, rel_tol=1e-9)


def test_binomial_rule_is_exact_and_not_weaker_than_chernoff():
    for T in (5, 7, 15, 100):
        for c in range(1, T + 1, max(1, T // 12)):
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


def test_binomial_tail_against_a_direct_sum():
    for T, c, p in [(7, 3, 0.2), (30, 18, 0.6), (100, 1, 0.01), (10, 10, 0.5)]:
        direct = sum(math.comb(T, k) * p ** k * (1 - p) ** (T - k) for k in range(c, T + 1))
        assert binomial_tail(c, T, p) == pytest.approx(direct, rel=1e-10)
    assert binomial_tail(0, 5, 0.3) == 1.0


def test_plan_is_around_the_median_exploration_level():
    assert plan_from_levels([11, 12, 11, 10, 11]) == [9, 10, 11, 12]
    assert plan_from_levels([0, 1, 0]) == [1]
    assert plan_from_levels([2, 3, 2]) == [1, 2, 3]


# ------------------------------------------------------------------------ the search for a level


def test_oracle_levels_are_true_levels():
    """On a net whose regions are all known (every one enumerated), the level the search
    exhibits is the true largest satisfied prefix, and it never exceeds it."""
    net = C.he_mlp(2, [6, 6], 0)
    p = prepare(net, None, Settings())
    found = []
    count_regions(p.network, None, on_region=found.append)
    oracle = _Oracle(p.unit_net, p.bounds, 1e-10, 1e-7, 300, lambda: None)
    D = oracle.B.from_patterns([np.array([r.pattern[l] for r in found])
                                for l in range(len(net.layers))])
    assert len({d.tobytes() for d in D}) == len(found) == 74
    oracle.seed(np.random.default_rng(0).uniform(-1, 1, (200, 2)))
    assert 0 < oracle.known.size < len(found)
    rng = np.random.default_rng(1)
    for _ in range(25):
        A = rng.random((10, oracle.N)) < 0.5
        b = rng.integers(0, 2, 10)
        ok = (D.astype(int) @ A.T.astype(int)) % 2 == b
        true = int(np.where(ok.all(1), 10, np.argmin(ok, 1)).max())
        got = oracle.level(A, b, 1, 10, milp_calls=2)
        assert got <= true
        assert got == true           # neighbours and the MILP find the regions not sampled
    assert oracle.known.size <= len(found)
    assert {d.tobytes() for d in oracle.known.matrix()} <= {d.tobytes() for d in D}


# ---------------------------------------------------------------------- bounds vs exact counts


def one_unit():
    return mlp([np.array([[1.0]]), np.ones((1, 1))], [np.array([0.2]), np.zeros(1)])


NETS = [
    ("montufar 1d p2 d3", lambda: C.montufar_folding(1, 2, 3), (0.0, 1.0)),         # 8
    ("he 2d 8x8", lambda: C.he_mlp(2, [8, 8], 0), None),                              # 102
    ("he 3d 6x6", lambda: C.he_mlp(3, [6, 6], 0), None),                              # 187
    ("he 4d 5x5", lambda: C.he_mlp(4, [5, 5], 0), None),                              # 238
    ("concurrent 2d 8x8 (degenerate)", lambda: C.concurrent_layer(2, 8, 0), None),  # 109
    ("one unit", one_unit, None),                                                     # 2
]


@pytest.mark.parametrize("name,make,box", NETS, ids=[n for n, _, _ in NETS])
def test_bound_never_exceeds_exact_count(name, make, box):
    net = make()
    exact = count_regions(net, box).regions
    for seed in (0, 1):
        res = hash_regions(net, box, seed=seed, points=2000)
        assert isinstance(res, HashResult)
        assert 1 <= res.lower_bound <= exact, (name, seed, res.lower_bound, exact)
        assert res.regions_seen <= exact and res.probabilistic_bound <= exact
        assert res.lower_bound == max(res.regions_seen, res.probabilistic_bound)
        assert res.feasible[0] == 1 and res.trials[0] == 1          # K = 0: a region is known
        assert res.confidence == 0.95 and res.stopped is None
        assert len(res.exploration_levels) == 5 and res.plan == plan_from_levels(
            res.exploration_levels)
        assert len(res.levels) == DEFAULT_TRIALS and min(res.levels) >= 0
        for K in res.plan:
            assert res.trials[K] == DEFAULT_TRIALS
            assert res.feasible[K] == sum(lv >= K for lv in res.levels)
        assert sum(res.found.values()) == res.regions_seen
        assert res.gamma_per_k == pytest.approx(0.05 / len(res.plan))


def test_within_a_factor_4_at_the_defaults():
    net = C.he_mlp(4, [8, 8], 0)                   # 1,780 regions (models/he_4d_8x8.onnx)
    exact = count_regions(net, None).regions
    assert exact == 1780
    res = hash_regions(net, None, seed=0)
    assert res.stopped is None
    assert exact / 4 <= res.probabilistic_bound <= exact
    assert exact / 4 <= res.lower_bound <= exact
    assert res.found["neighbour"] > 0             # more than the sampled points saw


def test_sampling_off_still_bounds_with_the_milp():
    net = C.he_mlp(2, [6, 6], 0)                   # 74 regions
    res = hash_regions(net, None, seed=0, points=0, trials=20)
    assert res.found["sample"] == 0 and res.found["milp"] >= 1 and res.solves >= 1
    assert 1 <= res.probabilistic_bound <= res.lower_bound <= 74


def test_xors_given_and_reproducible():
    net, box = C.general_position_layer(2, 8, 0), None         # 37 regions
    a = hash_regions(net, box, xors=3, trials=5, seed=3, points=500)
    b = hash_regions(net, box, xors=[3], trials=5, seed=3, points=500)
    assert sorted(a.feasible) == [0, 3] and a.trials[3] == 5 and a.exploration_levels == []
    assert (a.feasible, a.lower_bound, a.bounds, a.levels) == (b.feasible, b.lower_bound,
                                                               b.bounds, b.levels)
    assert a.gamma_per_k == pytest.approx(0.05)
    c = hash_regions(net, box, xors=[2, 4], trials=3, seed=3, confidence=0.9, points=500)
    assert sorted(c.feasible) == [0, 2, 4] and c.gamma_per_k == pytest.approx(0.05)
    assert c.lower_bound <= 37
    d = c.to_dict()
    assert d["probabilistic"] is True and d["feasible"]["2"] == c.feasible[2]
    assert d["regions"] == c.lower_bound and d["exact"] is False


def test_short_xors_keep_the_bound():
    net = C.he_mlp(3, [6, 6], 0)                   # 187 regions
    res = hash_regions(net, None, seed=0, xor_length=3, points=2000)
    assert res.xor_length == 3 and 1 <= res.probabilistic_bound <= 187


def test_all_stable_network_is_one_region():
    net = C.all_stable(2, [4], 0)
    unit = normalize(net, Box.make(-1.0, 1.0, 2))
    res = hash_lower_bound(unit, compute_bounds(unit), seed=0)
    assert res.lower_bound == 1 and res.binaries == 0


def test_bad_arguments():
    net = one_unit()
    for kw in ({"xors": 0}, {"xors": 63}, {"xors": []}, {"trials": 0}, {"confidence": 1.0},
               {"time_limit": 0}, {"points": -1}, {"xor_length": 0}):
        with pytest.raises(InputError):
            hash_regions(net, **kw)


# ------------------------------------------------------------------------ stopping early


def test_time_limit_and_interrupt_give_no_larger_bound():
    net = C.he_mlp(2, [8, 8], 0)                   # 102 regions
    full = hash_regions(net, None, seed=0, points=5000)
    assert full.stopped is None
    # a time limit far below the run's time: stopped, never a larger bound
    early = hash_regions(net, None, seed=0, points=5000, time_limit=0.02)
    assert early.stopped == "time-limit"
    assert early.probabilistic_bound <= full.probabilistic_bound
    assert early.regions_seen <= full.regions_seen and early.lower_bound <= full.lower_bound
    # an interrupt after 20 trials: the other 80 count as not feasible
    calls = {"n": 0}

    def progress(p):
        if p.stage == "trials":
            calls["n"] = p.done

    part = hash_regions(net, None, seed=0, points=5000, progress=progress,
                        should_stop=lambda: calls["n"] >= 20)
    assert part.stopped == "interrupted" and part.plan == full.plan
    assert part.levels[:20] == full.levels[:20] and part.levels[20:] == [-1] * 80
    for K in part.plan:
        assert part.trials[K] == DEFAULT_TRIALS
        assert part.feasible[K] == sum(lv >= K for lv in full.levels[:20]) <= full.feasible[K]
    assert part.probabilistic_bound <= full.probabilistic_bound
    assert part.lower_bound <= full.lower_bound <= 102
    assert any("did not finish" in n for n in part.notes)


# ------------------------------------------------------------------------------------- CLI


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(argv, err=None):
    import contextlib

    out = io.StringIO()
    err = io.StringIO() if err is None else err
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def test_cli_output_lines_and_exit_status(cli):
    model = MODELS / "he_2d_8x8.onnx"              # 102 regions
    code, out, err = cli("hash", model, "--box", "-1,1", "--points", "5000", "--quiet")
    assert code == 0 and err == ""
    lines = out.splitlines()
    n = int(lines[0].split()[2])
    assert lines[0] == f"at least {n} regions (probabilistic lower bound, confidence 95%)"
    assert 102 / 4 <= n <= 102
    assert lines[1].startswith("method: MIPBound")
    assert lines[2].startswith("binaries: ") and "regions seen (certain): " in lines[2]
    assert lines[3].startswith("feasible trials: K=0: 1/1, K=")
    assert lines[4].startswith("K tested: ") and "chosen from 5 exploration trials" in lines[4]
    assert lines[5].startswith("regions seen by: ") and "sampled points (5,000 drawn)" in lines[5]
    assert lines[6].startswith("error level per K: ")


def test_cli_time_limit_json_and_exit_3(cli):
    model = MODELS / "he_2d_8x8.onnx"
    code, out, err = cli("hash", model, "--box", "-1,1", "--time-limit", "0.01", "--json")
    assert code == 3
    d = json.loads(out)
    assert d["stopped"] == "time-limit" and d["lower_bound"] is True and d["exact"] is False
    assert d["regions"] == d["regions_seen"] <= 102 and d["probabilistic_bound"] == 0
    code, out, err = cli("hash", model, "--box", "-1,1", "--time-limit", "0.01", "--quiet")
    assert code == 3
    assert out.splitlines()[0].endswith("confidence 95%, stopped by the time limit)")


def test_cli_progress_on_a_terminal():
    model = MODELS / "he_2d_8x8.onnx"
    err = _Terminal()
    code, out, text = _run(["hash", model, "--box", "-1,1", "--points", "3000"], err)
    assert code == 0 and out.startswith("at least ")
    assert "sampling: " in text and "regions seen" in text
    code, out, text = _run(["hash", model, "--box", "-1,1", "--points", "3000", "--quiet"],
                           _Terminal())
    assert code == 0 and text == ""


def test_cli_bad_input(cli):
    model = MODELS / "he_2d_8x8.onnx"
    for argv, msg in [(("--points", "-1"), "--points -1: must be 0 or more"),
                      (("--xor-length", "0"), "--xor-length 0: must be at least 1"),
                      (("--milp-nodes", "0"), "--milp-nodes 0: must be at least 1"),
                      (("--trials", "0"), "--trials 0: must be at least 1")]:
        code, out, err = cli("hash", model, "--box", "-1,1", *argv)
        assert (code, out, err) == (2, "", f"milpregions: {msg}\n")
