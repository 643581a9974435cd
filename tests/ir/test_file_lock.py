"""``ir.file_lock.FileLock``: one holder at a time across processes, released on close and
when the holder dies (kill -9), reopening the file keeps it, devices are not locked."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from milpregions.errors import InputError
from milpregions.ir.file_lock import FileLock

BUSY = "busy, try later"

HOLD = """
import sys, time
from milpregions.ir.file_lock import FileLock
lock = FileLock(sys.argv[1], "busy", create=True)
print("held", flush=True)
time.sleep(60)
"""


def _holder(path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "held\n"
    return p


def test_a_lock_held_by_another_process_is_refused_until_it_dies(tmp_path):
    path = tmp_path / "f"
    holder = _holder(path)
    try:
        with pytest.raises(InputError) as e:
            FileLock(path, BUSY, create=True)
        assert str(e.value) == f"{path}: {BUSY}"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with FileLock(path, BUSY) as lock:          # the kernel dropped the dead holder's lock
        assert lock.held


def test_one_process_two_locks_and_a_release(tmp_path):
    path = tmp_path / "f"
    lock = FileLock(path, BUSY, create=True)
    assert path.exists() and lock.held
    path.write_text("x" * 100)                 # "w" truncates the same file: still locked
    with pytest.raises(InputError):
        FileLock(path, BUSY)
    lock.release()
    lock.release()
    assert FileLock(path, BUSY).held


def test_missing_files_and_devices(tmp_path):
    with pytest.raises(InputError) as e:
        FileLock(tmp_path / "none", BUSY)
    assert str(e.value) == f"{tmp_path / 'none'}: cannot open (No such file or directory)"
    with pytest.raises(InputError) as e:
        FileLock(tmp_path / "no" / "f", BUSY, create=True)
    assert str(e.value).startswith(f"{tmp_path / 'no' / 'f'}: cannot write (")
    a, b = FileLock("/dev/null", BUSY, create=True), FileLock("/dev/null", BUSY, create=True)
    assert not a.held and not b.held
