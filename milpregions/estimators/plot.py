"""Pictures of the estimators (the ``plot`` extra: matplotlib).

``plot_curve`` draws the ``compare`` result for a paper: regions (log y) against the budget
(log x), one panel for the random points (distinct patterns, Chao1 and Good-Turing with their
intervals as bands, the boundary-distance estimates as markers) and, when lines were run, one
for the random chords (the Poisson-model estimate with its interval as error bars). Both show
the exact count and the proven upper bounds of this network as horizontal lines; bounds far
above everything else are named in the legend instead of flattening the picture. Text stays
text in SVG and PDF (``svg.fonttype`` none, TrueType fonts in PDF), and the drawn elements
carry ids (``gid``) in an SVG: ``exact-count``, ``bound-<source>``, ``distinct``, ``chao1``,
``chao1-ci``, ``good-turing``, ``good-turing-band``, ``distance``; in the lines panel ``lines``
(the estimates), ``lines-ci-<i>`` (their interval bars and caps), ``lines-exact-count`` and
``lines-bound-<source>``.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..errors import InputError
from .compare import CompareResult

PLOT_HINT = "pip install 'milpregions[plot]' (or pip install matplotlib)"
BOUND_COLOURS = ("tab:red", "darkred", "tab:pink", "indianred")
OFF_SCALE = 1e3         # a bound more than this factor above the data is named, not drawn


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _gid(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _fmt(v: float) -> str:
    return f"{v:.3g}" if v >= 1e7 else f"{v:,.0f}"


def _positive(values) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v) and v > 0]


def plot_curve(r: CompareResult, path, title: str = "") -> None:
    """The ``compare`` picture (see the module docstring), written to ``path`` (the format
    from its extension: .png, .svg, .pdf, ...). ``title``: the model's name (the CLI passes the
    file stem); default the architecture. Needs matplotlib (the ``plot`` extra)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter
    except ImportError:
        raise InputError(f"plotting needs matplotlib: {PLOT_HINT}") from None
    c = r.curve
    lines_rows = [row for row in r.rows if row.estimator.startswith("lines:")
                  and row.estimate is not None and math.isfinite(row.estimate)]
    dist_rows = [row for row in r.rows if row.estimator.startswith("distance:")
                 and row.estimate is not None and math.isfinite(row.estimate)]
    gt = np.array([np.nan if v is None else v for v in c["good_turing"]], dtype=float)
    gt_se = np.array([np.nan if v is None else v for v in c["good_turing_se"]], dtype=float)
    data = _positive([r.regions] + list(c["distinct"]) + list(c["chao1"])
                     + list(c["chao1_hi"]) + list(gt) + [row.estimate for row in dist_rows]
                     + [v for row in lines_rows for v in (row.estimate, *(row.interval or ()))])
    top = max(data) if data else 1.0
    uppers = [b for b in r.proven_bounds if b.side == "upper" and not b.from_count]
    merged: dict[int, list[str]] = {}
    for b in uppers:
        merged.setdefault(b.value, []).append(b.source)
    drawn = [(v, "; ".join(src)) for v, src in sorted(merged.items()) if v <= OFF_SCALE * top]
    off = [(v, "; ".join(src)) for v, src in sorted(merged.items()) if v > OFF_SCALE * top]
    ymax = max([top] + [v for v, _ in drawn]) * 2.0
    ymin = max(min(data) / 2.0, 0.5) if data else 0.5

    ncols = 2 if lines_rows else 1
    rc = {"svg.fonttype": "none", "pdf.fonttype": 42, "ps.fonttype": 42, "font.size": 9}
    with plt.rc_context(rc):
        fig, axes = plt.subplots(1, ncols, figsize=(4.6 * ncols + 0.6, 4.4), sharey=True,
                                 squeeze=False, layout="constrained")
        axes = axes[0]
        for k, ax in enumerate(axes):
            pre = "" if k == 0 else "lines-"        # SVG ids are unique
            exact_label = (f"exact count {r.regions:,}" if r.exact
                           else f"stopped count: at least {r.regions:,}")
            ax.axhline(r.regions, color="k", lw=1.4, ls="-" if r.exact else "-.",
                       label=exact_label, gid=f"{pre}exact-count")
            for i, (v, src) in enumerate(drawn):
                ax.axhline(v, color=BOUND_COLOURS[i % len(BOUND_COLOURS)], lw=1.0,
                           ls=(0, (5, 2 + 2 * i)),
                           label=f"proven upper bound {_fmt(v)} ({src})",
                           gid=f"{pre}bound-{_gid(src)}")
            for v, src in off:
                ax.plot([], [], " ", label=f"proven upper bound {_fmt(v)} ({src}), off scale")
            ax.set_yscale("log")
            ax.set_ylim(ymin, ymax)
            ax.set_xscale("log")
            ax.grid(True, which="major", alpha=0.3)
            ax.set_ylabel("regions")
        ax = axes[0]
        if c["points"]:
            x = np.asarray(c["points"], dtype=float)
            ax.plot(x, c["distinct"], "o-", ms=2.5, color="tab:blue",
                    label="distinct patterns seen (proven lower bound)", gid="distinct")
            ax.plot(x, c["chao1"], "--", color="tab:orange", label="Chao1", gid="chao1")
            ax.fill_between(x, c["chao1_lo"], c["chao1_hi"], color="tab:orange", alpha=0.2,
                            lw=0, label="Chao1 95% interval (log-normal)", gid="chao1-ci")
            ax.plot(x, gt, ":", color="tab:green", label="Good-Turing", gid="good-turing")
            ok = np.isfinite(gt) & np.isfinite(gt_se)
            ax.fill_between(x, gt - 1.96 * gt_se, gt + 1.96 * gt_se, where=ok,
                            color="tab:green", alpha=0.15, lw=0,
                            label="Good-Turing +- 1.96 s.e. (indicative)",
                            gid="good-turing-band")
        if dist_rows:
            ax.plot([row.budget for row in dist_rows], [row.estimate for row in dist_rows],
                    "s", color="tab:purple", ms=5,
                    label="boundary distance, Poisson model (no interval)", gid="distance")
        ax.set_xlabel("random points sampled")
        ax.set_title("random points", fontsize=9)
        if lines_rows:
            ax = axes[1]
            xs = [row.budget for row in lines_rows]
            ys = [row.estimate for row in lines_rows]
            err = np.array([[max(y - row.interval[0], 0.0), max(row.interval[1] - y, 0.0)]
                            if row.interval is not None else [0.0, 0.0]
                            for y, row in zip(ys, lines_rows)]).T
            bars = ax.errorbar(xs, ys, yerr=err, fmt="D", color="tab:brown", ms=5, capsize=3,
                               label="lines, Poisson model (95% interval: chord sampling only)")
            data_line, caps, cols = bars.lines
            data_line.set_gid("lines")
            for i, a in enumerate(list(caps) + list(cols)):
                a.set_gid(f"lines-ci-{i}")
            ax.set_xlabel("random lines (chords) sampled")
            ax.set_title("random lines", fontsize=9)
            ax.set_xlim(min(xs) / 2, max(xs) * 2)
            ax.set_xticks(sorted(set(xs)), [f"{v:,}" for v in sorted(set(xs))])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_ylabel("")
        fig.suptitle(title or f"n0 = {r.input_dim}, widths {r.widths}", fontsize=11)
        handles, labels, seen = [], [], set()
        for a in axes:
            for h, lab in zip(*a.get_legend_handles_labels()):
                if lab not in seen:
                    seen.add(lab)
                    handles.append(h)
                    labels.append(lab)
        fig.legend(handles, labels, loc="outside lower center", ncol=2 if ncols == 2 else 1,
                   fontsize=7.5, frameon=False)
        try:
            fig.savefig(path, dpi=150, metadata={"Title": title} if title and
                        str(path).lower().endswith((".svg", ".pdf", ".png")) else None)
        except OSError as e:
            raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
        finally:
            plt.close(fig)
