"""``jobs``: the count on worker processes (real spawned processes, no mocks) equals the
count in one process on the compiled walk, the Python vertex path (max groups) and the LP
path; every region reaches ``on_region`` once; limits and interrupts give lower bounds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.errors import InputError
from milpregions.ir.network import Affine, Layer, MaxLayer, Network
from milpregions.onnx.export import to_onnx
from milpregions.testing import constructions as C

from child_processes import wait_for_lines


def _maxout_net() -> Network:
    """Two maxout layers (groups of 3 and 2 pieces) and a ReLU layer: the Python path."""
    rng = np.random.default_rng(3)
    l1 = MaxLayer(Affine({0: rng.normal(size=(12, 2))}, rng.normal(size=12) * 0.3),
                  np.arange(12).reshape(4, 3))
    l2 = MaxLayer(Affine({1: rng.normal(size=(6, 4))}, rng.normal(size=6) * 0.3),
                  np.arange(6).reshape(3, 2))
    l3 = Layer(Affine({2: rng.normal(size=(4, 3))}, rng.normal(size=4) * 0.3), np.zeros(4))
    return Network(2, (l1, l2, l3), Affine({3: np.ones((1, 4))}, np.zeros(1)))


def _patterns(model, box, **kw):
    found = []
    res = count_regions(model, box, on_region=lambda r: found.append(
        json.dumps([[int(x) for x in p] for p in r.pattern])), **kw)
    return res, found


@pytest.mark.parametrize("name,make,box", [
    ("compiled walk", lambda m: C.he_mlp(3, [12, 12, 8], 0), (-1.0, 1.0)),
    ("python path (max groups)", lambda m: _maxout_net(), (-1.0, 1.0)),
    ("lp path", lambda m: C.he_mlp(8, [6, 6], 1), (-1.0, 1.0)),
])
def test_two_workers_count_what_one_process_counts(name, make, box, models_dir):
    net = make(models_dir)
    one, found1 = _patterns(net, box)
    two, found2 = _patterns(net, box, jobs=2)
    assert two.exact and two.regions == one.regions == len(found2) > 1
    assert sorted(found2) == sorted(found1)


def test_a_time_limit_with_workers_is_a_lower_bound():
    net = C.he_mlp(6, [16, 16], 0)
    res = count_regions(net, (-1.0, 1.0), jobs=2, time_limit=2.0)
    assert not res.exact and res.stopped == "time-limit" and 0 <= res.regions < 935_763


def test_jobs_settings_are_checked():
    with pytest.raises(InputError, match="--max-regions cannot be combined with --jobs"):
        count_regions(C.he_mlp(2, [4, 4], 0), (-1.0, 1.0), jobs=2, max_regions=3)
    with pytest.raises(InputError, match="jobs must be an integer >= 0, got -1"):
        count_regions(C.he_mlp(2, [4, 4], 0), (-1.0, 1.0), jobs=-1)


def test_ctrl_c_stops_the_workers_with_a_lower_bound(tmp_path):
    model = tmp_path / "he_5d_16x16.onnx"
    to_onnx(C.he_mlp(5, [16, 16], 0), model)       # 118,561 regions in 32 batches
    regions = tmp_path / "regions.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "milpregions", "count", str(model), "--box",
                             "-1,1", "--jobs", "2", "--json", "--regions", str(regions)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    wait_for_lines(regions, 1, proc)                # a first batch is in
    os.killpg(proc.pid, signal.SIGINT)              # Ctrl-C at a terminal: the whole group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3 and err == "", err
    d = json.loads(out)
    assert d["stopped"] == "interrupted" and d["lower_bound"] is True
    lines = regions.read_text().splitlines()
    assert 0 < d["regions"] == len(lines) == len(set(lines)) < 118_561
