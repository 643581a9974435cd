"""The picture of a series: the count against the checkpoint (the ``plot`` extra: matplotlib)."""

from __future__ import annotations

from .plot import check_plot_path
from .series import CountSeries


def plot_series(series: CountSeries, path, title: str = "") -> None:
    """Regions against the checkpoint step (the number in the file names; else the position),
    a log axis when the counts span more than a factor 50. Exact counts are filled dots on a
    line; lower bounds (a limit stopped the count) are open triangles pointing up, in the
    legend as such. Text stays text in an SVG."""
    check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..errors import InputError

    xs = series.steps
    by_name = all(e.step is not None for e in series.entries) and xs == [e.step for e in series.entries]
    exact = [(x, e.result.regions) for x, e in zip(xs, series.entries)
             if e.result is not None and e.result.exact]
    lower = [(x, e.result.regions) for x, e in zip(xs, series.entries)
             if e.result is not None and not e.result.exact]
    counted = [e.result.regions for e in series.entries if e.result is not None]
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(6.0, 3.8))
        if exact:
            ax.plot(*zip(*exact), "o-", color="C0", label="exact count", gid="exact")
        if lower:
            ax.plot(*zip(*lower), "^", color="C1", markerfacecolor="none", linestyle="none",
                    label="lower bound (stopped by a limit)", gid="lower")
        if counted and min(counted) >= 1 and max(counted) / min(counted) > 50:
            ax.set_yscale("log")
        ax.set_xlabel("checkpoint (the number in the file name)" if by_name else "checkpoint")
        ax.set_ylabel("activation regions")
        ax.grid(True, alpha=0.3)
        if exact or lower:
            ax.legend(fontsize=8)
        box = series.domain.box
        ax.set_title(title or f"{len(series.entries)} models on {series.domain.to_dict()['kind']} "
                     f"of {box.dim} inputs", fontsize=10)
        fig.tight_layout()
        try:
            fig.savefig(path, dpi=110)
        except OSError as e:
            raise InputError(f"{path}: cannot write ({e.strerror or e})") from None
        finally:
            plt.close(fig)
