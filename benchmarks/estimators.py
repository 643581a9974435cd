"""Region-count estimators against exact counts: the Hanin-Rolnick claims at initialisation.

Five experiments, every count exact (``count_regions``, tree method):

  a  exact count / (N^d / d!) for He-initialised ReLU MLPs (``constructions.he_mlp``) with
     N = 16, 32, 48, 64 units split into 1, 2 or 4 equal layers (d = 2), and N = 16, 32, 48
     (d = 3), in the box [-1, 1]^d, several seeds;
  b  boundary crossings per unit length along random chords (``lines.run_lines``) against N;
  c  mean exact distance from uniform points to the nearest region boundary
     (``lines.boundary_distances``) against N;
  d  estimator error against budget on three networks: sampling (distinct patterns, Chao1,
     Good-Turing) at 10^2..10^6 points, lines at 10..1000 chords, distances at 10^2..10^5 points;
  e  Montufar et al. (2014) folding networks (``constructions.montufar_folding``): p^(n0 L)
     regions of equal volume p^-(n0 L) in [0, 1]^n0; exact count against sampled patterns.

Usage (from the repository root):

    python benchmarks/estimators.py            # full run -> benchmarks/results/estimators.json,
                                               #   benchmarks/plots/*.png, tables on stdout
    python benchmarks/estimators.py --from-json benchmarks/results/estimators.json  # re-render
    python benchmarks/estimators.py --quick    # smoke run -> benchmarks/results/estimators-quick.json
                                               #   (no plots unless --plots DIR is given)

Plots need matplotlib (``pip install -e ".[plot]"``); without it the JSON and tables are still
written and the plots are skipped with a notice.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from math import factorial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from milpregions.api import count_regions  # noqa: E402
from milpregions.estimators.compare import distance_estimate, sampling_curve  # noqa: E402
from milpregions.estimators.lines import boundary_distances, run_lines  # noqa: E402
from milpregions.inputs import as_domain  # noqa: E402
from milpregions.solver.highs import silence_banner  # noqa: E402
from milpregions.testing.constructions import he_mlp, montufar_count, montufar_folding  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def split(N: int, L: int) -> list[int]:
    return [N // L] * L


# ------------------------------------------------------------------------ a, b, c: He nets


def he_scaling(dims_Ns: dict[int, list[int]], depths, seeds, chords: int, dist_points: int):
    rows = []
    for d, Ns in dims_Ns.items():
        for N in Ns:
            for L in depths:
                for seed in seeds:
                    net = he_mlp(d, split(N, L), seed)
                    box = as_domain(net.input_dim, (-1, 1))
                    t0 = time.perf_counter()
                    res = count_regions(net, box)
                    t_count = time.perf_counter() - t0
                    lr = run_lines(net, box, chords, 0, seed=1000 + seed)
                    rng = np.random.default_rng(2000 + seed)
                    X = box.lo + (box.hi - box.lo) * rng.random((dist_points, d))
                    dist = boundary_distances(net, X)
                    fin = dist[np.isfinite(dist)]
                    rows.append({
                        "d": d, "N": N, "layers": L, "widths": split(N, L), "seed": seed,
                        "exact": int(res.regions), "exact_is_exact": bool(res.exact),
                        "scale": N ** d / factorial(d),
                        "ratio": res.regions / (N ** d / factorial(d)),
                        "crossings_per_length": lr.density,
                        "mean_regions_per_chord": lr.mean_regions,
                        "mean_distance": float(fin.mean()) if fin.size else None,
                        "median_distance": float(np.median(fin)) if fin.size else None,
                        "count_seconds": t_count,
                    })
                log(f"  a/b/c d={d} N={N} L={L}: counts "
                    f"{[r['exact'] for r in rows[-len(seeds):]]}")
    return rows


def summarise_scaling(rows):
    """Mean and standard deviation over seeds per (d, N, layers)."""
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["d"], r["N"], r["layers"]), []).append(r)
    out = []
    for (d, N, L), rs in sorted(groups.items()):
        def ms(key, rs=rs):
            v = np.array([r[key] for r in rs], dtype=float)
            return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0
        cnt, cnt_sd = ms("exact")
        ratio, ratio_sd = ms("ratio")
        lam, lam_sd = ms("crossings_per_length")
        md, md_sd = ms("mean_distance")
        out.append({"d": d, "N": N, "layers": L, "seeds": len(rs), "exact_mean": cnt,
                    "exact_sd": cnt_sd, "scale": N ** d / factorial(d), "ratio_mean": ratio,
                    "ratio_sd": ratio_sd, "crossings_mean": lam, "crossings_sd": lam_sd,
                    "crossings_per_unit": lam / N, "distance_mean": md, "distance_sd": md_sd,
                    "distance_times_N": md * N, "distance_times_crossings": md * lam})
    return out


# ------------------------------------------------------------------------ d: error vs budget


def error_vs_budget(nets, point_budgets, line_budgets, dist_budgets, reps):
    out = []
    for name, d, widths, seed in nets:
        net = he_mlp(d, widths, seed)
        box = as_domain(net.input_dim, (-1, 1))
        exact = count_regions(net, box).regions
        rec = {"name": name, "d": d, "widths": widths, "seed": seed, "exact": int(exact),
               "sample": [], "lines": [], "distance": []}
        for rep in range(reps):
            curve, snaps = sampling_curve(net, box, point_budgets, seed=rep)
            for s in snaps:
                rec["sample"].append({"rep": rep, "points": s.points, "distinct": s.distinct,
                                      "chao1": s.chao1, "good_turing": s.good_turing,
                                      "seconds": s.seconds})
            for k in line_budgets:
                r = run_lines(net, box, k, 0, seed=100 * rep + k)
                rec["lines"].append({"rep": rep, "lines": k, "estimate": r.estimate_from_lines,
                                     "density": r.density, "seconds": r.seconds})
            for m in dist_budgets:
                t_d = time.perf_counter()
                dd = distance_estimate(net, box, m, seed=100 * rep + 7)
                rec["distance"].append({"rep": rep, "points": m,
                                        "estimate": 1.0 if dd.estimate is None else dd.estimate,
                                        "mean_distance": dd.mean,
                                        "seconds": time.perf_counter() - t_d})
        log(f"  d {name}: exact {exact}")
        out.append(rec)
    return out


def _mean_err(vals, exact):
    v = np.array([np.nan if x is None else x for x in vals], dtype=float)
    e = (v - exact) / exact
    return float(np.nanmean(e)), float(np.nanmin(e)), float(np.nanmax(e))


def summarise_budget(rec):
    ex = rec["exact"]
    rows = []
    for key, est in (("distinct", "sample: distinct"), ("chao1", "sample: Chao1"),
                     ("good_turing", "sample: Good-Turing")):
        for n in sorted({s["points"] for s in rec["sample"]}):
            ss = [s for s in rec["sample"] if s["points"] == n]
            m, lo, hi = _mean_err([s[key] for s in ss], ex)
            rows.append({"estimator": est, "budget": n, "unit": "points", "err_mean": m,
                         "err_min": lo, "err_max": hi,
                         "seconds": float(np.mean([s["seconds"] for s in ss]))})
    for key, est, unit, field in (("lines", "lines", "lines", "lines"),
                                  ("distance", "distance", "points", "points")):
        for n in sorted({s[field] for s in rec[key]}):
            ss = [s for s in rec[key] if s[field] == n]
            m, lo, hi = _mean_err([s["estimate"] for s in ss], ex)
            rows.append({"estimator": est, "budget": n, "unit": unit, "err_mean": m,
                         "err_min": lo, "err_max": hi,
                         "seconds": float(np.mean([s["seconds"] for s in ss]))})
    return rows


# ------------------------------------------------------------------------ e: folding nets


def folding(configs, point_budgets, chords):
    out = []
    for n0, p, L in configs:
        net = montufar_folding(n0, p, L)
        box = as_domain(net.input_dim, (0, 1))
        t0 = time.perf_counter()
        res = count_regions(net, box)
        t_count = time.perf_counter() - t0
        _, snaps = sampling_curve(net, box, point_budgets, seed=0)
        lr = run_lines(net, box, chords, 0, seed=0)
        out.append({"n0": n0, "p": p, "depth": L, "exact": int(res.regions),
                    "formula": montufar_count(n0, p, L), "region_volume": float(p) ** -(n0 * L),
                    "count_seconds": t_count,
                    "sample": [{"points": s.points, "distinct": s.distinct,
                                "chao1": s.chao1, "good_turing": s.good_turing,
                                "seconds": s.seconds} for s in snaps],
                    "lines_estimate": lr.estimate_from_lines, "lines": chords,
                    "expected_distinct": {
                        str(s.points): res.regions * (1 - (1 - float(p) ** -(n0 * L)) ** s.points)
                        for s in snaps}})
        log(f"  e n0={n0} p={p} L={L}: exact {res.regions} ({t_count:.1f} s), distinct "
            f"{[s.distinct for s in snaps]}")
    return out


# ------------------------------------------------------------------------ tables


def pct(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if abs(x) >= 10:
        return f"{100 * x:+,.0f}%"
    return f"{100 * x:+.1f}%"


def num(x) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float) and not float(x).is_integer():
        return f"{x:,.1f}"
    return f"{int(x):,}"


def tables(res) -> str:
    md = []
    summ = res["scaling_summary"]
    seeds = summ[0]["seeds"] if summ else 0
    md.append(f"**(a) exact count / (N^d/d!)** (He-init ReLU MLP, box [-1,1]^d, mean ± sd over "
              f"{seeds} seeds; N units split evenly into the given number of layers)\n")
    for d in sorted({r["d"] for r in summ}):
        Ls = sorted({r["layers"] for r in summ if r["d"] == d})
        md.append(f"d = {d}:\n")
        md.append("| N | N^d/d! | " + " | ".join(f"{L} layer{'s' if L > 1 else ''}: count"
                                                  for L in Ls) + " | "
                  + " | ".join(f"{L}L: ratio" for L in Ls) + " |")
        md.append("|---" * (2 + 2 * len(Ls)) + "|")
        for N in sorted({r["N"] for r in summ if r["d"] == d}):
            by = {r["layers"]: r for r in summ if r["d"] == d and r["N"] == N}
            md.append(f"| {N} | {num(N ** d / factorial(d))} | "
                      + " | ".join(f"{by[L]['exact_mean']:,.0f} ± {by[L]['exact_sd']:,.0f}"
                                   for L in Ls) + " | "
                      + " | ".join(f"{by[L]['ratio_mean']:.2f} ± {by[L]['ratio_sd']:.2f}"
                                   for L in Ls) + " |")
        md.append("")
    md.append("**(b) crossings per unit length** along random chords (λ) and **(c) mean distance "
              "to the nearest region boundary** (δ), same networks, d = 2 and 3\n")
    md.append("| d | N | layers | λ | λ/N | δ | δ·N | δ·λ |")
    md.append("|---|---|---|---|---|---|---|---|")
    for r in summ:
        md.append(f"| {r['d']} | {r['N']} | {r['layers']} | {r['crossings_mean']:.2f} | "
                  f"{r['crossings_per_unit']:.3f} | {r['distance_mean']:.4f} | "
                  f"{r['distance_times_N']:.3f} | {r['distance_times_crossings']:.3f} |")
    md.append("")
    md.append("**(d) estimator error against budget**: mean signed relative error "
              "(estimate − exact)/exact over repetitions, [min, max] in brackets\n")
    for rec in res["budget"]:
        md.append(f"`{rec['name']}` (d = {rec['d']}, widths {rec['widths']}, seed {rec['seed']}): "
                  f"exact **{rec['exact']:,}**\n")
        rows = rec["summary"]
        ests = []
        for r in rows:
            if r["estimator"] not in ests:
                ests.append(r["estimator"])
        # one compact table for sampling, then one each for lines and distance
        sample_b = sorted({r["budget"] for r in rows if r["estimator"].startswith("sample")})
        md.append("| estimator | " + " | ".join(f"{b:,} pts" for b in sample_b) + " |")
        md.append("|---" * (1 + len(sample_b)) + "|")
        for e in [x for x in ests if x.startswith("sample")]:
            cells = {r["budget"]: r for r in rows if r["estimator"] == e}
            md.append(f"| {e} | " + " | ".join(
                f"{pct(cells[b]['err_mean'])} [{pct(cells[b]['err_min'])}, {pct(cells[b]['err_max'])}]"
                for b in sample_b) + " |")
        md.append("")
        for e, label in (("lines", "chords"), ("distance", "pts")):
            bs = sorted({r["budget"] for r in rows if r["estimator"] == e})
            if not bs:
                continue
            cells = {r["budget"]: r for r in rows if r["estimator"] == e}
            md.append(f"| {e} | " + " | ".join(f"{b:,} {label}" for b in bs) + " |")
            md.append("|---" * (1 + len(bs)) + "|")
            md.append("| error | " + " | ".join(
                f"{pct(cells[b]['err_mean'])} [{pct(cells[b]['err_min'])}, {pct(cells[b]['err_max'])}]"
                for b in bs) + " |")
            md.append("")
    md.append("**(e) folding networks** (Montúfar et al. 2014), box [0,1]^n0, p^(n0·L) regions "
              "of equal volume p^-(n0·L); distinct patterns among N uniform points (seed 0)\n")
    fb = sorted({s["points"] for r in res["folding"] for s in r["sample"]})
    md.append("| n0 | p | L | exact | " + " | ".join(f"distinct @ {b:,}" for b in fb)
              + f" | Chao1 @ {fb[-2]:,} | Chao1 @ {fb[-1]:,} | GT @ {fb[-1]:,} | "
              f"lines ({res['folding'][0]['lines']}) |")
    md.append("|---" * (4 + len(fb) + 4) + "|")
    for r in res["folding"]:
        s = {x["points"]: x for x in r["sample"]}
        last, prev = s[fb[-1]], s[fb[-2]]
        md.append(f"| {r['n0']} | {r['p']} | {r['depth']} | {r['exact']:,} | "
                  + " | ".join(f"{s[b]['distinct']:,} ({s[b]['distinct'] / r['exact']:.0%})"
                               for b in fb)
                  + f" | {num(prev['chao1'])} | {num(last['chao1'])} | {num(last['good_turing'])} | "
                  f"{num(r['lines_estimate'])} |")
    md.append("")
    return "\n".join(md)


# ------------------------------------------------------------------------ plots


def make_plots(res, outdir: Path) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker  # noqa: F401
    except ImportError:
        log("matplotlib is not installed: plots skipped (pip install -e '.[plot]')")
        return []
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    summ = res["scaling_summary"]
    dims = sorted({r["d"] for r in summ})
    markers = {1: "o", 2: "s", 4: "^", 3: "D"}

    # a: count vs N^d/d!
    fig, axes = plt.subplots(1, len(dims), figsize=(5.2 * len(dims), 4.2), squeeze=False)
    for ax, d in zip(axes[0], dims):
        for L in sorted({r["layers"] for r in summ if r["d"] == d}):
            rs = [r for r in summ if r["d"] == d and r["layers"] == L]
            ax.errorbar([r["scale"] for r in rs], [r["exact_mean"] for r in rs],
                        yerr=[r["exact_sd"] for r in rs], marker=markers.get(L, "o"),
                        capsize=3, label=f"{L} layer{'s' if L > 1 else ''}")
        xs = np.array(sorted({r["scale"] for r in summ if r["d"] == d}))
        ax.plot(xs, xs, "k--", lw=0.8, label="count = N^d/d!")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(f"N^{d}/{d}!  (N = total hidden units)")
        ax.set_ylabel("exact regions in [-1,1]^d")
        ax.set_title(f"He-init ReLU MLPs, d = {d}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    p = outdir / "estimators_count_vs_scale.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(p)

    # b: crossings vs N ; c: distance vs N
    for key, sd, fname, ylabel, title in (
            ("crossings_mean", "crossings_sd", "estimators_crossings_vs_N.png",
             "boundary crossings per unit length", "crossings along random chords"),
            ("distance_mean", "distance_sd", "estimators_distance_vs_N.png",
             "mean distance to nearest boundary", "distance to the nearest region boundary")):
        fig, axes = plt.subplots(1, len(dims), figsize=(5.2 * len(dims), 4.2), squeeze=False)
        for ax, d in zip(axes[0], dims):
            Ns = np.array(sorted({r["N"] for r in summ if r["d"] == d}), dtype=float)
            for L in sorted({r["layers"] for r in summ if r["d"] == d}):
                rs = [r for r in summ if r["d"] == d and r["layers"] == L]
                ax.errorbar([r["N"] for r in rs], [r[key] for r in rs], yerr=[r[sd] for r in rs],
                            marker=markers.get(L, "o"), capsize=3,
                            label=f"{L} layer{'s' if L > 1 else ''}")
            allr = [r for r in summ if r["d"] == d]
            if key == "crossings_mean":
                c = np.mean([r[key] / r["N"] for r in allr])
                ax.plot(Ns, c * Ns, "k--", lw=0.8, label=f"{c:.3f} · N")
                ax.set_ylim(bottom=0)
                ax.set_xlim(left=0)
            else:
                c = np.mean([r[key] * r["N"] for r in allr])
                ax.plot(Ns, c / Ns, "k--", lw=0.8, label=f"{c:.3f} / N")
                ax.set_xscale("log")
                ax.set_yscale("log")
            ax.set_xlabel("N (total hidden units)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{title}, d = {d}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        p = outdir / fname
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(p)

    # d: error vs budget
    recs = res["budget"]
    fig, axes = plt.subplots(1, len(recs), figsize=(5.0 * len(recs), 4.2), squeeze=False,
                             sharey=True)
    styles = {"sample: distinct": "o-", "sample: Chao1": "s--", "sample: Good-Turing": "^:",
              "lines": "D-", "distance": "v-"}
    for ax, rec in zip(axes[0], recs):
        for est, st in styles.items():
            rs = [r for r in rec["summary"] if r["estimator"] == est]
            if not rs:
                continue
            x = [r["budget"] for r in rs]
            y = [r["err_mean"] for r in rs]
            lo = [r["err_mean"] - r["err_min"] for r in rs]
            hi = [r["err_max"] - r["err_mean"] for r in rs]
            lab = est + (" (chords)" if est == "lines" else " (points)" if est == "distance" else "")
            ax.errorbar(x, y, yerr=[lo, hi], fmt=st, ms=4, capsize=2, label=lab)
        ax.axhline(0, color="k", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("budget (points or chords)")
        ax.set_title(f"{rec['name']}: exact {rec['exact']:,}")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_ylim(-1.05, 1.0)
    axes[0][0].set_ylabel("relative error (estimate - exact)/exact")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    p = outdir / "estimators_error_vs_budget.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(p)

    # e: folding failure
    fold = res["folding"]
    groups = sorted({(r["n0"], r["p"]) for r in fold})
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 4.2), squeeze=False)
    for ax, (n0, pp) in zip(axes[0], groups):
        rs = [r for r in fold if r["n0"] == n0 and r["p"] == pp]
        Ls = [r["depth"] for r in rs]
        ax.plot(Ls, [r["exact"] for r in rs], "k-", lw=2, label="exact = p^(n0 L)")
        for b in sorted({s["points"] for r in rs for s in r["sample"]}):
            ax.plot(Ls, [next(s["distinct"] for s in r["sample"] if s["points"] == b) for r in rs],
                    "o--", ms=4, label=f"distinct, {b:.0e} points")
        ax.plot(Ls, [r["sample"][-1]["chao1"] for r in rs], "s:", ms=4,
                label=f"Chao1, {rs[0]['sample'][-1]['points']:.0e} points")
        ax.set_yscale("log")
        ax.set_xlabel("depth L")
        ax.set_ylabel("regions")
        ax.set_title(f"folding net n0 = {n0}, p = {pp}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    p = outdir / "estimators_folding_failure.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(p)
    return [os.path.relpath(w, ROOT) for w in written]


# ------------------------------------------------------------------------ main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run (about 30 s)")
    ap.add_argument("--json", metavar="OUT", help="results JSON (default "
                    "benchmarks/results/estimators.json, estimators-quick.json with --quick)")
    ap.add_argument("--plots", metavar="DIR", help="plot directory (default benchmarks/plots; "
                    "none with --quick unless given)")
    ap.add_argument("--from-json", metavar="IN",
                    help="only re-render the tables and plots of an existing results JSON")
    args = ap.parse_args(argv)
    if args.from_json:
        res = json.loads(Path(args.from_json).read_text())
        res["tables_markdown"] = tables(res)
        plot_dir = Path(args.plots) if args.plots else ROOT / "benchmarks" / "plots"
        res["plots"] = make_plots(res, plot_dir)
        Path(args.from_json).write_text(json.dumps(res, indent=1, default=float) + "\n")
        print(res["tables_markdown"])
        return 0
    silence_banner()
    if args.quick:
        dims_Ns = {2: [16, 32]}
        depths, seeds, chords, dpts = [1, 2], [0, 1], 50, 2000
        nets = [("2d_16x16", 2, [16, 16], 0)]
        pb, lb, db, reps = [100, 1000, 10_000], [10, 100], [100, 1000], 2
        fconf = [(1, 2, 3), (2, 2, 3), (2, 3, 2)]
        fpb = [1000, 10_000]
    else:
        dims_Ns = {2: [16, 32, 48, 64], 3: [16, 32, 48]}
        depths, seeds, chords, dpts = [1, 2, 4], [0, 1, 2, 3, 4], 200, 20_000
        nets = [("2d_32x32", 2, [32, 32], 0), ("2d_16x16x16x16", 2, [16, 16, 16, 16], 0),
                ("3d_16x16", 3, [16, 16], 0)]
        pb, lb = [100, 1000, 10_000, 100_000, 1_000_000], [10, 30, 100, 300, 1000]
        db, reps = [100, 1000, 10_000, 100_000], 3
        fconf = ([(1, 2, L) for L in (2, 4, 6, 8, 10, 12)] + [(1, 3, L) for L in (2, 4, 6, 8)]
                 + [(2, 2, L) for L in range(2, 9)] + [(2, 3, L) for L in range(2, 7)])
        fpb = [1000, 10_000, 100_000, 1_000_000]
    out_json = Path(args.json) if args.json else ROOT / "benchmarks" / "results" / (
        "estimators-quick.json" if args.quick else "estimators.json")
    plot_dir = Path(args.plots) if args.plots else (None if args.quick else
                                                    ROOT / "benchmarks" / "plots")
    t0 = time.perf_counter()
    res = {"command": "python benchmarks/estimators.py" + (" --quick" if args.quick else ""),
           "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                       "platform": platform.platform(), "loadavg_start": loadavg()},
           "settings": {"dims_N": {str(k): v for k, v in dims_Ns.items()}, "depths": depths,
                        "seeds": seeds, "chords": chords, "distance_points": dpts,
                        "budget_nets": nets, "point_budgets": pb, "line_budgets": lb,
                        "distance_budgets": db, "reps": reps, "folding": fconf,
                        "folding_point_budgets": fpb}}
    log("a/b/c: He-init MLPs")
    t = time.perf_counter()
    res["scaling"] = he_scaling(dims_Ns, depths, seeds, chords, dpts)
    res["scaling_summary"] = summarise_scaling(res["scaling"])
    res["seconds_scaling"] = time.perf_counter() - t
    log("d: error vs budget")
    t = time.perf_counter()
    res["budget"] = error_vs_budget(nets, pb, lb, db, reps)
    for rec in res["budget"]:
        rec["summary"] = summarise_budget(rec)
    res["seconds_budget"] = time.perf_counter() - t
    log("e: folding networks")
    t = time.perf_counter()
    res["folding"] = folding(fconf, fpb, chords=10)   # a chord crosses up to p^L regions
    res["seconds_folding"] = time.perf_counter() - t
    res["seconds_total"] = time.perf_counter() - t0
    res["machine"]["loadavg_end"] = loadavg()
    res["tables_markdown"] = tables(res)
    res["plots"] = make_plots(res, plot_dir) if plot_dir is not None else []
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(res, indent=1, default=float) + "\n")
    print(res["tables_markdown"])
    log(f"wrote {os.path.relpath(out_json, ROOT)}; plots: {res['plots']}; "
        f"{res['seconds_total']:.0f} s, load {res['machine']['loadavg_start']} -> "
        f"{res['machine']['loadavg_end']}")
    bad = [r for r in res["folding"] if r["exact"] != r["formula"]]
    if bad:
        log(f"MISMATCH: folding exact count != p^(n0 L) for {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
