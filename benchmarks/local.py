"""Local complexity: the exact count in the L-inf ball around each of 100 digits images, for
the digits CNN and the digits MLP, in one process and on two worker processes.

Usage (from the repository root)::

    python benchmarks/local.py                 # JSON to benchmarks/results/local.json
    python benchmarks/local.py --images 10     # the first 10 images only (a smoke run)

Data: ``models/digits_test_images.npy``, the first 100 images of the test split of
``models/build_torch_models.py`` (raw pixels 0..16, 64 inputs; the CNN reads each as 1x8x8).
Every row is one ``studies.local.local_complexity`` call over all the images at one radius
(``time_limit`` per count, default 20 s: a count it stops is a lower bound and the row says how
many), with ``jobs`` None (one process) or 2 (two spawned workers, one ball per task). Rows:

- digits CNN (Conv 4 3x3 - ReLU - MaxPool 2 - Gemm 10; the Python LP path: max groups) at
  r = 0.002, 0.005 and 0.01, one process and two workers; r = 0.005 also without LP
  tightening of the bounds (``tighten=False``: the same counts, and the bounds are most of a
  small count's time). The counts are heavy-tailed: at r = 0.01 the median ball holds about
  20 regions and a few hold 40,000-50,000 or more (a first run with a 60 s limit per count
  stopped 4 of the 100 at 60 s), so the 20 s limit stops some counts there;
- digits MLP (64-16-16-10 ReLU; the compiled LP walk) at r = 0.25, 0.5 and 1, one process and
  two workers.

``seconds`` is the wall time of the call (spawning the workers included), ``points/s`` the
images per second; ``count s`` the sum of the counts' own times (bounds included). The counts
of one process and of two workers must agree wherever both are exact (else MISMATCH, exit 1).
Also measured: the size and pickling time of one prepared CNN Problem (what a task ships).
The machine is a shared 2-CPU VM: the load average at start and end is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import sys
import time
from pathlib import Path

import numpy as np

from milpregions import prepare
from milpregions.ir.domain import Ball
from milpregions.studies.local import local_complexity

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "models" / "digits_test_images.npy"
CNN = REPO / "models" / "digits_cnn.onnx"
MLP = REPO / "models" / "digits_mlp.onnx"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "local.json"

# (name, model, radius, jobs, tighten)
ROWS = [
    ("cnn", CNN, 0.002, None, True),
    ("cnn", CNN, 0.002, 2, True),
    ("cnn", CNN, 0.005, None, True),
    ("cnn", CNN, 0.005, 2, True),
    ("cnn", CNN, 0.005, 2, False),
    ("cnn", CNN, 0.01, None, True),
    ("cnn", CNN, 0.01, 2, True),
    ("mlp", MLP, 0.25, None, True),
    ("mlp", MLP, 0.25, 2, True),
    ("mlp", MLP, 0.5, None, True),
    ("mlp", MLP, 0.5, 2, True),
    ("mlp", MLP, 1.0, None, True),
    ("mlp", MLP, 1.0, 2, True),
]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pickle_cost(X: np.ndarray) -> dict:
    """What one task ships: a prepared CNN Problem, pickled."""
    problem = prepare(str(CNN), Ball.make(X[0], 0.02, 64))
    t = time.perf_counter()
    for _ in range(20):
        blob = pickle.dumps(problem, protocol=pickle.HIGHEST_PROTOCOL)
    dump = (time.perf_counter() - t) / 20
    t = time.perf_counter()
    for _ in range(20):
        pickle.loads(blob)
    load = (time.perf_counter() - t) / 20
    return {"bytes": len(blob), "dump_ms": 1000 * dump, "load_ms": 1000 * load}


def run_row(name, model, radius, jobs, tighten, limit, X) -> dict:
    t = time.perf_counter()
    lc = local_complexity(model, X, radius, jobs=jobs, time_limit=limit, tighten=tighten)
    wall = time.perf_counter() - t
    s = lc.summary[0]
    return {"model": name, "radius": radius, "jobs": jobs, "tighten": tighten,
            "time_limit": limit, "points": s.points, "counted": s.counted,
            "lower_bounds": s.lower_bounds, "mean": s.mean, "median": s.median, "min": s.min,
            "max": s.max, "std": s.std, "q1": s.q1, "q3": s.q3, "seconds": wall,
            "points_per_second": s.points / wall,
            "count_seconds": float(np.nansum(lc.seconds)),
            "counts": lc.counts[:, 0].tolist(), "exact": lc.exact[:, 0].tolist()}


def _text(r: dict) -> str:
    jobs = "1 proc" if r["jobs"] is None else f"{r['jobs']} jobs"
    extra = "" if r["tighten"] else ", no tighten"
    lower = f"  ({r['lower_bounds']} lower bounds)" if r["lower_bounds"] else ""
    return (f"{r['model']:4} r={r['radius']:<5g} {jobs:7}{extra}: mean {r['mean']:9.2f}  "
            f"median {r['median']:8g}  max {r['max']:7d}  {r['seconds']:7.1f} s  "
            f"{r['points_per_second']:6.2f} points/s  (counts {r['count_seconds']:.1f} s)"
            f"{lower}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100, help="the first N images (default 100)")
    ap.add_argument("--time-limit", type=float, default=20.0,
                    help="per count (default 20 s)")
    ap.add_argument("--only", help="rows of this model only (cnn or mlp)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args(argv)
    X = np.load(IMAGES)[:args.images]
    doc = {"images": int(X.shape[0]), "time_limit": args.time_limit,
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                       "platform": platform.platform(), "loadavg_start": loadavg()},
           "pickle_cnn_problem": pickle_cost(X), "rows": []}
    print(f"{X.shape[0]} images, {os.cpu_count()} CPUs, load {loadavg()}; one CNN problem "
          f"pickles to {doc['pickle_cnn_problem']['bytes']:,} bytes in "
          f"{doc['pickle_cnn_problem']['dump_ms']:.2f} ms", flush=True)
    start = time.perf_counter()
    for name, model, radius, jobs, tighten in ROWS:
        if args.only and name != args.only:
            continue
        r = run_row(name, model, radius, jobs, tighten, args.time_limit, X)
        doc["rows"].append(r)
        print(_text(r), flush=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    bad = []
    rows = doc["rows"]
    for a in rows:
        for b in rows:
            if a is b or (a["model"], a["radius"]) != (b["model"], b["radius"]):
                continue
            for i, (ca, cb, ea, eb) in enumerate(zip(a["counts"], b["counts"], a["exact"],
                                                     b["exact"])):
                if ea and eb and ca != cb:
                    bad.append((a["model"], a["radius"], i, ca, cb))
    doc["mismatches"] = bad
    doc["seconds_total"] = time.perf_counter() - start
    doc["machine"]["loadavg_end"] = loadavg()
    args.json.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"total {doc['seconds_total']:.0f} s, load {doc['machine']['loadavg_start']} -> "
          f"{doc['machine']['loadavg_end']}")
    if bad:
        print(f"MISMATCH: {bad[:10]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
