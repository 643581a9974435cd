"""The hashing bound (``milpregions hash``, MIPBound) before and after issue 12 item 5.

    python benchmarks/hashing.py                  # all rows, before and after
                                                  #   -> benchmarks/results/hashing.json
    python benchmarks/hashing.py --quick          # three rows, no "before"
                                                  #   -> benchmarks/results/hashing-quick.json
    python benchmarks/hashing.py --only 2d_24x24 --before-time-limit 300
                                                  #   -> benchmarks/results/hashing-partial.json
    python benchmarks/hashing.py --only 6d_16x16 --json benchmarks/results/hashing-6d.json
    python benchmarks/hashing.py --solve-study    # what one MILP solve costs, and why
                                                  #   -> benchmarks/results/hashing-solves.json
    python benchmarks/hashing.py --ablation       # the parts of the default, on the quick rows
                                                  #   -> benchmarks/results/hashing-ablation.json

Rows: ``he_mlp(n0, [w, w], seed=0)`` in [-1, 1]^n0 (2-D, 3-D, 4-D, about 400 to 2,500
regions; ``6d_16x16``, 935,763 regions, only when asked for with ``--only``). Per row, in one
process: the exact count (``count_regions``, bounds included) and its wall time; then
``hash_regions(net, (-1, 1), seed=0)`` at its defaults ("after"): the probabilistic bound, the
regions seen (certain), the lower bound (the larger), exact / probabilistic bound, seconds,
MILP solves and their mean time; then the previous code ("before": ``git show
REV:milpregions/estimators/hashing.py`` loaded as a module, its Pyomo MILP solves timed by
wrapping its ``solve_status``) at its defaults, under ``--before-time-limit`` seconds (default
120): a run that hits it reports the bound of its finished K values, marked stopped.

``--solve-study``: on ``he_mlp(2, [24, 24], 0)`` (915 regions, 48 binaries), the time of one
feasibility solve with K long XORs (each binary with probability 1/2) or XORs of 3 binaries,
K = 1, 5, 9, 10, 11, three draws each (the same draws for every model), each solve capped at
``--solve-cap`` seconds (default 30): the previous model (the simplex MILP of record through
Pyomo's persistent HiGHS), the point MILP (``milp.point``) through highspy with HiGHS's
default MIP options, and with ``solver.highs_mip.MIP_OPTIONS``; plus the build time of each.
``--ablation``: on the quick rows, ``hash_regions`` with one default changed at a time (no
sampled points; XORs of 3 binaries; 30 trials; MILP solves limited to one node), each under a
120 s time limit.

The JSON is rewritten after every row.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from milpregions.api import count_regions  # noqa: E402
from milpregions.estimators.hashing import hash_regions  # noqa: E402
from milpregions.problem import prepare  # noqa: E402
from milpregions.settings import Settings  # noqa: E402
from milpregions.solver.highs import silence_banner  # noqa: E402
from milpregions.testing.constructions import he_mlp  # noqa: E402

#: the last commit with the previous hashing.py (Pyomo, simplex MILP, MBound over K = 1, 2, ...)
BEFORE_REV = "a7bd9a33a753d3de6435bf3240572e0a1b41cc79"
ROWS = [(2, 16), (2, 24), (2, 36), (3, 8), (3, 12), (3, 14), (4, 6), (4, 7), (4, 8)]
QUICK = [(2, 24), (3, 12), (4, 8)]
LARGE = [(6, 16)]        # 935,763 regions: only with --only 6d_16x16
HIGHS_DEFAULTS = {   # HiGHS 1.16's own values of the options solver.highs_mip.MIP_OPTIONS changes
    "mip_heuristic_effort": 0.05, "mip_heuristic_run_rins": True, "mip_heuristic_run_rens": True,
    "mip_heuristic_run_root_reduced_cost": True, "mip_heuristic_run_feasibility_jump": True,
    "mip_detect_symmetry": True, "mip_allow_restart": True, "mip_pool_soft_limit": 10000,
    "mip_lp_age_limit": 10,
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def load_before(rev: str):
    """The previous ``milpregions/estimators/hashing.py`` as module ``_hashing_before`` of the
    current package (its relative imports resolve against the current tree)."""
    src = subprocess.run(["git", "show", f"{rev}:milpregions/estimators/hashing.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "_hashing_before.py"
    path.write_text(src)
    name = "milpregions.estimators._hashing_before"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def timed_solves(mod) -> list[float]:
    """Wrap the module's ``solve_status`` (one Pyomo MILP solve) to record its wall times."""
    times: list[float] = []
    orig = mod.solve_status

    def solve_status(*a, **k):
        t = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            times.append(time.perf_counter() - t)

    mod.solve_status = solve_status
    return times


