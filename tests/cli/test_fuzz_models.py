"""Mutated models never crash the tool or hang it: every mutation of the committed models
(truncation, byte flips, shape and type edits, removed initializers, unsupported ops, NaN/Inf
weights, future versions, extra inputs) gives exit 0, 2, 3 or 5 (undecided) and at most one
short line of error, never exit 1 (an internal error) or a hang."""

from __future__ import annotations

import contextlib
import io
import signal
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from milpregions.cli.main import main

MODELS = Path(__file__).parents[2] / "models"
NAMES = ["zaslavsky_2d_8", "he_2d_8x8", "maxout_mlp", "residual_mlp", "hardtanh_mlp",
         "relu6_mlp", "digits_mlp_dynamic", "digits_cnn"]
SECONDS = 60                    # a run that takes longer is a hang


def _bytes_mutations(data: bytes, rng) -> list[tuple[str, bytes]]:
    out = [("truncated", data[: int(rng.integers(1, len(data)))])]
    for k in range(3):
        b = bytearray(data)
        for _ in range(k + 1):
            at = int(rng.integers(0, len(b)))
            b[at] ^= 1 << int(rng.integers(0, 8))
        out.append((f"{k + 1} byte flips", bytes(b)))
    return out


def _model_mutations(model: onnx.ModelProto, rng) -> list[tuple[str, onnx.ModelProto]]:
    out = []

    def edit(name, fn):
        m = onnx.ModelProto()
        m.CopyFrom(model)
        fn(m)
        out.append((name, m))

    g = model.graph
    real = [i for i in g.input if i.name not in {t.name for t in g.initializer}]
    dims = len(real[0].type.tensor_type.shape.dim)

    def shape(m, value):
        d = [i for i in m.graph.input if i.name == real[0].name][0].type.tensor_type.shape.dim
        d[int(rng.integers(0, dims))].dim_value = value

    for value in (0, 3, 10**9):
        edit(f"input dim {value}", lambda m, v=value: shape(m, v))
    for t in (TensorProto.INT8, TensorProto.STRING, TensorProto.DOUBLE):
        edit(f"input type {t}", lambda m, t=t: [i for i in m.graph.input
                                                if i.name == real[0].name][0]
             .type.tensor_type.__setattr__("elem_type", t))
    if g.initializer:
        k = int(rng.integers(0, len(g.initializer)))
        edit("initializer removed", lambda m: m.graph.initializer.pop(k))

        def poison(m, value):
            t = m.graph.initializer[k]
            a = numpy_helper.to_array(t).copy()
            if a.dtype.kind == "f" and a.size:
                a.reshape(-1)[int(rng.integers(0, a.size))] = value
                t.CopyFrom(numpy_helper.from_array(a, t.name))
        edit("NaN weight", lambda m: poison(m, np.nan))
        edit("Inf weight", lambda m: poison(m, np.inf))

        def retype(m):
            t = m.graph.initializer[k]
            a = numpy_helper.to_array(t)
            t.CopyFrom(numpy_helper.from_array(a.astype(np.int8), t.name))
        edit("int8 initializer", retype)
    j = int(rng.integers(0, len(g.node)))
    for op in ("Foo", "Sigmoid", "LSTM"):
        edit(f"node {j} -> {op}", lambda m, op=op: m.graph.node[j].__setattr__("op_type", op))
    if g.node[j].input:
        edit("extra input", lambda m: m.graph.node[j].input.append(m.graph.node[j].input[0]))
    edit("node removed", lambda m: m.graph.node.pop(j))
    edit("opset 99", lambda m: m.opset_import[0].__setattr__("version", 99))
    edit("ir 99", lambda m: m.__setattr__("ir_version", 99))
    edit("no outputs", lambda m: m.graph.ClearField("output"))
    return out


def _domain(path: Path) -> list[str]:
    """A small ball around a test image for the 64-input digits models (their box [0, 16]^64
    holds far more regions than a fuzzing test needs), the unit box for the others."""
    if path.parent.name.startswith("digits"):
        return ["--center", str(MODELS / "digits_test_image.npy"), "--radius", "0.01"]
    return ["--box", "0,1"]


def _run(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()

    def hang(*_):
        raise TimeoutError(f"{path.name}: no answer within {SECONDS} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["count", str(path), *_domain(path), "--time-limit", "2", "--quiet"])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", NAMES)
def test_mutated_models_never_give_an_internal_error(name, tmp_path):
    rng = np.random.default_rng(sum(map(ord, name)))
    data = (MODELS / f"{name}.onnx").read_bytes()
    cases = _bytes_mutations(data, rng) + [
        (what, m.SerializeToString()) for what, m in _model_mutations(onnx.load_from_string(data),
                                                                       rng)]
    seen = {}
    folder = tmp_path / name
    folder.mkdir()
    for i, (what, blob) in enumerate(cases):
        path = folder / f"m{i}.onnx"
        path.write_bytes(blob)
        code, out, err = _run(path)
        assert code in (0, 2, 3, 5), f"{what}: exit {code}: {err}"
        if code == 2:
            assert out == "" and err.count("\n") == 1 and len(err) < 600, f"{what}: {err!r}"
            assert err.startswith("milpregions: "), f"{what}: {err!r}"
        seen[what] = code
    assert 2 in seen.values()
