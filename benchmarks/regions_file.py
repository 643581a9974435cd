"""Regions as data at 10^6 regions: a count written to a ``.mpr`` file as it streams, read back.

Usage (from the repository root)::

    python benchmarks/regions_file.py                    # he_mlp(6, [16, 16], 0): 935,763 regions
    python benchmarks/regions_file.py --widths 8 8       # a quick run

The net is ``constructions.he_mlp(6, widths, seed=0)`` in [-1, 1]^6 (the ladder's 6d_16x16 row
by default). One ``collect_regions(..., path=OUT.mpr)`` call counts and writes; then the file is
opened again (memory-mapped) and checked: as many records as regions, no partial record, every
pattern distinct, every witness located in its own region (``locate_many``), random points
located with the pattern of a forward pass, and the inequalities and local map of a sample of
regions against the network. Reported: the count's time, the file's size against the JSON lines
the same regions take (measured on the first 10^4 records), the time to open, to build the
pattern index, to locate every witness and 10^5 random points, and the peak resident memory
(VmHWM) of the process. Writes ``results/regions_file.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from milpregions import RegionSet, collect_regions
from milpregions.testing.constructions import he_mlp

REPO = Path(__file__).resolve().parent.parent


def _hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 16])
    ap.add_argument("--dim", type=int, default=6)
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks/results/regions_file.json")
    args = ap.parse_args()
    net = he_mlp(args.dim, args.widths, seed=0)
    out: dict = {"net": f"he_mlp({args.dim}, {args.widths}, 0)", "box": "[-1, 1]^d"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "regions.mpr"
        t = time.perf_counter()
        rs = collect_regions(net, (-1.0, 1.0), path=path)
        out["count_and_write_s"] = time.perf_counter() - t
        out["count_s"] = rs.result.seconds
        out["regions"] = rs.result.regions
        out["exact"] = rs.result.exact
        out["hwm_after_count_mb"] = _hwm_mb()
        n = len(rs)
        out["file_bytes"] = os.path.getsize(path)
        out["bytes_per_region"] = out["file_bytes"] / max(n, 1)
        sample = min(n, 10_000)
        jsonl = sum(len(rs[i].to_json()) + 1 for i in range(sample))
        out["jsonl_bytes_per_region"] = jsonl / max(sample, 1)

        t = time.perf_counter()
        back = RegionSet.read(path, rs.problem)
        out["open_s"] = time.perf_counter() - t
        assert len(back) == n == rs.result.regions
        t = time.perf_counter()
        from milpregions.ir.pattern_index import pattern_hash

        h = np.sort(pattern_hash(back.layout.keys(back.records)))
        assert not np.any(h[1:] == h[:-1]) or len(np.unique(back.layout.keys(back.records),
                                                             axis=0)) == n, "a pattern repeats"
        out["unique_check_s"] = time.perf_counter() - t
        t = time.perf_counter()
        back.locate_many(back.witnesses[:1])             # builds the index
        out["index_s"] = time.perf_counter() - t
        t = time.perf_counter()
        found = back.locate_many(back.witnesses)
        out["locate_witnesses_s"] = time.perf_counter() - t
        assert np.array_equal(found, np.arange(n)), "a witness is not in its own region"
        rng = np.random.default_rng(0)
        X = rng.uniform(-1, 1, (100_000, args.dim))
        t = time.perf_counter()
        idx = back.locate_many(X)
        out["locate_100k_points_s"] = time.perf_counter() - t
        out["random_points_not_found"] = int((idx < 0).sum())
        pats = np.concatenate(net.pattern(X[:1000]), axis=1)
        for j in range(1000):
            if idx[j] >= 0:
                assert np.array_equal(np.concatenate(back.pattern(int(idx[j]))), pats[j])
        hw = np.ones(args.dim)
        for i in rng.choice(n, size=min(n, 200), replace=False):
            A, b = back.inequalities(int(i))
            w = back.witnesses[i]
            assert (A @ w + b > 0).all()
            M, c = back.affine_map(int(i))
            d = rng.normal(size=args.dim)
            x = w + 0.9 * back.radii[i] * hw * d / np.linalg.norm(d)
            F = net.forward(np.vstack([w, x]))
            assert np.allclose(np.vstack([w, x]) @ M.T + c, F, rtol=0, atol=1e-9)
        out["hwm_mb"] = _hwm_mb()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    for k, v in out.items():
        print(f"{k:26s} {v:.3f}" if isinstance(v, float) else f"{k:26s} {v}")


if __name__ == "__main__":
    main()
