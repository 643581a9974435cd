"""The size guess that picks a walk before walking: a lower bound on the count, the same on
every run, and a count that plainly is large skips the Python trial."""

import subprocess
import sys

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.enumerator.size_guess import distinct_patterns, spread_points
from milpregions.ir.domain import Box, normalize
from milpregions.testing import constructions as C


def test_spread_points_fill_the_box_evenly_and_repeat():
    X = spread_points(4096, 3)
    assert X.shape == (4096, 3) and np.all(np.abs(X) < 1.0)
    assert np.array_equal(X, spread_points(4096, 3))
    # every octant gets its share (1/8 of the points, within 2%)
    octant = ((X > 0) * np.array([1, 2, 4])).sum(axis=1)
    assert np.all(np.abs(np.bincount(octant, minlength=8) / 4096 - 1 / 8) < 0.02)


@pytest.mark.parametrize("d,widths,regions", [(2, [8, 8], 102), (3, [16, 16], 3524),
                                              (4, [16, 16], 25009)])
def test_distinct_patterns_are_a_lower_bound_of_the_count(d, widths, regions):
    net = normalize(C.he_mlp(d, widths, 0), Box.make(-1.0, 1.0, d))
    seen = distinct_patterns(net)
    assert 1 < seen <= min(regions, 512)
    assert seen == distinct_patterns(net)
    assert count_regions(C.he_mlp(d, widths, 0), (-1.0, 1.0)).regions == regions


def test_a_general_position_arrangement_shows_at_most_its_count():
    """10 lines in general position in the plane: 56 cells (Zaslavsky); 4,096 spread points
    see most of them (thin ones escape), never more."""
    layer = C.general_position_layer(2, 10, 0)
    net = normalize(layer, Box.make(-1.0, 1.0, 2))
    regions = count_regions(layer, (-1.0, 1.0)).regions
    assert 40 <= distinct_patterns(net, 4096) <= regions == C.zaslavsky_count(2, 10)


def test_a_count_that_looks_large_loads_the_compiled_walk_at_once():
    """he_4d_16x16 (25,009 regions): more than half of the 512 points differ, so the compiled
    walk is loaded before walking (no trial); he_2d_8x8 (102) takes the trial and never
    imports numba."""
    code = """
import sys
from milpregions.enumerator.tree import TreeCounter
from milpregions.bounds import compute_bounds
from milpregions.ir.domain import Box, normalize
from milpregions.testing.constructions import he_mlp
small = normalize(he_mlp(2, [8, 8], 0), Box.make(-1.0, 1.0, 2))
c = TreeCounter(small, compute_bounds(small, "none"))
print(c.trial_nodes, "numba" in sys.modules, c.run().regions)
large = normalize(he_mlp(4, [16, 16], 0), Box.make(-1.0, 1.0, 4))
c = TreeCounter(large, compute_bounds(large, "none"))
print(c.trial_nodes, "numba" in sys.modules, c.run().regions)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["8192", "False", "102", "None", "True", "25009"]
