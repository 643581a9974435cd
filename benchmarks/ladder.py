"""Speed ladder: exact region counts of He-initialised MLPs in [-1, 1]^d, tree vs milp; digits CNN.

Usage (from the repository root)::

    python benchmarks/ladder.py                 # full ladder, JSON to benchmarks/results/ladder.json
    python benchmarks/ladder.py --quick         # the first few small 2-D rows (smoke run)
    python benchmarks/ladder.py --only 6d_16x16 --time-limit 900
    python benchmarks/ladder.py --no-tighten-compare --no-milp

Every network is ``constructions.he_mlp(n0, widths, seed=0)``; every count is single-process.
For each row the tree method (``count_regions(net, (-1, 1), method="tree")``) is timed, then,
if the tree count is at most ``--milp-max-regions`` (default 3000), the milp method on the same
network with ``time_limit=--milp-time-limit`` (default 60 s); the milp count must equal the tree
count whenever both finished, otherwise a loud MISMATCH is printed (and the exit code is 1).

CNN rows (after the MLP summary; ``--no-cnn`` leaves them out): the digits CNN
``models/digits_cnn.onnx`` (input 1x8x8 = 64 raw pixels 0..16) counted in L-inf balls
``ball_domain(models/digits_test_image.npy, r, 64)`` for r in 0.01, 0.02, 0.05, 0.1, each with
``time_limit=--cnn-time-limit`` (default 120 s; a stopped row prints ``> 120 s (N found)``);
the milp comparison runs only when the tree count is exact and at most ``--cnn-milp-max-regions``
(default 300). Then one import-time row, ``cnn_import_32x32``: a random CNN with 1,024 inputs
(1x32x32 -> Conv 16 3x3 pad 1 -> Relu -> MaxPool 2 -> Conv 32 3x3 -> Relu -> Flatten -> Gemm 10,
float32 weights from ``numpy.random.default_rng(0)``), built with ``onnx.helper`` and written to
a temporary file; ``seconds`` is the median of 3 ``load_onnx`` calls on that file.
The MLP summary (targets) uses the MLP rows only.

Timings: ``seconds`` is ``CountResult.seconds`` (the enumeration itself, bounds excluded);
``bounds s`` is the rest of the wall-clock time of the ``count_regions`` call (box normalisation,
interval bounds and LP bound tightening); ``regions/s`` is ``CountResult.regions_per_second``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from milpregions.api import count_regions
from milpregions.inputs import ball_domain
from milpregions.testing.constructions import he_mlp

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CNN_MODEL = REPO / "models" / "digits_cnn.onnx"
CNN_IMAGE = REPO / "models" / "digits_test_image.npy"
CNN_RADII = (0.01, 0.02, 0.05, 0.1)
CNN_IMPORT_ROW = "cnn_import_32x32"
DEFAULT_JSON = HERE / "results" / "ladder.json"
PARTIAL_JSON = HERE / "results" / "ladder-partial.json"

# (input dim, hidden widths); names like "2d_8x8"
LADDER = [
    (2, (8, 8)),
    (2, (16, 16)),
    (2, (32, 32)),
    (2, (50, 50)),
    (2, (100, 100)),
    (3, (32, 32)),
    (4, (16, 16)),
    (6, (16, 16)),
    (8, (12, 12)),
    (10, (10, 10)),
]
QUICK_ROWS = 3            # --quick: 2d_8x8, 2d_16x16, 2d_32x32
LOW_DIM_MAX = 4           # "low-dimensional part" of the summary: 2-D to 4-D rows
TIGHTEN_ROWS = ("2d_32x32", "4d_16x16")  # rows of the tighten=True/False comparison


def row_name(n0: int, widths) -> str:
    return f"{n0}d_" + "x".join(str(w) for w in widths)


def cnn_row_name(radius: float) -> str:
    return f"cnn_r{radius:g}"


def timed_count(net, **kw):
    """(CountResult, wall seconds of the whole count_regions call)."""
    t0 = time.perf_counter()
    res = count_regions(net, (-1.0, 1.0), **kw)
    return res, time.perf_counter() - t0


def fmt_num(x, nd=2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.{nd}f}"


HEADER = ("network", "regions", "seconds", "bounds s", "nodes", "LPs", "LPs/region", "regions/s",
          "milp/tree")


def table_line(cells) -> str:
    widths = (10, 12, 9, 9, 11, 11, 10, 11, 30)
    out = []
    for i, (c, w) in enumerate(zip(cells, widths)):
        out.append(str(c).ljust(w) if i in (0, 8) else str(c).rjust(w))
    return "  ".join(out).rstrip()


def milp_cell(row: dict) -> str:
    m = row.get("milp")
    if m is None:
        return "-"
    if m["status"] == "skipped":
        return f"skipped ({row['regions']:,} regions)"
    if m["status"] == "stopped":
        return f"> {m['time_limit']:g} s ({m['regions']:,} found)"
    tag = f"{m['ratio']:.1f}x ({m['seconds']:.2f} s)"
    if not m["match"]:
        tag += f" MISMATCH milp={m['regions']}"
    return tag


def row_cells(row: dict):
    reg = row["regions"] if row["exact"] else f">={row['regions']:,}"
    return (row["name"], fmt_num(reg) if isinstance(reg, int) else reg, fmt_num(row["seconds"]),
            fmt_num(row["bounds_seconds"]), fmt_num(row["nodes"]), fmt_num(row["lps"]),
            fmt_num(row["lps_per_region"], 3), fmt_num(row["regions_per_second"], 0),
            milp_cell(row))


def run_row(n0: int, widths, args) -> dict:
    name = row_name(n0, widths)
    net = he_mlp(n0, list(widths), seed=0)
    res, wall = timed_count(net, method="tree", time_limit=args.time_limit)
    row = {
        "name": name, "input_dim": n0, "widths": list(widths), "seed": 0,
        "regions": res.regions, "exact": res.exact, "stopped": res.stopped,
        "seconds": res.seconds, "wall_seconds": wall,
        "bounds_seconds": max(wall - res.seconds, 0.0),
        "nodes": res.nodes, "lps": res.lps, "bound_lps": res.bound_lps,
        "unstable_units": res.unstable_units, "near_margin": res.near_margin,
        "lps_per_region": res.lps_per_region if res.regions else None,
        "regions_per_second": res.regions_per_second if res.seconds > 0 else None,
        "milp": None,
    }
    if args.no_milp:
        return row
    if res.regions > args.milp_max_regions or not res.exact:
        row["milp"] = {"status": "skipped"}
        return row
    mres, mwall = timed_count(net, method="milp", time_limit=args.milp_time_limit)
    m = {"status": "finished" if mres.exact else "stopped", "regions": mres.regions,
         "seconds": mres.seconds, "wall_seconds": mwall, "time_limit": args.milp_time_limit,
         "solves": mres.lps, "stopped": mres.stopped}
    if mres.exact:
        m["ratio"] = mres.seconds / res.seconds if res.seconds > 0 else None
        m["match"] = mres.regions == res.regions
    else:
        m["match"] = mres.regions <= res.regions  # a lower bound must not exceed the count
    row["milp"] = m
    return row


def summary(rows: list[dict]) -> dict:
    """Summary of the MLP rows (the CNN rows are reported separately)."""
    rows = [r for r in rows if r.get("kind", "mlp") == "mlp"]
    low = [r for r in rows if r["input_dim"] <= LOW_DIM_MAX and r["seconds"] > 0]
    s = {}
    if low:
        s["low_dim_rows"] = [r["name"] for r in low]
        s["low_dim_total_regions_per_second"] = (sum(r["regions"] for r in low)
                                                 / sum(r["seconds"] for r in low))
        s["low_dim_total_regions_per_wall_second"] = (sum(r["regions"] for r in low)
                                                      / sum(r["wall_seconds"] for r in low))
        worst = min(low, key=lambda r: r["regions_per_second"])
        s["low_dim_min_regions_per_second"] = worst["regions_per_second"]
        s["low_dim_min_row"] = worst["name"]
    withreg = [r for r in rows if r["regions"]]
    if withreg:
        s["mean_lps_per_region"] = sum(r["lps_per_region"] for r in withreg) / len(withreg)
        s["total_lps_per_total_regions"] = (sum(r["lps"] for r in withreg)
                                            / sum(r["regions"] for r in withreg))
        s["rows_in_lps_average"] = len(withreg)
    s["all_exact"] = all(r["exact"] for r in rows)
    s["milp_mismatches"] = [r["name"] for r in rows if r["milp"] and r["milp"].get("status") != "skipped"
                            and not r["milp"]["match"]]
    return s


def print_summary(s: dict, targets=(10_000.0, 1.5)) -> None:
    print()
    if "low_dim_rows" in s:
        rate, worst = s["low_dim_total_regions_per_second"], s["low_dim_min_regions_per_second"]
        print(f"2-D..4-D rows ({len(s['low_dim_rows'])}): total regions / total seconds = "
              f"{rate:,.0f} regions/s (wall, bounds included: "
              f"{s['low_dim_total_regions_per_wall_second']:,.0f}); "
              f"minimum per row = {worst:,.0f} regions/s ({s['low_dim_min_row']})")
        met = "MET" if worst >= targets[0] else ("met in total, NOT per row" if rate >= targets[0]
                                                  else "NOT MET")
        print(f"  target >= {targets[0]:,.0f} regions/s on every 2-D..4-D row: {met}")
    if "mean_lps_per_region" in s:
        print(f"LPs per region over {s['rows_in_lps_average']} MLP rows: mean of rows = "
              f"{s['mean_lps_per_region']:.3f}; total LPs / total regions = "
              f"{s['total_lps_per_total_regions']:.3f}")
        met = "MET" if s["mean_lps_per_region"] <= targets[1] else "NOT MET"
        print(f"  target <= {targets[1]} LPs/region averaged over the ladder (mean of rows): {met}")
    if not s["all_exact"]:
        print("NOTE: some tree counts stopped at a limit (lower bounds, marked >=)")
    if s["milp_mismatches"]:
        print("!!!!!!!! MISMATCH between milp and tree counts on: "
              + ", ".join(s["milp_mismatches"]) + " !!!!!!!!")


CNN_HEADER = ("network", "regions", "seconds", "bounds s", "unstable", "nodes", "LPs", "LPs/region",
              "regions/s", "milp/tree")


def cnn_table_line(cells) -> str:
    widths = (10, 22, 9, 9, 8, 10, 10, 10, 10, 30)
    out = []
    for i, (c, w) in enumerate(zip(cells, widths)):
        out.append(str(c).ljust(w) if i in (0, 9) else str(c).rjust(w))
    return "  ".join(out).rstrip()


def cnn_cells(row: dict):
    if row["exact"]:
        reg = fmt_num(row["regions"])
    else:
        reg = f"> {row['time_limit']:g} s ({row['regions']:,} found)"
    return (row["name"], reg, fmt_num(row["seconds"]), fmt_num(row["bounds_seconds"]),
            fmt_num(row["unstable_units"]), fmt_num(row["nodes"]), fmt_num(row["lps"]),
            fmt_num(row["lps_per_region"], 3), fmt_num(row["regions_per_second"], 0),
            milp_cell(row))


def run_cnn_row(net, image, radius: float, args) -> dict:
    box = ball_domain(image, radius, net.input_dim).box
    t0 = time.perf_counter()
    res = count_regions(net, box, method="tree", time_limit=args.cnn_time_limit)
    wall = time.perf_counter() - t0
    row = {
        "name": cnn_row_name(radius), "kind": "cnn", "model": "models/digits_cnn.onnx",
        "center": "models/digits_test_image.npy", "radius": radius,
        "input_dim": net.input_dim, "widths": list(net.widths), "time_limit": args.cnn_time_limit,
        "regions": res.regions, "exact": res.exact, "stopped": res.stopped,
        "seconds": res.seconds, "wall_seconds": wall,
        "bounds_seconds": max(wall - res.seconds, 0.0),
        "nodes": res.nodes, "lps": res.lps, "bound_lps": res.bound_lps,
        "unstable_units": res.unstable_units, "near_margin": res.near_margin,
        "lps_per_region": res.lps / res.regions if res.regions else None,
        "regions_per_second": res.regions / res.seconds if res.seconds > 0 else None,
        "milp": None,
    }
    if args.no_milp:
        return row
    if res.regions > args.cnn_milp_max_regions or not res.exact:
        row["milp"] = {"status": "skipped"}
        return row
    t0 = time.perf_counter()
    mres = count_regions(net, box, method="milp", time_limit=args.milp_time_limit)
    mwall = time.perf_counter() - t0
    m = {"status": "finished" if mres.exact else "stopped", "regions": mres.regions,
         "seconds": mres.seconds, "wall_seconds": mwall, "time_limit": args.milp_time_limit,
         "solves": mres.lps, "stopped": mres.stopped}
    if mres.exact:
        m["ratio"] = mres.seconds / res.seconds if res.seconds > 0 else None
        m["match"] = mres.regions == res.regions
    else:
        m["match"] = mres.regions <= res.regions
    row["milp"] = m
    return row


def build_import_cnn(path: Path, seed: int = 0) -> dict:
    """Write the random 1x32x32 CNN of the import-time row to ``path``; return its description."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def init(name, shape, fan_in):
        a = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        return numpy_helper.from_array(a, name)

    inits = [init("W1", (16, 1, 3, 3), 9), init("B1", (16,), 9),
             init("W2", (32, 16, 3, 3), 144), init("B2", (32,), 144),
             init("W3", (10, 32 * 14 * 14), 32 * 14 * 14), init("B3", (10,), 32 * 14 * 14)]
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "W2", "B2"], ["c2"], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Flatten", ["r2"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "W3", "B3"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "import_cnn_32x32",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return {"graph": "1x32x32 -> Conv16 3x3 pad1 -> Relu -> MaxPool2 -> Conv32 3x3 -> Relu -> "
                     "Flatten -> Gemm10", "seed": seed, "opset": 17,
            "file_bytes": path.stat().st_size}


