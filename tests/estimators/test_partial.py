"""``count --estimate``: random first-layer cells counted exactly, extrapolated (unbiased, with
a standard error), against the exact counts of committed models; the fallback that scales the
start of the walk by the share covered; the printed lines say they are estimates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from milpregions.api import count
from milpregions.cli.estimate import format_cell_estimate, format_estimate
from milpregions.cli.main import main
from milpregions.estimators.partial import (
    CellEstimate,
    PartialEstimate,
    cell_estimate,
    partial_estimate,
)
from milpregions.problem import prepare

MODELS = Path(__file__).resolve().parents[2] / "models"


def problem(name: str, d: int):
    return prepare(MODELS / name, (-np.ones(d), np.ones(d)))


@pytest.mark.parametrize("name, d", [("he_3d_16x16.onnx", 3), ("he_8d_8x8.onnx", 8)])
def test_cell_estimate_within_its_error_of_the_exact_count(name, d):
    exact = count(problem(name, d)).regions
    e = cell_estimate(problem(name, d), seconds=600.0, max_cells=40)
    assert e is not None and not e.exact and len(e.counted) == 40 < e.cells
    # stated factor: within 1.5x, and within 4 standard errors
    assert exact / 1.5 < e.predicted_regions < 1.5 * exact
    assert abs(e.predicted_regions - exact) < 4 * e.standard_error
    assert e.predicted_seconds > 0


def test_cell_estimate_of_every_cell_is_the_count():
    exact = count(problem("he_2d_8x8.onnx", 2)).regions
    e = cell_estimate(problem("he_2d_8x8.onnx", 2), seconds=600.0)
    assert e.exact and int(e.counted.sum()) == exact == e.predicted_regions
    assert e.standard_error == 0.0
    assert format_cell_estimate(e) == [
        f"{exact} regions (exact: every first-layer cell was counted within the sample)"]


def test_one_layer_has_no_cells_and_the_walk_start_scales_by_cover():
    p = problem("zaslavsky_2d_8.onnx", 2)
    assert cell_estimate(p, seconds=10.0) is None
    e = partial_estimate(p, seconds=60.0)
    assert e.exact and e.regions == 37 and e.covered == 1.0
    part = partial_estimate(problem("he_3d_16x16.onnx", 3), seconds=600.0, max_regions=800)
    assert not part.exact and part.stopped == "max-regions" and part.regions == 800
    assert 0.0 < part.covered < 1.0
    assert part.predicted_regions == pytest.approx(800 / part.covered)


def test_lines_say_estimate():
    c = CellEstimate(256, np.array([40, 50, 60, 50]), np.array([0.01, 0.02, 0.01, 0.02]), 0.5)
    assert c.predicted_regions == 12800.0     # 256 x 50; SE 256 sqrt(200/3) / 2 sqrt(1 - 4/256)
    assert format_cell_estimate(c) == [
        "estimate (not a count): about 12,800 regions (one standard error 1,037), from 4 of "
        "the 256 first-layer cells chosen at random and counted exactly (200 regions)",
        "estimated time of the whole count: about 4 s on one process (an estimate too)"]
    one = CellEstimate(256, np.array([40]), np.array([0.01]), 0.5)
    assert one.standard_error == float("inf") and one.to_dict()["standard_error"] is None
    assert format_cell_estimate(one)[0].startswith("estimate (not a count): about 10,240 "
                                                   "regions, from 1 of the 256")
    p = PartialEstimate(100, 0.25, 2.0, False, "time-limit")
    assert format_estimate(p) == [
        "estimate (not a count): about 400 regions, extrapolated from 100 regions counted in "
        "2.0 s, covering 25.0% of the domain by volume",
        "estimated time of the whole count: about 8 s on one process (the walk is depth "
        "first: where regions are denser or sparser elsewhere, both estimates are off by "
        "that ratio)"]


def test_cli_estimate(capsys):
    assert main(["count", str(MODELS / "zaslavsky_2d_8.onnx"), "--box=-1,1",
                 "--estimate", "30"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("37 regions (exact: the count finished within the sample, ")
    assert main(["count", str(MODELS / "zaslavsky_2d_8.onnx"), "--box=-1,1",
                 "--estimate", "0"]) == 2
    assert main(["count", str(MODELS / "he_2d_8x8.onnx"), "--box=-1,1", "--estimate",
                 "--jobs", "2"]) == 2
    assert "--estimate cannot be combined with --jobs" in capsys.readouterr().err
