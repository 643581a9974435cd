"""The L1 ball in any dimension (``ir.domain.L1Ball``): ``x = c + p - q`` on the simplex
``p, q >= 0, sum(p + q) <= r``, one row in 2d parameters instead of the ball's 2^d facets.

Oracles: the facets (``l1_ball_domain(..., lifted=False)``, a different construction of the
same ball) up to 12 inputs; in any dimension, a network that reads two of its inputs only,
whose regions in the ball are those of the 2-D network in the ball's projection (the 2-D
L1 ball of the same radius, counted as its 4 facets); hyperplanes through the centre (all 2^m
sign patterns meet the ball) and one moved off it (half of them)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from milpregions import count_regions, prepare
from milpregions.api import count
from milpregions.errors import InputError
from milpregions.inputs import l1_ball_domain
from milpregions.ir.domain import L1Ball, Polytope
from milpregions.ir.network import mlp
from milpregions.onnx import load_onnx
from milpregions.settings import Settings
from milpregions.testing.constructions import he_mlp

ROOT = Path(__file__).resolve().parents[1]


def count_on(net, dom, **settings):
    return count(prepare(net, dom, Settings(**settings)))


@pytest.mark.parametrize("d, widths, radius", [(3, [16, 16], 0.6), (4, [8, 8], 0.9),
                                               (6, [8, 8], 0.8)])
def test_the_lifted_ball_counts_what_its_facets_count(d, widths, radius):
    net = he_mlp(d, widths, seed=1)
    c = np.linspace(-0.1, 0.1, d)
    lifted = l1_ball_domain(c, radius, d, lifted=True)
    facets = l1_ball_domain(c, radius, d)
    assert isinstance(lifted, L1Ball) and isinstance(facets, Polytope)
    assert facets.gates == 2 ** d and lifted.gates == 1 and lifted.dim == 2 * d
    want = count_on(net, facets)
    got = count_on(net, lifted)
    assert got.exact and want.exact and got.regions == want.regions > 50


def embedded(net2d, d: int):
    """The 2-input network read from the first two of ``d`` inputs."""
    P = np.zeros((2, d))
    P[0, 0] = P[1, 1] = 1.0
    return net2d.map_input(P, np.zeros(2))


@pytest.mark.parametrize("d", [13, 24])
def test_beyond_twelve_inputs_a_planar_net_counts_its_projection(d):
    # the projection of the L1 ball of radius r onto two coordinates is the 2-D L1 ball of
    # radius r around the centre's two coordinates: the same regions, counted in 2-D exactly
    he2 = load_onnx(ROOT / "models" / "he_2d_16x16.onnx")
    c = np.concatenate([[0.15, -0.1], np.linspace(-3.0, 2.0, d - 2)])
    want = count_regions(he2, center=c[:2], radius=0.7, norm=1)
    got = count_regions(embedded(he2, d), center=c, radius=0.7, norm=1)
    assert want.exact and got.exact
    assert got.regions == want.regions > 100


def test_hyperplanes_through_the_centre_and_one_moved_off_the_ball():
    # six hyperplanes in general position through c in 14-D: all 2^6 sign patterns meet every
    # ball around c; one moved beyond the ball (its distance in the L-inf dual > r) halves them
    d, r = 14, 0.5
    rng = np.random.default_rng(3)
    W = rng.standard_normal((6, d))
    c = rng.uniform(-1, 1, d)
    b = -W @ c
    net = mlp([W, np.ones((1, 6))], [b, np.zeros(1)])
    assert count_regions(net, center=c, radius=r, norm=1).regions == 64
    b2 = b.copy()
    b2[0] += 1.01 * r * np.abs(W[0]).max()     # |W_0 (x - c)| <= r max|W_0| < the shift
    net2 = mlp([W, np.ones((1, 6))], [b2, np.zeros(1)])
    assert count_regions(net2, center=c, radius=r, norm=1).regions == 32


def test_a_lifted_count_is_certified_and_its_witnesses_are_in_the_ball():
    z2 = load_onnx(ROOT / "models" / "zaslavsky_2d_8.onnx")
    d = 13
    c = np.concatenate([[0.05, 0.1], np.full(d - 2, 0.25)])
    want = count_regions(z2, center=c[:2], radius=0.8, norm=1, certify=True)
    found = []
    got = count_regions(embedded(z2, d), center=c, radius=0.8, norm=1, certify=True,
                        on_region=found.append)
    assert want.certified is True and got.certified is True
    assert got.regions == want.regions > 10
    X = np.array([f.witness for f in found])
    assert X.shape == (got.regions, d)
    assert np.all(np.abs(X - c).sum(axis=1) < 0.8)


def test_local_counts_l1_balls_beyond_twelve_inputs(cli, tmp_path):
    he2 = load_onnx(ROOT / "models" / "he_2d_16x16.onnx")
    from milpregions.onnx import to_onnx

    d = 16
    model = tmp_path / "planar16.onnx"
    to_onnx(embedded(he2, d), model)
    pts = np.zeros((2, d))
    pts[1, :2] = [0.2, -0.3]
    np.save(tmp_path / "x.npy", pts)
    code, out, err = cli("local", model, "--data", tmp_path / "x.npy", "--radius", "0.5",
                         "--norm", "1", "--json")
    assert code == 0, err
    rec = json.loads(out)
    got = [res["counts"][0]["regions"] for res in rec["results"]]
    want = [count_regions(he2, center=p[:2], radius=0.5, norm=1).regions for p in pts]
    assert got == want


def test_the_estimators_refuse_the_lifted_ball_in_one_line(cli, tmp_path):
    net = he_mlp(13, [4], seed=0)
    from milpregions.onnx import to_onnx

    model = tmp_path / "n13.onnx"
    to_onnx(net, model)
    np.save(tmp_path / "c.npy", np.zeros(13))
    code, out, err = cli("sample", model, "--center", tmp_path / "c.npy", "--radius", "0.5",
                         "--norm", "1", "--points", "100")
    assert code == 2
    assert err.strip().splitlines() == [
        "milpregions: an L1 ball in 13 dimensions has 2^13 facets; up to 12 inputs "
        "are sampled (count and local take any dimension)"]
    with pytest.raises(InputError, match="counted .count, local. but not sampled"):
        from milpregions.estimators.hashing import hash_regions

        hash_regions(net, l1_ball_domain(np.zeros(13), 0.5, 13), trials=2)
