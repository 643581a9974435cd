"""A watchdog for the local Ray cluster a count starts: when the driver dies without closing it
(kill -9), the cluster's processes are ended at once instead of outliving it by ~25 s.

Ray starts its gcs_server, raylet, agents and workers as descendants of the driver. The
watchdog, a separate small process, notes those descendants every ``POLL`` seconds while the
driver lives; once the driver is gone it kills every noted process that still runs, and their
own children, then exits. A count that ends normally stops the watchdog first (``stop``).

    python milpregions/parallel/watchdog.py DRIVER_PID

A driver killed in the first moments after the cluster started, before the watchdog's first
look, still leaves the cluster to Ray's own slower clean-up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

POLL = 0.25          # seconds between looks at the driver and its descendants


def start(driver_pid: int) -> subprocess.Popen:
    """The watchdog of ``driver_pid``, in its own session (a Ctrl-C to the count's terminal
    does not reach it; the count stops it)."""
    # run as a file, not a module of the package: it starts in ~0.1 s without the package's
    # imports, so it watches from soon after the cluster is up
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), str(driver_pid)],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(watchdog: subprocess.Popen) -> None:
    """End the watchdog of a count that closes its cluster itself."""
    if watchdog.poll() is None:
        watchdog.terminate()
        try:
            watchdog.wait(timeout=5)
        except subprocess.TimeoutExpired:
            watchdog.kill()


def _kill_all(procs) -> None:
    import psutil

    targets = {}
    for p in procs:
        try:
            if p.is_running():
                targets[p.pid] = p
                for c in p.children(recursive=True):
                    targets[c.pid] = c
        except psutil.Error:
            continue
    targets.pop(os.getpid(), None)
    for p in targets.values():
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(list(targets.values()), timeout=5)


def watch(driver_pid: int) -> None:
    """Note the driver's descendants until it dies, then kill the ones still running."""
    import psutil

    try:
        driver = psutil.Process(driver_pid)
    except psutil.Error:
        return
    noted: dict[int, psutil.Process] = {}
    me = os.getpid()
    while True:
        try:
            alive = driver.is_running() and driver.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            alive = False
        if not alive:
            _kill_all(noted.values())
            return
        try:
            kids = driver.children(recursive=True)
        except psutil.Error:          # a process that ended while the tree was read
            kids = []
        for k in kids:
            if k.pid != me:
                noted.setdefault(k.pid, k)
        time.sleep(POLL)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    watch(int(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
