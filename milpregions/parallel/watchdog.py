"""A watchdog for the local Ray cluster a count starts: when the driver dies without closing it
(kill -9), the cluster's processes are ended at once instead of outliving it by ~25 s.

Ray starts its gcs_server, raylet, agents and workers as descendants of the driver; the
gcs_server and raylet die with the driver, but the raylet's agents and workers, orphaned, live
on (the agents > 30 s). The watchdog, a separate small process in its own session, is started
*before* the cluster, and the driver waits for its "ready" line (it then holds the driver's
process). It notes the driver's descendants every ``POLL_STARTING`` seconds while the cluster
starts (until the driver writes "up" on its stdin), then every ``POLL``; its stdin is a pipe
from the driver, so the driver's death wakes it at once (end of file). Then it kills every
noted process still running, every process of this user whose environment carries the
count's token (``TOKEN_ENV``, set while ``ray.init`` starts the cluster: ``marked``; the raylet
hands it on to the workers it starts later), and their children, and sweeps for the token
again until none is left. A count that ends normally stops the watchdog (``stop``).

What it cannot see: an agent the raylet started less than one look (``POLL_STARTING``, 0.05
s) before the driver was killed. The raylet dies with the driver, the agent is orphaned, and
its environment, where the token would be, is hidden: Ray's agents retitle themselves
(``ray::DashboardAgent``), which overwrites what /proc shows of their environment. Workers
keep it. (Before, the watchdog started after ``ray.init`` returned: a driver killed at any time
during the seconds of ``ray.init``, or ~0.3 s after, left the agents.)

    python milpregions/parallel/watchdog.py DRIVER_PID TOKEN
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

POLL = 0.25              # seconds between looks at the driver's descendants
POLL_STARTING = 0.05     # the same while the cluster starts (agents appear, then stay)
TOKEN_ENV = "MILPREGIONS_CLUSTER_TOKEN"     # marks the processes of one count's cluster
SWEEPS = 3               # looks for marked processes after the driver died, until one finds none


def new_token() -> str:
    import secrets

    return secrets.token_hex(16)


def start(driver_pid: int, token: str) -> subprocess.Popen:
    """The watchdog of ``driver_pid``, in its own session (a Ctrl-C to the count's terminal
    does not reach it; the count stops it), once it is ready: it watches the driver, and at
    its death ends the processes marked with ``token``. Tell it ``started`` when the cluster
    is up."""
    # run as a file, not a module of the package: it starts in ~0.1 s without the package's
    # imports
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), str(driver_pid), token],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    proc.stdout.readline()          # "ready" (or end of file: it could not start)
    proc.stdout.close()
    return proc


def started(watchdog: subprocess.Popen) -> None:
    """The cluster is up: the watchdog looks at it every ``POLL`` seconds from now on."""
    try:
        watchdog.stdin.write(b"up\n")
        watchdog.stdin.flush()
    except OSError:                 # it ended (it could not start)
        pass


@contextmanager
def marked(token: str):
    """While entered, processes started from here carry ``token`` in their environment."""
    before = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = token
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = before


def stop(watchdog: subprocess.Popen) -> None:
    """End the watchdog of a count that closes its cluster itself."""
    if watchdog.poll() is None:
        watchdog.terminate()
        try:
            watchdog.wait(timeout=5)
        except subprocess.TimeoutExpired:
            watchdog.kill()
            watchdog.wait()
    try:
        watchdog.stdin.close()
    except OSError:
        pass


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


def _marked(token: str) -> list:
    """This user's processes (but this one) whose environment carries ``token``."""
    import psutil

    me, uid = os.getpid(), os.getuid()
    found = []
    for p in psutil.process_iter(["uids"]):
        try:
            if p.pid == me or (p.info["uids"] is not None and p.info["uids"].real != uid):
                continue
            if p.environ().get(TOKEN_ENV) == token:
                found.append(p)
        except psutil.Error:          # ended meanwhile, or its environment is not readable
            continue
    return found


def _end_cluster(noted, token: str) -> None:
    """The driver is gone: end what was noted and what carries the token, until no marked
    process is left (a raylet may start a worker while the sweep runs)."""
    _kill_all(list(noted) + _marked(token))
    for _ in range(SWEEPS):
        left = _marked(token)
        if not left:
            return
        _kill_all(left)


def _wait(seconds: float, channel: dict) -> None:
    """Sleep ``seconds``, woken by the driver's stdin: "up" (the cluster started: slower looks
    from now on) or its end (the driver closed it or died)."""
    if channel["open"]:
        ready, _, _ = select.select([0], [], [], seconds)
        if ready:
            data = os.read(0, 64)
            if not data:
                channel["open"] = False
            elif b"up" in data:
                channel["starting"] = False
    else:
        time.sleep(seconds)


def watch(driver_pid: int, token: str, ready=None) -> None:
    """Note the driver's descendants until it dies, then end the cluster (``_end_cluster``).
    ``ready()`` is called once the driver is held."""
    import psutil

    try:
        driver = psutil.Process(driver_pid)
    except psutil.Error:
        _end_cluster([], token)
        return
    if ready is not None:
        ready()
    noted: dict[int, psutil.Process] = {}
    me = os.getpid()
    channel = {"open": True, "starting": True}
    while True:
        try:
            alive = driver.is_running() and driver.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            alive = False
        if not alive:
            _end_cluster(noted.values(), token)
            return
        try:
            kids = driver.children(recursive=True)
        except psutil.Error:          # a process that ended while the tree was read
            kids = []
        for k in kids:
            if k.pid != me:
                noted.setdefault(k.pid, k)
        _wait(POLL_STARTING if channel["starting"] else POLL, channel)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def ready() -> None:
        try:
            print("ready", flush=True)
        except OSError:               # the driver stopped reading: it may be gone already
            pass

    watch(int(argv[0]), argv[1], ready)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