def run_import_row(repeats: int = 3) -> dict:
    from milpregions.onnx import load_onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "import_cnn_32x32.onnx"
        desc = build_import_cnn(path)
        times, net = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            net = load_onnx(path)
            times.append(time.perf_counter() - t0)
    return {"name": CNN_IMPORT_ROW, "kind": "cnn_import", **desc, "input_dim": net.input_dim,
            "widths": list(net.widths), "times": times, "seconds": statistics.median(times)}


def print_import_row(row: dict) -> None:
    print(f"{row['name']}: load_onnx of a {row['input_dim']:,}-input CNN "
          f"({row['graph']}; layers of {row['widths']} units, {row['file_bytes']:,} bytes): "
          f"median {row['seconds']:.3f} s of {len(row['times'])} "
          f"({', '.join(f'{t:.3f}' for t in row['times'])}); target < 1 s: "
          f"{'MET' if row['seconds'] < 1.0 else 'NOT MET'}", flush=True)


def tighten_compare(rows_wanted, args) -> list[dict]:
    out = []
    print("\ntree method, tighten=True vs tighten=False "
          "(regions/s = regions / CountResult.seconds; wall includes bounds):")
    print(table_line(("network", "tighten", "regions", "seconds", "bounds s", "unstable", "LPs",
                      "regions/s", "")))
    for n0, widths in LADDER:
        name = row_name(n0, widths)
        if name not in rows_wanted:
            continue
        net = he_mlp(n0, list(widths), seed=0)
        pair = {}
        for tighten in (True, False):
            res, wall = timed_count(net, method="tree", tighten=tighten, time_limit=args.time_limit)
            pair[tighten] = res
            out.append({"name": name, "tighten": tighten, "regions": res.regions,
                        "exact": res.exact, "seconds": res.seconds, "wall_seconds": wall,
                        "bounds_seconds": max(wall - res.seconds, 0.0),
                        "unstable_units": res.unstable_units, "lps": res.lps,
                        "bound_lps": res.bound_lps, "regions_per_second": res.regions_per_second})
            print(table_line((name, str(tighten), fmt_num(res.regions), fmt_num(res.seconds),
                              fmt_num(wall - res.seconds), fmt_num(res.unstable_units),
                              fmt_num(res.lps), fmt_num(res.regions_per_second, 0), "")), flush=True)
        if pair[True].exact and pair[False].exact and pair[True].regions != pair[False].regions:
            print(f"!!!!!!!! MISMATCH: {name} tighten=True {pair[True].regions} "
                  f"vs tighten=False {pair[False].regions} !!!!!!!!")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"only the first {QUICK_ROWS} (2-D) rows")
    ap.add_argument("--only", action="append", metavar="NAME",
                    help="run only this row (e.g. 6d_16x16); repeatable or comma-separated")
    ap.add_argument("--time-limit", type=float, default=None, metavar="S",
                    help="time limit per tree count (default: none)")
    ap.add_argument("--milp-time-limit", type=float, default=60.0, metavar="S")
    ap.add_argument("--milp-max-regions", type=int, default=3000, metavar="N",
                    help="skip the milp run when the tree count exceeds N (default 3000)")
    ap.add_argument("--no-milp", action="store_true", help="no milp runs at all")
    ap.add_argument("--no-cnn", action="store_true", help="leave out the CNN rows")
    ap.add_argument("--cnn-time-limit", type=float, default=120.0, metavar="S",
                    help="time limit per CNN tree count (default 120)")
    ap.add_argument("--cnn-milp-max-regions", type=int, default=300, metavar="N",
                    help="skip the milp run on a CNN row above N regions (default 300)")
    ap.add_argument("--no-tighten-compare", action="store_true")
    ap.add_argument("--json", metavar="OUT", default=None,
                    help=f"write rows as JSON (default {DEFAULT_JSON.relative_to(HERE.parent)} for "
                         f"a full run, {PARTIAL_JSON.relative_to(HERE.parent)} with --quick/--only)")
    ap.add_argument("--no-json", action="store_true")
    args = ap.parse_args(argv)

    ladder = LADDER[:QUICK_ROWS] if args.quick else LADDER
    cnn_radii = () if (args.quick or args.no_cnn) else CNN_RADII
    cnn_import = not (args.quick or args.no_cnn)
    if args.only:
        wanted = {n.strip().lower() for item in args.only for n in item.split(",") if n.strip()}
        known = ({row_name(*r) for r in LADDER} | {cnn_row_name(r) for r in CNN_RADII}
                 | {CNN_IMPORT_ROW})
        unknown = wanted - known
        if unknown:
            ap.error(f"unknown row(s) {sorted(unknown)}; choose from {sorted(known)}")
        ladder = [r for r in ladder if row_name(*r) in wanted]
        cnn_radii = tuple(r for r in CNN_RADII if cnn_row_name(r) in wanted)
        cnn_import = CNN_IMPORT_ROW in wanted
    partial = args.quick or bool(args.only)
    json_path = None if args.no_json else Path(args.json or (PARTIAL_JSON if partial else DEFAULT_JSON))

    meta = {"date": _dt.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])),
            "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "loadavg_start": list(os.getloadavg()),
            "tree_time_limit": args.time_limit, "milp_time_limit": args.milp_time_limit,
            "milp_max_regions": args.milp_max_regions, "cnn_time_limit": args.cnn_time_limit,
            "cnn_milp_max_regions": args.cnn_milp_max_regions}

    cnn_rows: list[dict] = []

    def dump(rows, tight=None, summ=None):
        if json_path is None:
            return
        json_path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"meta": meta, "rows": rows, "cnn_rows": cnn_rows, "tighten_compare": tight or [],
               "summary": summ}
        json_path.write_text(json.dumps(doc, indent=1))

    print(f"milpregions ladder, he_mlp(seed=0) in [-1,1]^d, single process, "
          f"{os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.2f}")
    rows = []
    if ladder:
        print(table_line(HEADER))
    for n0, widths in ladder:
        row = run_row(n0, widths, args)
        rows.append(row)
        print(table_line(row_cells(row)), flush=True)
        if row["milp"] and row["milp"].get("status") != "skipped" and not row["milp"]["match"]:
            print(f"!!!!!!!! MISMATCH on {row['name']}: tree {row['regions']} vs milp "
                  f"{row['milp']['regions']} !!!!!!!!", flush=True)
        dump(rows)
    summ = summary(rows) if rows else {}
    if rows:
        print_summary(summ)
    if cnn_radii or cnn_import:
        print(f"\ndigits CNN (models/digits_cnn.onnx, 64 inputs) in L-inf balls around "
              f"models/digits_test_image.npy, tree time limit {args.cnn_time_limit:g} s, "
              f"load avg {os.getloadavg()[0]:.2f}:")
    if cnn_radii:
        from milpregions.onnx import load_onnx

        t0 = time.perf_counter()
        cnn = load_onnx(CNN_MODEL)
        meta["cnn_load_seconds"] = time.perf_counter() - t0
        image = np.load(CNN_IMAGE)
        print(cnn_table_line(CNN_HEADER))
        for radius in cnn_radii:
            row = run_cnn_row(cnn, image, radius, args)
            cnn_rows.append(row)
            print(cnn_table_line(cnn_cells(row)), flush=True)
            if row["milp"] and row["milp"].get("status") != "skipped" and not row["milp"]["match"]:
                print(f"!!!!!!!! MISMATCH on {row['name']}: tree {row['regions']} vs milp "
                      f"{row['milp']['regions']} !!!!!!!!", flush=True)
            dump(rows, summ=summ)
    if cnn_import:
        row = run_import_row()
        cnn_rows.append(row)
        print_import_row(row)
        dump(rows, summ=summ)
    cnn_mismatches = [r["name"] for r in cnn_rows if r.get("milp") and
                      r["milp"].get("status") != "skipped" and not r["milp"]["match"]]
    if summ is not None and cnn_rows:
        summ["cnn_milp_mismatches"] = cnn_mismatches
    tight = []
    if not args.no_tighten_compare and ladder:
        names = {row_name(*r) for r in ladder}
        tight = tighten_compare([n for n in TIGHTEN_ROWS if n in names] or
                                [row_name(*ladder[0])] if ladder else [], args)
    meta["loadavg_end"] = list(os.getloadavg())
    dump(rows, tight, summ)
    if json_path is not None:
        print(f"\nJSON: {json_path}")
    return 1 if (summ.get("milp_mismatches") or cnn_mismatches) else 0


if __name__ == "__main__":
    sys.exit(main())
