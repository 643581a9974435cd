"""Dynamic load balancing: a task that outgrows its budget hands back the rest of its walk as
new tasks. The count, the regions and the statistics do not depend on the budget, the number
of workers or the executor; the handed-back tasks survive kill -9 in the checkpoint."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from test_local import _maxout_net

from milpregions.api import count_regions
from milpregions.enumerator import TreeCounter
from milpregions.enumerator.tree import PackedStack
from milpregions.problem import prepare
from milpregions.settings import Settings
from milpregions.testing import constructions as C


class _Display:
    def __init__(self):
        self.seen = []

    def tasks(self, t):
        self.seen.append(t)

    def __call__(self, *a):
        pass


def _patterns(net, **kw):
    found = []
    res = count_regions(net, (-1.0, 1.0), on_region=lambda r: found.append(
        json.dumps([[int(x) for x in p] for p in r.pattern])), **kw)
    return res, sorted(found)


def test_a_frontier_handed_back_is_counted_once():
    """A task budget of 1 us: every task hands back its stack after its first block of at least
    TASK_MIN_NODES nodes (1 ms let a fast machine finish some tasks within it)."""
    p = prepare(C.he_mlp(3, [12, 12, 8], 0), (-1.0, 1.0), Settings())
    whole = TreeCounter(p.unit_net, p.tree_bounds, compiled=True).run()
    split = TreeCounter(p.unit_net, p.tree_bounds, compiled=True).split()
    queue, regions, tasks = [split.batch(np.arange(len(split)))], 0, 0
    while queue:
        counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=True)
        queue += counter.count_split_cells(queue.pop(), seconds=1e-6, pieces=3)
        regions += counter.finish().regions
        tasks += 1
    assert tasks > 10 and regions == whole.regions == 2724


@pytest.mark.parametrize("jobs", [1, 2])
def test_tiny_task_budgets_give_the_count_and_regions_of_one_process(jobs):
    net = C.he_mlp(3, [12, 12, 8], 0)
    one, found1 = _patterns(net)
    display = _Display()
    res, found = _patterns(net, jobs=jobs, task_seconds=1e-6, progress=display)
    assert res.exact and res.regions == one.regions and found == found1
    assert res.nodes == one.nodes               # every stack entry is popped once, anywhere
    last = display.seen[-1]
    assert last.total > 2 * 16 and last.finished == last.total      # tasks were handed back
    assert abs(last.covered - 1.0) < 1e-9


def test_lp_path_tasks_hand_back_their_rest_too():
    net = C.he_mlp(8, [6, 6], 1)
    one, found1 = _patterns(net)
    display = _Display()
    res, found = _patterns(net, jobs=2, task_seconds=1e-6, progress=display)
    assert res.exact and res.regions == one.regions and found == found1
    assert display.seen[-1].total > 2 * 16


def test_python_path_tasks_hand_back_the_cells_not_begun():
    p = prepare(_maxout_net(), (-1.0, 1.0), Settings())
    whole = TreeCounter(p.unit_net, p.tree_bounds, compiled=False).run().regions
    split = TreeCounter(p.unit_net, p.tree_bounds, compiled=False).split()
    assert not split.compiled and len(split) > 3
    queue, regions, tasks = [split.batch(np.arange(len(split)))], 0, 0
    while queue:
        counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=False)
        task = queue.pop()
        rest = counter.count_split_cells(task, seconds=0.0)
        if len(task) == 1:
            assert rest == []
        else:                                   # one cell, then the rest back, as they were
            assert len(rest) == 1 and all(a is b for a, b in zip(rest[0], task[1:], strict=True))
        queue += rest
        regions += counter.finish().regions
        tasks += 1
    assert tasks == len(split) and regions == whole


def test_a_packed_stack_pickles():
    import pickle

    p = prepare(C.he_mlp(3, [12, 12, 8], 0), (-1.0, 1.0), Settings())
    split = TreeCounter(p.unit_net, p.tree_bounds, compiled=True).split()
    counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=True)
    # a budget of 0 s: one block of the walk (every task makes progress), then the rest back
    rest = counter.count_split_cells(split.batch(np.arange(len(split))), seconds=0.0)
    assert rest and all(isinstance(t, PackedStack) for t in rest)
    again = pickle.loads(pickle.dumps(rest))
    total = counter.finish().regions
    for t in again:
        c = TreeCounter(p.unit_net, p.tree_bounds, compiled=True)
        assert c.count_split_cells(t) == []
        total += c.finish().regions
    assert total == 2724


def test_kill_9_with_handed_back_tasks_then_resume(tmp_path):
    from milpregions.onnx.export import to_onnx

    model = tmp_path / "he_4d_16x16.onnx"
    to_onnx(C.he_mlp(4, [16, 16], 0), model)
    ck, regions = tmp_path / "run.sqlite", tmp_path / "regions.jsonl"
    cmd = [sys.executable, "-m", "milpregions", "count", str(model), "--box", "-1,1",
           "--checkpoint", str(ck), "--regions", str(regions), "--json", "--task-seconds",
           "0.00001"]
    rng = random.Random(3)

    def pending() -> int:
        """Handed-back tasks recorded and not yet counted (0 while the file is busy)."""
        if not ck.exists():
            return 0
        try:
            with sqlite3.connect(ck, timeout=0.05) as db:
                return db.execute("SELECT COUNT(*) FROM task WHERE id NOT IN "
                                  "(SELECT id FROM batch)").fetchone()[0]
        except sqlite3.Error:
            return 0

    pending_seen = 0                    # handed-back tasks not yet counted when a run died
    for attempt in range(3):
        extra = ["--jobs", "2"] if attempt % 2 else []
        proc = subprocess.Popen(cmd + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # the whole count takes a few seconds: kill it at a random moment soon after it has
        # handed tasks back (the machine's speed decides when that is)
        end = time.monotonic() + 120
        while pending() == 0 and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        pending_seen = max(pending_seen, pending())
    # the last resume on two workers: the only local one in the suite that runs to the end
    done = subprocess.run(cmd + ["--jobs", "2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    d = json.loads(done.stdout)
    assert d["regions"] == 25_009 and d["exact"] is True
    lines = regions.read_text().splitlines()
    assert len(lines) == len({json.dumps(json.loads(x)["pattern"]) for x in lines}) == 25_009
    assert pending_seen > 0


@pytest.mark.parametrize("net", [C.he_mlp(8, [6, 6], 1), _maxout_net()],
                         ids=["relu_8d", "maxout"])
def test_the_lp_walk_splits_compiled_into_the_cells_of_the_python_walk(net):
    """The LP path's split at layer 1 is the compiled LP walk's (before, the Python walk's:
    a 64-input MLP's 2^16 layer-1 cells took minutes of HiGHS LPs, so ``--jobs 2`` stopped
    at its time limit with 0 regions); the same cells, and their subtrees as packed stacks
    count the regions of one process."""
    p = prepare(net, (-1.0, 1.0), Settings())
    compiled = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0).split()
    python = TreeCounter(p.unit_net, p.tree_bounds, compiled=False, vertex_dim=0).split()
    assert compiled.compiled and not python.compiled and compiled.vertices() is None
    key = [tuple(np.asarray(x, np.int64).tolist()) for x in compiled.patterns()]
    assert sorted(key) == sorted(tuple(np.asarray(x, np.int64).tolist())
                                 for x in python.patterns())
    whole = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0).run().regions
    regions = 0
    for i in range(len(compiled)):
        counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0)
        task = compiled.batch(np.array([i]))
        assert isinstance(task, PackedStack) and task.lp
        assert counter.count_split_cells(task) == []
        regions += counter.finish().regions
    assert regions == whole and len(compiled) > 3


@pytest.mark.parametrize("nodes", [0, 40])
def test_an_lp_split_that_runs_out_of_nodes_hands_out_its_stack(monkeypatch, nodes):
    """With no nodes left before layer 1, the LP walk's split hands out its stack's entries
    as subtrees: they count the regions of one process, and a second split (a resumed
    checkpoint's) finds the same cells in the same order."""
    from milpregions.enumerator import tree

    monkeypatch.setattr(tree, "SPLIT_NODES", nodes)
    p = prepare(C.he_mlp(8, [6, 6], 1), (-1.0, 1.0), Settings())
    split = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0).split()
    again = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0).split()
    whole = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0).run().regions
    patterns = [np.asarray(x).tolist() for x in split.patterns()]
    assert patterns == [np.asarray(x).tolist() for x in again.patterns()]
    if nodes == 0:
        assert patterns == [[]]                                   # the root, not walked
    else:                                   # stack entries of layer 0 beside cells of layer 1
        assert [] in patterns and any(len(x) == 6 for x in patterns)
    regions = 0
    for i in range(len(split)):
        counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=True, vertex_dim=0)
        assert counter.count_split_cells(split.batch(np.array([i]))) == []
        regions += counter.finish().regions
    assert regions == whole
