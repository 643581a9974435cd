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
from milpregions.parallel.processes import ONE_THREAD

ROOT = Path(__file__).resolve().parents[1]


#: the kernels, compiled in two background processes of about the same length: the walks of
#: plain MLPs and of any network share most of their callees (compiled once, one after the
#: other), the LP walk is the longest alone. (One process, ~130 s of CPU against ~150 s, left
#: the tests that need the LP walk waiting for two minutes: 341 s for the suite against 313 s.)
COMPILE = (("witness_kernel", "kernel", "vertex_kernel"), ("lp_kernel",))
#: how much the test workers defer to those two while they compile (``os.nice``)
WORKER_NICE = 10


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """Compile the compiled kernels (``milpregions warm-up``'s: the walks, their packing and
    region clipping, the witness check) in two background processes while the workers of -n 2
    start; the workers run niced, so the compile has the cores (about 75 s from an empty
    cache) and the workers the rest: their start and the tests that need no kernel. A worker
    that needs a kernel meanwhile waits on the kernel's compile lock
    (``compiled_cache.alone``), then loads it; without that each worker would compile it
    itself. The tests that time the start-up of a count do their own."""
    if hasattr(session.config, "workerinput"):          # an xdist worker: the controller did it
        return
    # two workers on two cores: each one's BLAS and OpenMP pools (and those of the processes
    # it starts) in one thread, as the count's own workers have them; their threads spinning
    # on small matrices beside the other worker cost the suite ~30 s of CPU
    for name in ONE_THREAD:
        os.environ.setdefault(name, "1")
    # a walk already in numba's cache costs each test process a load, not a compilation: only
    # the cold ones are compiled here, and one process asks which (three processes loading
    # warm walks cost ~10 s of CPU; this one, without numba in the tests' own process, ~2 s)
    names = tuple(KERNELS)
    assert sorted(names) == sorted(k for group in COMPILE for k in group)
    ask = ("from milpregions.enumerator import " + ", ".join(names) + "; "
           f"print(*[k for k in {names!r} if not globals()[k].cache_is_warm()])")
    cold = subprocess.run([sys.executable, "-c", ask], env=dict(os.environ), check=True,
                          capture_output=True, text=True).stdout.split()
    procs = []
    for group in COMPILE:
        todo = [k for k in group if k in cold]
        if todo:
            procs.append(subprocess.Popen(
                [sys.executable, "-c", f"from milpregions.enumerator import {', '.join(todo)}; "
                 f"[m.warm_up() for m in ({', '.join(todo)},)]"], env=dict(os.environ)))
    if procs:
        os.environ[_NICE] = str(WORKER_NICE)            # the workers, started next, read it
    session.config.stash[_COMPILE] = procs


def pytest_configure(config):
    if hasattr(config, "workerinput") and os.environ.get(_NICE):
        os.nice(int(os.environ[_NICE]))


def pytest_sessionfinish(session):
    for p in session.config.stash.get(_COMPILE, []):
        p.wait()


_COMPILE = pytest.StashKey[list]()
_NICE = "MILPREGIONS_TEST_WORKER_NICE"


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
