"""kill -9 of a driver counting with worker processes: the workers notice they are orphaned,
stop within seconds and leave quietly (no traceback, no leaked-semaphore warning)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil

from milpregions.onnx.export import to_onnx
from milpregions.testing.constructions import he_mlp

from child_processes import wait_for_lines


def test_workers_of_a_killed_driver_end_quietly(tmp_path):
    model = tmp_path / "he.onnx"
    to_onnx(he_mlp(5, [16, 16], 0), model)          # 118,561 regions in 32 batches
    err, regions = tmp_path / "stderr.txt", tmp_path / "regions.jsonl"
    with open(err, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "milpregions", "count", str(model),
                                 "--box", "-1,1", "--jobs", "2", "--quiet", "--regions",
                                 str(regions)], stdout=subprocess.DEVNULL, stderr=fh)
        driver = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        workers = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [c for c in driver.children(recursive=True)
                       if "spawn_main" in " ".join(c.cmdline())]
            time.sleep(0.2)
        assert len(workers) >= 2, "the workers started"
        wait_for_lines(regions, 1, proc)            # a first batch is in: counting the next
        assert proc.poll() is None, "killed inside the count"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        gone, alive = psutil.wait_procs(workers, timeout=15)
        for p in alive:
            p.kill()
        assert not alive, "workers outlived their driver by 15 s"
        time.sleep(1.0)                             # a resource tracker's last words
    text = err.read_text()
    assert "Traceback" not in text and "leaked" not in text, text


def test_a_local_ray_cluster_ends_with_its_killed_driver(tmp_path):
    """Ray's gcs_server, raylet, agents and workers outlived a driver killed with -9 by ~25 s
    (two agents were still there after 30 s); the count's watchdog ends them within seconds."""
    model = tmp_path / "he.onnx"
    to_onnx(he_mlp(6, [16, 16], 0), model)          # 935,763 regions: far longer than this
    proc = subprocess.Popen([sys.executable, "-m", "milpregions", "count", str(model),
                             "--box", "-1,1", "--executor", "ray", "--jobs", "2", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    workers = []
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        workers = [c for c in driver.children(recursive=True)
                   if " ".join(c.cmdline()).startswith("ray::")]
        time.sleep(0.2)
    assert len(workers) >= 2, "the Ray workers started"
    kids: list = []
    while time.monotonic() < deadline and not any(
            "watchdog" in " ".join(c.cmdline()) for c in kids):
        time.sleep(0.2)
        kids = driver.children(recursive=True)
    assert any("watchdog" in " ".join(c.cmdline()) for c in kids), "the watchdog started"
    time.sleep(1.0)                                 # its first looks at the cluster
    kids = driver.children(recursive=True)
    cluster = [c for c in kids if "watchdog" not in " ".join(c.cmdline())]
    assert any("gcs_server" in " ".join(c.cmdline()) for c in cluster)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    gone, alive = psutil.wait_procs(cluster, timeout=10)

    def running(p: psutil.Process) -> bool:     # a zombie has ended; its new parent reaps it
        try:
            return p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    alive = [p for p in alive if running(p)]
    names = [" ".join(p.cmdline())[:60] for p in alive]
    for p in alive:
        p.kill()
    assert not alive, f"outlived their driver by 10 s: {names}"


def _running(p: psutil.Process) -> bool:
    """Not ended (a zombie has ended; its new parent reaps it)."""
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_driver_killed_while_its_ray_cluster_starts_leaves_nothing(tmp_path):
    """Killed 0.25 s after the raylet's first agent appears, in the middle of ``ray.init``:
    the gcs_server and raylet die with the driver, and the agents, orphaned, used to outlive it
    by more than 30 s (the watchdog started only after ``ray.init``). Now what the driver had
    started, and every process carrying the count's cluster token, ends within 10 s."""
    from milpregions.parallel.watchdog import TOKEN_ENV

    model = tmp_path / "he.onnx"
    to_onnx(he_mlp(6, [16, 16], 0), model)
    proc = subprocess.Popen([sys.executable, "-m", "milpregions", "count", str(model),
                             "--box", "-1,1", "--executor", "ray", "--jobs", "2", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = psutil.Process(proc.pid)
    deadline = time.monotonic() + 180
    agent = None
    while agent is None and time.monotonic() < deadline and proc.poll() is None:
        agent = next((c for c in driver.children(recursive=True)
                      if " ".join(c.cmdline()).startswith("ray::")), None)
        time.sleep(0.005)
    assert agent is not None, "the raylet started its agents"
    time.sleep(0.25)
    started = driver.children(recursive=True)
    tokens = set()
    for p in started:
        try:
            tokens.add(p.environ().get(TOKEN_ENV))
        except psutil.Error:
            continue
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    tokens.discard(None)
    assert len(tokens) == 1, "the cluster carries the count's token"
    (token,) = tokens

    def marked() -> list[psutil.Process]:
        out = []
        for p in psutil.process_iter():
            try:
                if p.environ().get(TOKEN_ENV) == token:
                    out.append(p)
            except psutil.Error:
                continue
        return out

    end = time.monotonic() + 10
    left = started
    while time.monotonic() < end:
        left = [p for p in set(started) | set(marked()) if _running(p)]
        if not left:
            break
        time.sleep(0.25)
    names = [" ".join(p.cmdline())[:60] for p in left if _running(p)]
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    assert not names, f"outlived their driver by 10 s: {names}"
