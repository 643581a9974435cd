"""The compiled hot loop against the previous release, in the same run on the same machine.

    git worktree add /work/bench-prev <previous release commit>     # once
    python benchmarks/compiled.py --prev /work/bench-prev            # every row, both versions
    python benchmarks/compiled.py --prev /work/bench-prev --only 2d_16x16,6d_16x16

Every row runs in a fresh subprocess per version (``PYTHONPATH`` points at that version's
checkout), so peak resident memory is the row's own: the child prints regions, the
enumeration's seconds (``CountResult.seconds``), the whole ``count_regions`` call's seconds
(bounds included), LPs, and ``ru_maxrss``; first a tiny count loads the compiled walk from
its cache, timed apart as start-up (the load is paid once per process).
Rows: ``constructions.he_mlp(n0, widths, 0)`` in [-1, 1]^n0 (the ladder), the 3-layer 2-D
width-100 net (whole call), the digits MLP in its pixel box [0, 16]^64 with a 60 s limit
(a lower bound when it stops), and the digits CNN in the L-inf ball of radius 0.1 around
``models/digits_test_image.npy`` with a 120 s limit. The compiled walks' caches are warmed
once before the timed rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ROWS = [("2d_8x8", 2, [8, 8]), ("2d_16x16", 2, [16, 16]), ("2d_32x32", 2, [32, 32]),
        ("2d_50x50", 2, [50, 50]), ("2d_100x100", 2, [100, 100]), ("3d_32x32", 3, [32, 32]),
        ("4d_16x16", 4, [16, 16]), ("6d_16x16", 6, [16, 16]), ("8d_12x12", 8, [12, 12]),
        ("10d_10x10", 10, [10, 10]), ("2d_100x100x100", 2, [100, 100, 100]),
        ("digits_mlp", 64, None), ("digits_cnn_r0.1", 64, "cnn")]

CHILD = """
import json, resource, sys, time
from milpregions.api import count_regions
from milpregions.testing.constructions import he_mlp
name, n0, widths, limit = json.loads(sys.argv[1])
t = time.perf_counter()
count_regions(he_mlp(2, [4, 4], 0), (-1.0, 1.0))
try:                                # load the compiled walks (start-up): the rows then skip
    from milpregions.enumerator import kernel   # the Python trial (see startup.py)
    kernel.warm_up()
    from milpregions.enumerator import lp_kernel
    lp_kernel.warm_up()
except ImportError:                 # the previous release has none (or only the vertex walk)
    pass
startup = time.perf_counter() - t
t = time.perf_counter()
if widths is None:
    r = count_regions("{models}/digits_mlp.onnx", (0.0, 16.0), time_limit=limit)
elif widths == "cnn":
    from milpregions.inputs import ball_domain
    r = count_regions("{models}/digits_cnn.onnx",
                      ball_domain("{models}/digits_test_image.npy", 0.1, 64), time_limit=limit)
else:
    r = count_regions(he_mlp(n0, widths, 0), (-1.0, 1.0), time_limit=limit)
wall = time.perf_counter() - t
print(json.dumps({{"regions": r.regions, "exact": r.exact, "seconds": r.seconds, "wall": wall,
                  "startup": startup,
                  "lps": r.lps, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run(checkout: Path, row, limit: float) -> dict:
    name, n0, widths = row
    code = CHILD.format(models=REPO / "models")
    env = {"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code, json.dumps([name, n0, widths, limit])],
                         capture_output=True, text=True, env=env, cwd=checkout)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prev", type=Path, required=True, help="checkout of the previous release")
    ap.add_argument("--only", default="")
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "compiled.json")
    args = ap.parse_args()
    rows = [r for r in ROWS if not args.only or r[0] in args.only.split(",")]
    run(REPO, ("warm", 2, [4, 4]), 60)           # compile / load the cache once
    results = []
    print("| row | regions prev / cur | enumeration regions/s prev / cur | whole call s prev / cur "
          "| LPs/region cur | peak RSS MB prev / cur | start-up s prev / cur "
          "| speed-up (enumeration, whole call) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        limit = 60.0 if row[2] is None else 120.0 if row[2] == "cnn" else 900.0
        prev, cur = run(args.prev, row, limit), run(REPO, row, limit)
        results.append({"row": row[0], "prev": prev, "cur": cur})
        if "error" in prev or "error" in cur:
            print(f"| {row[0]} | error: {prev.get('error', '')} {cur.get('error', '')} |")
            continue

        def reg(x):
            return f"{x['regions']:,}" + ("" if x["exact"] else " (limit)")

        rp, rc = prev["regions"] / prev["seconds"], cur["regions"] / cur["seconds"]
        lpr = cur["lps"] / cur["regions"] if cur["regions"] else 0.0
        print(f"| {row[0]} | {reg(prev)} / {reg(cur)} | {rp:,.0f} / {rc:,.0f} | "
              f"{prev['wall']:.2f} / {cur['wall']:.2f} | {lpr:.2f} | "
              f"{prev['rss_mb']:.0f} / {cur['rss_mb']:.0f} | "
              f"{prev['startup']:.2f} / {cur['startup']:.2f} | {rc / rp:.1f}x, "
              f"{prev['wall'] / cur['wall']:.1f}x |", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
