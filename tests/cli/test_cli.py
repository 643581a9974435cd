"""End-to-end tests of the command line (``milpregions.cli``).

A few true subprocess runs (console script and ``python -m``); the rest call ``main([...])``
and read stdout/stderr with capsys. Bad-input models are built with onnx.helper (opset 17).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from milpregions.cli import common
from milpregions.cli.domain_args import DOMAIN_MISSING

from onnx_builders import const, make_model, softmax_head_model

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
M1 = str(MODELS / "montufar_1d_p2_d3.onnx")  # 8 regions on [0, 1]
Z2 = str(MODELS / "zaslavsky_2d_8.onnx")     # 37 regions on [-1, 1]^2
HE3 = str(MODELS / "he_3d_16x16.onnx")       # thousands of regions on [-1, 1]^3
FAST = "--no-tighten"  # the counts below do not depend on the bounds; keeps the tests fast


def assert_input_error(cli, message: str, *argv) -> None:
    code, out, err = cli(*argv)
    assert code == 2, (code, out, err)
    assert out == ""
    assert err == f"milpregions: {message}\n"
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------- count


def test_count_exact(cli, capsys):
    assert cli("count", M1, "--box", "0,1", FAST) == (0, "8 regions\n", "")


def test_count_with_tightening(cli, capsys):
    assert cli("count", M1, "--box", "0,1") == (0, "8 regions\n", "")


def test_count_negative_box_value_forms(cli, capsys):
    # "-1,1" looks like an option to argparse: both spellings must work.
    a = cli("count", Z2, "--box", "-1,1", FAST)
    b = cli("count", Z2, "--box=-1,1", FAST)
    c = cli("count", "--box", "-1,1", Z2, FAST)
    assert a == b == c == (0, "37 regions\n", "")


def test_count_json(cli, capsys):
    code, out, err = cli("count", M1, "--box", "0,1", "--json", FAST)
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["regions"] == 8 and d["exact"] is True and d["lower_bound"] is False
    assert d["method"] == "tree" and d["stopped"] is None
    assert d["model"] == M1 and d["box"] == {"lo": [0.0], "hi": [1.0]}


def test_count_milp_method_agrees(cli, capsys):
    code, out, _ = cli("count", M1, "--box", "0,1", "--method", "milp", "--json", FAST)
    d = json.loads(out)
    assert code == 0 and d["regions"] == 8 and d["exact"] and d["method"] == "milp"


def test_box_file_forms(cli, capsys, tmp_path):
    lo, hi = [-1.0, -1.0], [1.0, 1.0]
    (tmp_path / "b.json").write_text(json.dumps({"lo": lo, "hi": hi}))
    np.save(tmp_path / "b.npy", np.array([lo, hi]))
    np.savez(tmp_path / "b.npz", lo=np.array(lo), hi=np.array(hi))
    for name in ("b.json", "b.npy", "b.npz"):
        assert cli("count", Z2, "--box-file", tmp_path / name, FAST) == \
            (0, "37 regions\n", ""), name


def test_center_radius_is_the_linf_ball(cli, capsys, tmp_path):
    c = np.array([[0.25, -0.5]])                       # any shape with d elements
    np.save(tmp_path / "c.npy", c)
    (tmp_path / "c.json").write_text("[0.25, -0.5]")
    (tmp_path / "b.json").write_text(json.dumps({"lo": [-0.05, -0.8], "hi": [0.55, -0.2]}))
    want = cli("count", Z2, "--box-file", tmp_path / "b.json", FAST)
    assert want[0] == 0 and want[1] != "1 region\n"
    for name in ("c.npy", "c.json"):
        assert cli("count", Z2, "--center", tmp_path / name, "--radius", "0.3", FAST) == want


def test_regions_file(cli, capsys, tmp_path):
    out_file = tmp_path / "regions.jsonl"
    code, out, _ = cli("count", Z2, "--box", "-1,1", "--regions", out_file, "--json", FAST)
    assert code == 0
    n = json.loads(out)["regions"]
    lines = out_file.read_text().splitlines()
    assert len(lines) == n == 37
    patterns = set()
    for line in lines:
        r = json.loads(line)
        assert set(r) == {"pattern", "witness", "radius"}
        w = np.array(r["witness"])
        assert w.shape == (2,) and np.all(w >= -1) and np.all(w <= 1)
        assert r["radius"] > 0
        patterns.add(tuple(r["pattern"]))
    assert len(patterns) == n


def test_max_regions_is_a_lower_bound(cli, capsys, tmp_path):
    out_file = tmp_path / "r.jsonl"
    code, out, err = cli("count", M1, "--box", "0,1", "--max-regions", 3,
                         "--regions", out_file, FAST)
    assert (code, err) == (3, "")
    assert out == "at least 3 regions (lower bound: stopped at --max-regions)\n"
    assert len(out_file.read_text().splitlines()) == 3
    code, out, _ = cli("count", M1, "--box", "0,1", "--max-regions", 3, "--json", FAST)
    d = json.loads(out)
    assert code == 3 and d["exact"] is False and d["lower_bound"] is True
    assert d["regions"] == 3 and d["stopped"] == "max-regions"


def test_time_limit_is_a_lower_bound(cli, capsys):
    code, out, err = cli("count", HE3, "--box", "-1,1", "--time-limit", "1e-9", FAST)
    assert code == 3 and err == ""
    lines = out.splitlines()
    assert re.fullmatch(r"at least ([\d,]+) regions? \(lower bound: stopped by the time "
                        r"limit\)", lines[0]), lines
    # a stop before the first region adds the hint; any other adds nothing
    assert len(lines) == (2 if lines[0].startswith("at least 0 ") else 1)
    assert len(lines) == 1 or lines[1].startswith("hint: no region was finished")
    code, out, _ = cli("count", HE3, "--box", "-1,1", "--time-limit", "1e-9", "--json",
                       FAST)
    d = json.loads(out)
    assert code == 3 and not d["exact"] and d["stopped"] == "time-limit"


def test_stats(cli, capsys):
    code, out, _ = cli("count", Z2, "--box", "-1,1", "--stats", FAST)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "37 regions"
    keys = [line.split(":")[0] for line in lines[1:]]
    for key in ("nodes", "LPs", "LPs per region", "regions per second", "seconds",
                "unstable units", "near-margin regions", "bounds"):
        assert key in keys
    assert "unstable units: 8 of 8" in lines


def test_quiet_and_no_progress_on_a_pipe(cli, capsys):
    # capsys's stderr is not a terminal: no progress line, nothing on stderr at all.
    assert cli("count", HE3, "--box", "-1,1", FAST)[2] == ""
    assert cli("count", M1, "--box", "0,1", "--quiet", FAST) == (0, "8 regions\n", "")


def test_progress_display_is_throttled_and_cleared():
    stream = io.StringIO()
    p = common.Progress(stream)
    p(12000, 25600, 3000, 0.5)
    p(20, 512, 6, 0.6)  # within 0.2 s of the first: not drawn
    line = "12,000 regions (24,000/s), 25,600 nodes, 3,000 LPs, 0.5 s"
    drawn = stream.getvalue()
    assert line in drawn and "20 regions" not in drawn
    p.clear()
    assert stream.getvalue().endswith("\x1b[2K")    # the display is erased (rich, transient)


def test_progress_display_of_batches_shows_workers_coverage_and_eta():
    from milpregions.parallel.local import TaskProgress

    stream = io.StringIO()
    p = common.Progress(stream)
    p.tasks(TaskProgress(busy=2, queued=5, finished=9, total=32, covered=0.25, eta=75.0))
    p(12000, 25600, 3000, 0.5)
    assert "2 running, 5 queued, 9/32 batches done, 25.0% covered, ETA 1 min 15 s" in \
        stream.getvalue()
    p.clear()


def test_importer_notices_go_to_stderr(cli, capsys, tmp_path):
    # A trailing Softmax is dropped by the importer with a notice.
    model = softmax_head_model()
    path = tmp_path / "softmax.onnx"
    onnx.save(model, path)
    code, out, err = cli("count", path, "--box", "-1,1", FAST)
    assert code == 0 and out == "4 regions\n"
    assert err.startswith("milpregions: ") and "Softmax" in err
    code, out, err = cli("count", path, "--box", "-1,1", "--quiet", FAST)
    assert (code, out, err) == (0, "4 regions\n", "")


# -------------------------------------------------------------------------------- info, export


def test_info(cli, capsys):
    code, out, err = cli("info", MODELS / "he_2d_8x8.onnx")
    assert code == 0 and err == ""
    assert "opset:    17" in out
    assert "input:    input [N, 2], n0 = 2" in out
    assert "layers:   2 (widths 8, 8)" in out
    assert "units:    16" in out
    assert "ops:      Gemm 3, Relu 2" in out
    code, out, _ = cli("info", M1, "--json")
    d = json.loads(out)
    assert code == 0 and d["widths"] == [2, 2, 2] and d["opset"] == 17 and d["input_dim"] == 1
    assert d["output_dim"] == 1 and d["ops"] == {"Gemm": 4, "Relu": 3} and d["notices"] == []


@pytest.mark.parametrize("flag,suffix", [("--mps", ".mps"), ("--lp", ".lp")])
def test_export(cli, capsys, tmp_path, flag, suffix):
    highspy = pytest.importorskip("highspy")
    path = tmp_path / f"m{suffix}"
    code, out, err = cli("export", M1, "--box", "0,1", flag, path, FAST)
    assert (code, out, err) == (0, f"{path}\n", "")
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    assert h.getNumCol() > 0 and h.getNumRow() > 0


def test_export_suffix_must_match(cli, capsys, tmp_path):
    bad = tmp_path / "m.lp"
    assert_input_error(cli, f"--mps {str(bad)!r}: the file name must end in .mps",
                       "export", M1, "--box", "0,1", "--mps", bad)


# ---------------------------------------------------------------------------------- bad input


def _mlp(W, b, **kw):
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["y"])]
    return make_model(nodes, [const("W", W), const("b", b)], **kw)


def _bad_models(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, expected message after 'milpregions: ')."""
    W, b = np.ones((3, 2)), np.zeros(3)
    out: dict[str, tuple[Path, str]] = {}

    def save(name, model):
        p = tmp / f"{name}.onnx"
        onnx.save(model, p)
        return p

    ok = save("ok", _mlp(W, b, input_shape=("N", 2)))
    p = tmp / "missing.onnx"
    out["missing"] = (p, f"{p}: no such file")
    p = tmp / "garbage.onnx"
    p.write_bytes(b"this is not an onnx file\n" * 3)
    out["garbage"] = (p, f"{p}: not an ONNX model, or the file is truncated (protobuf parse error)")
    p = tmp / "truncated.onnx"
    data = ok.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    out["truncated"] = (p, f"{p}: not an ONNX model, or the file is truncated "
                           "(protobuf parse error)")
    p = save("cumsum", make_model([helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
                                   helper.make_node("CumSum", ["h", "ax"], ["y"])],
                                  [const("W", W), const("b", b), const("ax", 1, np.int64)],
                                  input_shape=("N", 2)))
    out["unsupported op"] = (p, f"{p}: node 'y' (CumSum, opset 17) is not supported")
    p = save("sin", make_model([helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
                                helper.make_node("Sin", ["h"], ["y"])],
                               [const("W", W), const("b", b)], input_shape=("N", 2)))
    out["not piecewise-linear"] = (p, f"{p}: node 'y' (Sin, opset 17) is not piecewise-linear")
    p = save("two", make_model(
        [helper.make_node("Add", ["x", "x2"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        input_shape=("N", 2),
        extra_inputs=[helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 2])]))
    out["two inputs"] = (p, f"{p}: the graph has 2 inputs ('x', 'x2'); exactly one is supported")
    p = save("int", _mlp(W, b, input_shape=("N", 2), input_type=TensorProto.INT64))
    out["int64 input"] = (p, f"{p}: input 'x' has element type INT64; a float type is required")
    p = save("zero", _mlp(np.ones((3, 0)), b, input_shape=("N", 0)))
    out["zero-size input"] = (p, f"{p}: input 'x' has shape [N, 0], which has no elements")
    Wn = W.copy()
    Wn[0, 0] = np.nan
    p = save("nan", _mlp(Wn, b, input_shape=("N", 2)))
    out["nan weight"] = (p, f"{p}: initializer 'W' has non-finite values")
    out["directory"] = (tmp, f"{tmp}: is a directory, not an ONNX file")
    return out


def test_bad_models(cli, capsys, tmp_path):
    for name, (path, message) in _bad_models(tmp_path).items():
        for argv in (["count", path, "--box", "0,1"], ["info", path],
                     ["export", path, "--box", "0,1", "--mps", tmp_path / "x.mps"]):
            code, out, err = cli(*argv)
            assert (code, out, err) == (2, "", f"milpregions: {message}\n"), (name, argv[0])


BOX_FORMAT = "expected LO,HI (two numbers separated by a comma, e.g. --box -1,1)"


@pytest.mark.parametrize("box,message", [
    ("0,1,2", f"--box '0,1,2': {BOX_FORMAT}"),
    ("1", f"--box '1': {BOX_FORMAT}"),
    ("a,b", f"--box 'a,b': {BOX_FORMAT}"),
    ("1,0", "--box '1,0': the box is empty, LO must be less than HI"),
    ("1,1", "--box '1,1': the box is empty, LO must be less than HI"),
    ("nan,1", "--box 'nan,1': LO and HI must be finite numbers"),
    ("-inf,1", "--box '-inf,1': LO and HI must be finite numbers"),
    ("0,inf", "--box '0,inf': LO and HI must be finite numbers"),
])
def test_bad_box(cli, capsys, box, message):
    assert_input_error(cli, message, "count", M1, "--box", box)


def test_bad_box_file(cli, capsys, tmp_path):
    p = tmp_path / "b3.json"
    p.write_text(json.dumps({"lo": [0, 0, 0], "hi": [1, 1, 1]}))
    assert_input_error(cli, f"{p}: box lo has 3 entries but the network has 2 inputs",
                       "count", Z2, "--box-file", p)
    p = tmp_path / "flat.npy"
    np.save(p, np.zeros(4))
    assert_input_error(cli, f"{p}: a .npy box must be a 2 x d array (lo row, hi row), "
                               "got shape (4,)", "count", Z2, "--box-file", p)
    p = tmp_path / "missing.json"
    assert_input_error(cli, f"{p}: no such file", "count", Z2, "--box-file", p)


def test_bad_options(cli, capsys, tmp_path):
    assert_input_error(cli, "count: give the input domain with --box LO,HI, --box-file F, "
                               "--center F --radius R or --vnnlib P", "count", M1)
    assert_input_error(cli, "count: give only one of --box, --box-file, --center and --vnnlib",
                       "count", M1, "--box", "0,1", "--box-file", tmp_path / "b.json")
    np.save(tmp_path / "c.npy", np.zeros(2))
    assert_input_error(cli, "count: --center and --radius go together",
                       "count", Z2, "--center", tmp_path / "c.npy")
    assert_input_error(cli, "--radius -0.5: the radius must be a positive number",
                       "count", Z2, "--center", tmp_path / "c.npy", "--radius", "-0.5")
    np.save(tmp_path / "c3.npy", np.zeros(3))
    assert_input_error(cli, "the centre has 3 numbers but the network has 2 inputs",
                       "count", Z2, "--center", tmp_path / "c3.npy", "--radius", "0.5")
    assert_input_error(cli, "time limit must be positive, got -1.0",
                       "count", M1, "--box", "0,1", "--time-limit", "-1")
    assert_input_error(cli, "max regions must be at least 1, got 0",
                       "count", M1, "--box", "0,1", "--max-regions", "0")
    assert_input_error(cli, "margin must be a positive number, got -0.001",
                       "count", M1, "--box", "0,1", "--margin", "-1e-3")
    assert_input_error(cli, f"{tmp_path / 'no' / 'r.jsonl'}: cannot write "
                               "(No such file or directory)",
                       "count", M1, "--box", "0,1", "--regions", tmp_path / "no" / "r.jsonl")


@pytest.mark.parametrize("argv", [
    ["count", M1, "--box", "0,1", "--method", "simplex"],
    ["count", M1, "--box", "0,1", "--time-limit", "soon"],
    ["count", M1, "--box", "0,1", "--bogus"],
    ["count"],
    ["export", M1, "--box", "0,1"],
    [],
])
def test_usage_errors_are_one_line(cli, capsys, argv):
    code, out, err = cli(*argv)
    assert code == 2 and out == ""
    assert err.startswith("milpregions: ") and err.count("\n") == 1 and "Traceback" not in err


def test_internal_error(cli, capsys, monkeypatch):
    from milpregions.cli import count as count_command
    from milpregions.errors import CertificateError

    def broken(*a, **k):
        raise CertificateError("witness 3 has the wrong pattern\nmore detail")

    monkeypatch.setattr(count_command, "count", broken)
    monkeypatch.delenv("MILPREGIONS_DEBUG", raising=False)
    code, out, err = cli("count", M1, "--box", "0,1")
    assert code == 1 and out == ""
    assert err == ("milpregions: internal error: CertificateError: witness 3 has the wrong "
                   "pattern more detail (set MILPREGIONS_DEBUG=1 for a traceback)\n")
    monkeypatch.setenv("MILPREGIONS_DEBUG", "1")
    code, _, err = cli("count", M1, "--box", "0,1")
    assert code == 1 and "Traceback" in err


# ------------------------------------------------------------------------- true subprocesses


def _subprocess(argv, **kw):
    env = dict(os.environ)
    env.pop("MILPREGIONS_DEBUG", None)
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
                          **kw)


