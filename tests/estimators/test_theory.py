"""Architecture bounds (``milpregions.estimators.theory``): values from the papers, exact counts below."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.estimators.theory import (
    architecture_bounds,
    format_bounds,
    montufar_lower,
    product_upper,
    serra_lower,
    serra_upper,
    zaslavsky,
)
from milpregions.ir.network import Affine, MaxLayer, Network, mlp
from milpregions.testing import constructions as C


def test_zaslavsky():
    assert zaslavsky(2, 8) == 37 and zaslavsky(3, 6) == 42 and zaslavsky(1, 5) == 6
    assert zaslavsky(4, 3) == 8                                        # n <= n0: 2^n
    assert zaslavsky(2, 8) == C.zaslavsky_count(2, 8)


def test_serra_upper_hand_values():
    assert serra_upper(2, [8, 8]) == 1369                              # 37^2
    assert serra_upper(2, [8]) == zaslavsky(2, 8)                      # tight for one layer
    # n0 = 1: prod (n_l + 1), attained by the zigzag construction
    assert serra_upper(1, [3, 4, 5]) == 4 * 5 * 6 == C.serra_count([3, 4, 5])
    # bottleneck: n0 = 2, widths [1, 8]: j_1 <= 1; j_2 <= min(2, 1 - j_1)
    #   j_1 = 0 -> j_2 <= 1: 1 * (1 + 8) = 9;  j_1 = 1 -> j_2 = 0: 1 * 1 = 1
    assert serra_upper(2, [1, 8]) == 10
    # brute-force enumeration of J for a 3-layer case
    n0, widths = 3, [4, 2, 5]
    total = 0
    for j1 in range(5):
        for j2 in range(3):
            for j3 in range(6):
                js = (j1, j2, j3)
                ok = all(js[l] <= min([n0, widths[l]] + [widths[i] - js[i] for i in range(l)])
                         for l in range(3))
                if ok:
                    total += comb(4, j1) * comb(2, j2) * comb(5, j3)
    assert serra_upper(n0, widths) == total
    assert serra_upper(2, [8, 8]) <= product_upper(2, [8, 8])


def test_montufar_and_serra_lower_bounds():
    assert montufar_lower(2, [8, 8]) == 4 ** 2 * 37                   # floor(8/2)^2 * 37 = 592
    assert montufar_lower(1, [2, 2, 2]) == 2 * 2 * 3
    assert montufar_lower(3, [2, 8]) is None                          # needs n_l >= n0
    assert serra_lower(2, [8, 8]) == 5 ** 2 * 37
    assert serra_lower(2, [4, 8]) is None                             # needs n_l >= 3 n0
    # the folding construction attains Montufar's count p^(n0 L) with p = floor(n/n0) per layer
    assert C.montufar_count(2, 2, 2) == 16


@pytest.mark.parametrize("seed", range(8))
def test_exact_counts_never_exceed_the_upper_bounds(seed):
    rng = np.random.default_rng(seed)
    n0 = int(rng.integers(1, 3))
    widths = [int(w) for w in rng.integers(2, 7, size=2)]
    net = C.he_mlp(n0, widths, seed=seed)
    res = count_regions(net, (-3, 3), tighten=False)
    b = architecture_bounds(net)
    assert b.relu and b.plain_chain
    assert res.regions <= b.serra_upper <= b.product_upper


def test_zigzag_attains_serra_upper_and_lower():
    net = C.serra_zigzag([3, 3])
    b = architecture_bounds(net)
    assert count_regions(net, (0, 1), tighten=False).regions == b.serra_upper == b.serra_lower == 16


def test_non_relu_and_max_layers():
    net = mlp([np.ones((3, 2)), np.ones((1, 3))], [np.zeros(3), np.zeros(1)], neg_slope=0.1)
    b = architecture_bounds(net)
    assert b.serra_upper is None and b.montufar_lower is None and b.product_upper == 7
    layer = MaxLayer(Affine({0: np.eye(4)[:, :2].repeat(1, 0)[:4]}, np.zeros(4)),
                     np.array([[0, 1, 2], [3, -1, -1]]))
    mnet = Network(2, (layer,), Affine({1: np.ones((1, 2))}, np.zeros(1)))
    b = architecture_bounds(mnet)
    assert b.product_upper == zaslavsky(2, 3)                          # C(3,2) + C(1,2) hyperplanes
    assert any("max layers" in n for n in b.notes)
    # one hidden layer, but N counts groups (a group of 3 pieces alone makes 3 regions)
    assert b.max_layers and b.scope()["zaslavsky"] == "shallow maximum"
    assert b.upper_bounds() == [("product_upper", 7)]
    text = "\n".join(format_bounds(b, 3))
    assert "exact count" in text and "n/a" in text


def test_slice_dimension_is_used():
    from milpregions.inputs import slice_domain

    net = C.he_mlp(4, [6, 6], seed=0)
    dom = slice_domain(*np.eye(4)[:3], dim=4)
    assert architecture_bounds(net, dom).input_dim == 2
    assert architecture_bounds(net, dom).serra_upper == serra_upper(2, [6, 6])


def test_zaslavsky_bounds_one_hidden_layer_only():
    # deeper networks beat the shallow maximum with as many units: not a bound on them
    deep = C.serra_zigzag([3, 3])
    b = architecture_bounds(deep)
    assert count_regions(deep, (0, 1), tighten=False).regions == 16 > b.zaslavsky == 7
    assert b.scope() == {"serra_upper": "bound on this network",
                         "product_upper": "bound on this network",
                         "zaslavsky": "shallow maximum", "montufar_lower": "max over weights",
                         "serra_lower": "max over weights", "hanin_rolnick_scale": "typical scale"}
    assert b.upper_bounds() == [("serra_upper", 16), ("product_upper", 16)]
    one = C.he_mlp(2, [8], seed=0)
    b1 = architecture_bounds(one)
    assert b1.scope()["zaslavsky"] == "bound on this network"
    assert b1.upper_bounds() == [("serra_upper", 37), ("product_upper", 37), ("zaslavsky", 37)]
    assert count_regions(one, (-3, 3), tighten=False).regions <= 37
    d = b1.to_dict()
    assert d["scope"]["zaslavsky"] == "bound on this network" and d["zaslavsky"] == 37


def test_bounds_text_says_which_numbers_bound_this_network():
    # the case: a Montufar lower bound (592) far above the exact count (147) must not
    # read as a bound on this network
    net = C.he_mlp(2, [8, 8], seed=3)
    count = count_regions(net, (-1, 1), tighten=False).regions
    assert count == 147
    assert format_bounds(architecture_bounds(net), count) == [
        "architecture: n0 = 2, widths [8, 8], N = 16 units",
        "  exact count (this network, this domain):                           147",
        "bounds on this network (any weights; in all of R^2, so in any box):",
        "  regions <=  Serra et al. 2018, Thm 1 (ReLU chain):                 1,369",
        "  regions <=  Montufar 2017, product over layers:                    1,369",
        "best known constructions, max over all weights of this architecture "
        "(not a bound on this network):",
        "  max >=  Montufar et al. 2014, Thm 4:                               592",
        "  max >=  Serra et al. 2018:                                         925",
        "for comparison (not bounds on this network):",
        "  Zaslavsky 1975: max of one hidden layer of N = 16 two-piece units: 137",
        "  Hanin & Rolnick 2019: N^n0/n0!, typical order for random weights:  128",
    ]
    # a missing bound says why
    text = format_bounds(architecture_bounds(C.he_mlp(2, [4, 4], seed=0)))
    assert [line.split(":  ")[1].strip() for line in text if "Serra et al. 2018:" in line] == [
        "n/a (needs ReLU and every hidden width but the last >= 3 n0)"]
