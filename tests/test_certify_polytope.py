"""``--certify`` on polytope domains (rows, hulls, L1 balls): the exact search treats the
polytope's rows as the domain's boundary, like the box's faces, and counts what an exact 2-D
oracle counts inside the polygon."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from milpregions import count_regions
from milpregions.inputs import hull_domain, l1_ball_domain, polytope_domain
from milpregions.ir.network import mlp
from milpregions.onnx import load_onnx
from milpregions.testing.constructions import he_mlp

from exact_oracles import regions_2d

ROOT = Path(__file__).resolve().parents[1]
HE2 = ROOT / "models" / "he_2d_16x16.onnx"
HEXAGON = np.array([[0.6 * np.cos(t) + 0.05, 0.45 * np.sin(t) - 0.03]
                    for t in np.linspace(0.1, 2 * np.pi + 0.1, 6, endpoint=False)])


def count_in_polygon(net, dom) -> int:
    """Exact count of ``net``'s regions inside the polytope ``dom`` (2 inputs): the network
    gated by the polytope's rows, counted by the rational oracle in the polytope's box, only
    the pieces where every gate is on."""
    gated = dom.gate(net)
    m = dom.gates
    return len({pat[m:] for _, pat in regions_2d(gated, dom.box.lo, dom.box.hi)
                if all(all(bits) for bits in pat[:m])})


@pytest.mark.parametrize("vertex_dim", [6, 0], ids=["vertex", "lp"])
@pytest.mark.parametrize("which", ["hexagon", "l1"])
def test_a_deep_net_in_a_polygon_is_certified_against_the_oracle(which, vertex_dim):
    net = load_onnx(HE2)
    if which == "hexagon":
        dom, kw = hull_domain(HEXAGON), {"hull": HEXAGON}
    else:
        kw = {"center": [0.1, -0.2], "radius": 0.7, "norm": 1}
        dom = l1_ball_domain(kw["center"], kw["radius"], 2)
    want = count_in_polygon(net, dom)
    assert 50 < want < count_regions(HE2, (-1, 1)).regions
    res = count_regions(HE2, certify=True, vertex_dim=vertex_dim, **kw)
    assert res.certified is True, res.certify_note
    assert res.regions == want and res.certify_added == 0 and res.certify_rejected == 0


def sliver_net():
    """relu(x - 0.3) and relu(y): the lines x = 0.3 and y = 0."""
    return mlp([np.array([[1.0, 0.0], [0.0, 1.0]]), np.ones((1, 2))],
               [np.array([-0.3, 0.0]), np.zeros(1)])


@pytest.mark.parametrize("vertex_dim", [6, 0], ids=["vertex", "lp"])
def test_a_sliver_between_a_line_and_the_polytope_is_found_exactly(vertex_dim):
    # the polytope's right edge x <= 0.3 + 1e-11 leaves a slab of width 1e-11 right of the
    # line x = 0.3: two regions thinner than the margin, which only the exact search counts
    net = sliver_net()
    A = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    b = np.array([0.3 + 1e-11, 1.0, 1.0, 1.0])
    assert count_in_polygon(net, polytope_domain(A, b)) == 4
    res = count_regions(net, polytope=(A, b), vertex_dim=vertex_dim)
    assert res.regions == 2
    found = []
    res = count_regions(net, polytope=(A, b), certify=True, vertex_dim=vertex_dim,
                        on_region=found.append)
    assert res.certified is True and res.regions == 4 and res.certify_added == 2
    X = np.array([r.witness for r in found])
    assert len(X) == 4 and np.all(X @ A.T < b) and np.sum(X[:, 0] > 0.3) == 2


def test_a_box_as_rows_is_certified_like_the_box_in_three_dimensions():
    # the same box given as six rows (counted in a bounding box 1e-6 wider): the certified
    # counts agree, so the rows bound the exact search exactly where the box faces do
    m = he_mlp(3, [6, 6], 0)
    lo, hi = np.array([-0.5, -0.3, -0.4]), np.array([0.45, 0.5, 0.2])
    box = count_regions(m, (lo, hi), certify=True)
    A = np.vstack([np.eye(3), -np.eye(3)])
    rows = count_regions(m, polytope=(A, np.concatenate([hi, -lo])), certify=True)
    assert box.certified is True and rows.certified is True
    assert rows.regions == box.regions == 149


def test_an_l1_ball_in_three_dimensions_is_certified():
    # the octahedron lifted to the simplex of 6 parameters (count's norm=1) and as the hull of
    # its 6 corners (its 8 rows): one exact count
    m = he_mlp(3, [6, 6], 0)
    c, r = np.array([0.1, -0.05, 0.02]), 0.6
    ball = count_regions(m, center=c, radius=r, norm=1, certify=True)
    corners = c + r * np.array([s * e for e in np.eye(3) for s in (1.0, -1.0)])
    hull = count_regions(m, hull=corners, certify=True)
    assert ball.certified is True and hull.certified is True
    assert ball.regions == hull.regions == 134


def test_cli_certifies_a_hull(cli, tmp_path):
    pts = tmp_path / "hexagon.json"
    pts.write_text(json.dumps(HEXAGON.tolist()))
    want = count_in_polygon(load_onnx(HE2), hull_domain(HEXAGON))
    code, out, err = cli("count", HE2, "--hull", pts, "--certify", "--json")
    assert code == 0, err
    rec = json.loads(out)
    assert rec["regions"] == want and rec["certified"] is True


def test_corners_of_the_octahedron_are_its_l1_ball():
    # a guard on the construction above: the hull of the six corners has the ball's 8 rows
    c = np.array([0.1, -0.05, 0.02])
    corners = c + 0.6 * np.array([s * e for e in np.eye(3) for s in (1.0, -1.0)])
    h = hull_domain(corners)
    assert h.gates == 8
    signs = {tuple(np.sign(a / np.abs(a).max()).astype(int)) for a in h.A}
    assert signs == set(itertools.product([-1, 1], repeat=3))
