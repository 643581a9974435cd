"""The compiled vertex walk for any network (``enumerator/vertex_kernel.py``) against the
Python vertex walk (before) on the same nets in one run, and the ReLU MLP rows on the chain
fast path (``kernel.py``) and on the general walk (is the chain path still worth keeping?).

    python benchmarks/vertex_general.py                 # -> results/vertex_general.json
    python benchmarks/vertex_general.py --quick         # the small rows only, no JSON

Each row: the regions of both walks must agree (exit 1 otherwise); regions/s is the count over
``CountResult.seconds`` (the walk alone, the compiled walk loaded beforehand), the best of 5
counts (2 for the Python walk): the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from milpregions.enumerator import TreeCounter
from milpregions.enumerator.kernel_pack import general_layers
from milpregions.enumerator.walks import GeneralVertexWalk
from milpregions.ir.network import Affine, Layer, MaxLayer, Network
from milpregions.problem import prepare
from milpregions.settings import Settings
from milpregions.testing.constructions import he_mlp

ROOT = Path(__file__).resolve().parents[1]


def maxout_mlp(d: int, widths, k: int, seed: int) -> Network:
    """Maxout layers of ``widths`` groups of k pieces (He-like scale), one output."""
    rng = np.random.default_rng(seed)
    layers, n_in = [], d
    for s, w in enumerate(widths):
        n = w * k
        layers.append(MaxLayer(Affine({s: rng.normal(size=(n, n_in)) * np.sqrt(2.0 / n_in)},
                                      rng.normal(size=n) * 0.1), np.arange(n).reshape(w, k)))
        n_in = w
    return Network(d, tuple(layers), Affine({len(widths): rng.normal(size=(1, n_in))},
                                            np.zeros(1)))


def residual_mlp(d: int, w: int, seed: int, slope: float = 0.0) -> Network:
    """Two layers of w units; the second reads the input and the first (a skip)."""
    rng = np.random.default_rng(seed)
    L1 = Layer(Affine({0: rng.normal(size=(w, d)) * np.sqrt(2.0 / d)}, rng.normal(size=w) * 0.1),
               np.full(w, slope))
    L2 = Layer(Affine({0: rng.normal(size=(w, d)) * np.sqrt(2.0 / d),
                       1: rng.normal(size=(w, w)) * np.sqrt(2.0 / w)}, rng.normal(size=w) * 0.1),
               np.full(w, slope))
    return Network(d, (L1, L2), Affine({2: rng.normal(size=(1, w))}, np.zeros(1)))


ROWS = {
    "maxout_mlp.onnx": lambda: ROOT / "models" / "maxout_mlp.onnx",
    "maxout_2d_k2_16x16": lambda: maxout_mlp(2, [16, 16], 2, 0),
    "maxout_3d_k2_16x16": lambda: maxout_mlp(3, [16, 16], 2, 0),
    "maxout_3d_k3_12x12": lambda: maxout_mlp(3, [12, 12], 3, 1),
    "residual_3d_16": lambda: residual_mlp(3, 16, 2),
    "leaky_residual_4d_12": lambda: residual_mlp(4, 12, 3, slope=0.1),
}
MLP_ROWS = {
    "relu_2d_16x16": lambda: he_mlp(2, [16, 16], 0),
    "relu_3d_16x16": lambda: he_mlp(3, [16, 16], 0),
    "relu_3d_16x16x16": lambda: he_mlp(3, [16, 16, 16], 0),
}
QUICK = ["maxout_mlp.onnx", "maxout_3d_k2_16x16", "relu_3d_16x16"]


def _count(p, mode: str, repeats: int):
    """The best of ``repeats`` counts (the machine is shared: the least disturbed run):
    "python" (the Python vertex walk), "compiled" (what the tree picks), "general" (an MLP
    forced onto the general walk); and the regions as a sorted list."""
    found: list = []
    res = None
    for _ in range(repeats):
        counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=mode != "python",
                              on_region=None)
        if mode == "general":
            counter.walk = GeneralVertexWalk(general_layers(counter.layers), counter.d,
                                             counter.margin)
            counter._load_kernel(None)
        r = counter.run()
        if res is None or r.seconds < res.seconds:
            res = r
    if mode == "python":
        # the regions as a set, for the comparison (a second run with a callback)
        TreeCounter(p.unit_net, p.tree_bounds, compiled=False,
                    on_region=lambda q, u, r: found.append(tuple(np.concatenate(
                        [np.asarray(x, np.int64) for x in q]).tolist()))).run()
    else:
        c2 = TreeCounter(p.unit_net, p.tree_bounds, compiled=True,
                         on_region=lambda q, u, r: found.append(tuple(np.concatenate(
                             [np.asarray(x, np.int64) for x in q]).tolist())))
        if mode == "general":
            c2.compiled = general_layers(c2.layers)
            c2._general_vertices = True
            c2._load_kernel(None)
        c2.run()
    return res, sorted(found)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "vertex_general.json"))
    args = ap.parse_args(argv)
    rows = []
    bad = 0
    table = {**ROWS, **MLP_ROWS}
    names = QUICK if args.quick else list(table)
    print(f"{'network':24} {'regions':>8} {'python r/s':>11} {'compiled r/s':>13} {'x':>6}"
          f" {'general r/s':>12}")
    for name in names:
        p = prepare(table[name](), (-1.0, 1.0), Settings())
        mlp = name in MLP_ROWS
        py, fp = _count(p, "python", 2)
        cc, fc = _count(p, "compiled", 5)
        row = {"network": name, "input_dim": p.unit_net.input_dim, "regions": cc.regions,
               "python_seconds": py.seconds, "compiled_seconds": cc.seconds,
               "python_rate": py.regions / py.seconds, "compiled_rate": cc.regions / cc.seconds,
               "nodes": cc.nodes, "agree": fp == fc and py.regions == cc.regions}
        if mlp:
            ge, fg = _count(p, "general", 5)
            row["general_seconds"] = ge.seconds
            row["general_rate"] = ge.regions / ge.seconds
            row["agree"] = row["agree"] and fg == fc
        bad += not row["agree"]
        rows.append(row)
        gen = f"{row['general_rate']:12,.0f}" if mlp else f"{'-':>12}"
        print(f"{name:24} {cc.regions:8d} {row['python_rate']:11,.0f} {row['compiled_rate']:13,.0f}"
              f" {row['compiled_rate'] / row['python_rate']:6.0f} {gen}"
              + ("" if row["agree"] else "  MISMATCH"), flush=True)
    if not args.quick:
        Path(args.json).write_text(json.dumps({
            "machine": platform.processor() or platform.machine(), "python": sys.version.split()[0],
            "rows": rows}, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