def test_console_script_json_stdout_is_pure_json():
    exe = shutil.which("milpregions")
    if exe is None:
        pytest.skip("console script not installed (pip install -e .)")
    p = _subprocess([exe, "count", M1, "--box", "0,1", "--json", FAST])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["regions"] == 8  # the whole of stdout parses: no HiGHS banner
    assert "HiGHS" not in p.stdout and p.stderr == ""
    # The MILP method constructs HiGHS through Pyomo as well.
    p = _subprocess([exe, "count", M1, "--box", "0,1", "--json", "--method", "milp", FAST])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["regions"] == 8 and p.stderr == ""


def test_python_m_end_to_end(tmp_path):
    p = _subprocess([sys.executable, "-m", "milpregions", "count", Z2, "--box", "-1,1", FAST])
    assert (p.returncode, p.stdout, p.stderr) == (0, "37 regions\n", "")
    p = _subprocess([sys.executable, "-m", "milpregions", "count", M1, "--box", "0,1",
                     "--max-regions", "2", FAST])
    assert p.returncode == 3
    assert p.stdout == "at least 2 regions (lower bound: stopped at --max-regions)\n"
    p = _subprocess([sys.executable, "-m", "milpregions", "count", tmp_path / "none.onnx",
                     "--box", "0,1"])
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == f"milpregions: {tmp_path / 'none.onnx'}: no such file\n"
    path = tmp_path / "m.lp"
    p = _subprocess([sys.executable, "-m", "milpregions", "export", M1, "--box", "0,1",
                     "--lp", path, FAST])
    assert (p.returncode, p.stdout, p.stderr) == (0, f"{path}\n", "")  # no Pyomo warnings


