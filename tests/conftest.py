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


#: the kernels in the order the background compile takes them: the small ones first, so that
#: the tests of plain MLPs (most) wait least
ORDER = ("witness_kernel", "kernel", "vertex_kernel", "lp_kernel")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """Compile the compiled kernels (``milpregions warm-up``'s: the walks, their packing and
    region clipping, the witness check) in one background process while the workers of -n 2
    start and run the tests that need none: a worker that needs a kernel meanwhile waits for
    it on the kernel's compile lock (``compiled_cache.alone``), then loads it; without that
    each worker would compile it itself. One process, one kernel after the other: they share
    their callees, compiled once (~130 s of CPU in all, against ~160 s in three processes).
    The tests that time the start-up of a count do their own."""
    if hasattr(session.config, "workerinput"):          # an xdist worker: the controller did it
        return
    # a walk already in numba's cache costs each test process a load, not a compilation: only
    # the cold ones are compiled here, and one process asks which (three processes loading
    # warm walks cost ~10 s of CPU; this one, without numba in the tests' own process, ~2 s)
    names = tuple(KERNELS)
    assert sorted(names) == sorted(ORDER)
    ask = ("from milpregions.enumerator import " + ", ".join(names) + "; "
           f"print(*[k for k in {names!r} if not globals()[k].cache_is_warm()])")
    cold = subprocess.run([sys.executable, "-c", ask], env=dict(os.environ), check=True,
                          capture_output=True, text=True).stdout.split()
    if cold:
        todo = [k for k in ORDER if k in cold]
        session.config.stash[_COMPILE] = subprocess.Popen(
            [sys.executable, "-c", f"from milpregions.enumerator import {', '.join(todo)}; "
             f"[m.warm_up() for m in ({', '.join(todo)},)]"], env=dict(os.environ))


def pytest_sessionfinish(session):
    compile_ = session.config.stash.get(_COMPILE, None)
    if compile_ is not None:
        compile_.wait()


_COMPILE = pytest.StashKey[subprocess.Popen]()


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
