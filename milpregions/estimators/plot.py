"""Pictures of the estimators (the ``plot`` extra: matplotlib)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .compare import CompareResult

PLOT_HINT = "pip install 'milpregions[plot]' (or pip install matplotlib)"


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_curve(r: CompareResult, path, title: str = "") -> None:
    """Distinct patterns (and Chao1, Good-Turing) against the number of points, log x, with the
    exact count as a horizontal line. Needs matplotlib (the ``plot`` extra)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(f"plotting needs matplotlib: {PLOT_HINT}") from None
    c = r.curve
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if c["points"]:
        ax.plot(c["points"], c["distinct"], "o-", ms=3, label="distinct patterns (lower bound)")
        ax.plot(c["points"], c["chao1"], "--", label="Chao1")
        gt = [np.nan if v is None else v for v in c["good_turing"]]
        ax.plot(c["points"], gt, ":", label="Good-Turing")
    ax.axhline(r.regions, color="k", lw=1.2,
               label=f"exact count {r.regions:,}" + ("" if r.exact else " (lower bound)"))
    ax.set_xscale("log")
    ax.set_xlabel("number of random points")
    ax.set_ylabel("regions")
    top = max([r.regions] + [v for v in c["distinct"]])
    ax.set_ylim(0, 1.6 * top)
    ax.set_title(title or f"n0 = {r.input_dim}, widths {r.widths}")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        plt.close(fig)


