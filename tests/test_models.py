"""The committed models in models/: counts from their ONNX files equal the analytic or exact ones."""

from pathlib import Path

import pytest

from milpregions.api import count_regions
from milpregions.onnx import load_onnx

from exact_oracles import count_2d

MODELS = Path(__file__).resolve().parent.parent / "models"

ANALYTIC = [  # file, box, count from the construction's formula (models/README.md)
    ("montufar_1d_p2_d3.onnx", (0.0, 1.0), 2 ** 3),
    ("montufar_2d_p2_d2.onnx", (0.0, 1.0), 2 ** 4),
    ("zaslavsky_2d_8.onnx", (-1.0, 1.0), 1 + 8 + 28),
    ("zaslavsky_3d_6.onnx", (-1.0, 1.0), 1 + 6 + 15 + 20),
    ("serra_1d_3x3.onnx", (0.0, 1.0), 4 * 4),
]


@pytest.mark.parametrize("vertex_dim", [6, 0], ids=["vertex", "lp"])
@pytest.mark.parametrize("name,box,count", ANALYTIC, ids=[a[0] for a in ANALYTIC])
def test_analytic_models(name, box, count, vertex_dim):
    res = count_regions(MODELS / name, box, vertex_dim=vertex_dim)
    assert res.exact and res.regions == count


@pytest.mark.parametrize("name", ["he_2d_8x8.onnx", "he_2d_16x16.onnx", "concurrent_2d_8x8.onnx"])
def test_2d_models_equal_the_exact_rational_count(name):
    net = load_onnx(MODELS / name)
    exact = count_2d(net, [-1.0, -1.0], [1.0, 1.0])
    assert count_regions(net, (-1.0, 1.0)).regions == exact
    assert count_regions(net, (-1.0, 1.0), vertex_dim=0).regions == exact


# No formula exists for these; the two enumeration paths (vertices / LPs + sign evidence) are
# independent in how they decide splits, and they agree on these numbers.
HIGHER = [("he_3d_16x16.onnx", 3524), ("he_4d_8x8.onnx", 1780)]


@pytest.mark.parametrize("name,count", HIGHER, ids=[h[0] for h in HIGHER])
def test_higher_dimensional_models_both_paths(name, count):
    net = load_onnx(MODELS / name)
    vertex = count_regions(net, (-1.0, 1.0), vertex_dim=8)
    lp = count_regions(net, (-1.0, 1.0), vertex_dim=0)
    assert vertex.regions == lp.regions == count


def test_8d_model_lp_path():
    # 11,628 was also found by the vertex path (vertex_dim=8, about 30 s: too slow for the suite)
    res = count_regions(MODELS / "he_8d_8x8.onnx", (-1.0, 1.0))
    assert res.exact and res.regions == 11628
