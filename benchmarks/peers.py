"""Low-dimensional counts side by side with the peers, in one run, alternating (issue 22).

    python benchmarks/peers.py                          # every row; peers that are installed
    python benchmarks/peers.py --prev /work/bench-prev  # and the previous release, same run
    python benchmarks/peers.py --edge-subdivision PATH  # a checkout of
                                                        # arturs-berzins/relu_edge_subdivision
    python benchmarks/peers.py --only d2_64x64,d3_32x32 --runs 5

Rows: ``constructions.he_mlp(d, widths, seed=0)`` written to ONNX, box [-1, 1]^d (the shapes of
the issue's table; the issue's own files were other He draws, so the counts differ).

- milpregions: the whole process of ``python -m milpregions count FILE --box -1,1`` (start,
  imports, ONNX import, bounds, count, exit), median of ``--runs``; the count is read back.
- previous release (``--prev``): the same command with that checkout first on ``PYTHONPATH``.
- regioncam (``pip install regioncam``, 2-D rows): its own compute time only, as the issue
  measured it: the network's layers added to a ``Regioncam`` of the square (float32, its only
  type), then ``num_faces``; its import and our conversion excluded. Its face count is compared
  with ours.
- edge subdivision (``--edge-subdivision``, d >= 3 rows): ``skeletal_subdivision`` on the CPU
  (torch, float32), its compute time only. It returns the vertices and edges of the complex,
  not a region count, so only its time is reported.

Ratios are milpregions' time over the peer's per row, and their geometric mean; the machine's
absolute seconds are not comparable between runs, the ratios of one run are.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from milpregions.onnx.export import to_onnx
from milpregions.testing.constructions import he_mlp

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON = REPO / "benchmarks" / "results" / "peers.json"

ROWS = [
    (2, (64, 64)), (2, (100, 100)), (2, (32, 32, 32)), (2, (200, 200)), (2, (400, 300)),
    (3, (32, 32)), (4, (12, 12, 12)), (6, (10, 10)), (6, (16, 16)), (8, (12, 12)),
]


def row_name(d: int, widths) -> str:
    return f"d{d}_" + "x".join(str(w) for w in widths)


def ours(checkout: Path, model: Path) -> tuple[float, int]:
    """Whole-process seconds and the count of ``milpregions count`` from ``checkout``."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "milpregions", "count", str(model),
                          "--box=-1,1"], capture_output=True, text=True, env=env, check=True,
                         cwd=checkout)
    seconds = time.perf_counter() - t
    return seconds, int(out.stdout.split()[0].replace(",", ""))


def regioncam_faces(net) -> tuple[float, int]:
    """regioncam's compute time and face count on [-1, 1]^2."""
    import regioncam

    layers = [(np.asarray(next(iter(L.affine.W.values())), np.float32).T.copy(),
               np.asarray(L.affine.b, np.float32)) for L in net.layers]
    t = time.perf_counter()
    cam = regioncam.Regioncam(size=1.0)
    for W, b in layers:
        cam.linear(W, b)
        cam.relu()
    faces = cam.num_faces
    return time.perf_counter() - t, faces


def edge_subdivision_seconds(path: Path, net) -> float:
    """The CPU compute time of ``skeletal_subdivision`` on [-1, 1]^d (in a child process, so
    that its module globals and torch threads do not touch ours)."""
    weights = [(np.asarray(next(iter(L.affine.W.values()))).tolist(), np.asarray(L.affine.b).tolist())
               for L in net.layers]
    code = f"""
import json, sys, time, torch
sys.path.insert(0, {str(path)!r})
torch.set_num_threads(1)
from NN import Net
from edge_subdivision import skeletal_subdivision
weights = json.loads(sys.stdin.read())
ks = [len(weights[0][0][0])] + [len(b) for _, b in weights]
f = Net(ks=ks + [1])
with torch.no_grad():
    for lin, (W, b) in zip(f.fcs, weights):
        lin.weight.copy_(torch.tensor(W)); lin.bias.copy_(torch.tensor(b))
    f.fcs[-1].weight.zero_(); f.fcs[-1].bias.fill_(1.0)   # the output never splits
    t = time.perf_counter()
    skeletal_subdivision(f, bbox=(-1, 1), device="cpu", verbose=False, plot=False)
    print(time.perf_counter() - t)
"""
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(weights),
                         capture_output=True, text=True, check=True, cwd=path)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated row names")
    ap.add_argument("--prev", type=Path, help="checkout of the previous release")
    ap.add_argument("--edge-subdivision", type=Path, help="checkout of relu_edge_subdivision")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args()
    try:
        import regioncam  # noqa: F401
        have_regioncam = True
    except ImportError:
        have_regioncam = False
    only = set(filter(None, args.only.split(",")))
    rows = [(d, w) for d, w in ROWS if not only or row_name(d, w) in only]
    results, mismatch = [], False
    print("| net | regions | milpregions s | prev s | peer | peer s | ratio |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for d, widths in rows:
            name = row_name(d, widths)
            net = he_mlp(d, list(widths), 0)
            model = Path(tmp) / f"{name}.onnx"
            to_onnx(net, model)
            ours(REPO, model)                               # warm the caches
            if args.prev:
                ours(args.prev, model)
            cur, prev, peer = [], [], []
            regions = faces = None
            kind = "regioncam" if d == 2 and have_regioncam else \
                "edge subdivision" if d > 2 and args.edge_subdivision else None
            for _ in range(args.runs):                      # alternating, in one run
                s, regions = ours(REPO, model)
                cur.append(s)
                if args.prev:
                    prev.append(ours(args.prev, model)[0])
                if kind == "regioncam":
                    s, faces = regioncam_faces(net)
                    peer.append(s)
                elif kind == "edge subdivision":
                    peer.append(edge_subdivision_seconds(args.edge_subdivision, net))
            row = {"net": name, "regions": regions, "milpregions": statistics.median(cur),
                   "prev": statistics.median(prev) if prev else None, "peer": kind,
                   "peer_seconds": statistics.median(peer) if peer else None}
            if faces is not None and faces != regions:
                mismatch = True
                row["peer_regions"] = faces
            row["ratio"] = row["milpregions"] / row["peer_seconds"] if peer else None
            results.append(row)
            fmt = lambda x, p=3: "–" if x is None else f"{x:.{p}f}"  # noqa: E731
            count = f"{regions:,}" + ("" if faces in (None, regions) else f" (peer {faces:,})")
            print(f"| {name} | {count} | {fmt(row['milpregions'])} | {fmt(row['prev'])} | "
                  f"{kind or '–'} | {fmt(row['peer_seconds'])} | {fmt(row['ratio'], 2)} |",
                  flush=True)
    for kind in ("regioncam", "edge subdivision"):
        ratios = [r["ratio"] for r in results if r["peer"] == kind and r["ratio"]]
        if ratios:
            gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
            print(f"geometric mean of milpregions / {kind}: {gm:.2f} over {len(ratios)} rows")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": args.runs, "rows": results}, indent=1) + "\n")
    if mismatch:
        print("MISMATCH: a peer's count differs from ours", file=sys.stderr)
    return 1 if mismatch else 0


if __name__ == "__main__":
    sys.exit(main())
