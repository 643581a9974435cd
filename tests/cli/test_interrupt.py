"""Ctrl-C and SIGTERM stop a real ``milpregions count`` process cleanly: exit status 3, the
partial count printed as a lower bound (``"stopped": "interrupted"`` in the JSON), and every
counted region in ``--regions`` exactly once."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from milpregions.cli.count import format_hint
from milpregions.ir.result import CountResult
from milpregions.onnx.export import to_onnx
from milpregions.testing.constructions import he_mlp

from child_processes import wait_for_cpu, wait_for_lines


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "milpregions", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture(scope="module")
def big_model(tmp_path_factory) -> Path:
    """he_mlp(6, [16, 16]): 935,763 regions, about 25 s compiled, minutes in Python."""
    path = tmp_path_factory.mktemp("models") / "he_6d_16x16.onnx"
    to_onnx(he_mlp(6, [16, 16], 0), path)
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_tree_count_with_a_lower_bound(big_model, tmp_path, sig):
    regions = tmp_path / "regions.jsonl"
    proc = _start(["count", str(big_model), "--box", "-1,1", "--json", "--regions", str(regions)])
    wait_for_lines(regions, 1000, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    d = json.loads(out)
    assert d["stopped"] == "interrupted" and d["exact"] is False and d["lower_bound"] is True
    lines = regions.read_text().splitlines()
    patterns = {json.dumps(json.loads(line)["pattern"]) for line in lines}
    assert 1000 <= d["regions"] == len(lines) == len(patterns) < 935_763


def test_ctrl_c_stops_the_milp_count_with_a_lower_bound(tmp_path):
    model = tmp_path / "he_2d_16x16.onnx"
    to_onnx(he_mlp(2, [16, 16], 0), model)        # 412 regions: minutes of MILPs
    regions = tmp_path / "regions.jsonl"
    proc = _start(["count", str(model), "--box", "-1,1", "--method", "milp",
                   "--regions", str(regions)])
    wait_for_lines(regions, 1, proc)              # inside the solve loop
    # flushed at least every second (count.FLUSH_SECONDS), not when 8 KB of lines filled
    # Python's buffer: a slow count's file shows its first regions while it runs
    first = regions.read_text().splitlines()
    assert len(first) <= 8 < io.DEFAULT_BUFFER_SIZE // len(first[0]), len(first)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    n = len(regions.read_text().splitlines())
    hint = "".join(line + "\n" for line in format_hint(CountResult(0, False, "milp", 0.0), "box"))
    noun = "region" if n == 1 else "regions"
    assert out == f"at least {n:,} {noun} (lower bound: interrupted)\n" + (hint if n == 0 else "")
    assert n < 412


def test_ctrl_c_stops_hash_with_the_finished_xor_counts(tmp_path):
    model = tmp_path / "he_2d_16x16.onnx"
    to_onnx(he_mlp(2, [16, 16], 0), model)
    proc = _start(["hash", str(model), "--box", "-1,1", "--xors", "1,2,3", "--trials", "100000",
                   "--json"])
    wait_for_cpu(proc, 2.0)                       # inside the XOR trials by then
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    d = json.loads(out)
    assert d["stopped"] == "interrupted" and d["lower_bound"] is True
    assert d["regions"] >= d["regions_seen"] >= 1      # the partial K = 1 is dropped


@pytest.mark.parametrize("command,asked,key", [
    (["sample", "--points", "1000000000"], 10**9, "points"),
    (["lines", "--lines", "1000000"], 10**6, "lines"),
])
def test_ctrl_c_stops_sample_and_lines_with_what_they_saw(tmp_path, command, asked, key):
    model = tmp_path / "he_2d_16x16.onnx"
    to_onnx(he_mlp(2, [16, 16], 0), model)
    proc = _start([command[0], str(model), "--box", "-1,1", *command[1:], "--json"])
    wait_for_cpu(proc, 1.5)                       # inside the sampling by then
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    d = json.loads(out)
    assert d["stopped"] == "interrupted" and 1 <= d[key] < asked


def test_ctrl_c_stops_compare_and_skips_the_rest(big_model):
    proc = _start(["compare", str(big_model), "--box", "-1,1", "--json"])
    wait_for_cpu(proc, 2.0)                       # inside the exact count by then
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    d = json.loads(out)
    assert d["stopped"] == "interrupted" and d["exact"] is False and 0 <= d["regions"] < 935_763
    assert "interrupted: the estimators from that point on were not run" in d["notes"]
