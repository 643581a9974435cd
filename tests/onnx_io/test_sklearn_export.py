"""scikit-learn MLPs exported by skl2onnx: the classifier's post-processing (Sigmoid or Softmax,
ArgMax, ZipMap, ArrayFeatureExtractor, Reshape, Cast) is dropped with a notice, and the count
is checked against onnxruntime, against sklearn's own weights written by hand, and against the
hidden patterns of a dense grid computed from those weights."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

pytest.importorskip("skl2onnx")
from skl2onnx import to_onnx  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

from milpregions.api import count_regions  # noqa: E402
from milpregions.cli.main import main  # noqa: E402
from milpregions.errors import InputError  # noqa: E402
from milpregions.ir.network import mlp  # noqa: E402
from milpregions.onnx import import_model  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, (300, 2)).astype(np.float32)


def _fit(kind: str):
    if kind == "regressor":
        return MLPRegressor(hidden_layer_sizes=(8, 6), max_iter=200, random_state=0).fit(
            X, X[:, 0] * X[:, 1])
    y = (X[:, 0] * X[:, 1] > 0).astype(int) if kind == "binary" \
        else np.floor((X[:, 0] + 1) * 1.5).astype(int)
    return MLPClassifier(hidden_layer_sizes=(8, 6), max_iter=200, random_state=0).fit(X, y)


@pytest.fixture(scope="module", params=["binary", "multiclass", "multiclass-nozipmap", "regressor"])
def exported(request):
    import warnings

    kind = request.param.split("-")[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # sklearn's ConvergenceWarning at 200 iterations
        est = _fit(kind)
    options = {"zipmap": False} if request.param.endswith("nozipmap") else None
    return request.param, est, to_onnx(est, X[:1], options=options)


def _hidden_patterns(est, P: np.ndarray) -> set[bytes]:
    """The ReLU patterns of sklearn's hidden layers at the points P (its weights, numpy)."""
    h, bits = P, []
    for W, b in zip(est.coefs_[:-1], est.intercepts_[:-1]):
        z = h @ W + b
        bits.append(z > 0)
        h = np.maximum(z, 0)
    return {row.tobytes() for row in np.concatenate(bits, axis=1)}


def test_import_drops_the_post_processing_and_agrees_with_onnxruntime(exported):
    name, est, model = exported
    net = import_model(model, source="clf.onnx")
    notices = net.info["notices"]
    if name == "regressor":
        assert notices == []
    else:
        head = "Sigmoid, opset 14" if name == "binary" else "Softmax, opset 21"
        assert len(notices) == 1 and notices[0].startswith(
            f"clf.onnx: dropped trailing node 'Relu2' ({head}) and what follows (")
        assert notices[0].endswith("): applied to the output, it does not change the regions; "
                                   "counting on 'add_result2'")
    assert len(net.layers) == 2
    P = RNG.uniform(-1, 1, (64, 2))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"X": P.astype(np.float32)})
    z = net.forward(P)
    if name == "regressor":
        np.testing.assert_allclose(z.ravel(), got[0].ravel(), rtol=1e-5, atol=1e-5)
        return
    if name == "binary":
        p1 = 1 / (1 + np.exp(-z[:, 0]))
        probs = np.stack([1 - p1, p1], axis=1)
    else:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
    ort_probs = got[1] if isinstance(got[1], np.ndarray) else \
        np.array([[d[k] for k in sorted(d)] for d in got[1]])
    np.testing.assert_allclose(probs, ort_probs, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(est.classes_[probs.argmax(axis=1)], got[0])


def test_count_equals_the_weights_by_hand_and_the_dense_grid(exported):
    name, est, model = exported
    by_hand = mlp([W.T.astype(np.float64) for W in est.coefs_],     # sklearn: (in, out)
                  [b.astype(np.float64) for b in est.intercepts_])
    patterns: list[bytes] = []
    res = count_regions(model, (-1, 1), on_region=lambda r: patterns.append(
        np.concatenate([p > 0 for p in r.pattern]).tobytes()))
    assert res.exact and res.regions == count_regions(by_hand, (-1, 1)).regions
    g = np.linspace(-1, 1, 401)
    grid = _hidden_patterns(est, np.stack(np.meshgrid(g, g), -1).reshape(-1, 2))
    assert grid <= set(patterns)
    assert len(grid) == res.regions


def test_output_picks_the_tensor_counted_on(exported, tmp_path, capsys):
    name, est, model = exported
    first = count_regions(model, (-1, 1), output="next_activations")   # after the first ReLU
    assert first.regions == count_regions(
        mlp([est.coefs_[0].T.astype(np.float64), np.zeros((1, 8))],
            [est.intercepts_[0].astype(np.float64), np.zeros(1)]), (-1, 1)).regions
    with pytest.raises(InputError) as e:
        import_model(model, source="clf.onnx", output="nope")
    outs = {"regressor": "'variable'", "multiclass-nozipmap": "'label', 'probabilities'"}.get(
        name, "'output_label', 'output_probability'")
    assert str(e.value) == (f"clf.onnx: cannot count on 'nope': no tensor 'nope' in the graph "
                            f"(its outputs: {outs})")
    path = tmp_path / "clf.onnx"
    path.write_bytes(model.SerializeToString())
    assert main(["count", str(path), "--box", "-1,1", "--output-tensor", "next_activations"]) == 0
    assert capsys.readouterr().out == f"{first.regions} regions\n"
    assert main(["count", str(path), "--box", "-1,1", "--output-tensor", "nope"]) == 2
    assert capsys.readouterr().err == f"milpregions: {path}: cannot count on 'nope': no tensor " \
                                      f"'nope' in the graph (its outputs: {outs})\n"
