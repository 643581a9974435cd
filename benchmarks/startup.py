"""Start-up: the whole process of ``milpregions count`` on committed models (Python start,
imports, compiled-code cache load when used, count, exit), median wall time of N runs.

Usage (from the repository root)::

    python benchmarks/startup.py            # 7 runs per model; JSON to results/startup.json

Run once before timing so that bytecode and numba caches are warm. Models: he_2d_8x8 (102
regions), he_2d_16x16 and he_3d_16x16 (7,639 nodes): all three finish inside the Python trial
(``enumerator.tree.TRIAL_NODES``), so none imports numba.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS = ["he_2d_8x8", "he_2d_16x16", "he_3d_16x16"]


def wall(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t, p.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "startup.json")
    args = ap.parse_args()
    exe = shutil.which("milpregions") or sys.executable
    base = [exe] if exe.endswith("milpregions") else [exe, "-m", "milpregions"]
    python_only = statistics.median(wall([sys.executable, "-c", "pass"])[0] for _ in range(args.runs))
    print(f"bare python: {python_only:.3f} s")
    out = {"python": python_only, "rows": []}
    for name in MODELS:
        cmd = base + ["count", str(REPO / "models" / f"{name}.onnx"), "--box", "-1,1"]
        wall(cmd)                                   # warm the caches
        times, text = [], ""
        for _ in range(args.runs):
            t, text = wall(cmd)
            times.append(t)
        med = statistics.median(times)
        print(f"{name}: {text}, median {med:.3f} s (min {min(times):.3f}, max {max(times):.3f})")
        out["rows"].append({"model": name, "output": text, "median": med, "min": min(times),
                            "max": max(times)})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
