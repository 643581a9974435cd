"""Regions per second and LPs per region on the committed real networks, against a previous
release, in the same run on the same machine (issue 20: the compiled LP walk for every network
the importer reads).

    git worktree add /work/bench-prev <previous release ref>         # once
    python benchmarks/real_networks.py --prev /work/bench-prev         # every row, both versions
    python benchmarks/real_networks.py --prev /work/bench-prev --only cnn_r0.05 --limit 30

Rows: the digits CNN (conv 256 units + MaxPool 64 groups of 4) in the L-inf balls of radius
0.05 / 0.1 / 0.2 around ``models/digits_test_image.npy`` (and the digits MLP in balls of
radius 0.5 and 1 around it), a residual CNN (torch: conv, ReLU,
conv plus the input, ReLU, MaxPool; 16 inputs) in a ball of radius 0.1 around a random
point, the digits MLP in its pixel box [0, 16]^64, and 2-D slices of the digits CNN and MLP
(the plane through the first three test images of ``models/digits_test_images.npy``: ``count
--slice``, ``plot``), each with a time limit (a lower bound when it stops). Every row runs in a
fresh subprocess per version (``PYTHONPATH`` at that version's checkout, its own
``NUMBA_CACHE_DIR``), the two versions alternating; the compiled walks are loaded before the
clock starts. The JSON holds per row and version: regions, exact, seconds (the enumeration's,
``CountResult.seconds``), regions/s, LPs, LPs per region, nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ROWS = {"cnn_r0.05": ("cnn", 0.05), "cnn_r0.1": ("cnn", 0.1), "cnn_r0.2": ("cnn", 0.2),
        "rescnn_r0.1": ("rescnn", 0.1), "mlp_box": ("mlp", None),
        "mlp_r0.5": ("mlp_ball", 0.5), "mlp_r1": ("mlp_ball", 1.0),
        "cnn_slice": ("cnn_slice", None), "mlp_slice": ("mlp_slice", None)}

CHILD = """
import json, sys, time
from milpregions.api import count_regions
from milpregions.inputs import ball_domain
kind, radius, limit = json.loads(sys.argv[1])
for mod in ("kernel", "vertex_kernel", "lp_kernel"):  # load the compiled walks: no trial
    try:
        __import__("milpregions.enumerator." + mod, fromlist=["warm_up"]).warm_up()
    except ImportError:
        pass
if kind == "cnn":
    r = count_regions("{models}/digits_cnn.onnx",
                      ball_domain("{models}/digits_test_image.npy", radius, 64), time_limit=limit)
elif kind == "rescnn":                # tests/enumerator/test_lp_kernel_general.py's torch net
    import numpy as np
    import torch
    from torch import nn
    class ResCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 2, 3, padding=1)
            self.c2 = nn.Conv2d(2, 2, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(8, 1)
        def forward(self, x):
            h = torch.relu(self.c1(x))
            h = torch.relu(self.c2(h) + x)
            return self.fc(torch.flatten(self.pool(h), 1))
    torch.manual_seed(0)
    from milpregions.onnx.torch_module import from_torch
    net = from_torch(ResCNN().eval(), (1, 4, 4))
    centre = np.random.default_rng(3).uniform(-1, 1, 16)
    r = count_regions(net, ball_domain(centre, radius, 16), time_limit=limit)
elif kind == "mlp_ball":             # pixel units: the MLP reads pixels in [0, 16]
    r = count_regions("{models}/digits_mlp.onnx",
                      ball_domain("{models}/digits_test_image.npy", radius, 64), time_limit=limit)
elif kind.endswith("_slice"):         # the plane through the first three test images
    import numpy as np
    P = list(np.load("{models}/digits_test_images.npy")[:3])
    name = "digits_cnn" if kind == "cnn_slice" else "digits_mlp"
    r = count_regions("{models}/" + name + ".onnx", slice=P, time_limit=limit)
else:
    r = count_regions("{models}/digits_mlp.onnx", (0.0, 16.0), time_limit=limit)
print(json.dumps({{"regions": r.regions, "exact": r.exact, "seconds": r.seconds, "lps": r.lps,
                  "nodes": r.nodes, "regions_per_s": r.regions / r.seconds,
                  "lps_per_region": r.lps / max(r.regions, 1)}}))
"""


def run(checkout: Path, cache: str, row: tuple, limit: float) -> dict:
    code = CHILD.format(models=REPO / "models")
    env = {"PYTHONPATH": str(checkout), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "NUMBA_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", code, json.dumps([*row, limit])],
                         capture_output=True, text=True, env=env, cwd=checkout)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prev", type=Path, required=True, help="checkout of the previous release")
    ap.add_argument("--prev-cache", default="/tmp/nbcache-bench-prev",
                    help="NUMBA_CACHE_DIR of the previous release")
    ap.add_argument("--cache", default=os.environ.get("NUMBA_CACHE_DIR", "/tmp/nbcache-bench"),
                    help="NUMBA_CACHE_DIR of this checkout")
    ap.add_argument("--only", default="", help="comma-separated row names")
    ap.add_argument("--limit", type=float, default=60.0, help="time limit per count (s)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/real_networks.json")
    args = ap.parse_args()
    names = [n for n in ROWS if not args.only or n in args.only.split(",")]
    versions = [("prev", args.prev, args.prev_cache), ("cur", REPO, args.cache)]
    results = {}
    for i, name in enumerate(names):
        results[name] = {}
        for label, checkout, cache in (versions if i % 2 == 0 else versions[::-1]):
            res = run(checkout, cache, ROWS[name], args.limit)
            results[name][label] = res
            print(name, label, json.dumps(res), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"limit": args.limit, "prev": str(args.prev),
                                    "rows": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
