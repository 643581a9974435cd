"""``count --decision`` and ``plot --decision`` end to end on exported ONNX models: the lines
and JSON fields they print, the picture they draw, and their one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from milpregions.ir.network import Affine, Layer, Network
from milpregions.onnx.export import to_onnx
from milpregions.testing.constructions import tseran_maxout


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("decision")
    L = Layer(Affine({0: np.array([[1.0, 0.0]])}, np.zeros(1)), np.zeros(1))
    # h = relu(x1); logits x2, -x2, 2h - 1 (see tests/geometry/test_decision.py: wedge3)
    wedge = Network(2, (L,), Affine({0: np.array([[0.0, 1.0], [0.0, -1.0], [0.0, 0.0]]),
                                     1: np.array([[0.0], [0.0], [2.0]])},
                                    np.array([0.0, 0.0, -1.0])))
    none = Network(2, (L,), Affine({1: np.zeros((0, 1))}, np.zeros(0)))
    paths = {"tm": d / "tm.onnx", "wedge": d / "wedge.onnx", "none": d / "none.onnx"}
    to_onnx(tseran_maxout(), paths["tm"])
    to_onnx(wedge, paths["wedge"])
    to_onnx(none, paths["none"])
    return paths


WEDGE_TEXT = """2 regions
decision: 3 classes, 5 cells (one activation region and one predicted class each)
class 0: 2 regions, 1 decision region
class 1: 2 regions, 1 decision region
class 2: 1 region, 1 decision region
the decision boundary crosses 2 regions
3 decision regions
4 pieces of the decision boundary (merged where it continues on one hyperplane into the next region: 3)
"""


def test_count_decision_text(cli, models):
    code, out, err = cli("count", models["wedge"], "--box", "-1,1", "--decision")
    assert code == 0, err
    assert out == WEDGE_TEXT
    code, out, err = cli("count", models["wedge"], "--box", "-1,1", "--decision", "--stats")
    assert code == 0 and out.startswith(WEDGE_TEXT) and "\nmethod: tree\nnodes: " in out
    code, out, err = cli("count", models["tm"], "--box", "-3,3", "--decision", "--certify")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "216 regions (certified exactly, no margin)"
    assert "the decision boundary crosses 30 regions" in lines
    assert lines[-1] == ("30 pieces of the decision boundary (merged where it continues on "
                         "one hyperplane into the next region: 30)")


def test_count_decision_one_class_in_the_domain(cli, models):
    code, out, err = cli("count", models["wedge"], "--box", "-1,-0.5", "--decision")
    assert code == 0, err
    assert out == """1 region
decision: 3 classes, 1 cell (one activation region and one predicted class each)
class 1: 1 region, 1 decision region
2 classes predicted nowhere in the domain
the decision boundary crosses 0 regions
1 decision region
0 pieces of the decision boundary (merged where it continues on one hyperplane into the next region: 0)
"""


def test_count_decision_above_the_vertex_path(cli, models, tmp_path):
    """Above six inputs the cells have no vertex form: pieces are not merged (n/a)."""
    from milpregions.testing.constructions import he_mlp

    path = tmp_path / "he7.onnx"
    to_onnx(he_mlp(7, [3], seed=0, out_dim=2), path)
    code, out, err = cli("count", path, "--box", "-1,1", "--decision", "--json")
    assert code == 0, err
    d = json.loads(out)["decision"]
    assert d["merged_pieces"] is None and d["boundary_pieces"] >= d["crossed"] >= 1
    code, out, err = cli("count", path, "--box", "-1,1", "--decision")
    assert out.splitlines()[-1].endswith("(merged where it continues on one hyperplane into "
                                         "the next region: n/a above 6-D)")


def test_count_decision_json(cli, models):
    code, out, err = cli("count", models["tm"], "--box", "-3,3", "--decision", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert (d["regions"], d["cells"], d["exact"], d["command"]) == (216, 246, True, "count")
    assert d["decision"] == {"classes": 2, "cells": 246, "regions": 216,
                             "class_regions": [174, 72], "crossed": 30,
                             "decision_regions": 3, "class_decision_regions": [1, 2],
                             "boundary_pieces": 30, "merged_pieces": 30}


def test_count_decision_after_a_limit(cli, models):
    code, out, err = cli("count", models["tm"], "--box", "-3,3", "--decision",
                         "--max-regions", "20", "--json")
    assert code == 3
    d = json.loads(out)
    assert d["decision"] is None and d["cells"] == 20 and d["lower_bound"]
    assert 1 <= d["regions"] <= 20
    assert "the decision counts need the whole count; not computed" in err


@pytest.mark.parametrize("model,argv,message", [
    ("none", [], "--decision needs a classifier: the network has no logits"),
    ("wedge", ["--linear"], "--decision cannot be combined with --linear"),
    ("wedge", ["--regions", "r.jsonl"], "--decision cannot be combined with --regions"),
    ("wedge", ["--bounds"], "--decision cannot be combined with --bounds"),
])
def test_count_decision_errors(cli, models, tmp_path, monkeypatch, model, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("count", models[model], "--box", "-1,1", "--decision", *argv)
    assert (code, out, err) == (2, "", f"milpregions: {message}\n")


def test_plot_decision_svg(cli, models, tmp_path):
    svg = tmp_path / "d.svg"
    code, out, err = cli("plot", models["wedge"], "--box", "-1,1", "--decision", "-o", svg)
    assert code == 0, err
    assert out == f"{svg}: 5 cells of 2 regions drawn, 3 classes, 4 boundary pieces\n"
    text = svg.read_text()
    group = text[text.index('<g id="cells">'):]
    assert group[:group.index("</g>")].count("<path ") == 5
    code, out, err = cli("plot", models["wedge"], "--box", "-1,1", "--decision", "-o", svg,
                         "--output-level", "0")
    assert (code, err) == (2, "milpregions: plot --decision draws the classes and their "
                              "boundary: not with --output-level or --color\n")
