"""``count --domain all``: the count over all of R^n with its bounded and unbounded regions, in
text and JSON, next to the architecture bounds, and one-line errors for what it is not
counted with."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[2] / "models"
Z2 = str(MODELS / "zaslavsky_2d_8.onnx")     # 8 generic lines: 37 regions in R^2, 21 bounded
Z3 = str(MODELS / "zaslavsky_3d_6.onnx")     # 6 generic planes: 42 regions in R^3, 10 bounded


def assert_input_error(cli, message: str, *argv) -> None:
    code, out, err = cli(*argv)
    assert code == 2, (code, out, err)
    assert out == ""
    assert err == f"milpregions: {message}\n"


@pytest.mark.parametrize("model, m, n", [(Z2, 8, 2), (Z3, 6, 3)])
def test_count_all_text(cli, model, m, n):
    total = sum(comb(m, i) for i in range(n + 1))
    bounded = comb(m - 1, n)
    assert cli("count", model, "--domain", "all") == (
        0, f"{total} regions\nbounded regions: {bounded}\nunbounded regions: {total - bounded}\n",
        "")


def test_count_all_json(cli):
    code, out, err = cli("count", Z2, "--domain", "all", "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["domain"]["kind"] == "all" and d["box"] is None
    assert (d["regions"], d["bounded"], d["unbounded"], d["exact"]) == (37, 21, 16, True)
    assert d["extent_undecided"] == 0 and d["lines"] is False


def test_a_box_count_has_no_bounded_fields(cli):
    d = json.loads(cli("count", Z2, "--box", "-1,1", "--json")[1])
    assert d["bounded"] is None and d["unbounded"] is None


def test_the_box_sets_only_the_unit_of_length(cli):
    a = cli("count", Z2, "--domain", "all", "--box", "-100,100")
    b = cli("count", Z2, "--domain", "all", "--box=-0.01,0.01")
    assert a == b == cli("count", Z2, "--domain", "all")


def test_count_all_next_to_the_bounds(cli):
    code, out, _ = cli("count", Z2, "--domain", "all", "--bounds")
    assert code == 0
    lines = out.splitlines()
    assert lines[:3] == ["37 regions", "bounded regions: 21", "unbounded regions: 16"]
    exact = [line for line in lines if "exact count" in line]
    assert len(exact) == 1 and "all of R^2" in exact[0] and exact[0].endswith(" 37")
    # one layer in general position reaches Zaslavsky's bound in R^2
    zas = [line for line in lines if "Zaslavsky 1975 (one hidden layer)" in line]
    assert zas[0].endswith(" 37")


@pytest.mark.parametrize("flags, refused", [(("--method", "milp"), "--method milp"),
                                            (("--jobs", "2"), "--jobs"),
                                            (("--linear",), "--linear"),
                                            (("--estimate",), "--estimate")])
def test_what_count_all_is_not_counted_with(cli, flags, refused):
    assert_input_error(cli, "count: --domain all is counted by the tree's LP path in one "
                            f"process, not with {refused} (yet)", "count", Z2, "--domain", "all",
                       *flags)


@pytest.mark.parametrize("flags, refused", [(("--center", "x.npy", "--radius", "1"), "--center"),
                                            (("--box-file", "b.json"), "--box-file"),
                                            (("--slice", "a", "b", "c"), "--slice")])
def test_count_all_takes_no_bounding_domain(cli, flags, refused):
    assert_input_error(cli, f"count: --domain all is all of R^n: not with {refused} (--box "
                            "LO,HI sets its unit of length)", "count", Z2, "--domain", "all",
                       *flags)


def test_an_unknown_domain_name_is_refused(cli):
    code, out, err = cli("count", Z2, "--domain", "R2")
    assert code == 2 and out == "" and "--domain" in err


def test_count_all_certified(cli):
    assert cli("count", Z2, "--domain", "all", "--certify") == (
        0, "37 regions (certified exactly, no margin)\nbounded regions: 21\n"
           "unbounded regions: 16\n", "")


def test_the_readme_example(cli):
    # the README's `--domain all --bounds` block is what the command prints
    readme = (MODELS.parent / "README.md").read_text(encoding="utf-8")
    head = "    $ milpregions count models/he_2d_16x16.onnx --domain all --bounds\n"
    block = readme.split(head, 1)[1].split("\n\n", 1)[0]
    expected = [line[4:] for line in block.splitlines()]
    code, out, _ = cli("count", str(MODELS / "he_2d_16x16.onnx"), "--domain", "all", "--bounds")
    assert code == 0 and out.splitlines() == expected


def test_a_walk_beyond_its_resolution_is_undecided(cli, tmp_path):
    # two of three lines meet at x = -1e8: the walk's points go out that far (exit 5, one
    # line saying so); --certify decides the count exactly (exit 0)
    import numpy as np

    from milpregions.ir.network import mlp
    from milpregions.onnx.export import to_onnx

    W = np.array([[0.0, 1.0], [-1e-8, 1.0], [1.0, 0.3]])
    path = tmp_path / "far.onnx"
    to_onnx(mlp([W, np.ones((1, 3))], [np.array([0.0, -1.0, 0.2]), np.zeros(1)]), path)
    code, out, _ = cli("count", path, "--domain", "all")
    lines = out.splitlines()
    assert code == 5 and lines[0] == "7 regions"
    assert lines[-1].startswith("undecided: the walk reached |u| = ")
    assert lines[-1].endswith("regions that far out may be missing; a larger --box unit, "
                              "or --certify, decides")
    assert cli("count", path, "--domain", "all", "--certify") == (
        0, "7 regions (certified exactly, no margin)\nbounded regions: 1\n"
           "unbounded regions: 6\n", "")


def test_decision_boundaries_are_not_counted_over_all_of_r_n(cli):
    assert_input_error(cli, "count: --decision is counted inside a bounded domain (its cells and "
                       "their graph are drawn in the box), not with --domain all (yet)",
                       "count", Z2, "--domain", "all", "--decision")