# -------------------------------------------------------------------------------------- hash


def test_hash_prints_probabilistic_bound(cli, capsys):
    code, out, err = cli("hash", M1, "--box", "0,1", FAST, "--seed", "1")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("at least ") and "(probabilistic lower bound, confidence 95%)" in first
    n = int(first.split()[2])
    assert 1 <= n <= 8  # the exact count is 8
    assert "MIPBound" in out and "feasible trials: K=0: 1/1" in out


def test_hash_json(cli, capsys):
    code, out, err = cli("hash", M1, "--box", "0,1", FAST, "--json", "--xors", "2,3",
                         "--trials", "4", "--confidence", "0.9")
    assert code == 0, err
    d = json.loads(out)
    assert d["probabilistic"] is True and d["confidence"] == 0.9
    assert 1 <= d["regions"] <= 8
    assert sorted(d["feasible"]) == ["0", "2", "3"] and d["trials"]["2"] == 4
    assert d["box"] == {"lo": [0.0], "hi": [1.0]}


def test_hash_bad_input(cli, capsys):
    assert_input_error(cli, "--xors '2,x': expected K or K1,K2,... (integers >= 1)",
                       "hash", M1, "--box", "0,1", "--xors", "2,x")
    assert_input_error(cli, "--confidence 1.5: must be between 0 and 1 (e.g. 0.95)",
                       "hash", M1, "--box", "0,1", "--confidence", "1.5")
    code, out, err = cli("hash", M1, "--box", "0,1", "--xors", "0")
    assert code == 2 and out == "" and err.startswith("milpregions: ")


