"""The histogram of a local-complexity study (the ``plot`` extra: matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from .local import LocalComplexity

PLOT_HINT = "pip install 'milpregions[plot]' (or pip install matplotlib)"
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def check_plot_path(path) -> None:
    """Before any count: matplotlib is there and the file is a format it writes."""
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise InputError(f"{path}: the plot must be a .png, .svg or .pdf file")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(f"plotting needs matplotlib: {PLOT_HINT}") from None


def _bins(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Integer-centred bins for a narrow range of counts, logarithmic ones (and a log axis)
    for a wide one."""
    lo, hi = int(values.min()), int(values.max())
    if hi - lo <= 40:
        return np.arange(lo, hi + 2) - 0.5, False
    if lo >= 1 and hi / lo > 50:
        return np.geomspace(lo * 0.95, hi * 1.05, 30), True
    return np.linspace(lo - 0.5, hi + 0.5, 31), False


def plot_local(lc: LocalComplexity, path, title: str = "") -> None:
    """One histogram per radius of the number of regions in the ball around each point; the
    lower bounds (counts a limit stopped) stacked on the exact counts, hatched. Each panel's
    title states the points counted, the mean and the median; text stays text in an SVG."""
    check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(lc.radii)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 3.6), squeeze=False)
        for j, (ax, s) in enumerate(zip(axes[0], lc.summary)):
            ax.set_gid(f"radius-{j}")
            made = lc.counted[:, j]
            exact = lc.counts[made & lc.exact[:, j], j]
            lower = lc.counts[made & ~lc.exact[:, j], j]
            if s.counted:
                bins, log = _bins(np.concatenate([exact, lower]))
                _, _, bars = ax.hist([exact, lower], bins=bins, stacked=True,
                                     color=["C0", "C1"], label=["exact", "lower bound"])
                for patch in bars[1]:
                    patch.set_hatch("//")
                if log:
                    ax.set_xscale("log")
                head = (f"r = {s.radius:g}: {s.counted} points, mean {s.mean:.2f}, "
                        f"median {s.median:g}")
            else:
                head = f"r = {s.radius:g}: no point counted"
            if s.lower_bounds:
                head += f"\n{s.lower_bounds} lower bounds"
                ax.legend(fontsize=8)
            ax.set_title(head, fontsize=9)
            ax.set_xlabel(f"regions in the L{'-inf' if lc.norm == 'inf' else '1'} ball")
            ax.set_ylabel("points")
        if title:
            fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        try:
            fig.savefig(path, dpi=110)
        except OSError as e:
            raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
        finally:
            plt.close(fig)