def run_row(n0: int, w: int, before, before_limit: float) -> dict:
    name = f"{n0}d_{w}x{w}"
    net = he_mlp(n0, [w, w], 0)
    t = time.perf_counter()
    exact = count_regions(net, (-1.0, 1.0))
    t_exact = time.perf_counter() - t
    row = {"name": name, "n0": n0, "widths": [w, w], "exact": int(exact.regions),
           "exact_seconds": round(t_exact, 3)}
    t = time.perf_counter()
    res = hash_regions(net, (-1.0, 1.0), seed=0)
    row["after"] = {
        "probabilistic_bound": res.probabilistic_bound, "regions_seen": res.regions_seen,
        "lower_bound": res.lower_bound,
        "ratio": round(exact.regions / res.probabilistic_bound, 3) if res.probabilistic_bound else None,
        "ratio_lower_bound": round(exact.regions / res.lower_bound, 3),
        "seconds": round(time.perf_counter() - t, 3), "solves": res.solves,
        "solves_at_node_limit": res.timeouts,
        "mean_solve_seconds": round(res.milp_seconds / res.solves, 4) if res.solves else None,
        "milp_seconds": round(res.milp_seconds, 3), "lp_checks": res.lp_checks,
        "found": res.found, "binaries": res.binaries, "best_xors": res.best_xors,
        "plan": res.plan, "feasible": {str(k): v for k, v in res.feasible.items()},
        "exploration_levels": res.exploration_levels, "stopped": res.stopped, "notes": res.notes}
    a = row["after"]
    log(f"  {name}: exact {exact.regions} ({t_exact:.2f} s); after: bound {a['probabilistic_bound']} "
        f"(x{a['ratio']}), seen {a['regions_seen']}, {a['seconds']:.1f} s, {a['solves']} solves")
    if before is not None:
        times = timed_solves(before)
        t = time.perf_counter()
        old = before.hash_regions(net, (-1.0, 1.0), seed=0, time_limit=before_limit)
        row["before"] = {
            "probabilistic_bound": old.probabilistic_bound, "regions_seen": old.regions_seen,
            "lower_bound": old.lower_bound,
            "ratio": round(exact.regions / old.probabilistic_bound, 3) if old.probabilistic_bound else None,
            "seconds": round(time.perf_counter() - t, 3), "solves": len(times),
            "mean_solve_seconds": round(float(np.mean(times)), 3) if times else None,
            "max_solve_seconds": round(float(np.max(times)), 3) if times else None,
            "stopped": old.stopped, "time_limit": before_limit,
            "feasible": {str(k): v for k, v in old.feasible.items()},
            "trials": {str(k): v for k, v in old.trials.items()}, "binaries": old.binaries}
        b = row["before"]
        log(f"    before: bound {b['probabilistic_bound']} (x{b['ratio']}), seen {b['regions_seen']}, "
            f"{b['seconds']:.1f} s, {b['solves']} solves ({b['mean_solve_seconds']} s each), "
            f"stopped: {b['stopped']}")
    return row


