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


def test_a_signal_during_the_final_json_write_waits_until_the_record_is_whole():
    """SIGINT and SIGTERM arriving while ``write_json`` writes are held: the record goes out
    whole (two halves here, the signal sent between them), then the signal acts. Without the
    hold the first signal would cut the record after its first half."""
    code = r"""
import json, os, signal, sys
from types import SimpleNamespace
from milpregions.cli.common import write_json

class Halves:
    def __init__(self):
        self.parts = []
    def write(self, text):
        half = len(text) // 2
        self.parts.append(text[:half])
        os.kill(os.getpid(), signal.SIG)
        self.parts.append(text[half:])
    def flush(self):
        pass

# a background job inherits SIGINT ignored (and the held signal is then ignored after the
# write, as it should be): the test sets Python's own handler
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(SystemExit(143)))
out = Halves()
try:
    write_json(out, "count", SimpleNamespace(model="m.onnx"), None, {"regions": 7})
    print("no signal")
except (KeyboardInterrupt, SystemExit) as e:
    record = json.loads("".join(out.parts))
    print(type(e).__name__, record["regions"], len(out.parts))
"""
    for sig, raised in (("SIGINT", "KeyboardInterrupt"), ("SIGTERM", "SystemExit")):
        p = subprocess.run([sys.executable, "-c", code.replace("signal.SIG)", f"signal.{sig})")],
                           capture_output=True, text=True, timeout=120)
        assert p.stdout.split() == [raised, "7", "2"], p.stderr
