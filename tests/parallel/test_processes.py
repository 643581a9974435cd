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
