"""Tests of ``milpregions.estimators.compare``: every estimator next to the exact count."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from milpregions.api import count_regions
from milpregions.cli import compare as compare_command
from milpregions.estimators import compare
from milpregions.testing.constructions import he_mlp, montufar_folding

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
HE2 = str(MODELS / "he_2d_8x8.onnx")
M2 = str(MODELS / "montufar_2d_p2_d2.onnx")        # 16 regions on [0, 1]^2



def test_checkpoints_include_budgets():
    cp = compare.checkpoints([1000, 30, 77])
    assert cp[0] == 1 and cp[-1] == 1000
    assert {30, 77, 1000} <= set(cp) and cp == sorted(set(cp))


def test_compare_exact_and_sampling_bounds():
    net = he_mlp(2, [8, 8], seed=3)
    exact = count_regions(net, (-1, 1)).regions
    r = compare.compare_estimators(net, (-1, 1), points=(100, 1000, 20000), lines=(5,),
                                   distance_points=(200,), seed=1)
    assert r.regions == exact and r.exact
    samples = [row for row in r.rows if row.estimator == "sample: distinct"]
    assert [row.budget for row in samples] == [100, 1000, 20000]
    # distinct patterns are a lower bound, and nested budgets never lose patterns
    assert all(row.estimate <= exact for row in samples)
    assert [row.estimate for row in samples] == sorted(row.estimate for row in samples)
    assert all(d <= exact for d in r.curve["distinct"])
    assert r.curve["distinct"] == sorted(r.curve["distinct"])
    for row in r.rows:
        if row.estimate is not None and row.rel_error is not None:
            assert row.rel_error == pytest.approx((row.estimate - exact) / exact)
    upper = [row for row in r.rows if row.kind == "upper bound"]
    assert upper and all(row.estimate >= exact for row in upper)
    kinds = {row.estimator for row in r.rows}
    assert {"sample: Chao1", "sample: Good-Turing", "lines: Poisson extrapolation",
            "distance: Poisson extrapolation", "theory: Hanin-Rolnick N^n0/n0!"} <= kinds


def test_compare_folding_sampling_finds_all_equal_regions():
    net = montufar_folding(1, 2, 3)                   # 8 regions of length 1/8 in [0, 1]
    r = compare.compare_estimators(net, (0, 1), points=(2000,), lines=(3,), distance_points=(),
                                   seed=0)
    assert r.regions == 8
    best = {row.estimator: row for row in r.rows}
    assert best["sample: distinct"].estimate == 8 and best["sample: distinct"].rel_error == 0
    assert best["lines: Poisson extrapolation"].estimate == pytest.approx(8)


def test_compare_known_exact_skips_count():
    net = montufar_folding(1, 2, 2)
    r = compare.compare_estimators(net, (0, 1), points=(50,), lines=(), distance_points=(),
                                   exact=4)
    assert r.regions == 4 and r.count_seconds == 0
    assert all(row.estimate <= 4 for row in r.rows if row.estimator == "sample: distinct")


def test_compare_cli_table_and_json(cli, capsys):
    exact = count_regions(HE2, (-1, 1)).regions
    code, out, err = cli("compare", HE2, "--box", "-1,1", "--points", "100,1000",
                         "--lines", "5", "--distance-points", "100", "--no-tighten")
    assert code == 0 and err == ""
    assert out.startswith(f"exact count: {exact:,} regions")
    assert "sample: Chao1" in out and "lines: Poisson extrapolation" in out and "rel. error" in out
    code, out, err = cli("compare", HE2, "--box=-1,1", "--points", "100,1000",
                         "--lines", "0", "--distance-points", "none", "--json")
    d = json.loads(out)
    assert code == 0 and d["regions"] == exact and d["exact"] is True
    assert d["box"] == {"lo": [-1.0, -1.0], "hi": [1.0, 1.0]}
    rows = d["rows"]
    assert {"estimator", "budget", "estimate", "rel_error", "seconds"} <= set(rows[0])
    distinct = [r for r in rows if r["estimator"] == "sample: distinct"]
    assert [r["budget"] for r in distinct] == [100, 1000]
    assert all(r["estimate"] <= exact for r in distinct)
    assert not any(r["estimator"].startswith(("lines", "distance")) for r in rows)
    assert all(v is None or math.isfinite(v) for r in rows for v in (r["estimate"], r["rel_error"]))


def test_compare_cli_center_radius(cli, capsys, tmp_path):
    c = tmp_path / "c.json"
    c.write_text("[0.5, 0.5]")
    code, out, _ = cli("compare", M2, "--center", c, "--radius", "0.5",
                       "--points", "5000", "--lines", "3", "--distance-points", "0", "--json")
    d = json.loads(out)
    assert code == 0 and d["regions"] == 16
    assert [r["estimate"] for r in d["rows"] if r["estimator"] == "sample: distinct"] == [16]


def test_compare_cli_hash(cli, capsys):
    code, out, _ = cli("compare", M2, "--box", "0,1", "--points", "0", "--lines", "0",
                       "--distance-points", "0", "--hash", "--hash-trials", "3", "--json")
    d = json.loads(out)
    h = [r for r in d["rows"] if r["estimator"] == "hash: MIPBound"]
    assert code == 0 and len(h) == 1 and 1 <= h[0]["estimate"] <= d["regions"] == 16


def test_compare_cli_errors(cli, capsys):
    for argv, msg in [
        (("--points", "10,x"), "--points '10,x': expected N or N1,N2,... (positive integers; "
                               "0 or none to skip)"),
        (("--lines", "-3"), "--lines '-3': the budgets must be at least 1 (0 or none to skip)"),
        (("--hash-trials", "0"), "--hash-trials 0: must be at least 1"),
        (("--points", "0", "--plot", "x.png"), "--plot needs sampling budgets (--points)"),
    ]:
        code, out, err = cli("compare", HE2, "--box", "-1,1", *argv)
        assert (code, out, err) == (2, "", f"milpregions: {msg}\n")
    code, out, err = cli("compare", HE2, "--points", "10")
    assert code == 2 and "give the input domain" in err


def test_compare_plot_missing_matplotlib(cli, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(compare_command, "have_matplotlib", lambda: False)
    png = tmp_path / "out.png"
    code, out, err = cli("compare", HE2, "--box", "-1,1", "--plot", png)
    assert code == 2 and out == "" and not png.exists()
    assert err.startswith("milpregions: --plot needs matplotlib") and err.count("\n") == 1


def test_compare_plot_png(cli, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curve.png"
    code, out, err = cli("compare", HE2, "--box", "-1,1", "--points", "100,2000",
                         "--lines", "0", "--distance-points", "0", "--plot", png)
    assert code == 0 and f"plot: {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