# ------------------------------------------- slices, lines, sample, lines, bounds (estimators)


def _points(tmp_path, *pts):
    paths = []
    for k, p in enumerate(pts):
        f = tmp_path / f"p{k}.npy"
        np.save(f, np.asarray(p, dtype=np.float64))
        paths.append(f)
    return paths


def test_count_slice_and_line(cli, capsys, tmp_path):
    from milpregions.problem import load_network

    from exact_oracles import count_line, count_plane

    net = load_network(HE3)
    p0, p1, p2 = [-1, -1, 0.2], [1, -0.5, 0.0], [-0.3, 1, -0.5]
    f0, f1, f2 = _points(tmp_path, p0, p1, p2)
    want = count_plane(net, p0, np.subtract(p1, p0), np.subtract(p2, p0), 0, 1)
    assert cli("count", HE3, "--slice", f0, f1, f2, FAST) == (0, f"{want} regions\n", "")
    want = count_plane(net, p0, np.subtract(p1, p0), np.subtract(p2, p0), -1, 1)
    code, out, err = cli("count", HE3, "--slice", f0, f1, f2, "--slice-box", "-1,1",
                         "--json", FAST)
    d = json.loads(out)
    assert code == 0 and d["regions"] == want and d["domain"]["kind"] == "slice"
    assert d["box"] == {"lo": [-1.0, -1.0], "hi": [1.0, 1.0]}
    want = count_line(net, p0, p1)
    assert cli("count", HE3, "--line", f0, f1, FAST) == (0, f"{want} regions\n", "")


