"""What a handler needs besides the ``_Importer`` methods: reading a node, and message helpers.

Attribute access (:func:`_attrs`), axis normalisation (:func:`_axis`), arguments that must be
constant (:func:`_const_arg`, :func:`_ints_from`; they fail through ``_Importer.fail``, which
raises :class:`~milpregions.errors.InputError`), the float element types, and the helpers that
keep error messages on one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import TensorProto, helper

from .algebra import _is_affine

if TYPE_CHECKING:
    from .importer import _Importer


FLOAT_TYPES = frozenset({TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16,
                         TensorProto.BFLOAT16})


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _const_arg(imp: _Importer, node: onnx.NodeProto, value, what: str) -> np.ndarray:
    if _is_affine(value):
        imp.fail(node, "is not supported", f"its {what} depends on the network input")
    return np.asarray(value)


def _ints_from(imp: _Importer, node: onnx.NodeProto, args: list, index: int, attr: str):
    """An int list given as attribute ``attr`` (old opsets) or as input ``index`` (new)."""
    attrs = _attrs(node)
    if attr in attrs:
        return [int(v) for v in attrs[attr]]
    if len(args) > index and args[index] is not None:
        return [int(v) for v in _const_arg(imp, node, args[index], attr).reshape(-1)]
    return None


def _type_name(elem_type: int) -> str:
    try:
        return TensorProto.DataType.Name(elem_type)
    except ValueError:
        return str(elem_type)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
