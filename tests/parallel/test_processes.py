"""The local worker pool lets its workers go when a count ends: every live worker leaves by
itself (exit 0) when told, after a lost worker or an interrupt as after a finished count; none
waits on its pipe until the driver's 5-s join runs out and terminates it (a Ctrl-C or a lost
worker ended a count 5 s late)."""

from __future__ import annotations

import os
import signal

import pytest

from milpregions.parallel.processes import Workers
from milpregions.problem import prepare
from milpregions.settings import Settings
from milpregions.testing import constructions as C


@pytest.mark.parametrize("lost", [True, False], ids=["a worker lost", "interrupted"])
def test_the_live_workers_leave_by_themselves(lost):
    problem = prepare(C.he_mlp(2, [4, 4], 0), (-1.0, 1.0), Settings())
    pool = Workers(3, problem, None)
    if lost:
        dead = pool.procs[0]
        os.kill(dead.pid, signal.SIGKILL)
        dead.join()
    pool.request_stop()
    pool.close(lost)
    live = pool.procs[1:] if lost else pool.procs
    assert [p.exitcode for p in live] == [0] * len(live)      # none terminated (-15)


def test_a_worker_runs_blas_in_one_thread_unless_the_user_chose(monkeypatch):
    """One worker per core keeps the cores busy: each worker's BLAS and OpenMP pools get one
    thread (the environment the spawned process starts with), a number the user set stays,
    and the driver's own environment is left as it was."""
    import psutil

    from milpregions.parallel.processes import ONE_THREAD

    for name in ONE_THREAD:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    problem = prepare(C.he_mlp(2, [4, 4], 0), (-1.0, 1.0), Settings())
    pool = Workers(2, problem, None)
    try:
        seen = [psutil.Process(p.pid).environ() for p in pool.procs]
    finally:
        pool.close(False)
    assert [{name: env.get(name) for name in ONE_THREAD} for env in seen] == [
        {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "3"}] * 2
    assert [os.environ.get(name) for name in ONE_THREAD] == [None, None, "3"]
