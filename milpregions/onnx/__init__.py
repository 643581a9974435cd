"""ONNX in (``importer``: graph walk and op handlers) and out (``export``)."""

from .export import to_onnx
from .importer import import_model, load_onnx

__all__ = ["import_model", "load_onnx", "to_onnx"]