def table(rows: list[dict]) -> str:
    out = ["| network | exact | exact s | hash bound | exact/bound | seen | hash s | solves "
           "| mean solve s | before: bound | exact/bound | s | solves | mean solve s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a = r["after"]
        b = r.get("before")
        ms = "-" if a["mean_solve_seconds"] is None else f"{a['mean_solve_seconds']:.3f}"
        line = (f"| {r['name']} | {r['exact']:,} | {r['exact_seconds']:.2f} | "
                f"{a['probabilistic_bound']:,} | {a['ratio']} | {a['regions_seen']:,} | "
                f"{a['seconds']:.1f} | {a['solves']} | {ms} |")
        if b is None:
            line += " - | - | - | - | - |"
        else:
            stop = " (stopped)" if b["stopped"] else ""
            line += (f" {b['probabilistic_bound']:,}{stop} | {b['ratio'] or '-'} | "
                     f"{b['seconds']:.0f} | {b['solves']} | {b['mean_solve_seconds']} |")
        out.append(line)
    return "\n".join(out)


# --------------------------------------------------------------------------- the solve study


def solve_study(cap: float, before) -> dict:
    from milpregions.estimators.hashing import parity_rows
    from milpregions.milp.point import build_point_milp
    from milpregions.solver.highs_mip import FeasibilityMIP, MIPStatus

    net = he_mlp(2, [24, 24], 0)
    p = prepare(net, (-1.0, 1.0), Settings())
    bounds = p.bounds
    out = {"network": "2d_24x24", "cap_seconds": cap, "builds": {}, "solves": []}
    t = time.perf_counter()
    m = before.build_milp(p.unit_net, bounds)
    old = before._Feasibility(m)
    old.solve([], None)
    out["builds"]["simplex MILP, Pyomo"] = round(time.perf_counter() - t, 3)
    N = len(old.binaries)
    t = time.perf_counter()
    P = build_point_milp(p.unit_net, bounds)
    out["builds"]["point MILP, arrays"] = round(time.perf_counter() - t, 3)
    assert len(P.binary_cols) == N
    mips = {}
    for label, opts in (("point MILP, HiGHS defaults", HIGHS_DEFAULTS),
                        ("point MILP, MIP_OPTIONS", None)):
        t = time.perf_counter()
        mips[label] = FeasibilityMIP(P.col_lo, P.col_hi, P.integer, P.row_lo, P.row_hi, P.starts,
                                     P.index, P.value, options=opts)
        mips[label].solve(max_nodes=None, time_limit=cap)
        out["builds"][label + " (load + first solve)"] = round(time.perf_counter() - t, 3)
    rng = np.random.default_rng(0)
    for length in (None, 3):
        for K in (1, 5, 9, 10, 11):
            for rep in range(3):
                if length is None:
                    A = rng.random((K, N)) < 0.5
                else:
                    A = np.zeros((K, N), dtype=bool)
                    for i in range(K):
                        A[i, rng.choice(N, size=length, replace=False)] = True
                b = rng.integers(0, 2, K)
                rec = {"xor_length": "N/2" if length is None else length, "K": K, "rep": rep}
                old.solver.config.time_limit = cap
                t = time.perf_counter()
                got = old.solve([(np.flatnonzero(A[i]), int(b[i])) for i in range(K)], cap)
                rec["simplex MILP, Pyomo"] = [round(time.perf_counter() - t, 3),
                                              {True: "feasible", False: "infeasible",
                                               None: "limit"}[got]]
                for label, mip in mips.items():
                    rows = parity_rows(A, b, P.binary_cols, P.n_cols)
                    t = time.perf_counter()
                    status, _ = (MIPStatus.INFEASIBLE, None) if rows is None else \
                        mip.solve(*rows, max_nodes=None, time_limit=cap)
                    rec[label] = [round(time.perf_counter() - t, 3), status.value]
                out["solves"].append(rec)
                log(f"  {rec}")
    summary = {}
    for length in ("N/2", 3):
        for label in ("simplex MILP, Pyomo", "point MILP, HiGHS defaults", "point MILP, MIP_OPTIONS"):
            for K in (1, 5, 9, 10, 11):
                v = [r[label][0] for r in out["solves"] if r["xor_length"] == length and r["K"] == K]
                st = [r[label][1] for r in out["solves"] if r["xor_length"] == length and r["K"] == K]
                summary[f"{label} | {length} | K={K}"] = {
                    "mean_seconds": round(float(np.mean(v)), 3),
                    "outcomes": {s: st.count(s) for s in sorted(set(st))}}
    out["summary"] = summary
    return out


def study_table(s: dict) -> str:
    lines = ["| model | XOR length | K=1 | K=5 | K=9 | K=10 | K=11 |", "|---|---|---|---|---|---|---|"]
    for length in ("N/2", 3):
        for label in ("simplex MILP, Pyomo", "point MILP, HiGHS defaults", "point MILP, MIP_OPTIONS"):
            cells = []
            for K in (1, 5, 9, 10, 11):
                e = s["summary"][f"{label} | {length} | K={K}"]
                o = e["outcomes"]
                tag = "/".join(f"{o[k]}{k[0]}" for k in sorted(o))
                cells.append(f"{e['mean_seconds']:.2f} ({tag})")
            lines.append(f"| {label} | {length} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


ABLATION = [("defaults", {}), ("points=0", {"points": 0}), ("xor_length=3", {"xor_length": 3}),
            ("trials=30", {"trials": 30}), ("milp_nodes=1", {"milp_nodes": 1})]


def ablation(path: Path, machine: dict) -> int:
    record = {"machine": machine, "rows": []}
    lines = ["| network | exact | variant | bound | exact/bound | seen | s | solves | found "
             "(sample/neighbour/milp) | stopped |", "|---|---|---|---|---|---|---|---|---|---|"]
    for n0, w in QUICK:
        net = he_mlp(n0, [w, w], 0)
        exact = count_regions(net, (-1.0, 1.0)).regions
        for label, kw in ABLATION:
            t = time.perf_counter()
            r = hash_regions(net, (-1.0, 1.0), seed=0, time_limit=120.0, **kw)
            sec = time.perf_counter() - t
            ratio = round(exact / r.probabilistic_bound, 3) if r.probabilistic_bound else None
            rec = {"name": f"{n0}d_{w}x{w}", "exact": int(exact), "variant": label,
                   "probabilistic_bound": r.probabilistic_bound, "ratio": ratio,
                   "regions_seen": r.regions_seen, "seconds": round(sec, 3), "solves": r.solves,
                   "found": r.found, "stopped": r.stopped, "plan": r.plan}
            record["rows"].append(rec)
            f = r.found
            lines.append(f"| {rec['name']} | {exact:,} | {label} | {r.probabilistic_bound:,} | "
                         f"{ratio or '-'} | {r.regions_seen:,} | {sec:.1f} | {r.solves} | "
                         f"{f.get('sample', 0)}/{f.get('neighbour', 0)}/{f.get('milp', 0)} | "
                         f"{r.stopped or '-'} |")
            log(lines[-1])
            record["machine"]["loadavg_end"] = loadavg()
            path.write_text(json.dumps(record, indent=1) + "\n")
    print("\n".join(lines))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="three rows, no 'before'")
    ap.add_argument("--only", action="append", default=[], help="row name(s), e.g. 2d_24x24")
    ap.add_argument("--no-before", action="store_true", help="skip the previous code")
    ap.add_argument("--before-rev", default=BEFORE_REV, help="git revision of the previous code")
    ap.add_argument("--before-time-limit", type=float, default=120.0, metavar="S")
    ap.add_argument("--solve-study", action="store_true", help="the per-solve study instead")
    ap.add_argument("--solve-cap", type=float, default=30.0, metavar="S")
    ap.add_argument("--ablation", action="store_true", help="one default changed at a time")
    ap.add_argument("--json", type=Path, help="output JSON (default under benchmarks/results/)")
    args = ap.parse_args(argv)
    logging.getLogger("pyomo").setLevel(logging.ERROR)
    silence_banner()
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(),
               "platform": platform.platform(), "loadavg_start": loadavg()}
    results = ROOT / "benchmarks" / "results"
    if args.ablation:
        return ablation(args.json or results / "hashing-ablation.json", machine)
    before = None if (args.quick or args.no_before) else load_before(args.before_rev)
    if args.solve_study:
        before = before or load_before(args.before_rev)
        path = args.json or results / "hashing-solves.json"
        s = solve_study(args.solve_cap, before)
        machine["loadavg_end"] = loadavg()
        s["machine"] = machine
        path.write_text(json.dumps(s, indent=1) + "\n")
        print(json.dumps(s["builds"], indent=1))
        print(study_table(s))
        return 0
    only = {n for o in args.only for n in o.split(",")}
    rows = QUICK if args.quick else ROWS
    if only:
        rows = [r for r in ROWS + LARGE if f"{r[0]}d_{r[1]}x{r[1]}" in only]
    path = args.json or results / ("hashing-quick.json" if args.quick else
                                   "hashing-partial.json" if only else "hashing.json")
    record = {"machine": machine, "before_rev": None if before is None else args.before_rev,
              "rows": []}
    for n0, w in rows:
        record["rows"].append(run_row(n0, w, before, args.before_time_limit))
        record["machine"]["loadavg_end"] = loadavg()
        path.write_text(json.dumps(record, indent=1) + "\n")
    print(table(record["rows"]))
    print(f"\nload {machine['loadavg_start']} -> {record['machine']['loadavg_end']}; {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
