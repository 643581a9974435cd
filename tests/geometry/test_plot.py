"""Pictures a paper can use (``geometry.plot``): size and dpi change the saved image's pixels,
the canvas takes the domain's aspect, a level set that does not cross the domain is not in the
legend (and is reported), a slice marks its three points, the palettes are the named ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from milpregions.api import count
from milpregions.errors import InputError
from milpregions.geometry import analyze
from milpregions.geometry.plot import (
    PALETTES,
    OutputLevel,
    PlotStyle,
    canvas,
    parse_size,
    plot_regions,
)
from milpregions.problem import prepare

pytest.importorskip("matplotlib")
MODELS = Path(__file__).resolve().parents[2] / "models"


def analysis(domain, model="he_2d_8x8.onnx"):
    p = prepare(MODELS / model, domain)
    found = []
    assert count(p, on_region=found.append).exact
    return analyze(p, found, linear=True, cells=True)


def pixels(path) -> tuple[int, int]:
    import matplotlib.image as mpimg

    h, w = mpimg.imread(path).shape[:2]
    return w, h


def test_size_and_dpi_set_the_pixels(tmp_path):
    a = analysis((-np.ones(2), np.ones(2)))
    plot_regions(a, tmp_path / "a.png", style=PlotStyle((4.0, 3.0), 50))
    assert pixels(tmp_path / "a.png") == (200, 150)
    plot_regions(a, tmp_path / "b.png", style=PlotStyle((4.0, 3.0), 120))
    assert pixels(tmp_path / "b.png") == (480, 360)
    plot_regions(a, tmp_path / "c.png")                 # default: square domain, 6 in, 200 dpi
    assert pixels(tmp_path / "c.png") == (1200, 1200)


def test_canvas_takes_the_domain_aspect(tmp_path):
    a = analysis((np.array([-1.0, -0.5]), np.array([1.0, 0.0])))     # 4 : 1
    plot_regions(a, tmp_path / "wide.png", style=PlotStyle(dpi=50))
    w, h = pixels(tmp_path / "wide.png")
    assert (w, h) == (300, 125)                          # 6 x 2.5 in: room for the title
    assert canvas(np.zeros(2), np.array([1.0, 2.0]), PlotStyle()) == ((3.0, 6.0), True)
    assert canvas(np.zeros(2), np.array([10.0, 1.0]), PlotStyle()) == ((6.0, 2.5), False)


def test_empty_level_set_is_not_in_the_legend(tmp_path):
    a = analysis((-np.ones(2), np.ones(2)), "he_2d_16x16.onnx")   # y0 = 0 crosses its box
    s = plot_regions(a, tmp_path / "l.svg",
                     levels=(OutputLevel(0), OutputLevel(0, value=1e6)))
    assert s.level_segments > 0
    assert s.legend == ("y0 = 0",)
    assert s.empty_levels == ("y0 = 1e+06",)
    s = plot_regions(a, tmp_path / "m.svg", levels=(OutputLevel(0, value=1e6),))
    assert s.legend == () and s.empty_levels == ("y0 = 1e+06",)
    assert "<g id=\"legend_1\">" not in (tmp_path / "m.svg").read_text()


def test_slice_marks_its_three_points(tmp_path):
    from milpregions.ir.domain import Slice

    a = analysis(Slice.through([-1, -1, -1], [1, -1, 0], [-1, 1, 1]), "zaslavsky_3d_6.onnx")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seen = []
    real = plt.Axes.annotate

    def spy(self, text, *args, **kw):      # records what is drawn; draws it (no mock)
        seen.append(text)
        return real(self, text, *args, **kw)

    plt.Axes.annotate = spy
    try:
        plot_regions(a, tmp_path / "s.png", axis_labels=("$s$", "$t$"))
    finally:
        plt.Axes.annotate = real
    assert seen == ["$P_0$", "$P_1$", "$P_2$"]
    seen.clear()
    plt.Axes.annotate = spy
    try:
        plot_regions(analysis((-np.ones(2), np.ones(2))), tmp_path / "b.png")
    finally:
        plt.Axes.annotate = real
    assert seen == []                        # a box has no slice points


def test_style_checks():
    assert parse_size("6,4") == (6.0, 4.0) == parse_size("6x4")
    with pytest.raises(InputError, match="expected W,H in inches"):
        parse_size("6")
    with pytest.raises(InputError, match="palette 'jet'"):
        PlotStyle(palette="jet")
    with pytest.raises(InputError, match="dpi 0"):
        PlotStyle(dpi=0)
    with pytest.raises(InputError, match="each side must be 0.5 to 100 inches"):
        PlotStyle(size=(0.1, 4.0))
    assert set(PALETTES) == {"tol-light", "okabe-ito", "grey"}
