"""The share of the domain each layer-1 cell covers (progress, ETA): exact volumes from the
cells' vertices tile the box, the sampled estimate agrees with them, and a count in batches
reports its batches and coverage to a progress display that asks for them."""

from __future__ import annotations

import numpy as np
import pytest
from test_local import _maxout_net

from milpregions.api import count_regions
from milpregions.enumerator import TreeCounter
from milpregions.parallel.coverage import SAMPLES, cell_fractions, sampled_fractions
from milpregions.problem import prepare
from milpregions.settings import Settings
from milpregions.testing import constructions as C


def _split(net, **kw):
    p = prepare(net, (-1.0, 1.0), Settings())
    counter = TreeCounter(p.unit_net, p.tree_bounds, **kw)
    return counter.split(), p.unit_net


@pytest.mark.parametrize("name,make", [("compiled", lambda: C.he_mlp(3, [12, 10], 0)),
                                       ("python vertex path", _maxout_net)])
def test_exact_cell_volumes_tile_the_box(name, make):
    split, net = _split(make())
    f = cell_fractions(split, net)
    assert len(f) == len(split) > 4 and (f > 0).all()
    assert abs(f.sum() - 1.0) < 1e-9


def test_the_sampled_shares_agree_with_the_exact_volumes():
    split, net = _split(C.he_mlp(3, [12, 10], 0))
    exact = cell_fractions(split, net)
    est = sampled_fractions(split.patterns(), net)
    sigma = np.sqrt(exact * (1 - exact) / SAMPLES)
    assert np.all(np.abs(est - exact) <= 5 * sigma + 1e-12)
    assert abs(est.sum() - 1.0) < 1e-3


def test_lp_path_cells_are_estimated_by_sampling():
    split, net = _split(C.he_mlp(8, [6, 6], 1))
    assert split.vertices() is None
    f = cell_fractions(split, net)
    assert len(f) == len(split) and abs(f.sum() - 1.0) < 1e-3


class _Display:
    def __init__(self):
        self.seen, self.calls = [], 0

    def tasks(self, t):
        self.seen.append(t)

    def __call__(self, regions, nodes, lps, seconds):
        self.calls += 1


def test_a_count_in_batches_reports_its_batches_and_coverage():
    display = _Display()
    res = count_regions(C.he_mlp(3, [12, 12, 8], 0), (-1.0, 1.0), jobs=2, progress=display)
    assert res.exact and display.calls == len(display.seen) > 0
    last = display.seen[-1]
    assert last.finished == last.total and last.busy == last.queued == 0
    assert abs(last.covered - 1.0) < 1e-9 and last.eta == pytest.approx(0.0, abs=1e-9)
    covered = [t.covered for t in display.seen]
    assert covered == sorted(covered)
    # the pace starts at the first batch finished: no ETA before a second one moves the cover
    moved = [t for t in display.seen if t.covered > 0.0]
    assert moved and moved[0].eta is None
    assert all(t.eta is None or t.eta >= 0.0 for t in display.seen)