def test_count_slice_regions_file_has_input_space_witnesses(cli, capsys, tmp_path):
    f0, f1, f2 = _points(tmp_path, [0, 0, 0], [1, 0, 0], [0, 1, 0])
    out_file = tmp_path / "r.jsonl"
    code, out, _ = cli("count", HE3, "--slice", f0, f1, f2, "--regions", out_file, FAST)
    assert code == 0
    for line in out_file.read_text().splitlines():
        w = json.loads(line)["witness"]
        assert len(w) == 3 and w[2] == 0.0 and 0 < w[0] < 1 and 0 < w[1] < 1


def test_slice_errors(cli, capsys, tmp_path):
    f0, f1, f2 = _points(tmp_path, [0, 0, 0], [1, 1, 1], [2, 2, 2])
    assert_input_error(cli, "slice points are collinear (P1 - P0 and P2 - P0 are parallel or "
                       "zero): they span no plane", "count", HE3, "--slice", f0, f1, f2)
    g = tmp_path / "short.npy"
    np.save(g, np.zeros(2))
    assert_input_error(cli, f"{g}: the point has 2 numbers but the network has 3 inputs",
                       "count", HE3, "--slice", f0, f1, g)
    assert_input_error(cli, "count: --slice/--line replace --box, --box-file, --center and "
                       "--vnnlib (set the parameter range with --slice-box)",
                       "count", HE3, "--line", f0, f1, "--box", "-1,1")
    assert_input_error(cli, "count: --slice-box needs --slice or --line",
                       "count", HE3, "--box", "-1,1", "--slice-box", "0,1")
    assert_input_error(cli, "line points coincide: P0 = P1 spans no line",
                       "count", HE3, "--line", f0, f0)


