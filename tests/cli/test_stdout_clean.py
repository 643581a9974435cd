"""``--json`` on a cluster engine: standard output carries the JSON record alone, whatever the
engine prints on file descriptor 1 or on ``sys.stdout`` while the count runs (Ray's messages
about dead workers). ``count`` wraps the count of an engine in ``stdout_to_stderr``."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import os, sys
from milpregions.cli.common import stdout_to_stderr

print("before", flush=True)
with stdout_to_stderr(True):
    os.write(1, b"\\x1b[33m(raylet) worker died, retrying\\x1b[0m\\n")
    print("a line on sys.stdout")
print('{"regions": 7}')
with stdout_to_stderr(False):
    print("kept")
"""


def test_what_an_engine_prints_goes_to_stderr():
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == 'before\n{"regions": 7}\nkept\n'
    assert p.stderr == "\x1b[33m(raylet) worker died, retrying\x1b[0m\na line on sys.stdout\n"
