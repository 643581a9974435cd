"""Helpers for tests: build small ONNX models with onnx.helper, run them with onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from milpregions.ir.network import Network


def ir_version_for(opset: int) -> int:
    """An IR version that onnxruntime accepts together with ``opset``."""
    return 7 if opset <= 12 else (8 if opset <= 20 else 10)


def const(name: str, array, dtype=np.float32) -> onnx.TensorProto:
    """An initializer (float32 unless told otherwise)."""
    return numpy_helper.from_array(np.asarray(array, dtype=dtype), name)


def weights(rng: np.random.Generator, *shape: int) -> np.ndarray:
    fan_in = shape[-1] if len(shape) > 1 else shape[0]
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)


def make_model(nodes, initializers=(), *, opset: int = 17, input_shape=("N", 4),
               input_name: str = "x", input_type: int = TensorProto.FLOAT,
               outputs=("y",), extra_inputs=(), inits_as_inputs: bool = False,
               producer: str = "tests") -> onnx.ModelProto:
    """A single-input model; ``outputs`` are names with unknown shape (float), or (name, element
    type) pairs."""
    inputs = [helper.make_tensor_value_info(input_name, input_type, list(input_shape))]
    inputs += list(extra_inputs)
    initializers = list(initializers)
    if inits_as_inputs:
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                   for t in initializers]
    outs = [helper.make_tensor_value_info(*((o, TensorProto.FLOAT) if isinstance(o, str) else o),
                                          None) for o in outputs]
    graph = helper.make_graph(list(nodes), "g", inputs, outs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name=producer)
    model.ir_version = ir_version_for(opset)
    return model


def softmax_head_model() -> onnx.ModelProto:
    """Gemm-Relu-Gemm (identity weights, 2 inputs, 4 regions in [-1, 1]^2) with a trailing
    Softmax, which the importer drops with a notice."""
    W, b = np.eye(2), np.zeros(2)
    return make_model([helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
                       helper.make_node("Relu", ["h"], ["r"]),
                       helper.make_node("Gemm", ["r", "W", "b"], ["o"], transB=1),
                       helper.make_node("Softmax", ["o"], ["y"], axis=-1)],
                      [const("W", W), const("b", b)], input_shape=("N", 2))


def ort_forward(model: onnx.ModelProto, X: np.ndarray, input_shape) -> np.ndarray:
    """onnxruntime's outputs for rows of ``X`` (flattened samples), concatenated per sample.

    A symbolic axis 0 (of an input of rank >= 2) is fed as a batch; otherwise each sample is run
    alone with the input's exact shape.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    dtype = np.float64 if sess.get_inputs()[0].type == "tensor(double)" else np.float32
    N = X.shape[0]
    if len(input_shape) >= 2 and isinstance(input_shape[0], str):
        outs = sess.run(None, {name: X.reshape((N,) + tuple(input_shape[1:])).astype(dtype)})
        return np.concatenate([np.asarray(o, np.float64).reshape(N, -1) for o in outs], axis=1)
    rows = []
    for x in X:
        outs = sess.run(None, {name: x.reshape(tuple(input_shape)).astype(dtype)})
        rows.append(np.concatenate([np.asarray(o, np.float64).reshape(-1) for o in outs]))
    return np.array(rows)


def sample_inputs(n_in: int, n: int = 16, seed: int = 0) -> np.ndarray:
    """Seeded points in [-2, 2]^n_in, exactly representable in float32."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-2, 2, size=(n, n_in)).astype(np.float32).astype(np.float64)


def assert_matches_ort(net: Network, model: onnx.ModelProto, input_shape, n: int = 16,
                       seed: int = 0, reference: onnx.ModelProto | None = None) -> None:
    """The IR forward pass equals onnxruntime's output of ``reference`` (default ``model``)."""
    X = sample_inputs(net.input_dim, n, seed)
    expected = ort_forward(reference or model, X, input_shape)
    got = net.forward(X)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def assert_batch_matches_ort(net: Network, model: onnx.ModelProto, input_shape, n: int = 8,
                             seed: int = 0) -> None:
    """``net`` is one sample of ``model``'s fixed batch (``input_shape[0]`` samples): on every
    sample of a batch, the IR forward pass equals onnxruntime's output for that sample."""
    batch = input_shape[0]
    X = sample_inputs(net.input_dim * batch, n, seed)
    expected = ort_forward(model, X, input_shape)                  # (n, batch * m), per sample
    m = net.output_dim
    assert expected.shape == (n, batch * m)
    for i in range(batch):
        got = net.forward(X[:, i * net.input_dim:(i + 1) * net.input_dim])
        np.testing.assert_allclose(got, expected[:, i * m:(i + 1) * m], rtol=1e-4, atol=1e-5)
