"""``milpregions local``: the per-point table, the summary, --csv, --json, --plot (an SVG whose
titles state the statistics), lower bounds marked *, Ctrl-C with what was counted, and bad
input as one line with exit status 2. Counts are checked against direct counts."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from milpregions import count_regions
from milpregions.onnx.export import to_onnx
from milpregions.testing.constructions import he_mlp

MODELS = Path(__file__).resolve().parents[2] / "models"
ZAS = MODELS / "zaslavsky_2d_8.onnx"        # 8 lines in general position, 37 regions in [-1, 1]^2
POINTS = [[0.0, 0.0], [0.5, -0.5], [0.9, 0.9]]
RADII = (0.05, 1.0)

TABLE = """\
point  r=0.05      r=1
0          18       37
1           2       35
2           2       34

radius  points   mean   std  min     q1  median  q3  max
0.05         3   7.33  7.54    2      2       2  10   18
1            3  35.33  1.25   34  34.50      35  36   37
"""


@pytest.fixture
def points(tmp_path) -> Path:
    path = tmp_path / "points.npy"
    np.save(path, np.array(POINTS))
    return path


@pytest.fixture(scope="module")
def direct() -> list[list[int]]:
    return [[count_regions(ZAS, center=x, radius=r).regions for r in RADII] for x in POINTS]


@pytest.fixture(scope="module")
def he6(tmp_path_factory) -> Path:
    """he_mlp(6, [16, 16]): 935,763 regions in [-1, 1]^6, a ball of radius 0.5 at 0 holds
    hundreds of thousands (tens of seconds)."""
    path = tmp_path_factory.mktemp("models") / "he_6d_16x16.onnx"
    to_onnx(he_mlp(6, [16, 16], 0), path)
    return path


def test_the_table_and_the_summary(cli, points, direct):
    code, out, err = cli("local", ZAS, "--data", points, "--radius", "0.05,1")
    assert code == 0, err
    assert out == TABLE
    assert direct == [[18, 37], [2, 35], [2, 34]] and direct[0][1] == 37   # the whole box


def test_csv_and_json_hold_each_point_and_the_statistics(cli, points, direct, tmp_path):
    table = tmp_path / "local.csv"
    code, out, err = cli("local", ZAS, "--data", points, "--radius", "0.05,1", "--json",
                         "--csv", table)
    assert code == 0, err
    d = json.loads(out)
    assert (d["schema"], d["command"], d["model"]) == ("milpregions/1", "local", str(ZAS))
    assert d["radii"] == list(RADII) and d["n_points"] == 3 and d["norm"] == "inf"
    assert d["exact"] is True and d["lower_bounds"] == 0 and d["stopped"] is None
    got = [[c["regions"] for c in p["counts"]] for p in d["results"]]
    assert got == direct and [p["point"] for p in d["results"]] == [0, 1, 2]
    assert all(c["exact"] and not c["lower_bound"] for p in d["results"] for c in p["counts"])
    for j, s in enumerate(d["summary"]):
        col = np.array([row[j] for row in direct], dtype=float)
        assert (s["radius"], s["counted"], s["min"], s["max"]) == (RADII[j], 3, col.min(),
                                                                     col.max())
        assert s["mean"] == pytest.approx(col.mean()) and s["median"] == np.median(col)
        assert s["std"] == pytest.approx(col.std())
    rows = list(csv.DictReader(table.open()))
    assert [(int(r["point"]), float(r["radius"]), int(r["regions"])) for r in rows] == \
        [(i, r, direct[i][j]) for i in range(3) for j, r in enumerate(RADII)]
    assert {r["exact"] for r in rows} == {"True"} and {r["stopped"] for r in rows} == {""}


def test_the_histogram_is_an_svg_with_a_panel_per_radius(cli, points, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "hist.svg"
    code, out, err = cli("local", ZAS, "--data", points, "--radius", "0.05,1", "--plot", path)
    assert code == 0, err
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    ids = {g.get("id") for g in root.iter() if g.tag.endswith("g")}
    assert {"radius-0", "radius-1"} <= ids and "radius-2" not in ids
    texts = {"".join(t.itertext()).strip() for t in root.iter() if t.tag.endswith("text")}
    assert "r = 0.05: 3 points, mean 7.33, median 2" in texts
    assert "r = 1: 3 points, mean 35.33, median 35" in texts


def test_a_time_limit_marks_lower_bounds_with_a_star(cli, he6, tmp_path):
    X = np.array([np.full(6, 0.37), np.zeros(6)])
    np.save(tmp_path / "x.npy", X)
    code, out, err = cli("local", he6, "--data", tmp_path / "x.npy", "--radius", "0.001,1",
                         "--time-limit", "0.5")
    assert code == 3, err
    lines = out.splitlines()
    tiny = [count_regions(he6, center=x, radius=1e-3).regions for x in X]
    for i in (0, 1):
        cells = lines[1 + i].split()
        assert cells[0] == str(i) and cells[1] == str(tiny[i])
        assert cells[2].endswith("*") and 0 < int(cells[2][:-1].replace(",", "")) < 935_763
    assert lines[-1] == ("* 2 counts are lower bounds (stopped by the time limit): 2 of 2 at "
                         "r=1; the statistics include them as counted")


def test_ctrl_c_stops_with_what_was_counted(he6, tmp_path):
    # point 0 (18,252 regions) looks large (size_guess), so the compiled walk is loaded when
    # point 1 starts
    X = np.array([np.full(6, 0.6), np.zeros(6), np.full(6, 0.1)])
    np.save(tmp_path / "x.npy", X)
    table = tmp_path / "local.csv"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "milpregions", "local", str(he6), "--data",
                             str(tmp_path / "x.npy"), "--radius", "0.5", "--csv", str(table)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    end = time.monotonic() + 120
    while not (table.exists() and len(table.read_text().splitlines()) >= 2):   # point 0 done
        assert proc.poll() is None and time.monotonic() < end, proc.stderr.read()
        time.sleep(0.05)
    time.sleep(1.0)             # point 1 holds ~10^5 regions: 1 s into its count (~30,000)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    first = count_regions(he6, center=X[0], radius=0.5).regions
    lines = out.splitlines()
    assert first == 18_252 and lines[1].split() == ["0", f"{first:,}"]
    assert lines[2].split()[1].endswith("*") and lines[3].split() == ["2", "-"]
    assert lines[-2].startswith("* 1 count is a lower bound (interrupted): 1 of 3 at r=0.5")
    assert lines[-1] == ("- 1 count was not made (interrupted); the statistics are over the "
                         "points counted")
    rows = list(csv.DictReader(table.open()))
    assert [(r["point"], r["stopped"]) for r in rows] == [("0", ""), ("1", "interrupted"),
                                                          ("2", "interrupted")]
    assert rows[0]["regions"] == str(first) and rows[2]["regions"] == ""


@pytest.mark.parametrize("args,message", [
    (["--radius", "0"], "--radius 0: the radius must be a positive number, got 0"),
    (["--radius", "-1"], "--radius -1: the radius must be a positive number, got -1"),
    (["--radius", "0.1,x"], "--radius 0.1,x: expected positive numbers separated by commas "
                            "(e.g. --radius 0.1,0.5,1)"),
    (["--radius", "0.1,0.1"], "--radius 0.1,0.1: radius 0.1 is given twice"),
    (["--radius", "0.1", "--plot", "out.gif"], "out.gif: the plot must be a .png, .svg or .pdf "
                                               "file"),
    (["--radius", "0.1", "--jobs", "-2"], "--jobs -2: must be an integer >= 0"),
    (["--radius", "0.1", "--time-limit", "0"], "time limit must be positive, got 0.0"),
])
def test_bad_options_are_one_line_errors(cli, points, args, message):
    code, out, err = cli("local", ZAS, "--data", points, *args)
    assert (code, out, err) == (2, "", f"milpregions: {message}\n")


def test_bad_points_are_one_line_errors_naming_the_file(cli, tmp_path):
    np.save(tmp_path / "x3.npy", np.zeros((4, 3)))
    missing = tmp_path / "missing.npy"
    cases = [
        (ZAS, tmp_path / "x3.npy", [], f"{tmp_path / 'x3.npy'}: points of shape (4, 3) have 3 "
                                       "numbers each but the network has 2 inputs"),
        (ZAS, missing, [], f"{missing}: no such file"),
        (MODELS / "digits_cnn.onnx", tmp_path / "x3.npy", [],
         f"{tmp_path / 'x3.npy'}: points of shape (4, 3) have 3 numbers each but the network "
         "has 64 inputs (input shape 1x8x8)"),
    ]
    for model, path, more, message in cases:
        code, out, err = cli("local", model, "--data", path, "--radius", "0.1", *more)
        assert (code, out, err) == (2, "", f"milpregions: {message}\n")
    code, out, err = cli("local", ZAS, "--radius", "0.1")
    assert (code, out, err) == (2, "", "milpregions: local: give the data points with --data "
                                       "X.npy (.npy, .csv or .json)\n")


def test_output_cuts_the_model_before_the_balls_are_counted(cli, tmp_path):
    """--output-tensor layer1.h counts the first layer's regions only: for he_2d_8x8 the same as a
    direct count on the cut network."""
    model = MODELS / "he_2d_8x8.onnx"
    pts = tmp_path / "p.json"
    pts.write_text(json.dumps(POINTS))
    want = [count_regions(model, center=np.array(p), radius=0.5, output="layer1.h").regions
            for p in POINTS]
    code, out, _ = cli("local", str(model), "--data", str(pts), "--radius", "0.5",
                       "--output-tensor", "layer1.h", "--quiet")
    assert code == 0
    rows = out.splitlines()[1:1 + len(POINTS)]
    assert [int(r.split()[1]) for r in rows] == want
    assert want != [count_regions(model, center=np.array(p), radius=0.5).regions for p in POINTS]
    code, _, err = cli("local", str(model), "--data", str(pts), "--radius", "0.5",
                       "--output-tensor", "nope")
    assert code == 2 and err == (f"milpregions: {model}: cannot count on 'nope': no tensor "
                                 "'nope' in the graph (its outputs: 'output')\n")
