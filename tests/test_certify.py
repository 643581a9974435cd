"""``count --certify``: exact rational certificates of every region and, on 1-D/2-D domains,
completeness by exact measure; never a guess (exit 4 when it cannot be shown)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.ir.network import mlp
from milpregions.onnx import load_onnx

from exact_oracles import count_1d, count_2d, count_plane

MODELS_2D = [("montufar_1d_p2_d3.onnx", (0.0, 1.0)), ("serra_1d_3x3.onnx", (0.0, 1.0)),
             ("zaslavsky_2d_8.onnx", (-1.0, 1.0)), ("he_2d_8x8.onnx", (-1.0, 1.0)),
             ("he_2d_16x16.onnx", (-1.0, 1.0)), ("concurrent_2d_8x8.onnx", (-1.0, 1.0)),
             ("montufar_2d_p2_d2.onnx", (0.0, 1.0)), ("maxout_mlp.onnx", (-1.0, 1.0))]


@pytest.mark.parametrize("vertex_dim", [6, 0], ids=["vertex", "lp"])
@pytest.mark.parametrize("name,box", MODELS_2D, ids=[m[0] for m in MODELS_2D])
def test_committed_low_dimensional_models_are_certified(models_dir, name, box, vertex_dim):
    res = count_regions(models_dir / name, box, certify=True, vertex_dim=vertex_dim)
    assert res.exact and res.certified is True and res.certify_note == ""
    net = load_onnx(models_dir / name)
    if net.input_dim == 1:
        assert res.regions == count_1d(net, *box)
    elif name != "maxout_mlp.onnx":                 # the oracle has no max groups
        assert res.regions == count_2d(net, [box[0]] * 2, [box[1]] * 2)


def test_a_slice_is_certified_against_the_plane_oracle(models_dir):
    net = load_onnx(models_dir / "he_3d_16x16.onnx")
    p0, p1, p2 = np.array([-1.0, -1, -1]), np.array([1.0, -1, 0.5]), np.array([-1.0, 1, 0.2])
    res = count_regions(net, slice=(p0, p1, p2), certify=True)
    assert res.certified is True
    assert res.regions == count_plane(net, p0, p1 - p0, p2 - p0, 0, 1) == 362


def test_a_region_thinner_than_the_margin_is_not_certified_away():
    # a slab of width 1e-8 (inradius 5e-9): the float count with margin 1e-7 misses it, and
    # the exact measures show that something is missing
    net = mlp([np.eye(2)[[0, 0]], np.ones((1, 2))], [np.array([0.0, -1e-8]), np.zeros(1)])
    assert count_2d(net, [-1, -1], [1, 1]) == 3
    res = count_regions(net, (-1, 1), margin=1e-7, certify=True)
    assert res.regions == 2 and res.certified is False
    assert "regions thinner than the margin are missing" in res.certify_note
    res = count_regions(net, (-1, 1), certify=True)          # the default margin sees it
    assert res.regions == 3 and res.certified is True


def test_a_triangle_of_inradius_1e_13_is_reported_not_guessed():
    n = np.array([1.0, 1.0]) / np.sqrt(2)
    W1 = np.array([[1.0, 0.0], [0.0, 1.0], n])
    net = mlp([W1, np.ones((1, 3))], [np.array([-0.3, 0.2, -(n @ [0.3, -0.2]) - 1e-12]),
                                      np.zeros(1)])
    assert count_2d(net, [-1, -1], [1, 1]) == 7
    res = count_regions(net, (-1, 1), certify=True)
    assert res.regions == 6 and res.certified is False


def test_higher_dimension_and_stopped_counts_are_not_certified(models_dir):
    res = count_regions(models_dir / "zaslavsky_3d_6.onnx", (-1, 1), certify=True)
    assert res.regions == 42 and res.certified is False
    assert res.certify_note == "completeness is decided exactly only for 1-D and 2-D domains"
    res = count_regions(models_dir / "he_2d_16x16.onnx", (-1, 1), certify=True, max_regions=5)
    assert not res.exact and res.certified is False
    assert res.certify_note == "the count was stopped by a limit"


def test_cli_certify_exit_status_and_json(cli, models_dir):
    code, out, _ = cli("count", models_dir / "zaslavsky_2d_8.onnx", "--box", "-1,1", "--certify")
    assert code == 0 and out == "37 regions (certified exactly, no margin)\n"
    code, out, _ = cli("count", models_dir / "zaslavsky_3d_6.onnx", "--box", "-1,1", "--certify")
    assert code == 4
    assert out == ("42 regions (not certified: completeness is decided exactly only for 1-D "
                   "and 2-D domains)\n")
    code, out, _ = cli("count", models_dir / "zaslavsky_2d_8.onnx", "--box", "-1,1", "--certify",
                       "--json")
    d = json.loads(out)
    assert code == 0 and d["certified"] is True and d["regions"] == 37
    code, out, _ = cli("count", models_dir / "zaslavsky_2d_8.onnx", "--box", "-1,1", "--json")
    assert json.loads(out)["certified"] is None
