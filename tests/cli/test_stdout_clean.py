"""``--json``: standard output carries the JSON record alone, whatever a library prints on
file descriptor 1 while the count runs (Ray's messages about dead workers, a solver banner)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MODEL = str(Path(__file__).parents[2] / "models" / "he_2d_8x8.onnx")

# a count whose on_region-free run is wrapped like the CLI's; a "library" writes to fd 1 and to
# sys.stdout in the middle of it
SCRIPT = f"""
import os, sys
from milpregions.cli import count as cli_count
real = cli_count.count

def noisy(*a, **k):
    os.write(1, b"\\x1b[33m(raylet) worker died, retrying\\x1b[0m\\n")
    print("a banner on sys.stdout")
    return real(*a, **k)

cli_count.count = noisy
from milpregions.cli.main import main
sys.exit(main(["count", {MODEL!r}, "--box", "-1,1", "--json"]))
"""


def test_json_stdout_is_the_record_alone():
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("\n") == 1 and json.loads(p.stdout)["regions"] > 0
    assert "worker died, retrying" in p.stderr and "a banner on sys.stdout" in p.stderr
