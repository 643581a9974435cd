"""One run at a time on a file: an exclusive ``flock`` held for the run's whole life.

``flock(LOCK_EX | LOCK_NB)`` on an open descriptor of the file itself: no lock file beside it
to go stale, and the kernel drops the lock when the process ends, even by kill -9. The lock
belongs to the open file description, so reopening the file (``"w"`` truncates the same
inode) keeps it, and it is independent of the POSIX record locks SQLite takes. Used by the
checkpoint (``parallel/checkpoint.py``) and by the ``--regions`` file of ``count``.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

from ..errors import InputError

#: why a second count on one regions file is refused (after the file's name)
REGIONS_BUSY = ("another count is writing this regions file; wait for it to end (or stop it), "
                "or write another file")


class FileLock:
    """An exclusive lock on ``path``, taken at once or refused (``InputError``: ``path``, then
    ``busy``). ``create``: open (and make) the file for writing, for a file this run is about
    to write, else open it for reading. A path that is not a regular file (``/dev/null``, a
    pipe) is not locked: nothing of it can be lost between two runs."""

    def __init__(self, path: str | os.PathLike, busy: str, *, create: bool = False) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        flags = (os.O_RDWR | os.O_CREAT) if create else os.O_RDONLY
        try:
            fd = os.open(self.path, flags | os.O_CLOEXEC, 0o666)
        except OSError as e:
            what = "cannot write" if create else "cannot open"
            raise InputError(f"{self.path}: {what} ({e.strerror or e})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise InputError(f"{self.path}: {busy}") from None
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Drop the lock (closing the descriptor); again is a no-op."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
