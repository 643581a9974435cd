"""Local scale-out: one process against ``jobs=1`` and ``jobs=2`` worker processes.

Usage (from the repository root)::

    python benchmarks/scale.py                 # 6d_16x16, 3 rounds; JSON to results/scale.json
    python benchmarks/scale.py --rounds 5

The net is ``constructions.he_mlp(6, [16, 16], seed=0)`` in [-1, 1]^6 (935,763 regions). The
compiled walk is loaded in the driver first; each worker loads it itself (that is part of its
time). Rounds alternate the three settings, so that the machine's drift (it is a shared VM)
hits all of them alike; the table gives the median and the minimum wall time of the whole
``count_regions`` call, and the speed-up of the medians over one process.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

from milpregions.api import count_regions
from milpregions.testing.constructions import he_mlp

REPO = Path(__file__).resolve().parent.parent
SETTINGS = [("one process", None), ("jobs=1", 1), ("jobs=2", 2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "scale.json")
    args = ap.parse_args()
    from milpregions.enumerator import kernel

    kernel.warm_up()
    net = he_mlp(6, [16, 16], seed=0)
    times: dict[str, list[float]] = {name: [] for name, _ in SETTINGS}
    counts: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, jobs in SETTINGS:
            t = time.perf_counter()
            r = count_regions(net, (-1.0, 1.0), jobs=jobs)
            times[name].append(time.perf_counter() - t)
            counts[name] = r.regions
            print(f"{name}: {r.regions} regions in {times[name][-1]:.1f} s", flush=True)
    base = statistics.median(times["one process"])
    rows = []
    print("| setting | regions | median s | min s | speed-up (medians) |")
    print("|---|---|---|---|---|")
    for name, _ in SETTINGS:
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