def test_count_bounds(cli, capsys):
    code, out, err = cli("count", Z2, "--box", "-1,1", "--bounds", FAST)
    assert code == 0 and out.startswith("37 regions\n")
    assert "Serra et al. 2018" in out and "37" in out.splitlines()[2]
    code, out, _ = cli("count", Z2, "--box", "-1,1", "--bounds", "--json", FAST)
    d = json.loads(out)
    assert d["bounds"]["serra_upper"] == d["bounds"]["zaslavsky"] == 37 == d["regions"]


def test_bounds_command(cli, capsys):
    code, out, err = cli("bounds", str(MODELS / "he_2d_8x8.onnx"), "--json")
    d = json.loads(out)
    assert code == 0 and err == "" and d["serra_upper"] == 1369 and d["montufar_lower"] == 592
    code, out, err = cli("bounds", str(MODELS / "he_2d_8x8.onnx"), "--box", "-1,1")
    assert code == 0 and "1,369" in out


def test_sample_command(cli, capsys):
    code, out, err = cli("sample", M1, "--box", "0,1", "--points", "20000",
                         "--seed", "1", "--json")
    d = json.loads(out)
    assert code == 0 and err == "" and d["distinct"] == 8 and d["points"] == 20000
    assert {"f1", "f2", "chao1", "chao1_se", "chao1_ci", "good_turing", "seconds"} <= set(d)
    code, out, _ = cli("sample", Z2, "--box", "-1,1", "--points", "5000",
                       "--dist", "gauss:0.5", "--batch", "333")
    assert code == 0 and "distinct patterns in 5,000 points" in out and "Chao1" in out
    assert_input_error(cli, "--dist 'normal': expected uniform or gauss:STD (e.g. gauss:0.1)",
                       "sample", Z2, "--box", "-1,1", "--points", "10", "--dist", "normal")
    assert_input_error(cli, "--points must be at least 1, got 0",
                       "sample", Z2, "--box", "-1,1", "--points", "0")
    assert_input_error(cli, DOMAIN_MISSING, "sample", Z2, "--points", "10")


def test_lines_command(cli, capsys):
    code, out, err = cli("lines", M1, "--box", "0,1", "--lines", "3", "--points", "20",
                         "--seed", "0", "--json")
    d = json.loads(out)
    assert code == 0 and d["regions_per_line"] == [8, 8, 8]
    assert d["estimate_from_lines"] == pytest.approx(8)
    code, out, _ = cli("lines", Z2, "--box=-1,1", "--lines", "20", "--points", "100")
    assert code == 0 and "regions per chord" in out and "nearest region boundary" in out
    assert_input_error(cli, "--lines must be at least 1, got 0",
                       "lines", Z2, "--box", "-1,1", "--lines", "0")


def test_compare_command(cli, capsys):
    code, out, err = cli("compare", M1, "--box", "0,1", "--points", "1000,5000",
                         "--lines", "3", "--distance-points", "100", "--json", FAST)
    d = json.loads(out)
    assert code == 0 and err == "" and d["regions"] == 8 and d["exact"]
    distinct = [r["estimate"] for r in d["rows"] if r["estimator"] == "sample: distinct"]
    assert distinct == [8, 8]
    code, out, _ = cli("compare", M1, "--box", "0,1", "--points", "100", "--lines", "2",
                       "--distance-points", "0", FAST)
    assert code == 0 and out.startswith("exact count: 8 regions") and "Good-Turing" in out
    assert_input_error(cli, DOMAIN_MISSING, "compare", M1, "--points", "10")


def test_every_estimator_takes_slice_and_line(cli, capsys, tmp_path):
    # the domain is folded into layer 1 for every subcommand, so all agree with count on it
    pts = []
    for i, p in enumerate([[0.1, 0.2, 0.0], [0.9, -0.3, 0.2], [-0.5, 0.7, -0.4]]):
        pts.append(tmp_path / f"p{i}.npy")
        np.save(pts[-1], np.array(p))
    model = "models/he_3d_16x16.onnx"
    code, out, _ = cli("count", model, "--slice", *pts, "--json")
    exact_slice = json.loads(out)["regions"]
    code, out, _ = cli("count", model, "--line", pts[0], pts[1], "--json")
    exact_line = json.loads(out)["regions"]
    assert exact_slice > exact_line > 1
    code, out, _ = cli("sample", model, "--slice", *pts, "--points", "20000", "--json")
    assert code == 0 and 0.5 * exact_slice < json.loads(out)["distinct"] <= exact_slice
    code, out, _ = cli("lines", model, "--line", pts[0], pts[1], "--lines", "2", "--json")
    d = json.loads(out)
    # on a 1-D domain every chord of the parameter box is the whole segment
    assert code == 0 and d["regions_per_line"] == [exact_line, exact_line]
    code, out, _ = cli("bounds", model, "--slice", *pts, "--json")
    assert code == 0 and json.loads(out)["input_dim"] == 2
    code, out, _ = cli("compare", model, "--slice", *pts, "--points", "1000", "--lines",
                       "5", "--distance-points", "100", "--json")
    assert code == 0 and json.loads(out)["regions"] == exact_slice


