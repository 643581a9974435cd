"""One meaning per option in every command, and repeatable randomised commands (issue 24).

``--output-tensor`` is the tensor counted on everywhere (``--output`` only a file, ``plot -o``);
``--distance-points`` / ``--data`` replace ``lines --points`` / ``local --points``. An old
spelling still works, gives the same numbers and warns once on stderr. ``sample``, ``lines``,
``hash`` and ``compare`` use seed 0 unless told, print it and record it in ``--json``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from milpregions import count_regions
from milpregions.cli.flags import DEFAULT_SEED
from milpregions.cli.main import COMMANDS, build_parser

MODELS = Path(__file__).resolve().parents[2] / "models"
M1 = str(MODELS / "montufar_1d_p2_d3.onnx")   # 8 regions on [0, 1]
Z2 = str(MODELS / "zaslavsky_2d_8.onnx")      # 37 regions on [-1, 1]^2
HE2 = str(MODELS / "he_2d_8x8.onnx")          # 102 regions on [-1, 1]^2; tensor layer1.h
FAST = "--no-tighten"


def warning(old: str, new: str) -> str:
    return (f"milpregions: warning: {old} is deprecated, use {new} (the old spelling goes in "
            "the next release)\n")


def without_seconds(text: str) -> str:
    """The output less its timings, which differ from run to run (seconds are printed with
    three decimals; no estimate or count is)."""
    return re.sub(r"\d+\.\d+ s\b|seconds: [\d.]+|[\d,]+ points/s|\"\w*seconds\": [\d.e-]+|"
                  r"(?<![\d.])\d+\.\d{3}(?!\d)", "", text)


# --------------------------------------------------------------------------- one meaning


def test_output_tensor_counts_on_the_tensor_and_the_old_spelling_warns_once(cli, tmp_path):
    want = count_regions(HE2, (-1, 1), output="layer1.h").regions
    assert 1 < want < 102                              # the first layer's lines alone
    assert cli("count", HE2, "--box", "-1,1", "--output-tensor", "layer1.h") == \
        (0, f"{want} regions\n", "")
    code, out, err = cli("count", HE2, "--box", "-1,1", "--output", "layer1.h")
    assert (code, out, err) == (0, f"{want} regions\n", warning("--output", "--output-tensor"))
    # given twice (and in a series of two models): still one warning
    copy = tmp_path / "copy.onnx"
    shutil.copy(HE2, copy)
    code, out, err = cli("count", HE2, copy, "--box", "-1,1", "--output", "layer1.h",
                         "--output", "layer1.h", "--json")
    assert code == 0 and err == warning("--output", "--output-tensor")
    assert [json.loads(line)["regions"] for line in out.splitlines()] == [want, want]


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in ("plot", "warm-up")])
def test_every_command_spells_the_tensor_output_tensor(command):
    """(warm-up reads no model: it has no tensor to name.)"""
    parser = build_parser(command)
    sub = parser._subparsers._group_actions[0].choices[command]
    flags = {s: a for a in sub._actions for s in a.option_strings}
    assert flags["--output-tensor"].dest == "tensor"
    # the old spelling is hidden from --help and stores the same value
    assert flags["--output"].dest == "tensor" and "--output " not in sub.format_help()


def test_plot_output_is_the_picture(tmp_path, cli):
    picture = tmp_path / "r.svg"
    code, out, err = cli("plot", HE2, "--box", "-1,1", "--output-tensor", "layer1.h",
                         "--output", picture)
    want = count_regions(HE2, (-1, 1), output="layer1.h").regions
    assert (code, err) == (0, "") and picture.stat().st_size > 0
    assert out.startswith(f"{picture}: {want} regions drawn")


def test_lines_distance_points_and_its_old_spelling(cli):
    argv = ("lines", M1, "--box", "0,1", "--lines", "3", "--json")
    code, new, err = cli(*argv, "--distance-points", "50")
    assert (code, err) == (0, "") and json.loads(new)["points"] == 50
    code, old, err = cli(*argv, "--points", "50")
    assert code == 0 and err == warning("--points", "--distance-points")
    assert without_seconds(old) == without_seconds(new)


def test_local_data_and_its_old_spelling(cli, tmp_path):
    pts = tmp_path / "x.npy"
    np.save(pts, np.array([[0.0, 0.0], [0.5, -0.5]]))
    code, new, err = cli("local", Z2, "--data", pts, "--radius", "1", "--quiet")
    assert (code, err) == (0, "")
    want = [count_regions(Z2, center=np.array(p), radius=1.0).regions
            for p in ([0.0, 0.0], [0.5, -0.5])]
    assert [int(line.split()[1]) for line in new.splitlines()[1:3]] == want
    code, old, err = cli("local", Z2, "--points", pts, "--radius", "1", "--quiet")
    assert (code, old, err) == (0, new, warning("--points", "--data"))


# ---------------------------------------------------------------------------- repeatable


@pytest.mark.parametrize("argv", [
    ("sample", HE2, "--box", "-1,1", "--points", "300"),     # f1, f2 differ between draws
    ("lines", Z2, "--box", "-1,1", "--lines", "4", "--distance-points", "30"),
    ("hash", M1, "--box", "0,1", FAST, "--trials", "3", "--xors", "2", "--points", "50",
     "--quiet"),
    ("compare", M1, "--box", "0,1", FAST, "--points", "300", "--lines", "2",
     "--distance-points", "20"),
], ids=lambda a: a[0])
def test_randomised_commands_repeat_and_state_their_seed(cli, argv):
    runs = [cli(*argv) for _ in range(2)]
    assert [r[0] for r in runs] == [0, 0]
    assert without_seconds(runs[0][1]) == without_seconds(runs[1][1])
    assert re.search(rf"\bseed {DEFAULT_SEED}\b", runs[0][1]), runs[0][1]
    code, out, _ = cli(*argv, "--json")
    assert json.loads(out)["seed"] == DEFAULT_SEED
    code, out, _ = cli(*argv, "--json", "--seed", "7")
    assert json.loads(out)["seed"] == 7
    code, out, _ = cli(*argv, "--seed", "7")
    assert re.search(r"\bseed 7\b", out)


def test_a_different_seed_draws_different_points(cli):
    argv = ("sample", HE2, "--box", "-1,1", "--points", "300", "--json")
    a, b = (json.loads(cli(*argv, "--seed", s)[1]) for s in ("0", "1"))
    # 300 points in 102 regions: the singletons differ between independent draws
    assert (a["distinct"], a["f1"], a["f2"]) != (b["distinct"], b["f1"], b["f2"])
