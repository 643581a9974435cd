"""Scale-out: one process against ``jobs=1`` and ``jobs=2`` worker processes, and local Ray
and Dask clusters of 2 CPUs; and a count of more than 10^7 regions, killed once and resumed.

Usage (from the repository root)::

    python benchmarks/scale.py                 # 6d_16x16, 3 rounds; JSON to results/scale.json
    python benchmarks/scale.py --rounds 5
    python benchmarks/scale.py --big           # the 10^7-region run (results/scale-big.json)
    python benchmarks/scale.py --blas          # workers' BLAS threads (results/scale-blas.json)

The net is ``constructions.he_mlp(6, [16, 16], seed=0)`` in [-1, 1]^6 (935,763 regions). The
compiled walk is loaded in the driver first; each worker loads it itself (that is part of its
time). The Ray and Dask rows start their local cluster inside the call (``executor="ray"``,
``"dask"`` with ``jobs=2``): their overhead over ``jobs=2`` is the cluster's start, shipping
the problem and the tasks, and the shut-down. Rounds alternate the settings, so that the
machine's drift (it is a shared VM) hits all of them alike; the table gives the median and the
minimum wall time of the whole ``count_regions`` call, and the speed-up of the medians over
one process.

``--blas``: ``jobs=2`` with the workers' BLAS and OpenMP at one thread (the default,
``parallel.processes.ONE_THREAD``) against two threads (``OPENBLAS_NUM_THREADS`` and the others
set to 2, as a user may: the workers keep it), rounds alternating: he_6d_16x16 whole, and the
digits CNN at radius 0.1 for 20 s (regions per second); wall time and the workers' CPU.

``--big``: ``milpregions count`` of ``he_mlp(6, [24, 28], 0)`` (an ONNX file) with ``--jobs 2
--checkpoint``, killed with SIGKILL after ``--kill-after`` seconds, then the same command again
until it finishes; the peak resident memory of the driver and of the largest worker (VmHWM,
polled), the checkpoint's size, and the time of both runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path

from milpregions.api import count_regions
from milpregions.testing.constructions import he_mlp

REPO = Path(__file__).resolve().parent.parent
SETTINGS = [("one process", None, "local"), ("jobs=1", 1, "local"), ("jobs=2", 2, "local"),
            ("ray, 2 CPUs", 2, "ray"), ("dask, 2 workers", 2, "dask")]


def _hwm_mb(pid: int) -> float:
    """The peak resident memory of a live process (VmHWM), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _watched_run(cmd: list[str], kill_after: float | None) -> dict:
    """Run ``cmd``, polling the peak memory of it and its children; SIGKILL it (and its
    workers) after ``kill_after`` seconds when given."""
    import signal
    import subprocess

    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    driver = workers = 0.0
    killed = False
    while proc.poll() is None:
        driver = max(driver, _hwm_mb(proc.pid))
        for c in _children(proc.pid):
            workers = max(workers, _hwm_mb(c))
        if kill_after is not None and time.perf_counter() - t > kill_after:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.5)
    out, err = proc.communicate()
    return {"seconds": time.perf_counter() - t, "killed": killed, "returncode": proc.returncode,
            "driver_mb": driver, "worker_mb": workers,
            "result": json.loads(out) if out.strip() and not killed else None,
            "stderr": err.strip()[-500:]}


def big(args) -> None:
    """The 10^7-region run with a kill and a resume."""
    import sys
    import tempfile

    from milpregions.onnx.export import to_onnx

    with tempfile.TemporaryDirectory() as tmp:
        model, ck = Path(tmp) / "he_6d_24x28.onnx", Path(tmp) / "run.sqlite"
        to_onnx(he_mlp(6, [24, 28], seed=0), model)
        cmd = [sys.executable, "-m", "milpregions", "count", str(model), "--box", "-1,1",
               "--jobs", "2", "--checkpoint", str(ck), "--json"]
        first = _watched_run(cmd, args.kill_after)
        print(f"first run: killed={first['killed']} after {first['seconds']:.0f} s", flush=True)
        ck_killed = ck.stat().st_size
        second = _watched_run(cmd, None)
        size = ck.stat().st_size
    res = second["result"] or {}
    print(f"resumed run: {res.get('regions', 0):,} regions, exact={res.get('exact')}, "
          f"{second['seconds']:.0f} s; total {first['seconds'] + second['seconds']:.0f} s")
    print(f"peak RSS: driver {max(first['driver_mb'], second['driver_mb']):.0f} MB, largest "
          f"worker {max(first['worker_mb'], second['worker_mb']):.0f} MB; checkpoint "
          f"{size / 1024:.0f} KiB ({ck_killed / 1024:.0f} KiB when killed)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"first": first, "second": second, "checkpoint_bytes": size,
                                     "checkpoint_bytes_killed": ck_killed}, indent=1) + "\n")


