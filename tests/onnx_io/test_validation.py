"""Models are validated before they are counted: what onnxruntime refuses is refused here too
(exit 2, one line naming it), absurd declarations are refused before they take the machine,
and external data is read from the model's own folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from milpregions.api import count_regions
from milpregions.errors import InputError
from milpregions.onnx import load_onnx
from milpregions.onnx.validate import MAX_INPUT_ELEMENTS, MAX_LOOP_ITERATIONS


def _mlp(*, matmul_inputs=("x", "W1"), w1_dtype=np.float32, opset=17, ir=8, shape=(1, 2),
         extra_nodes=(), extra_inits=()) -> onnx.ModelProto:
    """x (1, 2) -> MatMul W1 (2, 3) -> Add b1 -> Relu -> MatMul W2 (3, 1): 7 regions in [-1, 1]^2
    (three lines through the box, in general position, none parallel)."""
    W1 = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]], dtype=w1_dtype)
    b1 = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    W2 = np.ones((3, 1), dtype=np.float32)
    nodes = [helper.make_node("MatMul", list(matmul_inputs), ["t"], name="mm"),
             helper.make_node("Add", ["t", "b1"], ["z"], name="add"),
             helper.make_node("Relu", ["z"], ["h"], name="relu"),
             helper.make_node("MatMul", ["h", "W2"], ["y"], name="out"), *extra_nodes]
    inits = [numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(W2, "W2"), *extra_inits]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    return m


def _ort_refuses(model: onnx.ModelProto) -> bool:
    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:
        return True
    return False


def _cli(path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "milpregions", "count", str(path), "--box",
                           "-1,1", *args], capture_output=True, text=True, timeout=120)


def test_the_valid_model_counts_and_runs_in_onnxruntime():
    assert not _ort_refuses(_mlp())
    assert count_regions(_mlp(), (-1.0, 1.0)).regions == 7


@pytest.mark.parametrize("model,message", [
    (_mlp(matmul_inputs=("x", "W1", "W1")),
     "not a valid ONNX model (Node(mm) with schema(::MatMul:13) has input size 3 not in range "
     "[min=2, max=2].)"),
    (_mlp(w1_dtype=np.int8),
     "not a valid ONNX model (node 'mm' (MatMul): input 'W1' is tensor(int8), not one of the "
     "types of T)"),
    (_mlp(opset=99), f"opset 99 is newer than this onnx ({onnx.__version__}) knows (up to "
     f"{onnx.defs.onnx_opset_version()})"),
    (_mlp(ir=99), f"IR version 99 is newer than this onnx ({onnx.__version__}) reads (up to "
     f"{onnx.IR_VERSION})"),
], ids=["matmul-third-input", "int8-weights", "opset-99", "ir-99"])
def test_models_onnxruntime_refuses_are_refused(model, message, tmp_path):
    assert _ort_refuses(model)                       # the oracle says the model is invalid
    with pytest.raises(InputError) as e:
        count_regions(model, (-1.0, 1.0))
    assert str(e.value) == f"<model>: {message}"
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    p = _cli(path)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == f"milpregions: {path}: {message}\n"


def test_a_fixed_batch_is_counted_once_with_a_notice(tmp_path):
    """A batch of 2 of the 7-region net: two independent copies, so one sample's 7 regions
    (not 7^2), and a one-line notice."""
    path = tmp_path / "batch2.onnx"
    onnx.save(_mlp(shape=(2, 2)), path)
    p = _cli(path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("7 regions")
    assert p.stderr == (f"milpregions: {path}: input 'x' has a fixed batch of 2; its 2 samples "
                        "are independent copies of one network, counted once (the regions of "
                        "one sample)\n")


def test_a_huge_declared_input_is_refused_at_once(tmp_path):
    path = tmp_path / "huge.onnx"
    onnx.save(_mlp(shape=(1, 10**9)), path)
    start = time.monotonic()
    p = _cli(path)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (f"milpregions: {path}: input 'x' has shape [1, 1000000000], "
                        f"1,000,000,000 elements; at most {MAX_INPUT_ELEMENTS:,} are "
                        "supported\n")
    assert time.monotonic() - start < 30


def _loop_model(trips: int) -> onnx.ModelProto:
    """y = MatMul(x, W1 + (a constant Loop's sum of ``trips`` ones) ...)."""
    body = helper.make_graph(
        [helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [])],
        [numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")])
    loop = helper.make_node("Loop", ["M", "cond", "acc0"], ["acc"], body=body, name="loop")
    scale = helper.make_node("Mul", ["W1raw", "acc"], ["W1s"], name="scale")
    model = _mlp(matmul_inputs=("x", "W1s"), extra_nodes=[loop, scale], extra_inits=[
        numpy_helper.from_array(np.array(trips, dtype=np.int64), "M"),
        numpy_helper.from_array(np.array(True), "cond"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "acc0"),
        numpy_helper.from_array(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]], np.float32),
                                "W1raw")])
    # nodes in topological order: the loop and the scale before the first MatMul
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes[-2:] + nodes[:-2])
    return model


