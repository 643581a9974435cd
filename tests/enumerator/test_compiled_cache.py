"""The compiled walks' cache is keyed on every compiled module: an edit to one module is never
served stale by a cached function of another that inlines it (numba alone would)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from milpregions.enumerator import compiled_cache, kernel

pytest.importorskip("numba")

CALLEE = """\
from numba import njit


@njit(cache=True, inline="always")
def piece(x):
    return x + {value}
"""

CALLER = """\
from numba import njit

from . import compiled_cache
from .callee import piece


@njit(cache=True)
def run(x):
    return piece(x) * 10


{refresh}
"""


def _package(root: Path, value: int, refresh: bool) -> None:
    pkg = root / "pkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "compiled_cache.py").write_text(Path(compiled_cache.__file__).read_text())
    (pkg / "callee.py").write_text(CALLEE.format(value=value))
    (pkg / "caller.py").write_text(CALLER.format(
        refresh="compiled_cache.refresh(run)" if refresh else ""))


def _run(root: Path, cache: Path) -> int:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", "from pkg.caller import run; print(run(1))"],
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    return int(out.stdout.split()[-1])


def _edit_callee(root: Path, value: int) -> None:
    path = root / "pkg" / "callee.py"
    stat = path.stat()
    path.write_text(CALLEE.format(value=value))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


@pytest.mark.parametrize("refresh", [False, True])
def test_edit_of_an_inlined_module_is_seen(tmp_path, refresh):
    """(1 + 1) * 10 = 20 cached; the callee then adds 2: (1 + 2) * 10 = 30. Without the refresh
    numba serves the stale 20 (the defect this module exists for); with it, 30."""
    _package(tmp_path, 1, refresh)
    cache = tmp_path / "cache"
    assert _run(tmp_path, cache) == 20
    assert _run(tmp_path, cache) == 20          # from the cache
    _edit_callee(tmp_path, 2)
    assert _run(tmp_path, cache) == (30 if refresh else 20)


def test_digest_covers_every_compiled_module_of_the_enumerator():
    folder = Path(kernel.__file__).parent
    names = {p.name for p in compiled_cache.compiled_sources(folder)}
    assert {"kernel.py", "lp_kernel.py"} <= names
    assert "tree.py" not in names and "compiled_cache.py" not in names


def test_stamp_written_and_unchanged_sources_keep_the_cache(tmp_path):
    _package(tmp_path, 1, True)
    cache = tmp_path / "cache"
    assert _run(tmp_path, cache) == 20
    stamps = list(cache.rglob(compiled_cache.STAMP))
    assert len(stamps) == 1
    entries = sorted(p.name for p in stamps[0].parent.glob("*.nbi"))
    assert any(name.startswith("caller.run") for name in entries)
    assert _run(tmp_path, cache) == 20
    assert sorted(p.name for p in stamps[0].parent.glob("*.nbi")) == entries
    assert textwrap.dedent(stamps[0].read_text()) == compiled_cache.sources_digest(
        compiled_cache.compiled_sources(tmp_path / "pkg"))


COMPILER = """\
import sys
import time

from numba import njit

from milpregions.enumerator import compiled_cache


@njit(cache=True)
def twice(x):
    return 2 * x


with compiled_cache.alone(twice):
    start = time.time()
    twice(1)                    # compiled, or loaded from what the other process cached
    time.sleep(1.0)             # still holding the lock
    print(start, time.time(), twice.stats.cache_hits.get((twice.signatures[0]), 0),
          flush=True)
"""


def test_one_process_at_a_time_compiles_a_module(tmp_path):
    """Two processes that need the same cold module at once (two first counts, a test worker
    beside the suite's compile): one compiles it while the other waits on the lock, then loads
    what was cached, never compiling it a second time."""
    script = tmp_path / "compiler.py"
    script.write_text(COMPILER)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    procs = [subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    runs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        start, end, hits = out.split()
        runs.append((float(start), float(end), int(hits)))
    first, second = sorted(runs)
    assert first[1] <= second[0]                    # one after the other
    assert (first[2], second[2]) == (0, 1)          # compiled once, then loaded
