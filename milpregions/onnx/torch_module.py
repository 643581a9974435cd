"""A ``torch.nn.Module`` as an ONNX model, exported in memory (torch is the ``[torch]`` extra).

The module is exported as it is in a notebook, by ``torch.onnx.export``, in evaluation mode
(dropout off, batch norm on its running statistics; its training flag is restored after), with
an example input of batch size 1. The example comes from ``input_shape``: the shape of one
sample, a tensor or array holding an example batch, or None to read the number of features of
the module's first layer when that is a ``Linear`` (a convolution needs the image size).

Two exporters: ``"torchscript"`` (``dynamo=False``: fast, what most exported files hold) and
``"dynamo"`` (``torch.export``, the default of ``torch.onnx.export`` since torch 2.9; needs
onnxscript). Both spellings are imported (tests/onnx_io/test_torch_export.py).
"""

from __future__ import annotations

import io
import logging
import sys
import warnings
from contextlib import contextmanager

import onnx

from ..errors import InputError
from .context import _one_line

EXPORTERS = ("torchscript", "dynamo")

#: the loggers of torch's exporter that warn about optional packages it does not need here
#: ("torchvision is not installed. Skipping torchvision::nms", one line per op, issue 24)
QUIET_LOGGERS = ("torch.onnx._internal.exporter._registration",)


class _NoMissingPackage(logging.Filter):
    """Drops the exporter's "X is not installed" warnings: nothing of X is exported."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is not installed" not in record.getMessage()


@contextmanager
def _quiet_exporter():
    """While the block runs, torch's exporter keeps its optional-package warnings to itself."""
    quiet = _NoMissingPackage()
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    for lg in loggers:
        lg.addFilter(quiet)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(quiet)


def is_torch_module(obj) -> bool:
    """True for a ``torch.nn.Module`` (without importing torch: a module means it is loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def module_name(module) -> str:
    return f"torch module {type(module).__name__}"


def _first_parameter(module):
    return next((p for p in module.parameters()), None)


def example_input(module, input_shape=None):
    """The example batch (batch size 1) that the export traces."""
    import numpy as np
    import torch

    p = _first_parameter(module)
    dtype = p.dtype if p is not None and p.dtype.is_floating_point else torch.float32
    if isinstance(input_shape, torch.Tensor):
        return input_shape.detach().to(dtype)
    if isinstance(input_shape, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(input_shape)).to(dtype)
    if input_shape is None:
        first = next((m for m in module.modules()
                      if not list(m.children()) and any(True for _ in m.parameters(recurse=False))),
                     None)
        if not isinstance(first, torch.nn.Linear):
            kind = "no layer with weights" if first is None else f"a {type(first).__name__}"
            raise InputError(f"{module_name(module)}: give the shape of one input sample "
                             f"(input_shape=(...)): its first layer is {kind}, not a Linear, so "
                             "the input size cannot be read from it")
        return torch.zeros((1, first.in_features), dtype=dtype)
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise InputError(f"{module_name(module)}: input_shape {input_shape!r}: expected the shape "
                         "of one sample (a tuple of positive integers) or an example tensor") from None
    if not shape or any(s <= 0 for s in shape):
        raise InputError(f"{module_name(module)}: input_shape {shape}: expected positive sizes")
    return torch.zeros((1, *shape), dtype=dtype)


def module_to_onnx(module, input_shape=None, *, exporter: str = "torchscript") -> onnx.ModelProto:
    """Export ``module`` in memory with ``exporter`` (see the module text)."""
    import torch

    if exporter not in EXPORTERS:
        raise InputError(f"exporter {exporter!r}: expected one of {', '.join(EXPORTERS)}")
    x = example_input(module, input_shape)
    training = module.training
    module.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad(), _quiet_exporter():
            warnings.simplefilter("ignore")      # the TorchScript exporter's deprecation notice
            if exporter == "torchscript":
                buf = io.BytesIO()
                torch.onnx.export(module, (x,), buf, dynamo=False, input_names=["x"],
                                  output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
                return onnx.load_model_from_string(buf.getvalue())
            program = torch.onnx.export(module, (x,), dynamo=True, verbose=False,
                                        input_names=["x"], output_names=["y"])
            return program.model_proto
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{module_name(module)}: torch.onnx.export ({exporter}) failed on an "
                         f"input of shape {list(x.shape)}: {_one_line(e)}") from None
    finally:
        module.train(training)


def from_torch(module, input_shape=None, *, exporter: str = "torchscript",
               output: str | None = None):
    """The :class:`~milpregions.ir.network.Network` of a ``torch.nn.Module`` (exported in
    memory, see the module text); ``output`` as in :func:`~milpregions.onnx.import_model`."""
    from .importer import import_model

    return import_model(module_to_onnx(module, input_shape, exporter=exporter),
                        source=module_name(module), output=output)
