"""Ray and Dask as they are: batches of subtrees submitted as tasks of a running (or a freshly
started local) cluster, the ``Problem`` shipped once (``ray.put`` / ``Client.scatter``).

An engine is what ``count_parallel`` needs of a cluster: ``submit`` a batch, the handles that
are ``ready``, a handle's ``result``, ``cancel`` the rest on an interrupt, ``close``. Both
engines retry a task whose worker died (their own retries); a task that still fails for that
reason is ``WorkerLost``, which ends the count as a lower bound (``stopped="worker-lost"``).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from typing import TypeVar

from ..errors import InputError
from ..problem import Problem
from ..settings import CONNECT_TIMEOUT
from . import watchdog
from .batch import WorkerLost, count_batch
from .processes import sigint_ignored_by_new_processes

T = TypeVar("T")

RETRIES = 3                     # a task whose worker died is run again this many times
LOOPBACK = "127.0.0.1"          # where a local cluster started for one count listens


def _count_remote(problem: Problem, batch, deadline: float | None):
    """A batch counted on a cluster worker (no stop request: an interrupt cancels the task)."""
    return count_batch(problem, batch, deadline, None)


#: seconds to wait for a cluster's address to accept a TCP connection (at most the connect
#: timeout) before the count is refused
CONNECT_SECONDS = 10.0


def check_reachable(engine: str, address: str, seconds: float = CONNECT_SECONDS) -> None:
    """Refuse (``InputError`` naming the address) a cluster address that does not accept a TCP
    connection within ``seconds``: the engines' own clients retry for minutes."""
    import socket
    from urllib.parse import urlsplit

    if address in ("auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or port is None:
        raise InputError(f"--address {address}: not a {engine} cluster address (HOST:PORT"
                         + (", ray://HOST:PORT" if engine == "ray" else ", tcp://HOST:PORT")
                         + ")")
    try:
        with socket.create_connection((host, port), timeout=seconds):
            pass
    except OSError as e:
        why = "no answer" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise InputError(f"--address {address}: cannot reach the {engine} cluster ({why} "
                         f"within {seconds:g} s)") from None


#: seconds a cluster at a reachable address has to accept the engine's client, unless the
#: count's ``connect_timeout`` (``--connect-timeout``) says otherwise
HANDSHAKE_SECONDS = CONNECT_TIMEOUT


def connect_within(engine: str, address: str, connect: Callable[[], T],
                   seconds: float = HANDSHAKE_SECONDS) -> T:
    """``connect()`` (the engine's client joining the cluster at ``address``), refused with an
    ``InputError`` naming the address when it has not returned within ``seconds``: something
    that accepts TCP connections but is not that cluster (another server, a firewall that
    holds connections) kept Dask's client waiting for ever and Ray's for minutes, deaf to
    SIGTERM. It runs on a daemon thread, which is left behind: it holds nothing of the count,
    and the process exits without waiting for it."""
    import threading

    done: dict = {}

    def run() -> None:
        try:
            done["value"] = connect()
        except BaseException as e:      # re-raised in the caller's thread
            done["error"] = e

    thread = threading.Thread(target=run, name=f"connect-{engine}", daemon=True)
    thread.start()
    end = time.monotonic() + seconds
    while thread.is_alive() and time.monotonic() < end:
        thread.join(min(0.2, max(0.0, end - time.monotonic())))   # signals act in between
    if thread.is_alive():
        raise InputError(f"--address {address}: no {engine} cluster answered there within "
                         f"{seconds:g} s (something accepts connections at that port)")
    if "error" in done:
        raise done["error"]
    return done["value"]


def _missing(engine: str, module: str) -> InputError:
    return InputError(f"--executor {engine} needs {module}: pip install 'milpregions[{engine}]'")


class RayEngine:
    """Tasks on Ray: ``address`` a running cluster ("auto", "ray://host:10001", ...), or None
    for a local one of ``cpus`` CPUs (all cores when None), shut down by ``close``;
    ``connect_timeout``: the seconds a running cluster has to answer."""

    def __init__(self, problem: Problem, address: str | None, cpus: int | None,
                 connect_timeout: float = HANDSHAKE_SECONDS):
        try:
            import ray
        except ImportError:
            raise _missing("ray", "Ray") from None
        self.ray = ray
        self.started = False
        self.watchdog = None
        if address is None and os.environ.get("RAY_ADDRESS"):
            address = os.environ["RAY_ADDRESS"]         # what ray.init itself would take
            logging.getLogger(__name__).info("using the Ray cluster at %s (RAY_ADDRESS)",
                                             address)
        if address is not None:
            check_reachable("ray", address, min(CONNECT_SECONDS, connect_timeout))
        if not ray.is_initialized():
            local = {} if address is not None else {"_node_ip_address": LOOPBACK}
            # Ray's own servers listen on every interface whatever node address is given; a
            # local cluster takes token authentication (Ray's default from 2.59, the lowest
            # version the [ray] extra allows), so a client without this user's token is refused
            def join() -> None:
                ray.init(address=address, num_cpus=cpus if address is None else None,
                         include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR, **local)

            if address is None:
                # a driver killed with -9 leaves its local cluster running ~25 s: a watchdog,
                # ready before the cluster starts, ends what carries this count's token
                token = watchdog.new_token()
                self.watchdog = watchdog.start(os.getpid(), token)
                try:
                    with watchdog.marked(token):
                        join()
                except BaseException:
                    watchdog.stop(self.watchdog)
                    self.watchdog = None
                    raise
                watchdog.started(self.watchdog)
            else:
                connect_within("ray", address, join, connect_timeout)
            self.started = True
        self.remote = ray.remote(num_cpus=1, max_retries=RETRIES)(_count_remote)
        self.problem = ray.put(problem)

    def workers(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def submit(self, batch, deadline: float | None):
        return self.remote.remote(self.problem, batch, deadline)

    def ready(self, handles: list, timeout: float) -> list:
        done, _ = self.ray.wait(handles, num_returns=len(handles), timeout=timeout)
        return done

    def result(self, handle):
        from ray.exceptions import NodeDiedError, WorkerCrashedError

        try:
            return self.ray.get(handle)
        except (WorkerCrashedError, NodeDiedError) as e:
            raise WorkerLost(str(e)) from None

    def cancel(self, handles: list) -> None:
        for h in handles:
            self.ray.cancel(h, force=True)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
        if self.watchdog is not None:
            watchdog.stop(self.watchdog)
            self.watchdog = None


class DaskEngine:
    """Tasks on Dask: ``address`` a running scheduler ("tcp://host:8786", e.g. one that
    dask-jobqueue started on SLURM), or None for a ``LocalCluster`` of ``cpus`` single-threaded
    worker processes (all cores when None), closed by ``close``; ``connect_timeout``: the
    seconds a running scheduler has to answer."""

    def __init__(self, problem: Problem, address: str | None, cpus: int | None,
                 connect_timeout: float = HANDSHAKE_SECONDS):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise _missing("dask", "Dask's distributed") from None
        self.cluster = None
        if address is None:
            # scheduler, its HTTP routes, nannies and workers on the loopback interface only
            with sigint_ignored_by_new_processes():   # a Ctrl-C meanwhile is lost
                self.cluster = LocalCluster(n_workers=cpus or os.cpu_count() or 1,
                                            threads_per_worker=1, processes=True,
                                            host=LOOPBACK, silence_logs=logging.ERROR,
                                            # no dashboard; the scheduler's HTTP routes on
                                            # a free port (its default 8787 taken by another
                                            # cluster printed a warning)
                                            dashboard_address=f"{LOOPBACK}:0",
                                            scheduler_kwargs={"dashboard": False})
            self.client = Client(self.cluster)
        else:
            reach = min(CONNECT_SECONDS, connect_timeout)
            check_reachable("dask", address, reach)
            try:
                self.client = connect_within(
                    "dask", address, lambda: Client(address, timeout=reach), connect_timeout)
            except OSError as e:
                raise InputError(f"--address {address}: cannot reach the dask cluster "
                                 f"({e})") from None
        self.problem = self.client.scatter(problem, broadcast=True)

    def workers(self) -> int:
        info = self.client.scheduler_info()["workers"]
        return max(1, sum(w.get("nthreads", 1) for w in info.values()))

    def submit(self, batch, deadline: float | None):
        with warnings.catch_warnings():
            # a batch of many cells is a large argument (a one-worker cluster's first task:
            # 18 MB): Dask's advice to load data through Dask went to the count's stderr
            warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
            return self.client.submit(_count_remote, self.problem, batch, deadline, pure=False,
                                      retries=RETRIES)

    def ready(self, handles: list, timeout: float) -> list:
        end = time.monotonic() + timeout
        while True:
            done = [h for h in handles if h.done()]
            if done or time.monotonic() >= end:
                return done
            time.sleep(0.02)

    def result(self, handle):
        from distributed import KilledWorker

        try:
            return handle.result()
        except KilledWorker as e:
            raise WorkerLost(str(e)) from None

    def cancel(self, handles: list) -> None:
        self.client.cancel(handles)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def open_engine(name: str, problem: Problem, address: str | None, cpus: int | None,
                connect_timeout: float = HANDSHAKE_SECONDS):
    """The engine ``name`` ("ray" or "dask") for ``problem`` (``connect_timeout``: the seconds
    a running cluster at ``address`` has to answer)."""
    if name == "ray":
        return RayEngine(problem, address, cpus, connect_timeout)
    if name == "dask":
        return DaskEngine(problem, address, cpus, connect_timeout)
    raise ValueError(f"no engine {name!r}")
