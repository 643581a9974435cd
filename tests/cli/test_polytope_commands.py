"""--polytope, --hull and --norm 1 in sample, lines, hash, compare and plot: the JSON records
the domain, the numbers agree with ``count`` on the same polytope, and bad files or
dimensions are one-line errors with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from milpregions import count_regions

MODELS = Path(__file__).resolve().parents[2] / "models"
HE2 = MODELS / "he_2d_8x8.onnx"
HE4 = MODELS / "he_4d_8x8.onnx"
TRIANGLE = [[-0.9, -0.7], [0.8, -0.6], [0.1, 0.85]]


@pytest.fixture
def files(tmp_path):
    hull = tmp_path / "tri.json"
    hull.write_text(json.dumps(TRIANGLE))
    rows = tmp_path / "rows.npz"
    np.savez(rows, A=np.array([[1.0, 1.0], [-1.0, 0.2], [0.3, -1.0]]), b=np.array([1.0, 0.5, 0.7]))
    c4 = tmp_path / "c4.json"
    c4.write_text(json.dumps([0.1, -0.2, 0.05, 0.0]))
    c2 = tmp_path / "c2.json"
    c2.write_text(json.dumps([0.1, 0.0]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"A": [[1, 0]]}')
    hull3 = tmp_path / "hull3.json"
    hull3.write_text(json.dumps([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]))
    return {"hull": hull, "rows": rows, "c4": c4, "c2": c2, "bad": bad, "hull3": hull3}


COMMANDS = [("sample", "--points", "2000"), ("lines", "--lines", "3"),
            ("hash", "--trials", "3", "--points", "500", "--xors", "2"),
            ("compare", "--points", "1000", "--lines", "3", "--distance-points", "100")]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_records_the_polytope_in_its_json(cli, files, command):
    name, *opts = command
    want = count_regions(HE2, hull=np.array(TRIANGLE)).regions
    quiet = ["--quiet"] if name in ("hash", "compare") else []
    code, out, err = cli(name, HE2, "--hull", files["hull"], *opts, "--json", *quiet)
    assert code == 0, err
    d = json.loads(out)
    dom = d["domain"]
    assert dom["kind"] == "polytope" and dom["source"] == "hull" and len(dom["A"]) == 3
    assert (max(d["regions_per_line"]) if name == "lines" else d["regions"]) <= want
    if name == "compare":
        assert d["exact"] and d["regions"] == want
    if name == "lines":
        assert d["body"] == "polytope" and d["estimate_from_lines"] is not None


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_bad_polytope_files_and_dimensions_are_one_line_errors(cli, files, command):
    name, *opts = command
    code, out, err = cli(name, HE2, "--polytope", files["bad"], *opts)
    assert (code, out) == (2, "") and err.startswith(f"milpregions: {files['bad']}: a polytope "
                                                     "file is JSON") and err.count("\n") == 1
    code, out, err = cli(name, HE2, "--hull", files["hull3"], *opts)
    assert (code, out, err) == (2, "", "milpregions: hull points are an (N, 2) array, got "
                                       "shape (4, 3)\n")
    code, out, err = cli(name, HE2, "--hull", files["hull"], "--box", "-1,1", *opts)
    assert (code, out) == (2, "") and "give only one of --box" in err


def test_sample_on_an_l1_ball_and_on_rows(cli, files):
    code, out, err = cli("sample", HE4, "--center", files["c4"], "--radius", "0.8", "--norm",
                         "1", "--points", "100000", "--json")
    assert code == 0, err
    d = json.loads(out)
    want = count_regions(HE4, center=[0.1, -0.2, 0.05, 0.0], radius=0.8, norm=1).regions
    assert d["domain"]["source"] == "l1" and 0.4 * want < d["distinct"] <= want
    code, out, err = cli("sample", HE2, "--polytope", files["rows"], "--points", "50000")
    rows = count_regions(HE2, polytope=files["rows"]).regions
    distinct = int(out.split()[0].replace(",", ""))
    assert code == 0 and 0.8 * rows < distinct <= rows


def test_lines_in_four_dimensions_give_no_box_number(cli, files):
    code, out, err = cli("lines", HE4, "--center", files["c4"], "--radius", "0.8", "--norm", "1",
                         "--lines", "4", "--distance-points", "50")
    assert code == 0, err
    assert ("regions in the polytope, from the lines: not given (the intrinsic volumes of a "
            "polytope are computed for 1 to 3 inputs only)") in out
    assert "regions in the polytope, from the distances: not given" in out


def test_plot_draws_only_the_regions_of_the_polygon(cli, files, tmp_path):
    want = count_regions(HE2, hull=np.array(TRIANGLE)).regions
    svg = tmp_path / "t.svg"
    code, out, err = cli("plot", HE2, "--hull", files["hull"], "-o", svg)
    assert code == 0, err
    assert out == f"{svg}: {want:,} regions drawn (the polygon's count: {want:,})\n"
    text = svg.read_text()
    group = text[text.index('<g id="regions">'):]
    assert group[:group.index("</g>")].count("<path ") == want
    assert '<g id="domain">' in text
    png = tmp_path / "l1.png"
    code, out, err = cli("plot", HE2, "--center", files["c2"], "--radius", "0.5", "--norm", "1",
                         "-o", png)
    l1 = count_regions(HE2, center=[0.1, 0.0], radius=0.5, norm=1).regions
    assert code == 0 and out == f"{png}: {l1:,} regions drawn (the polygon's count: {l1:,})\n"
    assert png.stat().st_size > 0
    code, out, err = cli("plot", HE2, "--hull", files["hull"], "-o", svg, "--color", "linear")
    assert (code, out) == (2, "") and "drawn by activation region only" in err


def test_plot_errors_are_one_line(cli, files, tmp_path):
    out_png = tmp_path / "p.png"
    code, out, err = cli("plot", HE2, "--polytope", files["bad"], "-o", out_png)
    assert (code, out) == (2, "") and err.count("\n") == 1 and "a polytope file is JSON" in err
    code, out, err = cli("plot", HE4, "--center", files["c4"], "--radius", "0.5", "--norm", "1",
                         "-o", out_png)
    assert (code, out) == (2, "") and err.startswith("milpregions: plot needs a 2-D domain")
    assert not out_png.exists()
