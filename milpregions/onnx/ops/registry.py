"""The registry of op handlers, filled by the family modules of :mod:`milpregions.onnx.ops`
when they are imported.

Handlers live in :data:`HANDLERS` (``op_type -> function``); :func:`register` adds one. A handler
is called only when at least one input is an :class:`AffineTensor` and returns the node's outputs.
An op with no handler is an :class:`~milpregions.errors.InputError` naming the file, node, op and
opset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import onnx

if TYPE_CHECKING:
    from ..importer import _Importer

Handler = Callable[["_Importer", onnx.NodeProto, list], list]
HANDLERS: dict[str, Handler] = {}


def register(*op_types: str) -> Callable[[Handler], Handler]:
    """Decorator: make ``fn`` the handler of ``op_types`` (``domain.op`` outside the default
    domain)."""
    def deco(fn: Handler) -> Handler:
        for op in op_types:
            HANDLERS[op] = fn
        return fn
    return deco
