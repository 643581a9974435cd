"""``count --regions OUT.mpr``: the compact file holds, record for record and bit for bit, what
``--regions OUT.jsonl`` writes; limits, --linear, and the combinations it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from milpregions import RegionSet, prepare
from milpregions.ir.pattern import pattern_record
from milpregions.ir.region_file import read_region_file

MODELS = Path(__file__).resolve().parents[2] / "models"
FAST = "--no-tighten"


@pytest.mark.parametrize("model, box", [("he_2d_8x8.onnx", "-1,1"),
                                        ("maxout_mlp.onnx", "-4,4"),
                                        ("residual_mlp.onnx", "-1,1")])
def test_mpr_holds_what_jsonl_holds(cli, tmp_path, model, box):
    m = str(MODELS / model)
    jl, mpr = tmp_path / "r.jsonl", tmp_path / "r.mpr"
    code, out, _ = cli("count", m, "--box", box, "--regions", jl, "--json", FAST)
    assert code == 0
    n = json.loads(out)["regions"]
    code, out2, _ = cli("count", m, "--box", box, "--regions", mpr, "--json", FAST)
    assert code == 0 and json.loads(out2)["regions"] == n
    lines = [json.loads(line) for line in jl.read_text().splitlines()]
    f = read_region_file(mpr)
    assert len(f.records) == len(lines) == n and f.partial_bytes == 0
    for rec, d in zip(f.records, lines):
        assert pattern_record(f.layout.decode(rec)) == d["pattern"]
        # JSON floats round-trip exactly: the witnesses are the same float64s
        assert np.array_equal(rec["witness"], np.array(d["witness"]))
        assert float(rec["radius"]) == d["radius"]
    assert f.meta["model"] == m and f.meta["domain"]["kind"] == "box"
    lo, hi = (float(v) for v in box.split(","))
    rs = RegionSet.read(mpr, prepare(m, (lo, hi)))
    assert np.array_equal(rs.locate_many(rs.witnesses), np.arange(n))
    assert mpr.stat().st_size < jl.stat().st_size


def test_mpr_with_a_limit_and_with_linear(cli, tmp_path):
    z = str(MODELS / "zaslavsky_2d_8.onnx")
    mpr = tmp_path / "r.mpr"
    code, out, _ = cli("count", z, "--box", "-1,1", "--max-regions", 5, "--regions", mpr, FAST)
    assert code == 3 and len(read_region_file(mpr).records) == 5
    code, out, _ = cli("count", z, "--box", "-1,1", "--linear", "--regions", mpr, FAST)
    assert code == 0 and out.splitlines() == ["37 regions", "37 linear regions, 37 affine pieces"]
    assert len(read_region_file(mpr).records) == 37


def test_mpr_refuses_fields_and_checkpoints(cli, tmp_path):
    z = str(MODELS / "zaslavsky_2d_8.onnx")
    code, _, err = cli("count", z, "--box", "-1,1", "--regions", tmp_path / "r.mpr",
                       "--region-fields", "pattern,map")
    assert code == 2 and "--region-fields is for JSON lines" in err
    code, _, err = cli("count", z, "--box", "-1,1", "--regions", tmp_path / "r.mpr",
                       "--checkpoint", tmp_path / "c.sqlite")
    assert code == 2 and "--checkpoint records spans of a JSON lines" in err
    assert not (tmp_path / "c.sqlite").exists()
