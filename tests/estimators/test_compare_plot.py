"""The ``compare`` picture (``estimators.plot``): written as SVG by real matplotlib, then read
back: its title, axis labels, legend, and the drawn lines and bands (by their ids)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from milpregions.estimators import compare
from milpregions.ir.network import mlp
from milpregions.testing.constructions import he_mlp

pytest.importorskip("matplotlib")

from milpregions.estimators.plot import plot_curve  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
HE2 = Path(__file__).resolve().parents[2] / "models" / "he_2d_8x8.onnx"


def bottleneck(n: int = 30):
    """n0 = 2, widths [1, n]: n parallel lines, n + 1 regions in [-1, 1]^2 (as in
    test_compare_flags); Serra et al. 2018 allow n + 2, the lines estimate is far above."""
    return mlp([np.array([[1.0, 0.3]]), np.ones((n, 1)), np.ones((1, n))],
               [np.array([2.0]), -np.linspace(0.8, 3.2, n), np.zeros(1)])


def read_svg(path):
    root = ET.parse(path).getroot()
    texts = ["".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")]
    ids = {g.get("id") for g in root.iter(f"{SVG}g")}
    return texts, ids


def test_plot_has_labels_bands_exact_count_and_bounds(tmp_path):
    r = compare.compare_estimators(bottleneck(), (-1, 1), points=(100, 3000), lines=(5, 20),
                                   distance_points=(200,), seed=0)
    out = tmp_path / "bottleneck.svg"
    plot_curve(r, out, title="bottleneck")
    texts, ids = read_svg(out)
    assert texts.count("bottleneck") == 1
    for label in ("random points sampled", "random lines (chords) sampled", "regions",
                  "exact count 31",
                  "proven upper bound 32 (Serra et al. 2018, Thm 1)",
                  "proven upper bound 62 (Montufar 2017, product bound)",
                  "distinct patterns seen (proven lower bound)", "Chao1",
                  "Chao1 95% interval (log-normal)", "Good-Turing",
                  "Good-Turing +- 1.96 s.e. (indicative)",
                  "boundary distance, Poisson model (no interval)",
                  "lines, Poisson model (95% interval: chord sampling only)"):
        assert label in texts, label
    # the lines panel's ticks are the budgets
    assert {"5", "20"} <= set(texts)
    assert {"exact-count", "lines-exact-count", "bound-serra-et-al-2018-thm-1",
            "bound-montufar-2017-product-bound", "lines-bound-serra-et-al-2018-thm-1",
            "distinct", "chao1", "chao1-ci", "good-turing", "good-turing-band", "distance",
            "lines", "lines-ci-0"} <= ids
    # the Montufar/Serra lower bounds are no bound on this network: never drawn as one
    assert not any("2014" in t for t in texts)


def test_plot_names_bounds_far_above_the_data_instead_of_drawing_them(tmp_path):
    net = he_mlp(2, [8, 8, 8, 8], seed=1)     # 370 regions; Serra et al. allow 37^4
    r = compare.compare_estimators(net, (-1, 1), points=(200,), lines=(), distance_points=(),
                                   seed=0)
    assert r.regions == 370
    out = tmp_path / "deep.svg"
    plot_curve(r, out)
    texts, ids = read_svg(out)
    assert "n0 = 2, widths [8, 8, 8, 8]" in texts                 # the default title
    assert ("proven upper bound 1,874,161 (Serra et al. 2018, Thm 1; Montufar 2017, product "
            "bound), off scale") in texts
    assert "exact-count" in ids and not any(i and i.startswith("bound-") for i in ids)
    assert "random lines (chords) sampled" not in texts          # no lines: one panel


def test_compare_cli_plot_title_is_the_model_stem(cli, tmp_path):
    out = tmp_path / "curve.svg"
    code, stdout, err = cli("compare", HE2, "--box", "-1,1", "--points", "100,1000",
                            "--lines", "4", "--distance-points", "0", "--no-tighten",
                            "--plot", out)
    assert code == 0 and err == "" and f"plot: {out}" in stdout
    texts, ids = read_svg(out)
    assert "he_2d_8x8" in texts and not any(str(HE2) in t or ".onnx" in t for t in texts)
    assert "exact count 102" in texts and {"chao1-ci", "lines", "exact-count"} <= ids