def test_regions_file_of_a_cnn_has_one_distinct_pattern_per_region(cli, tmp_path):
    # MaxPool groups are written as piece indices, not as bits: a bit per group printed two
    # different winning pieces alike (144 lines, 72 distinct patterns before)
    out = tmp_path / "regions.jsonl"
    code, stdout, _ = cli("count", MODELS / "digits_cnn.onnx", "--center",
                          MODELS / "digits_test_image.npy", "--radius", "0.05", "--regions", out,
                          "--json", "--quiet")
    d = json.loads(stdout)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 0 and d["exact"] and d["regions"] == len(lines) == 144
    assert len({json.dumps(r["pattern"]) for r in lines}) == 144
    maxpool = lines[0]["pattern"][1]           # layer 2 is the MaxPool: 4 x 4 x 4 groups of 4
    assert isinstance(maxpool, list) and len(maxpool) == 64 and set(maxpool) <= {0, 1, 2, 3}
    assert len({v for r in lines for v in r["pattern"][1]}) > 2


def test_every_json_output_shares_the_envelope(cli):
    records = []
    for argv in (["count", Z2, "--box", "-1,1"], ["info", Z2],
                 ["sample", Z2, "--box", "-1,1", "--points", "100"],
                 ["lines", Z2, "--box", "-1,1", "--lines", "2"], ["bounds", Z2],
                 ["compare", Z2, "--box", "-1,1", "--points", "100", "--lines", "0",
                  "--distance-points", "0"]):
        code, out, _ = cli(*argv, "--json")
        assert code == 0
        records.append(json.loads(out))
    for d, command in zip(records, ("count", "info", "sample", "lines", "bounds", "compare")):
        assert d["schema"] == "milpregions/1" and d["command"] == command and d["model"] == Z2
        assert d["versions"]["milpregions"] and d["versions"]["numpy"]
    count, _, sample, _, _, compare = records
    assert count["domain"] == {"kind": "box", "lo": [-1.0, -1.0], "hi": [1.0, 1.0]}
    assert count["regions"] == compare["regions"] == 37 and count["exact"] and compare["exact"]
    assert sample["regions"] == sample["distinct"] and sample["exact"] is False
    assert "domain" not in records[1] and "domain" not in records[4]


def test_progress_lines_on_a_non_terminal(cli, capsys):
    import time

    from milpregions.parallel.local import TaskProgress

    stream = io.StringIO()
    p = common.ProgressLines(stream, every=0.05)
    p(5, 10, 2, 0.01)                     # before the first interval: nothing
    time.sleep(0.06)
    p.tasks(TaskProgress(busy=1, queued=0, finished=3, total=4, covered=0.75, eta=2.0))
    p(120, 300, 40, 0.07)
    assert stream.getvalue() == ("120 regions (1,714/s), 300 nodes, 40 LPs, 0.1 s; 1 running, "
                                 "0 queued, 3/4 batches done, 75.0% covered, ETA 2 s\n")
    # --progress with --jobs: the count on stdout, on stderr only progress lines (one every 5 s
    # if the count takes that long on a loaded machine)
    code, out, err = cli("count", HE3, "--box", "-1,1", "--progress", "--jobs", "2")
    assert (code, out) == (0, "3,524 regions\n")
    line = re.compile(r"[\d,]+ regions \([\d,]+/s\), [\d,]+ nodes, [\d,]+ LPs, [\d.]+ s; \d+ running, "
                      r"\d+ queued, \d+/\d+ batches done, [\d.]+% covered, ETA .+")
    assert all(line.fullmatch(x) for x in err.splitlines())


# ------------------------------------------- zoomed-in and huge boxes, rounding (issue 21)


