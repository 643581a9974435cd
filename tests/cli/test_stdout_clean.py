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


NOISE = """\
import os
if os.environ.get("NOISE_PARENT") and os.getppid() != int(os.environ["NOISE_PARENT"]):
    os.write(1, b"(worker) noise on standard output\\n")
"""


def test_json_of_a_dask_count_is_alone_on_stdout(tmp_path):
    """End to end: every process of the local cluster (scheduler, nannies, workers; not the
    driver) writes a line on its file descriptor 1 when it starts (a ``sitecustomize``), as
    Ray's and Dask's processes do when a worker dies; ``count --json`` keeps stdout to the
    record and those lines go to stderr."""
    import json
    import os

    from milpregions.api import count_regions
    from milpregions.onnx.export import to_onnx
    from milpregions.testing.constructions import he_mlp

    (tmp_path / "sitecustomize.py").write_text(NOISE)
    model = tmp_path / "m.onnx"
    to_onnx(he_mlp(3, [6, 6], 0), model)
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path, NOISE_PARENT=str(os.getpid()))
    p = subprocess.run([sys.executable, "-m", "milpregions", "count", str(model), "--box",
                        "-1,1", "--executor", "dask", "--jobs", "1", "--json"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    record = json.loads(p.stdout)                   # the record, and nothing else
    assert record["exact"] and record["regions"] == count_regions(he_mlp(3, [6, 6], 0),
                                                                  (-1.0, 1.0)).regions
    assert "(worker) noise on standard output" in p.stderr
