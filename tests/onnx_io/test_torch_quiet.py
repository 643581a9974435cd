"""torch's exporter warns, once per process, about every torchvision op it cannot register
("torchvision is not installed. Skipping torchvision::nms"); an export through milpregions
passes none of that on (issue 24). A fresh process, since the warnings come only once."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

SCRIPT = """
import torch
from milpregions.onnx.torch_module import module_to_onnx
m = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
proto = module_to_onnx(m, exporter="dynamo")
print(sorted({n.op_type for n in proto.graph.node}))
"""


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None,
                    reason="torchvision installed: there is nothing to silence")
@pytest.mark.skipif(importlib.util.find_spec("onnxscript") is None,
                    reason="the dynamo exporter needs onnxscript")
def test_dynamo_export_does_not_pass_on_torchvision_warnings():
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       env=dict(os.environ))
    assert p.returncode == 0, p.stderr
    assert "Relu" in p.stdout
    assert "torchvision" not in p.stderr, p.stderr
