"""The prepared Problem: one object from (model, domain, settings), shipped to workers by pickle."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from milpregions.api import count
from milpregions.errors import InputError
from milpregions.ir.domain import Ball, Box, Segment, Slice
from milpregions.problem import Problem, prepare
from milpregions.settings import Settings


def test_problem_pickles_with_its_bounds_and_counts_the_same(models_dir):
    problem = prepare(models_dir / "he_2d_8x8.onnx", (-1, 1), Settings(vertex_dim=0))
    assert problem.bounds.n_unstable > 0                     # computed before pickling
    clone = pickle.loads(pickle.dumps(problem))
    assert isinstance(clone, Problem) and "bounds" in clone.__dict__
    assert np.array_equal(clone.bounds.lo[0], problem.bounds.lo[0])
    assert count(clone).regions == count(problem).regions == 102


@pytest.mark.parametrize("domain, kind, dim", [
    ((-1, 1), "box", 2),
    (Ball.make([0.1, 0.2], 0.3, 2), "ball", 2),
    (Slice.through([0, 0], [1, 0], [0, 1]), "slice", 2),
    (Segment.through([-1, -1], [1, 1]), "line", 1),
])
def test_every_domain_goes_through_prepare(models_dir, domain, kind, dim):
    problem = prepare(models_dir / "he_2d_8x8.onnx", domain)
    assert problem.domain.kind == kind and problem.dim == dim
    assert isinstance(problem.box, Box) and problem.box.dim == dim
    d = problem.domain.to_dict()
    assert d["kind"] == kind and len(d["lo"]) == dim
    x = problem.to_input(np.zeros(dim))                   # the centre of the parameter box
    assert x.shape == (2,)


def test_settings_are_validated_once_in_library_terms():
    with pytest.raises(InputError, match="margin must be a positive number, got -1"):
        Settings(margin=-1)
    with pytest.raises(InputError, match="max regions must be at least 1, got 0"):
        Settings(max_regions=0)
    with pytest.raises(InputError, match="time limit must be positive, got 0"):
        Settings(time_limit=0)
    with pytest.raises(InputError, match="task seconds must be positive, got 0"):
        Settings(task_seconds=0)            # was named "time limit"
    for bad in (0, -1.0, float("nan"), float("inf"), None):
        with pytest.raises(InputError, match=f"connect timeout must be positive, got {bad}"):
            Settings(connect_timeout=bad)
    assert Settings().connect_timeout == 30.0
    with pytest.raises(InputError, match="unknown method 'x'; choose one of tree, milp"):
        Settings(method="x")