def test_a_small_constant_loop_is_folded_and_a_huge_one_refused(tmp_path):
    assert count_regions(_loop_model(3), (-1.0, 1.0)).regions == 7
    path = tmp_path / "loop.onnx"
    onnx.save(_loop_model(10**12), path)
    start = time.monotonic()
    p = _cli(path)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (f"milpregions: {path}: node 'loop' (Loop, opset 17) is a Loop of "
                        f"1,000,000,000,000 iterations; constant folding runs at most "
                        f"{MAX_LOOP_ITERATIONS:,}\n")
    assert time.monotonic() - start < 30


def test_external_data_of_a_constant_node_is_read_from_the_models_folder(tmp_path):
    """A Constant node's tensor stored in a file beside the model, the count run from another
    working directory: the weights are found; a location outside the folder is refused."""
    W1 = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]], dtype=np.float32)
    model = _mlp(matmul_inputs=("x", "W1c"))
    tensor = numpy_helper.from_array(W1, "W1c_value")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w1.bin").write_bytes(W1.tobytes())
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="w1.bin")
    model.graph.node.insert(0, helper.make_node("Constant", [], ["W1c"], value=tensor))
    path = folder / "ext.onnx"
    onnx.save(model, path)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    p = subprocess.run([sys.executable, "-m", "milpregions", "count", str(path), "--box",
                        "-1,1"], capture_output=True, text=True, timeout=120, cwd=elsewhere)
    assert p.returncode == 0 and p.stdout.startswith("7 regions"), p.stderr
    net = load_onnx(path)
    assert np.array_equal(net.layers[0].affine.W[0], W1.T.astype(np.float64))
    secret = tmp_path / "secret.bin"
    secret.write_bytes(W1.tobytes())
    tensor.external_data[0].value = "../secret.bin"
    model.graph.node[0].attribute[0].t.CopyFrom(tensor)
    onnx.save(model, path)
    with pytest.raises(InputError, match="cannot load external weight data"):
        load_onnx(path)
    os.remove(secret)


def _external_constant_model(location: str) -> onnx.ModelProto:
    """The 7-region net with W1 from a Constant node whose tensor is in file ``location``."""
    W1 = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]], dtype=np.float32)
    model = _mlp(matmul_inputs=("x", "W1c"))
    tensor = numpy_helper.from_array(W1, "W1c_value")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    model.graph.node.insert(0, helper.make_node("Constant", [], ["W1c"], value=tensor))
    return model


@pytest.mark.parametrize("how", ["symlinked folder", "symlinked file", "hard link"])
def test_external_data_reached_through_links_is_refused(tmp_path, how):
    """A file outside the model's folder reached through a symlinked folder inside it, a
    symlinked file, or a hard link: refused, exit 2 and one line (onnx before 1.21 read the
    first and the third: CVE-2026-27489, CVE-2026-34446)."""
    W1 = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]], dtype=np.float32)
    folder, outside = tmp_path / "model", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    secret = outside / "w1.bin"
    secret.write_bytes(W1.tobytes())
    if how == "symlinked folder":
        (folder / "link").symlink_to(outside, target_is_directory=True)
        location = "link/w1.bin"
    elif how == "symlinked file":
        (folder / "w1.bin").symlink_to(secret)
        location = "w1.bin"
    else:
        os.link(secret, folder / "w1.bin")
        location = "w1.bin"
    path = folder / "ext.onnx"
    onnx.save(_external_constant_model(location), path)
    with pytest.raises(InputError, match="cannot load external weight data"):
        load_onnx(path)
    p = _cli(path)
    assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1
    assert p.stderr.startswith(f"milpregions: {path}: cannot load external weight data ("), \
        p.stderr
    (folder / "plain.bin").write_bytes(W1.tobytes())       # the same bytes, a plain file
    onnx.save(_external_constant_model("plain.bin"), path)
    assert count_regions(str(path), (-1.0, 1.0)).regions == 7


def test_the_onnx_required_has_the_external_data_fixes():
    """pyproject's lower bound on onnx, and the onnx installed, confine external data to the
    model's folder through links too (1.21.0: CVE-2026-27489, -34446, -34447)."""
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement
    from packaging.version import Version

    meta = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    req = [Requirement(r) for r in meta["project"]["dependencies"]
           if Requirement(r).name == "onnx"]
    assert len(req) == 1
    floors = [Version(s.version) for s in req[0].specifier if s.operator in (">=", "==")]
    assert floors and min(floors) >= Version("1.21.0"), req[0]
    assert not req[0].specifier.contains("1.20.1")
    assert Version(onnx.__version__) >= Version("1.21.0")
