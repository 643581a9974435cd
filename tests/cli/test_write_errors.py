"""A full disk is the machine's problem, not an internal error: exit 2 and one line naming
what could not be written (``/dev/full`` answers every write with ENOSPC)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MODEL = str(Path(__file__).parents[2] / "models" / "he_2d_8x8.onnx")

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


def test_a_full_disk_under_the_regions_file():
    p = subprocess.run([sys.executable, "-m", "milpregions", "count", MODEL, "--box", "-1,1",
                        "--regions", "/dev/full"], capture_output=True, text=True, timeout=120)
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == "milpregions: /dev/full: cannot write (No space left on device)\n"


def test_a_full_disk_under_standard_output():
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "milpregions", "count", MODEL, "--box", "-1,1",
                            "--json"], stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=120)
    assert p.returncode == 2
    assert p.stderr == ("milpregions: standard output: cannot write (No space left on "
                        "device)\n")
