"""``count --linear / --graph / --region-fields`` and ``milpregions plot`` end to end: the
numbers they print, the files they write (read back with networkx, json and matplotlib), and
their one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
HE2 = str(MODELS / "he_2d_8x8.onnx")          # 102 regions on [-1, 1]^2
MF2 = str(MODELS / "montufar_2d_p2_d2.onnx")  # 25 regions, 25 linear regions, 21 maps
Z3 = str(MODELS / "zaslavsky_3d_6.onnx")


def test_count_linear_text_and_json(cli):
    code, out, err = cli("count", MF2, "--box", "-1,1", "--linear")
    assert code == 0, err
    assert out == "25 regions\n25 linear regions, 21 affine pieces\n"
    code, out, _ = cli("count", MF2, "--box", "-1,1", "--linear", "--json")
    d = json.loads(out)
    assert (d["regions"], d["linear_regions"], d["affine_pieces"]) == (25, 25, 21)
    code, out, _ = cli("count", MF2, "--box", "-1,1", "--json")
    d = json.loads(out)
    assert d["regions"] == 25 and d["linear_regions"] is None


def test_count_graph_files_and_stats(cli, tmp_path):
    gml, js = tmp_path / "g.graphml", tmp_path / "g.json"
    code, out, err = cli("count", HE2, "--box", "-1,1", "--graph", gml, "--stats", "--linear")
    assert code == 0, err
    g = nx.read_graphml(gml)
    assert g.number_of_nodes() == 102
    m = re.search(r"region graph: (\d+) edges, 1 connected component\n", out)
    assert m and g.number_of_edges() == int(m.group(1))
    assert re.search(r"average degree: \d\.\d{3} \(at most 2d = 4 in R\^d, Gaines & Bi\)", out)
    node = next(iter(g.nodes(data=True)))[1]
    assert set(node) == {"pattern", "witness", "linear_region", "affine_piece", "volume"}
    code, out, err = cli("count", HE2, "--box", "-1,1", "--graph", js, "--json")
    d = json.loads(out)
    doc = json.loads(js.read_text())
    assert d["graph"]["edges"] == len(doc["edges"]) == g.number_of_edges()
    assert d["graph"]["average_degree"] == pytest.approx(2 * len(doc["edges"]) / 102)
    assert len(doc["nodes"]) == 102 and doc["degree_bound"] == 4


def test_region_fields(cli, tmp_path):
    out_file = tmp_path / "r.jsonl"
    code, out, err = cli("count", MF2, "--box", "-1,1", "--regions", out_file, "--region-fields",
                         "pattern,volume,map,facets,linear_region,affine_piece,neighbours")
    assert code == 0, err
    recs = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(recs) == 25
    assert sum(r["volume"] for r in recs) == pytest.approx(4.0)
    assert len({r["affine_piece"] for r in recs}) == 21
    for i, r in enumerate(recs):
        inner = [f for f in r["facets"] if not f["boundary"]]
        assert sorted(f["neighbour"] for f in inner) == r["neighbours"]
        for j in r["neighbours"]:
            assert i in recs[j]["neighbours"]
        # the map evaluated at a facet vertex agrees with the model: affine on the closure
        A, c = np.array(r["map"]["A"]), np.array(r["map"]["c"])
        for f in r["facets"]:
            a, b = np.array(f["normal"]), f["offset"]
            for v in f["vertices"]:
                assert a @ v + b == pytest.approx(0.0, abs=1e-12)
        assert A.shape == (1, 2) and c.shape == (1,)


def test_region_map_matches_onnxruntime(cli, tmp_path):
    import onnxruntime as ort

    out_file = tmp_path / "r.jsonl"
    code, _, err = cli("count", HE2, "--box", "-1,1", "--regions", out_file, "--region-fields",
                       "witness,map")
    assert code == 0, err
    sess = ort.InferenceSession(HE2)
    name = sess.get_inputs()[0].name
    for line in out_file.read_text().splitlines()[:30]:
        r = json.loads(line)
        x = np.array(r["witness"])
        y = sess.run(None, {name: x[None].astype(np.float32)})[0].ravel()
        want = np.array(r["map"]["A"]) @ x + np.array(r["map"]["c"])
        assert y == pytest.approx(want, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("argv,message", [
    (["--regions", "r.jsonl", "--region-fields", "pattern,colour"],
     "--region-fields: unknown field 'colour'; choose from pattern, witness, radius, volume, "
     "facets, map, linear_region, affine_piece, neighbours"),
    (["--region-fields", "volume"], "--region-fields needs --regions OUT.jsonl"),
    (["--graph", "g.txt"], "--graph g.txt: the file must end in .graphml or .json"),
    (["--linear", "--checkpoint", "c.sqlite"],
     "--linear, --graph and --region-fields cannot be combined with --checkpoint yet (a "
     "resumed run does not hold the regions of the recorded batches)"),
])
def test_count_geometry_errors(cli, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("count", HE2, "--box", "-1,1", *argv)
    assert (code, out, err) == (2, "", f"milpregions: {message}\n")


def test_linear_after_a_limit_is_a_notice(cli):
    code, out, err = cli("count", HE2, "--box", "-1,1", "--linear", "--max-regions", "5")
    assert code == 3
    assert out == "at least 5 regions (lower bound: stopped at --max-regions)\n"
    assert "linear regions and the region graph need the whole count; not computed" in err


def test_plot_svg_has_one_polygon_per_region(cli, tmp_path):
    svg, geo = tmp_path / "r.svg", tmp_path / "r.geojson"
    code, out, err = cli("plot", HE2, "--box", "-1,1", "-o", svg, "--polygons", geo,
                         "--output-level", "0")
    assert code == 0, err
    assert out == (f"{svg}: 102 regions drawn (102 linear regions); polygons in {geo}; "
                   "y0 = 0 does not cross the domain (not drawn)\n")
    text = svg.read_text()
    group = text[text.index('<g id="regions">'):]
    group = group[:group.index("</g>")]
    assert group.count("<path ") == 102
    feats = json.loads(geo.read_text())["features"]
    assert len(feats) == 102
    area = 0.0
    for f in feats:
        ring = np.array(f["geometry"]["coordinates"][0])
        x, y = ring[:, 0], ring[:, 1]
        area += 0.5 * (x[:-1] @ y[1:] - x[1:] @ y[:-1])      # counter-clockwise: positive
    assert area == pytest.approx(4.0)


def test_plot_png_by_linear_region_on_a_slice(cli, tmp_path):
    import matplotlib.image as mpimg

    pts = []
    for k, p in enumerate(([-1, -1, -1], [1, -1, 0], [-1, 1, 1])):
        pts.append(tmp_path / f"p{k}.json")
        pts[-1].write_text(json.dumps(p))
    png = tmp_path / "r.png"
    code, out, err = cli("plot", Z3, "--slice", *pts, "-o", png, "--color", "linear")
    assert code == 0, err
    code2, out2, _ = cli("count", Z3, "--slice", *pts, "--linear")
    n, lin = (int(v) for v in re.findall(r"(\d+) (?:regions|linear)", out2)[:2])
    assert out == f"{png}: {n} regions drawn ({lin} linear regions)\n"
    img = mpimg.imread(png)
    assert img.shape[0] == img.shape[1] >= 1000


@pytest.mark.parametrize("argv,message", [
    ([HE2, "--box", "-1,1", "-o", "r.gif"], "r.gif: the picture must end in .png, .svg or .pdf"),
    ([Z3, "--box", "-1,1", "-o", "r.png"],
     "plot needs a 2-D domain: a 2-input model with --box, or --slice P0 P1 P2 (this domain "
     "has 3 dimensions)"),
    ([HE2, "--box", "-1,1", "-o", "r.png", "--output-level", "3"],
     "--output-level '3': the model has 1 output, numbered 0 to 0"),
    ([HE2, "--box", "-1,1", "-o", "r.png", "--output-level", "x"],
     "--output-level 'x': expected K, K-J, K=VALUE or K-J=VALUE (output indices from 0)"),
])
def test_plot_errors(cli, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("plot", *argv)
    assert (code, out, err) == (2, "", f"milpregions: {message}\n")
