"""A signal during the bound tightening ends ``milpregions count`` within a second or two:
HiGHS runs in slices (``solver.highs.SLICE_SECONDS``) and the tightening asks the count's stop
request between them (it once ignored SIGINT and SIGTERM for 20 minutes on such a net)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from milpregions.ir.network import mlp
from milpregions.onnx.export import to_onnx

from child_processes import wait_for_cpu


def _wide_magnitudes_net():
    """7 inputs, four layers of 300 units, weights and biases of magnitudes 1e-12 .. 2.5e10:
    the MILP's tightening (every unit, two LPs each) takes about 40 s of CPU and starts after
    ~1.5 s, so a signal after 3 s of the process's CPU lands inside it however loaded the
    machine is."""
    rng = np.random.default_rng(2)
    sizes = [7, 300, 300, 300, 300, 1]
    Ws = [rng.choice([-1.0, 1.0], size=(b, a)) * 10.0 ** rng.uniform(-12, np.log10(2.5e10),
                                                                     size=(b, a))
          for a, b in zip(sizes, sizes[1:])]
    bs = [rng.choice([-1.0, 1.0], size=b) * 10.0 ** rng.uniform(-12, 10, size=b)
          for b in sizes[1:]]
    bs[0] = rng.uniform(-0.9, 0.9, size=sizes[1]) * np.abs(Ws[0]).sum(axis=1)
    return mlp(Ws, bs)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "magnitudes_7d.onnx"
    to_onnx(_wide_magnitudes_net(), path)
    return path


# SIGTERM (3 s of CPU) under -m slow: its twins are SIGINT here, the same stop request
# between HiGHS's slices, and SIGTERM during the walk (test_interrupt.py)
@pytest.mark.parametrize("sig", [signal.SIGINT,
                                 pytest.param(signal.SIGTERM, marks=pytest.mark.slow)])
def test_a_signal_ends_the_bound_tightening_at_once(model, sig):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "milpregions", "count", str(model), "--box",
                             "-1,1", "--method", "milp"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    wait_for_cpu(proc, 3.0)             # imports (~0.4 s of CPU), then the tightening's LPs
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert took < 3.0, took            # a slice, the exit (numba and HiGHS loaded), a busy machine
    assert err.strip().splitlines() == ["milpregions: interrupted"]
