"""Counts over all of R^n (``--domain all``): time against the box count, and relucent's
published counts over R^d as an external check.

    python benchmarks/domain_all.py                        # the models' rows
    python benchmarks/domain_all.py --relucent DIR         # and relucent's fixtures in DIR
    python benchmarks/domain_all.py --relucent DIR --only ckpt0_d2_w8_nh1,ckpt5303_d4_w10_nh1

Rows: committed models, each counted over R^n (``count_regions(model, domain="all")``) and in
[-1, 1]^n (the usual box count), seconds of each in this process.

relucent (github.com/bl-ake/relucent, AGPL-3.0; its files are not copied here): DIR is a
checkout's ``tests/integration/fixtures``, with ``manifest.json`` (per fixture: the file, the
widths, ``add_last_relu``, ``expected.n_regions``, relucent's count of regions in R^d) and
the torch state dicts (``{"state_dict": {"fc0.weight", "fc0.bias", ...}, "widths"}``, float64).
Each is read as the MLP ``fc0 -> ReLU -> ... -> fcK`` with a ReLU after ``fcK`` too when
``add_last_relu`` (those units split regions like any other), and counted over R^d.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from milpregions import count_regions
from milpregions.ir.network import Network, mlp

REPO = Path(__file__).resolve().parent.parent
MODELS = ["zaslavsky_2d_8", "zaslavsky_3d_6", "he_2d_8x8", "he_2d_16x16", "concurrent_2d_8x8",
          "maxout_mlp", "he_3d_16x16", "residual_mlp"]


def relucent_net(path: Path, add_last_relu: bool) -> Network:
    """A relucent fixture (a torch state dict of ``fcK`` layers) as a Network."""
    import torch

    sd = torch.load(path, weights_only=True, map_location="cpu")["state_dict"]
    names = sorted({k.split(".")[0] for k in sd}, key=lambda k: int(k[2:]))
    Ws = [sd[f"{k}.weight"].numpy().astype(np.float64) for k in names]
    bs = [sd[f"{k}.bias"].numpy().astype(np.float64) for k in names]
    if add_last_relu:
        m = Ws[-1].shape[0]
        Ws, bs = Ws + [np.eye(m)], bs + [np.zeros(m)]
    return mlp(Ws, bs)


def timed(net, *args, **kw) -> tuple[object, float]:
    t = time.perf_counter()
    r = count_regions(net, *args, **kw)
    return r, time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--relucent", metavar="DIR", help="relucent's tests/integration/fixtures")
    ap.add_argument("--only", help="comma-separated rows (model or fixture names)")
    ap.add_argument("--no-models", action="store_true", help="leave out the models' rows")
    ap.add_argument("--time-limit", type=float, default=900.0, help="per count (s)")
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "domain_all.json"))
    args = ap.parse_args(argv)
    only = None if args.only is None else set(args.only.split(","))
    rows, bad = [], 0
    if not args.no_models:
        for name in MODELS:
            if only and name not in only:
                continue
            path = str(REPO / "models" / f"{name}.onnx")
            whole, t_all = timed(path, domain="all", time_limit=args.time_limit)
            box, t_box = timed(path, (-1.0, 1.0), time_limit=args.time_limit)
            rows.append({"row": name, "regions_all": whole.regions, "exact": whole.exact,
                         "bounded": whole.bounded, "unbounded": whole.unbounded,
                         "seconds_all": round(t_all, 3), "regions_box": box.regions,
                         "seconds_box": round(t_box, 3)})
            print(f"{name:20s} R^n {whole.regions:>8,} ({whole.bounded:,} bounded) "
                  f"{t_all:7.2f} s | [-1,1]^n {box.regions:>8,} {t_box:7.2f} s", flush=True)
    if args.relucent:
        fixtures = Path(args.relucent)
        manifest = json.loads((fixtures / "manifest.json").read_text())
        for w in manifest["witnesses"]:
            name = Path(w["file"]).stem
            expected = (w.get("expected") or {}).get("n_regions")
            if (only and name not in only) or expected is None:
                continue
            net = relucent_net(fixtures / w["file"], bool(w.get("add_last_relu", True)))
            r, t = timed(net, domain="all", time_limit=args.time_limit)
            agree = r.exact and r.regions == expected
            bad += r.exact and not agree
            rows.append({"row": name, "widths": w["widths"], "relucent": expected,
                         "regions_all": r.regions, "exact": r.exact, "bounded": r.bounded,
                         "unbounded": r.unbounded, "thin_dropped": r.thin_dropped,
                         "seconds_all": round(t, 3), "agree": agree})
            print(f"{name:24s} relucent {expected:>8,}  ours {r.regions:>8,}"
                  f"{'' if r.exact else ' (stopped)'} ({r.bounded:,} bounded) {t:7.1f} s "
                  f"{'agree' if agree else 'DIFFER'}", flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
