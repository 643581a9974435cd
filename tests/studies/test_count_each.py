"""``count_each``: many prepared problems, each counted whole with its own settings, in this
process or on real spawned worker processes (no mocks); results in input order; a stop
leaves lower bounds and unstarted Nones; a dead worker is an error naming its problem."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

import pytest

from milpregions import Settings, count_regions, prepare
from milpregions.errors import InputError
from milpregions.ir.domain import Ball
from milpregions.studies.many import WorkerError, count_each
from milpregions.testing.constructions import general_position_layer, he_mlp, zaslavsky_count

BIG = 935_763           # he_mlp(6, [16, 16], 0) in [-1, 1]^6 (tests/cli/test_interrupt.py)


def _small_problems():
    net = he_mlp(2, [8, 8], 0)
    zas = general_position_layer(2, 7, 0)
    balls = [([0.1, 0.2], 0.1), ([-0.5, 0.3], 0.4), ([0.0, 0.0], 1.0)]
    problems = [prepare(net, Ball.make(c, r, 2)) for c, r in balls]
    problems.append(prepare(zas, (-1.0, 1.0)))
    direct = [count_regions(net, center=c, radius=r).regions for c, r in balls]
    return problems, direct + [zaslavsky_count(2, 7)]


def test_serially_each_problem_is_counted_whole_in_input_order():
    problems, expected = _small_problems()
    seen = []
    results = count_each(problems, on_result=lambda i, r: seen.append((i, r.regions)))
    assert [r.regions for r in results] == expected == [e for _, e in seen]
    assert [i for i, _ in seen] == [0, 1, 2, 3] and all(r.exact for r in results)
    assert len(set(expected)) == 4 and expected[3] == 29        # four different counts
    assert count_each(problems, 1)[2].regions == expected[2]


def test_a_stop_between_problems_leaves_the_rest_uncounted():
    problems, expected = _small_problems()
    seen = []
    results = count_each(problems, should_stop=lambda: len(seen) >= 2,
                         on_result=lambda i, r: seen.append(i))
    assert [r.regions for r in results[:2]] == expected[:2] and results[2:] == [None, None]


def test_a_stop_on_workers_stops_the_running_count_and_starts_no_other():
    problems, expected = _small_problems()
    big = prepare(he_mlp(6, [16, 16], 0), (-1.0, 1.0))
    first: list[float] = []

    def stop() -> bool:          # once problem 0 is in and the big counts have had time to start
        return bool(first) and time.monotonic() - first[0] > 0.5

    results = count_each([problems[0], big, big, problems[1]], 2, should_stop=stop,
                         on_result=lambda i, r: first.append(time.monotonic()))
    assert results[0].exact and results[0].regions == expected[0]
    # problem 1 went to the other worker at once, problem 2 to the first one after problem 0:
    # both were counting when the stop came (a worker that had not begun skips its problem)
    for running in results[1:3]:
        assert running is None or (running.stopped == "interrupted" and not running.exact
                                   and 0 <= running.regions < BIG)
    assert any(r is not None for r in results[1:3])
    assert results[3] is None                   # never started: both workers were busy


def test_a_worker_that_dies_is_an_error_naming_its_problem():
    big = prepare(he_mlp(6, [16, 16], 0), (-1.0, 1.0))
    before = {p.pid for p in mp.active_children()}
    calls: list[int] = []
    killed: list[int] = []

    def kill_the_worker() -> bool:      # the second time: the worker holds the problem
        calls.append(1)
        if len(calls) == 2:
            for p in mp.active_children():
                if p.pid not in before:
                    os.kill(p.pid, signal.SIGKILL)
                    killed.append(p.pid)
        return False

    with pytest.raises(WorkerError, match=r"^point A: the worker process counting it "
                                          r"\(pid \d+\) died \(exit code -9\)$") as e:
        count_each([big], 2, should_stop=kill_the_worker, name=lambda i: "point " + "AB"[i])
    assert e.value.index == 0 and len(killed) == 1
    assert not any(p.pid in killed for p in mp.active_children())


def test_bad_arguments_are_input_errors():
    problems, _ = _small_problems()
    with pytest.raises(InputError, match=r"^jobs must be an integer >= 0, got -1$"):
        count_each(problems, -1)
    with pytest.raises(InputError, match=r"^problem 1: expected a prepared Problem, got str$"):
        count_each([problems[0], "model.onnx"])
    own = prepare(he_mlp(2, [8, 8], 0), (-1.0, 1.0), Settings(jobs=2))
    with pytest.raises(InputError, match=r"^problem 0: its settings ask for workers of its own"):
        count_each([own], 2)


UNGUARDED_SCRIPT = """\
from milpregions import prepare
from milpregions.studies.many import count_each
from milpregions.testing.constructions import he_mlp

problems = [prepare(he_mlp(2, [8, 8], s), (-1.0, 1.0)) for s in range(3)]
{body}
"""
EACH = "print('regions', [r.regions for r in count_each(problems, jobs=2)])"


def test_a_script_without_the_main_guard_gets_a_clear_error(tmp_path):
    """Like ``count_regions(jobs=2)`` (tests/parallel/test_main_guard.py): spawned workers
    import the script again; without the guard the count raises the InputError saying so,
    and the workers leave without tracebacks (it was a WorkerError "died (exit code 1)"
    after a traceback from each worker)."""
    import subprocess
    import sys

    expected = [count_regions(he_mlp(2, [8, 8], s), (-1.0, 1.0)).regions for s in range(3)]

    def run(body: str) -> subprocess.CompletedProcess:
        path = tmp_path / "sweep.py"
        path.write_text(UNGUARDED_SCRIPT.format(body=body))
        return subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)

    guarded = run("if __name__ == '__main__':\n    " + EACH)
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout == f"regions {expected}\n"
    bare = run(EACH)
    assert bare.returncode == 1 and bare.stdout == ""
    last = bare.stderr.strip().splitlines()[-1]
    assert last.startswith("milpregions.errors.InputError: worker processes cannot start: the "
                           "script counts with jobs > 1 outside `if __name__ == \"__main__\":`")
    assert bare.stderr.count("Traceback") == 1          # the script's own, none from workers


def test_the_workers_of_many_counts_run_blas_in_one_thread(monkeypatch):
    """As ``count --jobs``'s workers (tests/parallel/test_processes.py): one BLAS thread each."""
    import psutil

    from milpregions.parallel.processes import ONE_THREAD
    from milpregions.studies.many import _Workers

    for name in ONE_THREAD:
        monkeypatch.delenv(name, raising=False)
    pool = _Workers(2)
    try:
        seen = [_environment_after_exec(psutil.Process(p.pid)) for p in pool.procs]
    finally:
        pool.close(True)
    assert [[env.get(name) for name in ONE_THREAD] for env in seen] == [["1"] * 3] * 2
    assert all(name not in os.environ for name in ONE_THREAD)


def _environment_after_exec(proc) -> dict[str, str]:
    """The environment ``proc`` was started with, once it runs Python (a process just forked,
    not yet exec'd, shows none)."""
    end = time.monotonic() + 60
    while "spawn_main" not in " ".join(proc.cmdline()):
        assert time.monotonic() < end, "the worker did not start"
        time.sleep(0.01)
    return proc.environ()
