"""Start-up: a small count from an ONNX file imports only what it uses. scipy.sparse (~0.1 s),
networkx (~0.25 s) and numba (~0.5-1 s) are imported by the code that needs them (a fixed
batch, a graph out of order, a count that outgrows the Python trial), not by every count."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import runpy, sys
sys.argv = ["milpregions", "count", sys.argv[1], "--box", "-1,1"]
try:
    runpy.run_module("milpregions", run_name="__main__")
except SystemExit as stop:
    code = stop.code
print(code, *(name in sys.modules for name in ("scipy.sparse", "networkx", "numba")),
      file=sys.stderr)
"""


def test_a_small_count_imports_neither_scipy_sparse_nor_networkx_nor_numba(models_dir):
    run = subprocess.run([sys.executable, "-c", CODE, str(models_dir / "he_2d_8x8.onnx")],
                         capture_output=True, text=True, timeout=120)
    assert run.stdout == "102 regions\n"
    assert run.stderr.splitlines()[-1] == "0 False False False"
