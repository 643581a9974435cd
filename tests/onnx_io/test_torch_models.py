"""Models exported by torch 2.13 as users export them (models/build_torch_models.py).

No torch at test time: the committed .onnx files are imported, checked against onnxruntime,
and counted by the tree and (on small boxes) by the independent MILP method.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from milpregions.api import count_regions
from milpregions.ir.network import mlp
from milpregions.onnx import load_onnx

MODELS = Path(__file__).resolve().parents[2] / "models"
IMAGE = np.load(MODELS / "digits_test_image.npy")  # float64, shape (64,), pixels 0..16

# name -> ONNX input shape per sample (the Network reads the flattened input)
SHAPES = {
    "digits_cnn": (1, 8, 8),
    "digits_mlp": (64,),
    "digits_mlp_bn": (64,),
    "digits_mlp_dynamic": (1, 8, 8),
    "digits_mlp_dropout": (64,),
    "residual_mlp": (4,),
    "maxout_mlp": (2,),
    "hardtanh_mlp": (2,),
    "relu6_mlp": (2,),
}


def _path(name: str) -> Path:
    return MODELS / f"{name}.onnx"


def _ball(r: float):
    return IMAGE - r, IMAGE + r


# small boxes: few regions, none of them thinner than about 1e-3 (normalised)
SMALL_BOXES = {
    "digits_cnn": _ball(0.01),
    "digits_mlp": _ball(0.2),
    "digits_mlp_bn": _ball(0.05),
    "digits_mlp_dynamic": _ball(0.2),
    "digits_mlp_dropout": _ball(0.3),
    "residual_mlp": (-0.1, 0.1),
    "maxout_mlp": (-4.0, 4.0),
    "hardtanh_mlp": (-1.0, 1.0),
    "relu6_mlp": (-1.0, 1.0),
}


def _ort(path: Path, X: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: X.astype(np.float32)})[0]


def _points(name: str, n: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    d = int(np.prod(SHAPES[name]))
    if d == 64:  # digits: around the test image and anywhere in the pixel range
        X = np.vstack([IMAGE + rng.uniform(-0.5, 0.5, (n // 2, 64)), rng.uniform(0, 16, (n // 2, 64))])
    else:
        X = rng.uniform(-2, 2, (n, d))
    return X.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_import_matches_onnxruntime(name):
    net = load_onnx(_path(name))
    assert net.input_dim == int(np.prod(SHAPES[name]))
    X = _points(name)
    want = _ort(_path(name), X.reshape((-1,) + SHAPES[name]))
    got = net.forward(X)
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-4, atol=1e-5)


# digits_mlp_dynamic holds digits_mlp's weights (test_dynamic_flatten_equals_plain_mlp: the
# same outputs and the same tree count), so its MILP count (30 s) would check nothing new.
# digits_mlp's MILP count at radius 0.2 (4 regions) takes 22 s of CPU: under -m slow, and the
# default suite compares the two counts at radius 0.1 (2 regions, 8.5 s). digits_cnn's MILP
# (65 copies of the network for the 64-input witness simplex, ~69,000 rows) takes 6 s: under
# -m slow, its twins are the three 64-input MLPs here and the CNN on a plane through the image
# (``test_tree_count_equals_milp_count_on_a_plane_through_the_image``)
SMALLER_MILP = {"digits_mlp": _ball(0.1)}
SLOW_MILP = set(SMALLER_MILP) | {"digits_cnn"}
MILP_CASES = [pytest.param(n, SMALL_BOXES[n], id=n,
                           marks=[pytest.mark.slow] if n in SLOW_MILP else [])
              for n in sorted(set(SHAPES) - {"digits_mlp_dynamic"})] + \
    [pytest.param(n, box, id=f"{n}-smaller") for n, box in SMALLER_MILP.items()]


@pytest.mark.parametrize("name,box", MILP_CASES)
def test_tree_count_equals_milp_count(name, box):
    net = load_onnx(_path(name))
    tree = count_regions(net, box)
    milp = count_regions(net, box, method="milp")
    assert tree.exact and milp.exact
    assert 1 <= tree.regions <= 40
    assert tree.regions == milp.regions


def test_tree_count_equals_milp_count_on_a_plane_through_the_image():
    """The CNN's convolutions and MaxPool groups in the MILP, on a plane through the test
    image (3 copies of the network for the plane's witness simplex, not 65): 13 regions."""
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(2, 64))
    plane = (IMAGE, IMAGE + 0.2 * u / np.abs(u).max(), IMAGE + 0.2 * v / np.abs(v).max())
    net = load_onnx(_path("digits_cnn"))
    tree = count_regions(net, slice=plane)
    milp = count_regions(net, slice=plane, method="milp")
    assert tree.exact and milp.exact
    assert tree.regions == milp.regions == 13


