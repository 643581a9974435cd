"""``--vnnlib``: the input box of a VNN-LIB property (VNN-COMP's format), its output
constraints ignored with a notice, and one-line errors for what it cannot take."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from milpregions.api import count_regions
from milpregions.errors import InputError
from milpregions.vnnlib import read_vnnlib

ROOT = Path(__file__).resolve().parents[1]
Z2 = str(ROOT / "models" / "zaslavsky_2d_8.onnx")      # 37 regions on [-1, 1]^2

PROPERTY = """; a VNN-COMP style property: an input box and an unsafe output set
(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const Y_0 Real)

; input bounds
(assert (<= X_0 1.0))
(assert (>= X_0 -1.0))
(assert (and (<= X_1 0.5) (>= X_1 -0.25)))

; output constraint
(assert (or (and (>= Y_0 3.0))))
(assert (<= Y_0 -1))
"""


def write(tmp_path, text, name="prop.vnnlib") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_reads_the_input_box_and_counts_output_constraints(tmp_path):
    v = read_vnnlib(write(tmp_path, PROPERTY), 2)
    assert v.lo.tolist() == [-1.0, -0.25] and v.hi.tolist() == [1.0, 0.5]
    assert v.ignored_outputs == 2


def test_count_on_the_property_box_equals_the_same_box(cli, tmp_path):
    p = write(tmp_path, PROPERTY)
    code, out, err = cli("count", Z2, "--vnnlib", p, "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["box"] == {"lo": [-1.0, -0.25], "hi": [1.0, 0.5]}
    box = tmp_path / "b.json"
    box.write_text(json.dumps({"lo": [-1.0, -0.25], "hi": [1.0, 0.5]}))
    _, out2, _ = cli("count", Z2, "--box-file", box, "--json")
    assert d["regions"] == json.loads(out2)["regions"]
    assert err == f"milpregions: {p}: 2 output constraints ignored (a region count uses the " \
                  "input box only)\n"
    r = count_regions(Z2, str(p))
    assert r.regions == d["regions"]


def test_bounds_written_the_other_way_round(tmp_path):
    text = "(declare-const X_0 Real)\n(assert (>= 0.5 X_0))\n(assert (<= -0.5 X_0))\n"
    v = read_vnnlib(write(tmp_path, text), 1)
    assert (v.lo[0], v.hi[0], v.ignored_outputs) == (-0.5, 0.5, 0)


@pytest.mark.parametrize("text,dim,message", [
    ("(declare-const X_0 Real)\n(assert (<= X_0 1))", 1,
     "X_0 has no lower bound (a region count needs a bounded input box)"),
    ("(declare-const X_0 Real)\n(assert (<= X_0 1))\n(assert (>= X_0 2))", 1,
     "the bounds of X_0 leave no interval ([2, 1])"),
    ("(declare-const X_0 Real)\n(declare-const X_1 Real)\n(assert (<= X_0 1))", 1,
     "the property declares 2 inputs, the model has 1"),
    ("(assert (<= X_3 1))", 2, "bounds X_3, but the model has 2 inputs (X_0 to X_1)"),
    ("(assert (or (and (<= X_0 1) (>= X_0 0)) (and (<= X_0 3) (>= X_0 2))))", 1,
     "a disjunction of 2 input sets is not supported (count each box on its own)"),
    ("(assert (<= (+ X_0 X_1) 1))", 2,
     "only bounds (<= X_i c) and (>= X_i c) on single inputs are supported, got "
     "(<= (+ X_0 X_1) 1)"),
    ("(assert (<= X_0 1)", 1, "unbalanced '(' in the VNN-LIB property"),
])
def test_errors_name_the_problem(tmp_path, text, dim, message):
    p = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        read_vnnlib(p, dim)
    assert str(e.value) == f"{p}: {message}"


def test_cli_errors(cli, tmp_path):
    p = tmp_path / "none.vnnlib"
    code, out, err = cli("count", Z2, "--vnnlib", p)
    assert (code, out) == (2, "")
    assert err.startswith(f"milpregions: {p}: cannot read (")
    code, out, err = cli("count", Z2, "--vnnlib", write(tmp_path, PROPERTY), "--box", "0,1")
    assert (code, out, err) == (2, "", "milpregions: count: give only one of --box, "
                                       "--box-file, --center and --vnnlib\n")
