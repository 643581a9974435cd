"""Helpers for tests that signal a running ``milpregions`` process: wait until it is busy by
what it has done (its CPU time, lines it wrote), not by a fixed sleep sized for a loaded
machine, which costs a quiet one seconds of a core per test."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psutil


def _alive(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        said = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"the process ended ({proc.returncode}): {said}")


def wait_for_cpu(proc: subprocess.Popen, seconds: float, timeout: float = 300.0) -> None:
    """Until ``proc`` and its children have used ``seconds`` of CPU: past its imports (~0.4 s
    of CPU) and busy with its work, on a quiet or a loaded machine alike."""
    watched = psutil.Process(proc.pid)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        _alive(proc)
        try:
            t = watched.cpu_times()               # with its children that ended (not iowait)
            cpu = t.user + t.system + t.children_user + t.children_system
            for child in watched.children(recursive=True):
                cpu += child.cpu_times().user + child.cpu_times().system
        except psutil.NoSuchProcess:
            cpu = 0.0
        if cpu >= seconds:
            return
        time.sleep(0.05)
    raise AssertionError(f"the process used less than {seconds} s of CPU in {timeout} s")


def lines_in(path: Path) -> int:
    """The finished lines of ``path`` (0 before it exists)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    """Until the file ``path`` holds ``n`` lines (a count's ``--regions``)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if lines_in(path) >= n:
            return
        _alive(proc)
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} lines written to {path} after {timeout} s")
