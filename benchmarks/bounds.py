"""What each kind of pre-activation bound costs and buys: interval, symbolic (back-substitution),
LP tightening of every unstable unit ("all", the MILP's) and of the near-stable ones only
("near-stable", the tree's LP path).

Usage (from the repository root)::

    python benchmarks/bounds.py            # table on stdout, JSON to benchmarks/results/bounds.json

Rows: the ladder's He nets (``constructions.he_mlp(n0, widths, seed=0)`` in [-1, 1]^n0) and
the digits models in their pixel box [0, 16]^64 and in the L-inf ball of radius 1 (pixels)
around ``models/digits_test_image.npy``. Per row and kind: seconds (median of 3; LP kinds: 1
run), units left unstable (what the tree branches on), the mean width of the last layer's
bounds, and LPs. Every kind is sound (tests/bounds); the count does not depend on the kind.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from milpregions.bounds import interval_bounds, lp_tighten, symbolic_bounds
from milpregions.bounds.interval import Bounds
from milpregions.problem import prepare
from milpregions.testing.constructions import he_mlp

REPO = Path(__file__).resolve().parent.parent
HE_ROWS = [(2, [100, 100, 100]), (2, [16] * 6), (3, [32, 32]), (4, [20, 20, 20, 20]),
           (6, [16, 16]), (8, [12, 12]), (10, [10, 10])]


def _timed(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def _describe(b: Bounds, seconds: float) -> dict:
    last = len(b.lo) - 1
    return {"seconds": seconds, "unstable": b.n_unstable, "lps": b.lps,
            "last_width": float(np.mean(b.hi[last] - b.lo[last]))}


def measure(net) -> dict:
    ib, t_i = _timed(lambda: interval_bounds(net), 3)
    sb, t_s = _timed(lambda: symbolic_bounds(net, interval_bounds(net)), 3)
    near, t_n = _timed(lambda: lp_tighten(net, symbolic_bounds(net, interval_bounds(net)), near=0.1), 1)
    full, t_f = _timed(lambda: lp_tighten(net, symbolic_bounds(net, interval_bounds(net))), 1)
    return {"interval": _describe(ib, t_i), "symbolic": _describe(sb, t_s),
            "near-stable": _describe(near, t_n), "all": _describe(full, t_f)}


def rows():
    for n0, widths in HE_ROWS:
        yield f"{n0}d_{'x'.join(map(str, widths))}", he_mlp(n0, widths, seed=0)
    x = np.load(REPO / "models" / "digits_test_image.npy").reshape(-1)
    for model in ("digits_mlp", "digits_cnn"):
        path = REPO / "models" / f"{model}.onnx"
        yield f"{model} [0,16]^64", prepare(path, (0.0, 16.0)).unit_net
        yield f"{model} ball r=1", prepare(path, (np.clip(x - 1, 0, 16), np.clip(x + 1, 0, 16))).unit_net


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "bounds.json")
    args = ap.parse_args()
    out = []
    print("| row | interval: s, unstable, width | symbolic | near-stable LPs | all LPs |")
    print("|---|---|---|---|---|")
    for name, net in rows():
        m = measure(net)
        out.append({"row": name, **m})
        cells = [f"{m[k]['seconds'] * 1e3:.1f} ms, {m[k]['unstable']}, {m[k]['last_width']:.3g}"
                 + (f", {m[k]['lps']} LPs" if k in ("near-stable", "all") else "")
                 for k in ("interval", "symbolic", "near-stable", "all")]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