def double_mlp(path: Path, weights, biases) -> str:
    """A float64 ONNX chain: Gemm + Relu per hidden layer, a last Gemm."""
    nodes, inits, prev = [], [], "x"
    for k, (W, b) in enumerate(zip(weights, biases)):
        inits += [const(f"W{k}", W, np.float64), const(f"b{k}", b, np.float64)]
        nodes.append(helper.make_node("Gemm", [prev, f"W{k}", f"b{k}"], [f"g{k}"], transB=1))
        prev = f"g{k}"
        if k < len(weights) - 1:
            nodes.append(helper.make_node("Relu", [prev], [f"h{k}"]))
            prev = f"h{k}"
    n0 = np.asarray(weights[0]).shape[1]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", n0])],
        [helper.make_tensor_value_info(prev, TensorProto.DOUBLE, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return str(path)


def test_count_on_a_1e_9_box_around_three_concurrent_lines(cli, capsys, tmp_path):
    model = double_mlp(tmp_path / "apex.onnx", [[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0] * 3]],
                       [[-12345.5, -12345.5, -24691.0], [0.0]])
    box = tmp_path / "box.json"
    box.write_text(json.dumps({"lo": [12345.499999999474, 12345.49999999924],
                               "hi": [12345.50000000069, 12345.500000000202]}))
    assert cli("count", model, "--box-file", box) == (0, "6 regions\n", "")


def test_count_says_when_patterns_rest_on_rounding(cli, capsys, tmp_path):
    # 0.1 h + 0.2 h - 0.3 h - 2^-56 h' is a real line through the box (2 regions); the float
    # search takes the unit for constant
    W1 = [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    model = double_mlp(tmp_path / "r.onnx", [W1, [[0.1, 0.2, -0.3, -2.0 ** -56]], [[1.0]]],
                       [[2.0] * 4, [0.0], [0.0]])
    assert cli("count", model, "--box=-1,1") == (
        5, "1 region\nundecided: the patterns of 1 counted region rest on decisions within "
           "rounding (rounding-level slopes or constants); --certify decides them exactly\n", "")
    code, out, _ = cli("count", model, "--box=-1,1", "--certify")
    assert code == 0 and out.startswith("2 regions (certified exactly")


THIN_NOTE = (r"note: \d+ cells? thinner than the margin 1e-10 \(the thickest \S+\) "
             r"(were|was) not counted; --certify or a smaller --margin counts them")


def test_count_on_a_box_far_larger_than_the_features_is_undecided_and_certify_counts_more(
        cli, capsys, tmp_path):
    from milpregions.onnx.export import to_onnx
    from milpregions.testing.constructions import he_mlp

    model = tmp_path / "he.onnx"
    to_onnx(he_mlp(2, [12, 12], 3), model)
    code, out, err = cli("count", model, "--box=-1e8,1e8", FAST)
    lines = out.splitlines()
    # at 1e8 the first layer's lines crowd nearer the centre than the walk resolves
    # (undecided, exit 5: see enumerator/resolution.py); whether some cells also come out as
    # thin depends on the walk (the Python trial sees some, the compiled walk none)
    assert code == 5 and err == "" and 2 <= len(lines) <= 3
    assert lines[1].startswith("undecided: ") and "first-layer hyperplanes" in lines[1]
    assert all(re.fullmatch(THIN_NOTE, line) for line in lines[2:]), lines
    counted = int(lines[0].split()[0])
    code, out, _ = cli("count", model, "--box=-1e8,1e8", FAST, "--certify")
    assert code == 0 and int(out.split()[0]) > counted


def test_the_thin_cells_note():
    from milpregions.cli.count import format_notes
    from milpregions.ir.result import CountResult

    res = CountResult(40, True, "tree", 0.1, margin=1e-10, thin_dropped=3,
                      thickest_dropped=4.2e-11)
    assert format_notes(res) == ["note: 3 cells thinner than the margin 1e-10 (the thickest "
                                 "4.2e-11) were not counted; --certify or a smaller --margin "
                                 "counts them"]
    one = CountResult(40, True, "tree", 0.1, margin=1e-10, thin_dropped=1,
                      thickest_dropped=4.2e-11)
    assert re.fullmatch(THIN_NOTE, format_notes(one)[0])
    assert format_notes(CountResult(40, True, "tree", 0.1, margin=1e-10)) == []


def test_a_count_that_drops_a_thin_cell_says_so_with_exit_0(cli, tmp_path):
    """End to end (issue 21, item 6): x = 0 and x = 2^-35 crossed by y = 0.1, in a box whose
    centre is far from them (so it is not a question of resolution): 6 regions, 2 in a slab
    2.9e-11 wide. The default count finds 4 and says, on its own line, that a cell thinner
    than the margin was left out; --certify counts 6."""
    from milpregions.ir.network import mlp
    from milpregions.onnx.export import to_onnx

    model = tmp_path / "slab.onnx"
    W = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    to_onnx(mlp([W, np.ones((1, 3))], [np.array([0.0, -2.0 ** -35, 0.1]), np.zeros(1)]), model)
    code, out, err = cli("count", model, "--box=-0.5,1.5")
    lines = out.splitlines()
    assert (code, err, len(lines), lines[0]) == (0, "", 2, "4 regions"), out
    assert re.fullmatch(THIN_NOTE, lines[1]) and "2.91e-11" in lines[1], lines
    code, out, _ = cli("count", model, "--box=-0.5,1.5", "--certify")
    assert code == 0 and out.startswith("6 regions (certified exactly")


def test_count_refuses_a_box_too_large_for_floats(cli, capsys, tmp_path):
    from milpregions.onnx.export import to_onnx
    from milpregions.testing.constructions import he_mlp

    model = tmp_path / "he.onnx"
    to_onnx(he_mlp(2, [12, 12], 3), model)
    code, out, err = cli("count", model, "--box=-1e200,1e200", FAST)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "too large for float arithmetic" in err
