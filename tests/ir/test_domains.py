"""Slices and lines (``milpregions.ir.domain``): counts equal the exact rational oracles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.errors import InputError
from milpregions.inputs import line_domain, make_domain, slice_domain
from milpregions.ir.domain import Domain
from milpregions.ir.network import mlp
from milpregions.testing import constructions as C

from exact_oracles import count_line, count_plane, regions_line


def _net(seed, n0=3, widths=(6, 5), zero_bias=False):
    rng = np.random.default_rng(seed)
    sizes = [n0, *widths, 1]
    Ws = [rng.normal(size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b) if zero_bias else rng.normal(scale=0.5, size=b) for b in sizes[1:]]
    return mlp(Ws, bs)


@pytest.mark.parametrize("seed", range(6))
def test_slice_count_equals_plane_oracle(seed):
    net = _net(seed, zero_bias=seed % 2 == 1)
    rng = np.random.default_rng(100 + seed)
    p0, p1, p2 = rng.uniform(-1, 1, (3, 3))
    want = count_plane(net, p0, p1 - p0, p2 - p0, 0, 1)
    assert count_regions(net, slice=(p0, p1, p2), tighten=False).regions == want
    want = count_plane(net, p0, p1 - p0, p2 - p0, -1, 2)
    assert count_regions(net, (-1, 2), slice=(p0, p1, p2), tighten=False).regions == want


@pytest.mark.parametrize("seed", range(6))
def test_line_count_equals_line_oracle(seed):
    net = _net(seed, zero_bias=seed % 2 == 0)
    rng = np.random.default_rng(200 + seed)
    p0, p1 = rng.uniform(-1, 1, (2, 3))
    if seed % 3 == 0:
        p1 = -p0                                   # through the origin: concurrent hyperplanes
    want = count_line(net, p0, p1)
    assert count_regions(net, line=(p0, p1), tighten=False).regions == want


def test_slice_through_a_2d_box_is_the_box_count():
    net = C.montufar_folding(2, 2, 2)              # 16 regions in [0, 1]^2
    dom = slice_domain([0, 0], [1, 0], [0, 1], dim=2)
    assert count_regions(net, dom, tighten=False).regions == 16


def test_witnesses_are_mapped_back_to_input_space():
    net = _net(1)
    p0, p1, p2 = np.array([0.1, -0.2, 0.3]), np.array([0.9, 0.1, -0.5]), np.array([-0.4, 0.8, 0.2])
    dom = make_domain(3, slice=(p0, p1, p2))
    regions = []
    res = count_regions(net, dom, tighten=False, on_region=regions.append)
    assert len(regions) == res.regions > 1
    for r in regions:
        assert r.witness.shape == (3,)
        st = dom.to_param(r.witness)
        assert np.all(st > 0) and np.all(st < 1)
        assert np.allclose(dom.to_input(st), r.witness)     # the witness lies on the plane
        for a, b in zip(net.pattern(r.witness[None]), r.pattern):
            assert np.array_equal(a[0], b)


def test_points_from_files(tmp_path):
    net = _net(2)
    pts = np.random.default_rng(3).uniform(-1, 1, (3, 3))
    np.save(tmp_path / "a.npy", pts[0].reshape(1, 3))
    (tmp_path / "b.json").write_text(json.dumps(pts[1].tolist()))
    np.save(tmp_path / "c.npy", pts[2])
    files = (tmp_path / "a.npy", str(tmp_path / "b.json"), tmp_path / "c.npy")
    a = count_regions(net, slice=files, tighten=False).regions
    b = count_regions(net, slice=tuple(pts), tighten=False).regions
    assert a == b > 1


def test_errors():
    with pytest.raises(InputError, match="collinear"):
        slice_domain([0, 0, 0], [1, 1, 1], [2, 2, 2], dim=3)
    with pytest.raises(InputError, match="collinear"):
        slice_domain([0, 0, 0], [0, 0, 0], [1, 2, 3], dim=3)
    with pytest.raises(InputError, match="has 2 numbers but the network has 3 inputs"):
        slice_domain([0, 0], [1, 0], [0, 1], dim=3)
    with pytest.raises(InputError, match="coincide"):
        line_domain([1, 2], [1, 2], dim=2)
    with pytest.raises(InputError, match="no such file"):
        line_domain("/nonexistent/p.npy", [1, 2], dim=2)
    with pytest.raises(InputError, match="only one"):
        make_domain(2, slice=([0, 0], [1, 0], [0, 1]), line=([0, 0], [1, 1]))
    net = _net(0)
    with pytest.raises(InputError, match="3 inputs"):
        count_regions(net, slice=([0, 0], [1, 0], [0, 1]))


def test_domain_restricts_and_reports():
    dom = line_domain([0.0, 1.0], [2.0, 1.0], dim=2, param_box=(-1, 1))
    assert isinstance(dom, Domain) and dom.dim == 1 and dom.input_dim == 2
    assert np.allclose(dom.to_input([[0.5]]), [[1.0, 1.0]])
    d = dom.to_dict()
    assert d["kind"] == "line" and d["lo"] == [-1.0] and d["hi"] == [1.0]
    net = _net(4, n0=2)
    lines = regions_line(net, [-2.0, 1.0], [2.0, 1.0])
    assert count_regions(net, dom, tighten=False).regions == len({p for *_, p in lines})
