"""Tasks as plain data on disk: arrays with their dtype and shape, and a JSON skeleton.

A checkpoint stores the tasks that a finished task handed back (cells of the first layer, or
the packed rest of a compiled walk). They were pickled; reading a pickle runs whatever code
it names, so a planted checkpoint could run a command. Here a task is encoded as a JSON
skeleton (tuples, lists, numbers, strings, and the few record types of a task, by name) plus
the raw bytes of its arrays (numeric dtypes only), and decoding builds nothing else.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from ..enumerator.lp_path import LPNode
from ..enumerator.polytope import VPoly
from ..enumerator.tree import Cell, PackedCells, PackedStack

#: the record types a task may hold, with the fields that rebuild them
_RECORDS: dict[str, tuple[type, tuple[str, ...]]] = {
    "Cell": (Cell, ("pattern", "node", "maps")),
    "PackedCells": (PackedCells, ("arrays",)),
    "PackedStack": (PackedStack, ("arrays", "lp")),
    "VPoly": (VPoly, ("V", "inc", "F", "ids", "simple")),
    "LPNode": (LPNode, ("F", "ids", "pts", "rad")),
}
_BY_TYPE = {cls: (name, fields) for name, (cls, fields) in _RECORDS.items()}
_KINDS = "biuf"                 # bool, signed and unsigned integers, floats: no objects
_MAGIC = b"MRT1"


class TaskFormatError(ValueError):
    """Bytes that are not an encoded task."""


def encode(task) -> bytes:
    """``task`` (nested tuples, lists, scalars, numeric arrays, task records) as bytes."""
    blobs: list[bytes] = []

    def walk(x):
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in _KINDS:
                raise TypeError(f"a task array of dtype {x.dtype} cannot be stored")
            a = np.ascontiguousarray(x)
            blobs.append(a.tobytes())
            return {"a": [a.dtype.str, list(a.shape)]}
        if isinstance(x, np.generic):
            return walk(x.item())
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        record = _BY_TYPE.get(type(x))
        if record is not None:
            name, fields = record
            return {"r": name, "f": [walk(getattr(x, f)) for f in fields]}
        if isinstance(x, tuple):
            return {"t": [walk(v) for v in x]}
        if isinstance(x, list) or type(x).__name__ == "List":      # numba's typed List
            return {"l": [walk(v) for v in x]}
        raise TypeError(f"a task cannot hold a {type(x).__name__}")

    head = json.dumps(walk(task), separators=(",", ":")).encode()
    return _MAGIC + struct.pack("<Q", len(head)) + head + b"".join(blobs)


def decode(data: bytes):
    """The task ``encode`` wrote; ``TaskFormatError`` for anything else."""
    if data[:4] != _MAGIC or len(data) < 12:
        raise TaskFormatError("not an encoded task")
    (n,) = struct.unpack("<Q", data[4:12])
    try:
        skeleton = json.loads(data[12:12 + n])
    except (ValueError, UnicodeDecodeError) as e:
        raise TaskFormatError(f"damaged task skeleton ({e})") from None
    at = 12 + n

    def build(x):
        nonlocal at
        if not isinstance(x, (dict, list)):
            return x
        if isinstance(x, list):
            raise TaskFormatError("damaged task skeleton")
        if "a" in x:
            dtype, shape = np.dtype(x["a"][0]), tuple(int(s) for s in x["a"][1])
            if dtype.kind not in _KINDS or any(s < 0 for s in shape):
                raise TaskFormatError("damaged task array")
            size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
            if at + size > len(data):
                raise TaskFormatError("truncated task")
            a = np.frombuffer(data, dtype=dtype, count=size // dtype.itemsize if dtype.itemsize
                              else 0, offset=at).reshape(shape).copy()
            at += size
            return a
        if "t" in x:
            return tuple(build(v) for v in x["t"])
        if "l" in x:
            return [build(v) for v in x["l"]]
        if "r" in x and x["r"] in _RECORDS:
            cls, fields = _RECORDS[x["r"]]
            values = [build(v) for v in x["f"]]
            if len(values) != len(fields):
                raise TaskFormatError(f"damaged {x['r']} record")
            return cls(*values)
        raise TaskFormatError("damaged task skeleton")

    task = build(skeleton)
    if at != len(data):
        raise TaskFormatError("trailing bytes after the task")
    return task
