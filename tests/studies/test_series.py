"""A series of models on one domain (``count A.onnx B.onnx ...``): analytic counts per model,
the order and steps of a glob, the table, JSON lines, CSV and plot, parallel = serial, limits."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from milpregions.cli.main import main
from milpregions.errors import InputError
from milpregions.onnx import to_onnx
from milpregions.studies.series import checkpoint_step, count_series, expand_models, natural_key
from milpregions.testing import constructions as C

#: hyperplanes per checkpoint -> the Zaslavsky count in the plane, 1 + k + k(k-1)/2
LINES = {0: 3, 5: 5, 10: 8, 20: 12}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    for step, k in LINES.items():
        to_onnx(C.general_position_layer(2, k, seed=step), d / f"epoch_{step}.onnx")
    return d


def test_counts_follow_zaslavsky_in_natural_order(run_dir):
    models = expand_models([str(run_dir / "epoch_*.onnx")])
    assert [checkpoint_step(m) for m in models] == [0, 5, 10, 20]      # not 0, 10, 20, 5
    s = count_series(models, (-1, 1))
    assert [e.result.regions for e in s.entries] == [C.zaslavsky_count(2, k) for k in LINES.values()]
    assert s.exact and s.steps == [0, 5, 10, 20]
    assert s.entries[2].to_dict()["model"] == models[2]


def test_two_workers_count_what_one_process_counts(run_dir):
    models = sorted(map(str, run_dir.glob("*.onnx")), key=natural_key)
    serial = count_series(models, (-1, 1))
    seen = []
    both = count_series(models, (-1, 1), jobs=2, on_result=lambda i, r: seen.append(i))
    assert [e.result.regions for e in both.entries] == [e.result.regions for e in serial.entries]
    assert sorted(seen) == [0, 1, 2, 3]


def test_models_with_other_inputs_are_refused(run_dir, tmp_path, capsys):
    other = tmp_path / "three.onnx"
    to_onnx(C.general_position_layer(3, 4, seed=1), other)
    with pytest.raises(InputError) as e:
        count_series([str(run_dir / "epoch_0.onnx"), str(other)], (-1, 1))
    assert str(e.value) == (f"{other}: 3 inputs, but {run_dir / 'epoch_0.onnx'} has 2; a series "
                            "counts every model on the same domain")
    assert main(["count", str(run_dir / "epoch_0.onnx"), str(other), "--box", "-1,1"]) == 2
    got = capsys.readouterr()
    assert got.out == "" and got.err == f"milpregions: {e.value}\n"     # before any row
    with pytest.raises(InputError) as e:
        expand_models([str(tmp_path / "nothing_*.onnx")])
    assert str(e.value) == f"{tmp_path / 'nothing_*.onnx'}: no file matches this pattern"


def test_cli_table_json_csv_and_plot(run_dir, tmp_path, capsys):
    pattern = str(run_dir / "epoch_*.onnx")
    out_csv, out_svg = tmp_path / "counts.csv", tmp_path / "counts.svg"
    assert main(["count", pattern, "--box", "-1,1", "--csv", str(out_csv), "--plot", str(out_svg),
                 "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["MODEL", "STEP", "REGIONS", "SECONDS"]
    want = [C.zaslavsky_count(2, k) for k in LINES.values()]
    for line, step, n in zip(lines[1:5], LINES, want):
        cells = line.split()
        assert cells[0] == str(run_dir / f"epoch_{step}.onnx")
        assert cells[1:3] == [str(step), str(n)]
    assert lines[5].startswith("4 models counted in ")
    rows = list(csv.DictReader(out_csv.open()))
    assert [(int(r["step"]), int(r["regions"]), r["exact"]) for r in rows] == \
        [(s, n, "True") for s, n in zip(LINES, want)]
    svg = ET.parse(out_svg).getroot()
    text = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "checkpoint (the number in the file name)" in text and "activation regions" in text
    assert any(g.get("id") == "exact" for g in svg.iter("{http://www.w3.org/2000/svg}g"))

    assert main(["count", pattern, str(run_dir / "epoch_5.onnx"), "--box", "-1,1", "--json",
                 "--jobs", "2"]) == 0
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["regions"] for r in records] == want             # epoch_5 only once
    assert [r["index"] for r in records] == [0, 1, 2, 3]
    assert all(r["command"] == "count" and r["exact"] and r["domain"]["kind"] == "box"
               for r in records)


def test_cli_time_limit_marks_lower_bounds(tmp_path, capsys):
    big = tmp_path / "big_1.onnx"
    to_onnx(C.he_mlp(4, [40, 40, 40], seed=3), big)
    small = tmp_path / "small_2.onnx"
    to_onnx(C.general_position_layer(4, 3, seed=0), small)
    assert main(["count", str(big), str(small), "--box", "-1,1", "--time-limit", "0.5",
                 "--quiet"]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert ">=" in lines[1] and "lower bound: stopped by the time limit" in lines[1]
    assert lines[2].split()[2] == str(C.zaslavsky_count(4, 3))
    assert "; 1 count is a lower bound (>=)" in lines[3]


def test_cli_refuses_one_model_options(run_dir, capsys):
    pattern = str(run_dir / "epoch_*.onnx")
    assert main(["count", pattern, "--box", "-1,1", "--graph", "g.json"]) == 2
    assert capsys.readouterr().err == ("milpregions: count: --graph is for one model; a series of "
                                       "4 models gives one row each (--json, --csv, --plot)\n")
    assert main(["count", str(run_dir / "epoch_0.onnx"), "--box", "-1,1", "--csv", "x.csv"]) == 2
    assert capsys.readouterr().err.startswith("milpregions: count: --csv and --plot are for a series")


def test_checkpoint_step_reads_the_last_number():
    assert checkpoint_step("run/epoch_010.onnx") == 10
    assert checkpoint_step("ckpt-3-step-1200.onnx") == 1200
    assert checkpoint_step("final.onnx") is None
    assert np.all(np.diff([natural_key(f"e{k}") [1] for k in (1, 2, 10)]) > 0)
