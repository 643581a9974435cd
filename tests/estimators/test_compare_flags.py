"""``compare`` flags every estimate outside the bounds proven for this network (issue 12, item 6):
the exact count, the regions seen by sampling, the theory upper bounds that hold for any
weights; never the Montufar/Serra lower bounds (a maximum over all weights)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.estimators import compare
from milpregions.estimators.compare import ProvenBound, Row, check_rows, density_interval
from milpregions.estimators.lines import poisson_cells, run_lines
from milpregions.ir.domain import Box
from milpregions.ir.network import mlp
from milpregions.testing.constructions import he_mlp

HE2 = str(Path(__file__).resolve().parents[2] / "models" / "he_2d_8x8.onnx")


def bottleneck(n: int = 30):
    """n0 = 2, widths [1, n]: one unit, always on in [-1, 1]^2, then n thresholds of it, so
    n parallel lines and n + 1 strips. Serra et al. 2018 allow n + 2 regions; lines through
    parallel boundaries fool the isotropic Poisson model by far."""
    w1, b1 = np.array([[1.0, 0.3]]), np.array([2.0])
    return mlp([w1, np.ones((n, 1)), np.ones((1, n))],
               [b1, -np.linspace(0.8, 3.2, n), np.zeros(1)])


def by_name(r, name, budget=None):
    return next(row for row in r.rows if row.estimator == name and row.budget == budget)


def test_lines_above_the_serra_bound_are_flagged():
    net = bottleneck()
    assert count_regions(net, (-1, 1)).regions == 31
    r = compare.compare_estimators(net, (-1, 1), points=(20, 2000), lines=(10,),
                                   distance_points=(200,), seed=0)
    assert [(b.side, b.value, b.source, b.from_count) for b in r.proven_bounds] == [
        ("lower", 31, "the exact count", True), ("upper", 31, "the exact count", True),
        ("lower", 31, "distinct patterns seen in 2,000 random points", False),
        ("upper", 32, "Serra et al. 2018, Thm 1", False),
        ("upper", 62, "Montufar 2017, product bound", False)]
    assert (r.proven("lower"), r.proven("upper")) == (31, 31)
    lines = by_name(r, "lines: Poisson extrapolation", 10)
    assert lines.estimate > 62 and lines.interval[0] > 62
    assert lines.flag == ("above the proven upper bound 32 (Serra et al. 2018, Thm 1), "
                          "and so is its whole 95% interval")
    assert [(v["side"], v["value"]) for v in lines.violates] == [
        ("upper", 31), ("upper", 32), ("upper", 62)]
    dist = by_name(r, "distance: Poisson extrapolation", 200)
    assert dist.estimate > 62 and dist.interval is None
    assert dist.flag == "above the proven upper bound 32 (Serra et al. 2018, Thm 1)"
    # below: the regions seen by sampling need no count; the count has the same value
    chao = by_name(r, "sample: Chao1", 20)
    assert chao.estimate < 31 < chao.interval[1] and chao.flag == (
        "below the proven lower bound 31 (the exact count; distinct patterns seen in 2,000 "
        "random points), though its 95% interval reaches it")
    for n, seen in ((20, 13), (2000, 31)):              # lower bounds below 31 are no fault
        row = by_name(r, "sample: distinct", n)
        assert (row.estimate, row.proven, row.flag, row.violates) == (seen, True, None, [])
    assert by_name(r, "sample: Chao1", 2000).flag is None
    # the theory rows: the upper bounds are proven, the shallow count (497 > 32) is not a
    # bound on this deeper network and is neither used nor flagged
    serra = by_name(r, "theory: Serra et al. 2018 upper")
    assert (serra.estimate, serra.proven, serra.flag) == (32, True, None)
    zas = by_name(r, "theory: Zaslavsky (shallow, N units)")
    assert (zas.estimate, zas.scope, zas.proven, zas.flag) == (497, "shallow maximum", False, None)
    text = compare.format_compare(r)
    assert text[2:5] == [
        "proven on this network in this box: 31 <= regions <= 31",
        "  lower: 31 the exact count; 31 distinct patterns seen in 2,000 random points",
        "  upper: 31 the exact count; 32 Serra et al. 2018, Thm 1; 62 Montufar 2017, product bound"]
    row_text = next(t for t in text if t.startswith("lines: Poisson extrapolation"))
    assert row_text.split()[-2:] == ["ABOVE", "[2]"]
    assert ("[2] above the proven upper bound 32 (Serra et al. 2018, Thm 1), and so is its "
            "whole 95% interval") in text
    zas_text = next(t for t in text if t.startswith("theory: Zaslavsky"))
    ref = zas_text.split()[-1]
    assert zas_text.endswith(f"not a bound {ref}")
    assert any(t.startswith(f"{ref} not a bound on this network: the maximum for one hidden "
                            "layer of N = 31 two-piece units") for t in text)


def test_montufar_lower_bound_is_never_a_bound_on_this_network():
    # the issue's case: exact 147 against Montufar et al.'s 592 for the architecture
    net = he_mlp(2, [8, 8], seed=3)
    r = compare.compare_estimators(net, (-1, 1), points=(100,), lines=(), distance_points=(),
                                   seed=0)
    assert r.regions == 147
    assert [b.source for b in r.proven_bounds] == [
        "the exact count", "the exact count", "distinct patterns seen in 100 random points",
        "Serra et al. 2018, Thm 1", "Montufar 2017, product bound"]
    mont = by_name(r, "theory: Montufar et al. 2014 lower")
    assert (mont.estimate, mont.kind, mont.scope, mont.proven, mont.flag) == (
        592, "max lower bound", "max over weights", False, None)
    # an estimate between the count and 592 is above the count, whatever Montufar says
    row = Row("x", "estimate", 1, "points", 300.0, None, 0.0)
    check_rows([row], r.proven_bounds)
    assert row.flag == "above the proven upper bound 147 (the exact count)"
    text = compare.format_compare(r)
    mont_text = next(t for t in text if t.startswith("theory: Montufar et al. 2014 lower"))
    ref = mont_text.split()[-1]
    assert mont_text.endswith(f"not a bound {ref}")
    assert f"{ref} not a bound on this network: a lower bound on the maximum over all weights " \
           "of this architecture, reached by a construction (a count below it is normal)" in text


def test_check_rows_by_kind_and_without_the_count():
    # a stopped count at 40 regions: a lower bound only; sampling saw 45; Serra allows 100
    bounds = [ProvenBound("lower", 40, "the regions found by the stopped count", True),
              ProvenBound("lower", 45, "distinct patterns seen in 1,000 random points", False),
              ProvenBound("upper", 100, "Serra et al. 2018, Thm 1", False)]
    rows = [Row("est low", "estimate", 1, "points", 42.0, None, 0.0, interval=(30.0, 60.0)),
            Row("est lower", "estimate", 1, "points", 39.0, None, 0.0, interval=(20.0, 39.5)),
            Row("est ok", "estimate", 1, "points", 70.0, None, 0.0),
            Row("est high", "estimate", 1, "points", 100.5, None, 0.0),
            Row("est at the bound", "estimate", 1, "points", 100.0 * (1 + 1e-12), None, 0.0),
            Row("est inf", "estimate", 1, "lines", math.inf, None, 0.0),
            Row("hash", "lower bound", 3, "trials/K", 30.0, None, 0.0),       # below: fine
            Row("hash", "lower bound", 3, "trials/K", 120.0, None, 0.0),
            Row("upper", "upper bound", None, "", 44.0, None, 0.0, proven=True),
            Row("max", "max lower bound", None, "", 500.0, None, 0.0, scope="max over weights"),
            Row("gt", "estimate", 1, "points", None, None, 0.0)]
    check_rows(rows, bounds)
    assert [row.flag for row in rows] == [
        "below the proven lower bound 45 (distinct patterns seen in 1,000 random points), "
        "though its 95% interval reaches it",
        "below the proven lower bound 45 (distinct patterns seen in 1,000 random points), "
        "and so is its whole 95% interval",
        None,
        "above the proven upper bound 100 (Serra et al. 2018, Thm 1)",
        None,
        "above the proven upper bound 100 (Serra et al. 2018, Thm 1)",
        None,
        "above the proven upper bound 100 (Serra et al. 2018, Thm 1)",
        "below the proven lower bound 45 (distinct patterns seen in 1,000 random points)",
        None, None]
    assert [v["value"] for v in rows[1].violates] == [40, 45]
    # with only the count broken, the count is named
    row = Row("y", "estimate", 1, "points", 42.0, None, 0.0)
    check_rows([row], bounds[:1] + [ProvenBound("lower", 41, "distinct patterns seen in 10 "
                                                            "random points", False)])
    assert row.flag is None
    check_rows([row], [ProvenBound("lower", 50, "the exact count", True)])
    assert row.flag == "below the proven lower bound 50 (the exact count)"


def test_density_interval_by_hand_and_on_the_lines_row():
    # c = runs - 1 = [2, 4] on chords of length 1: lambda 3, residuals -1, +1, se = 1
    lo, hi = density_interval([3, 5], [1.0, 1.0])
    assert (lo, hi) == pytest.approx((3 - 1.96, 3 + 1.96))
    # c = [2, 4], l = [1, 3]: lambda 1.5, residuals +0.5, -0.5, se = sqrt(0.5 / 2) / 2 = 0.25
    assert density_interval([3, 5], [1.0, 3.0]) == pytest.approx((1.5 - 0.49, 1.5 + 0.49))
    # c = [0, 10]: lambda 5, se 5: the lower end stops at 0
    assert density_interval([1, 11], [1.0, 1.0]) == pytest.approx((0.0, 5 + 9.8))
    assert density_interval([4], [1.0]) is None
    net = he_mlp(2, [8, 8], seed=3)
    r = compare.compare_estimators(net, (-1, 1), points=(), lines=(12,), distance_points=(),
                                   seed=5, exact=147)
    row = by_name(r, "lines: Poisson extrapolation", 12)
    box = Box(np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
    lr = run_lines(net, box, 12, 0, 5)
    lam_lo, lam_hi = density_interval(lr.runs_per_line, lr.lengths)
    assert lam_lo < lr.density < lam_hi
    assert row.interval == pytest.approx((poisson_cells(lam_lo, [2, 2]),
                                          poisson_cells(lam_hi, [2, 2])))
    assert row.estimate == pytest.approx(lr.estimate_from_lines)
    assert row.interval[0] < row.estimate < row.interval[1]


def test_compare_json_flags_and_intervals(cli):
    code, out, err = cli("compare", HE2, "--box", "-1,1", "--points", "300,3000",
                         "--lines", "8", "--distance-points", "200", "--no-tighten", "--json")
    d = json.loads(out)
    assert code == 0 and err == "" and d["regions"] == 102 and d["exact"] is True
    assert d["proven_lower"] == d["proven_upper"] == 102
    assert [(b["side"], b["value"]) for b in d["proven_bounds"]][-2:] == [
        ("upper", 1369), ("upper", 1369)]
    assert not any("Montufar et al. 2014" in b["source"] for b in d["proven_bounds"])
    for row in d["rows"]:
        # the old keys stay; the new ones are there on every row
        assert {"estimator", "kind", "budget", "unit", "estimate", "rel_error", "seconds",
                "note", "interval", "scope", "proven", "flag", "violates"} <= set(row)
        est = row["estimate"]
        if row["scope"] != "this network" or est is None:
            assert row["flag"] is None and row["violates"] == []
            continue
        # with an exact count every proven bound is 102 or looser, so a row is flagged iff it
        # is off 102 on a side its kind is checked on: lower bounds (distinct patterns,
        # MIPBound) above, proven upper bounds below, estimates either way
        off = abs(est - 102) > 102 * 1e-9
        if row["kind"] == "lower bound":
            expect = est > 102
        elif row["proven"]:
            expect = est < 102
        else:
            expect = off
        assert (row["flag"] is not None) == expect, row
        if row["flag"] is not None:
            assert row["flag"].startswith("above" if est > 102 else "below")
    assert [(row["estimator"], row["budget"]) for row in d["rows"] if row["flag"]] == [
        ("sample: Chao1", 300), ("sample: Good-Turing", 300), ("sample: Chao1", 3000),
        ("sample: Good-Turing", 3000), ("lines: Poisson extrapolation", 8),
        ("distance: Poisson extrapolation", 200)]
    assert {"side": "lower", "value": 71, "source": "distinct patterns seen in 3,000 random "
            "points", "from_count": False} in d["proven_bounds"]
    chao = [row for row in d["rows"] if row["estimator"] == "sample: Chao1"]
    assert [row["interval"][0] <= row["estimate"] <= row["interval"][1] for row in chao] == [
        True, True]
    assert [r["scope"] for r in d["rows"] if r["estimator"].startswith("theory")] == [
        "this network", "this network", "shallow maximum", "max over weights",
        "max over weights", "typical scale"]