def test_dynamic_flatten_equals_plain_mlp():
    """digits_mlp_dynamic holds digits_mlp's weights behind x.view(x.size(0), -1)."""
    a, b = load_onnx(_path("digits_mlp")), load_onnx(_path("digits_mlp_dynamic"))
    X = _points("digits_mlp")
    np.testing.assert_allclose(a.forward(X), b.forward(X), rtol=1e-6, atol=1e-6)
    box = _ball(0.5)
    assert count_regions(a, box).regions == count_regions(b, box).regions


def test_digits_models_at_radius_half():
    """An L-inf ball of radius 0.5 (pixels 0..16): exact counts, witnesses in the ball."""
    for name in ("digits_mlp", "digits_mlp_dropout"):
        regions = []
        res = count_regions(_path(name), _ball(0.5), on_region=regions.append)
        assert res.exact and res.regions == len(regions) >= 2
        for r in regions:
            assert np.all(np.abs(r.witness - IMAGE) <= 0.5)


def test_export_spellings():
    """The files carry the spellings they were exported for (guards regeneration)."""
    ops = {name: {n.op_type for n in onnx.load(str(_path(name))).graph.node} for name in SHAPES}
    assert {"Conv", "MaxPool", "Flatten", "Gemm"} <= ops["digits_cnn"]
    assert "BatchNormalization" in ops["digits_mlp_bn"]
    assert {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"} <= ops["digits_mlp_dynamic"]
    assert "Max" in ops["maxout_mlp"] and "ReduceMax" not in ops["maxout_mlp"]
    assert "Clip" in ops["hardtanh_mlp"] and "Clip" in ops["relu6_mlp"]
    assert "Add" in ops["residual_mlp"]
    m = onnx.load(str(_path("digits_mlp_dropout")))
    assert len(m.graph.input) > 1  # initializers listed among the graph inputs


def _gemm_weights(path: Path):
    """(W1, b1, W2, b2) of a Gemm - Clip - Gemm file, as float64."""
    m = onnx.load(str(path))
    init = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    gemms = [n for n in m.graph.node if n.op_type == "Gemm"]
    assert len(gemms) == 2
    out = []
    for g in gemms:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in g.attribute}
        W, b = init[g.input[1]], init[g.input[2]]
        if not attrs.get("transB", 0):
            W = W.T
        out += [W * attrs.get("alpha", 1.0), b * attrs.get("beta", 1.0)]
    return out


def _clip_as_relu(path: Path, lo: float, hi: float):
    """clip(z, lo, hi) = lo + relu(z - lo) - relu(z - hi), written as a two-layer ReLU net."""
    W1, b1, W2, b2 = _gemm_weights(path)
    W = np.vstack([W1, W1])
    b = np.concatenate([b1 - lo, b1 - hi])
    Wo = np.hstack([W2, -W2])
    bo = b2 + lo * W2.sum(axis=1)
    return mlp([W, Wo], [b, bo])


@pytest.mark.parametrize("name,lo,hi", [("hardtanh_mlp", -1.0, 1.0), ("relu6_mlp", 0.0, 6.0)])
def test_clip_counts_as_hand_built_relu(name, lo, hi):
    net = load_onnx(_path(name))
    ref = _clip_as_relu(_path(name), lo, hi)
    X = _points(name)
    np.testing.assert_allclose(net.forward(X), ref.forward(X), rtol=1e-6, atol=1e-6)
    for box in (SMALL_BOXES[name], (-2.0, 2.0), (-3.0, 3.0)):
        assert count_regions(net, box).regions == count_regions(ref, box).regions
