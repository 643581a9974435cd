"""Shared fixtures. The tests mirror the package (tests/<subpackage>/test_*.py); the helper
modules beside this file (``exact_oracles``, ``onnx_builders``) are importable from every test,
since pytest puts this directory on ``sys.path``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from milpregions.cli.main import main
from milpregions.enumerator.progress import KERNELS

ROOT = Path(__file__).resolve().parents[1]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """Compile the compiled kernels (``milpregions warm-up``'s: the walks, their packing and
    region clipping, the witness check) once, side by side, before the workers of ``-n 2``
    start: each worker would otherwise compile them itself in its first test that needs one
    (the cache is shared on disk, the compilation is not), and that test would wait minutes
    on a clean checkout. The tests that time the start-up of a count do their own."""
    if hasattr(session.config, "workerinput"):          # an xdist worker: the controller did it
        return
    # a walk already in numba's cache costs each test process a load, not a compilation: only
    # the cold ones are compiled here, and one process asks which (three processes loading
    # warm walks cost ~10 s of CPU; this one, without numba in the tests' own process, ~2 s)
    names = tuple(KERNELS)
    ask = ("from milpregions.enumerator import " + ", ".join(names) + "; "
           f"print(*[k for k in {names!r} if not globals()[k].cache_is_warm()])")
    cold = subprocess.run([sys.executable, "-c", ask], env=dict(os.environ), check=True,
                          capture_output=True, text=True).stdout.split()
    procs = [subprocess.Popen([sys.executable, "-c", f"from milpregions.enumerator import {k}; "
                               f"{k}.warm_up()"], env=dict(os.environ))
             for k in cold]
    for p in procs:
        p.wait()


@pytest.fixture
def models_dir() -> Path:
    """The committed models (``models/``)."""
    return ROOT / "models"


@pytest.fixture
def cli(capsys):
    """``cli(*argv)`` runs ``milpregions argv`` in-process: (exit status, stdout, stderr)."""
    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run
