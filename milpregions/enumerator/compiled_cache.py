"""numba's on-disk cache of the compiled walks, keyed on every compiled module's source.

numba keys a cached function on its own file's modification time and size only. The walks
inline functions of other modules (``lp_kernel.walk`` calls ``kernel.unit_rows``), so after an
edit to one module a cached walk of another would run the old code. ``refresh`` closes that
gap: it hashes the sources of every module beside the given compiled function that imports
numba, and when the digest differs from the one stamped in the cache folder, it deletes that
folder's cached entries of those modules before any of them is loaded. ``alone`` lets one
process at a time compile a module: the others wait for it and load what it cached.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec

STAMP = "milpregions-compiled.sha256"
P = ParamSpec("P")
_NUMBA_IMPORT = re.compile(rb"^\s*(from numba\b|import numba\b)", re.MULTILINE)


def compiled_sources(folder: Path) -> list[Path]:
    """The modules of ``folder`` that import numba, in name order."""
    return sorted(p for p in folder.glob("*.py") if _NUMBA_IMPORT.search(p.read_bytes()))


def sources_digest(sources: list[Path]) -> str:
    """One digest over the names and bytes of ``sources``."""
    h = hashlib.sha256()
    for p in sources:
        data = p.read_bytes()
        h.update(p.name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def refresh(dispatcher) -> bool:
    """Drop the cached code of the compiled modules beside ``dispatcher``'s module when their
    sources changed since it was stamped; returns whether anything was dropped. A cache folder
    that cannot be written is left alone (numba then compiles in memory)."""
    folder = Path(dispatcher.py_func.__code__.co_filename).parent
    cache = Path(str(dispatcher._cache.cache_path))
    sources = compiled_sources(folder)
    digest = sources_digest(sources)
    stamp = cache / STAMP
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    dropped = False
    try:
        for p in sources:
            for entry in cache.glob(f"{p.stem}.*.nb[ic]"):
                entry.unlink(missing_ok=True)
                dropped = True
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=STAMP)
        with os.fdopen(fd, "w") as f:
            f.write(digest)
        os.replace(tmp, stamp)
    except OSError:
        return dropped
    return dropped


@contextmanager
def alone(dispatcher) -> Iterator[None]:
    """Held while this process compiles or loads the compiled module of ``dispatcher`` (one
    of its functions): a process that does the same meanwhile (the first counts after an
    install, started together; a test suite's workers beside its compile) waits, then loads
    what this one cached instead of spending the same minutes of CPU again. An exclusive
    ``flock`` on a file in the cache folder, dropped by the kernel when a process ends; where
    the folder cannot be written, no lock."""
    name = dispatcher.py_func.__module__.rsplit(".", 1)[-1]
    cache = Path(str(dispatcher._cache.cache_path))
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd = os.open(cache / f"milpregions-{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o666)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def one_at_a_time(dispatcher) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """A module's ``warm_up``, run under ``alone(dispatcher)``."""
    def wrap(warm_up: Callable[P, None]) -> Callable[P, None]:
        @functools.wraps(warm_up)
        def locked(*args: P.args, **kwargs: P.kwargs) -> None:
            with alone(dispatcher):
                warm_up(*args, **kwargs)
        return locked
    return wrap
