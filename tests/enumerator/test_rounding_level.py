"""Decisions within rounding on the default path (issue 21, item 7): a count whose patterns rest
on them says so (``undecided``), and ``--certify`` (the exact oracle) decides them.

One class of net per test: the second layer's unit reads three copies of one first-layer unit
with weights 0.1, 0.2, -0.3 (as floats their sum is 2^-55, not 0: a real slope 1e-17 next to
terms of size 1), or an exact cancellation, or a gradient exactly zero with a constant far below
rounding. The tree takes all of them for constant; only the exact check tells them apart.
"""

from __future__ import annotations

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.ir.network import Affine, Layer, Network


def chain(second_w, second_b: float) -> Network:
    """x -> relu(x1 + 2) three times, relu(x2 + 2) (all on in [-1, 1]^2) -> one unit."""
    W1 = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    L1 = Layer(Affine({0: W1}, np.full(4, 2.0)), np.zeros(4))
    L2 = Layer(Affine({1: np.array([second_w], dtype=np.float64)}, np.array([second_b])),
               np.zeros(1))
    return Network(2, (L1, L2), Affine({2: np.ones((1, 1))}, np.zeros(1)))


@pytest.mark.parametrize("name, net, exact", [
    # 2^-55 (x1 + 2) - 2^-56 (x2 + 2): a line through the box, two regions
    ("slope that splits", chain([0.1, 0.2, -0.3, -2.0 ** -56], 0.0), 2),
    # 2^-55 (x1 + 2) > 0 on the box: one region, the unit on (the tree says off)
    ("slope of one sign", chain([0.1, 0.2, -0.3, 0.0], 0.0), 1),
    # h1 - h2 + 2^-1000: constant, on (the tree cannot see the sign)
    ("constant below rounding", chain([1.0, -1.0, 0.0, 0.0], 2.0 ** -1000), 1),
])
def test_rounding_level_decisions_are_reported_undecided(name, net, exact):
    r = count_regions(net)
    assert r.exact and r.undecided == 1 and r.regions == 1       # not a silent claim
    c = count_regions(net, certify=True)
    assert c.certified and c.regions == exact


def test_an_exact_cancellation_is_decided():
    # 0.5 + 0.25 - 0.75 is 0 exactly: the unit is zero on the box, and the count is exact
    net = chain([0.5, 0.25, -0.75, 0.0], 0.0)
    r = count_regions(net)
    assert (r.regions, r.undecided) == (1, 0)
    c = count_regions(net, certify=True)
    assert c.certified and c.regions == 1 and c.certify_added == c.certify_rejected == 0



def test_a_count_in_tasks_reports_them_too():
    r = count_regions(chain([0.1, 0.2, -0.3, -2.0 ** -56], 0.0), jobs=1)
    assert (r.regions, r.undecided) == (1, 1)
