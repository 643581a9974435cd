"""Start-up: the whole process of ``milpregions count`` on committed models (Python start,
imports, compiled-code cache load when used, count, exit), median wall time of N runs.

Usage (from the repository root)::

    python benchmarks/startup.py            # 7 runs per model; JSON to results/startup.json
    python benchmarks/startup.py --prev /work/bench-prev   # and the previous release, alternating

Run once before timing so that bytecode and numba caches are warm. Models: he_2d_8x8 (102
regions), he_2d_16x16 and he_3d_16x16 (7,639 nodes) finish inside the Python trial
(``enumerator.tree.TRIAL_NODES``) and never import numba; he_4d_16x16 (25,009 regions) and
he_2d_64x64 (6,671), written to a temporary folder, load the compiled walk (at once, since
``size_guess`` sees a large count).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from milpregions.onnx.export import to_onnx
from milpregions.testing.constructions import he_mlp

REPO = Path(__file__).resolve().parent.parent
MODELS = ["he_2d_8x8", "he_2d_16x16", "he_3d_16x16"]
BUILT = {"he_4d_16x16": (4, [16, 16]), "he_2d_64x64": (2, [64, 64])}


def wall(cmd: list[str], checkout: Path | None = None) -> tuple[float, str]:
    env = None if checkout is None else dict(os.environ, PYTHONPATH=str(checkout))
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env,
                       cwd=checkout)
    return time.perf_counter() - t, p.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "startup.json")
    ap.add_argument("--prev", type=Path, help="checkout of the previous release (same run)")
    args = ap.parse_args()
    base = [sys.executable, "-m", "milpregions"]
    python_only = statistics.median(wall([sys.executable, "-c", "pass"])[0] for _ in range(args.runs))
    print(f"bare python: {python_only:.3f} s")
    out = {"python": python_only, "rows": []}
    versions = [("cur", REPO)] + ([("prev", args.prev)] if args.prev else [])
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: REPO / "models" / f"{name}.onnx" for name in MODELS}
        for name, (d, widths) in BUILT.items():
            paths[name] = Path(tmp) / f"{name}.onnx"
            to_onnx(he_mlp(d, widths, 0), paths[name])
        for name, path in paths.items():
            cmd = base + ["count", str(path), "--box=-1,1"]
            times: dict[str, list[float]] = {label: [] for label, _ in versions}
            text = ""
            for _label, checkout in versions:
                wall(cmd, checkout)                     # warm the caches
            for _ in range(args.runs):                  # alternating
                for label, checkout in versions:
                    t, text = wall(cmd, checkout)
                    times[label].append(t)
            row = {"model": name, "output": text}
            for label, ts in times.items():
                row[label] = {"median": statistics.median(ts), "min": min(ts), "max": max(ts)}
            line = ", ".join(f"{label} median {row[label]['median']:.3f} s" for label in times)
            print(f"{name}: {text}, {line}", flush=True)
            out["rows"].append(row)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
