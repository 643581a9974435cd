"""How numbers read (issue 24): counts with thousands separators, estimates with one decimal
and their kind, a hint after a stop that found no region, a model's notice once per process."""

from __future__ import annotations

import math
import re
from pathlib import Path

import onnx
import pytest

from milpregions.cli.count import SMALLER_DOMAIN, format_hint
from milpregions.estimators.text import estimate_text
from milpregions.ir.result import CountResult

from onnx_builders import softmax_head_model

MODELS = Path(__file__).resolve().parents[2] / "models"
M1 = str(MODELS / "montufar_1d_p2_d3.onnx")   # 8 regions on [0, 1]
HE4 = str(MODELS / "he_4d_8x8.onnx")          # 1,780 regions on [-1, 1]^4
THOUSANDS = r"\d{1,3}(?:,\d{3})*"


def test_a_count_of_thousands_has_separators(cli):
    code, out, err = cli("count", HE4, "--box", "-1,1", "--stats", "--quiet")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "1,780 regions"
    stats = dict(line.split(": ", 1) for line in lines[1:])
    assert re.fullmatch(THOUSANDS, stats["nodes"]) and "," in stats["nodes"]
    assert re.fullmatch(THOUSANDS + r"( \(MILP solves\))?", stats["LPs"])


def test_sample_prints_counts_and_labelled_estimates(cli):
    code, out, _ = cli("sample", M1, "--box", "0,1", "--points", "20000")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "8 distinct patterns in 20,000 points (a lower bound on the regions)"
    assert lines[1] == "singletons f1: 0, doubletons f2: 0"
    # every region seen more than twice: Chao1 is the distinct count, printed as an estimate
    assert lines[2] == "Chao1 (bias-corrected): 8.0 +- 0.0 (estimate; 95% CI 8.0 .. 8.0)"
    assert lines[3] == "Good-Turing coverage 1.0000: 8.0 +- 0.0 (estimate)"


def test_lines_prints_the_estimate_with_one_decimal_and_its_kind(cli):
    # a 1-D box: every chord is the whole segment, 8 regions on each, and the Poisson
    # extrapolation of 7 crossings per unit length over [0, 1] is 8
    code, out, _ = cli("lines", M1, "--box", "0,1", "--lines", "3", "--distance-points", "10")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "mean over 3 random chords: 8.00 regions per chord (min 8, max 8)"
    assert lines[2] == "regions in the box, from the lines: 8.0 (estimate)"
    assert re.fullmatch(r"regions in the box, from the distances: [\d,]+\.\d \(estimate\)",
                        lines[5]), lines[5]


@pytest.mark.parametrize("value,text", [
    (385.6, "385.6"), (401.0, "401.0"), (12345.67, "12,345.7"), (2.448e9, "2.448e+09"),
    (None, "n/a"), (math.inf, "inf"), (0.04, "0.0")])
def test_estimate_text(value, text):
    assert estimate_text(value) == text


def _stopped(regions: int) -> CountResult:
    return CountResult(regions=regions, exact=False, method="tree", seconds=1.0, nodes=3,
                       lps=0, stopped="time-limit")


def test_the_hint_after_a_stop_with_no_region():
    for kind, other in SMALLER_DOMAIN.items():
        assert format_hint(_stopped(0), kind) == [
            "hint: no region was finished before the stop; this domain may be too large to "
            f"count whole: try {other}"]
    assert "--center X.npy --radius R" in SMALLER_DOMAIN["box"]
    assert "--slice P0 P1 P2" in SMALLER_DOMAIN["box"]
    assert format_hint(_stopped(5), "box") == []


def test_a_stop_with_no_region_prints_the_hint(cli):
    # the digits CNN on its whole pixel box: no leaf is reached in a millisecond
    code, out, _ = cli("count", MODELS / "digits_cnn.onnx", "--box", "0,16", "--time-limit",
                       "0.001", "--quiet")
    assert code == 3
    assert out == ("at least 0 regions (lower bound: stopped by the time limit)\n"
                   "hint: no region was finished before the stop; this domain may be too "
                   f"large to count whole: try {SMALLER_DOMAIN['box']}\n")


def test_a_model_notice_is_shown_once_per_process(cli, tmp_path):
    # a trailing Softmax is dropped with a notice: the first command shows it, a second
    # command in the same process, and both models of a series of the same file, do not
    model = softmax_head_model()
    path = tmp_path / "softmax_once.onnx"
    onnx.save(model, path)
    code, out, err = cli("count", path, "--box", "-1,1")
    assert (code, out) == (0, "4 regions\n")
    assert err.count("\n") == 1 and err.startswith(f"milpregions: {path}: dropped") \
        and "Softmax" in err
    assert cli("count", path, "--box", "-1,1") == (0, "4 regions\n", "")
    code, out, err = cli("sample", path, "--box", "-1,1", "--points", "100")
    assert code == 0 and err == ""


def test_info_counts_units_with_separators(cli, tmp_path):
    from milpregions.onnx.export import to_onnx
    from milpregions.testing.constructions import he_mlp

    path = tmp_path / "wide.onnx"
    to_onnx(he_mlp(2, [600, 600], 0), path)
    code, out, _ = cli("info", path)
    assert code == 0 and "units:    1,200" in out.splitlines()