def blas(args) -> None:
    """jobs=2 with one BLAS thread per worker (the default) against two."""
    import numpy as np

    from milpregions.enumerator import kernel, lp_kernel
    from milpregions.parallel.processes import ONE_THREAD

    kernel.warm_up()
    lp_kernel.warm_up()
    image = np.load(REPO / "models" / "digits_test_image.npy")
    cases = [("he_6d_16x16", he_mlp(6, [16, 16], seed=0), {"box": (-1.0, 1.0)}),
             ("digits_cnn r=0.1, 20 s", REPO / "models" / "digits_cnn.onnx",
              {"center": image, "radius": 0.1, "time_limit": 20.0})]
    settings = [("1 thread (default)", None), ("2 threads (user-set)", "2")]
    rows: dict[tuple[str, str], list[dict]] = {}
    for _ in range(args.rounds):
        for case, model, where in cases:
            for name, threads in settings:
                for var in ONE_THREAD:
                    os.environ.pop(var, None)
                    if threads is not None:
                        os.environ[var] = threads
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                r = count_regions(model, jobs=2, **where)
                wall = time.perf_counter() - t
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
                rows.setdefault((case, name), []).append(
                    {"regions": r.regions, "exact": r.exact, "seconds": wall,
                     "workers_cpu": cpu, "rate": r.regions / wall})
                print(f"{case}, {name}: {r.regions:,} regions in {wall:.1f} s, workers "
                      f"{cpu:.1f} s of CPU", flush=True)
    for var in ONE_THREAD:
        os.environ.pop(var, None)
    print("| count | workers' BLAS | regions | median s | median regions/s | workers' CPU s |")
    print("|---|---|---|---|---|---|")
    out = []
    for (case, name), runs in rows.items():
        med = statistics.median(x["seconds"] for x in runs)
        rate = statistics.median(x["rate"] for x in runs)
        cpu = statistics.median(x["workers_cpu"] for x in runs)
        print(f"| {case} | {name} | {runs[-1]['regions']:,} | {med:.1f} | {rate:,.0f} | "
              f"{cpu:.1f} |")
        out.append({"count": case, "blas": name, "runs": runs})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big", action="store_true", help="the 10^7-region run instead")
    ap.add_argument("--blas", action="store_true",
                    help="jobs=2 with one BLAS thread per worker against two instead")
    ap.add_argument("--kill-after", type=float, default=90.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.json is None:
        name = "scale-big.json" if args.big else "scale-blas.json" if args.blas else "scale.json"
        args.json = REPO / "benchmarks" / "results" / name
    if args.big:
        big(args)
        return
    if args.blas:
        blas(args)
        return
    from milpregions.enumerator import kernel

    kernel.warm_up()
    net = he_mlp(6, [16, 16], seed=0)
    times: dict[str, list[float]] = {name: [] for name, _, _ in SETTINGS}
    counts: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, jobs, executor in SETTINGS:
            t = time.perf_counter()
            r = count_regions(net, (-1.0, 1.0), jobs=jobs, executor=executor)
            times[name].append(time.perf_counter() - t)
            counts[name] = r.regions
            print(f"{name}: {r.regions} regions in {times[name][-1]:.1f} s", flush=True)
    base = statistics.median(times["one process"])
    rows = []
    print("| setting | regions | median s | min s | speed-up (medians) |")
    print("|---|---|---|---|---|")
    for name, _, _ in SETTINGS:
        med = statistics.median(times[name])
        rows.append({"setting": name, "regions": counts[name], "times": times[name],
                     "median": med, "speedup": base / med})
        print(f"| {name} | {counts[name]:,} | {med:.1f} | {min(times[name]):.1f} | "
              f"{base / med:.2f}x |")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: driver {rss:.0f} MB, largest worker {child:.0f} MB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows, "driver_rss_mb": rss,
                                     "worker_rss_mb": child}, indent=1) + "\n")


if __name__ == "__main__":
    main()
