"""The compact regions file (``.mpr``): fixed-size binary records, written as a count streams.

JSONL costs ~550 bytes a region (10 GB at 1.8e7 regions); a record here holds the pattern
bit-packed (two-piece units, ``np.packbits``) and as small ints (max groups: the piece index,
uint8 or uint16), the witness as float64 (input space, bit-exact) and the radius (normalised)
as float64: 8 (n0 + 1) + bits/8 + groups bytes. Layout of the file:

    b"MPREGNS1"  uint64 little-endian H  H bytes of JSON (the header, space-padded so that the
    records start at a multiple of 64)  records...

The header holds the layout of a pattern (per layer: ``units`` and its size, or ``max`` with
its groups and pieces per group), the witness dimension and free metadata (domain, model).
Records are appended in chunks and never rewritten, so a file cut anywhere (a killed count) is
a header and a prefix of whole records plus at most one partial record, which the reader
ignores (``RegionFile.partial_bytes``). Reading memory-maps the records as one numpy
structured array, so 10^7 regions are not loaded to be opened.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from ..errors import InputError
from .network import MaxLayer, Network

MAGIC = b"MPREGNS1"
VERSION = 1
ALIGN = 64
CHUNK = 8192          # records buffered before a write


@dataclass(frozen=True)
class LayerLayout:
    """One layer of a pattern: ``units`` (``size`` bits) or ``max`` (``size`` groups of up to
    ``pieces`` pieces: one index each)."""

    kind: str
    size: int
    pieces: int = 0


@dataclass(frozen=True)
class RegionLayout:
    """The shape of a region's record: pattern layers and witness dimension."""

    layers: tuple[LayerLayout, ...]
    witness_dim: int

    @classmethod
    def of(cls, net: Network, witness_dim: int | None = None) -> RegionLayout:
        """The layout of ``net``'s patterns; witnesses of ``witness_dim`` (default: its input)."""
        layers = tuple(LayerLayout("max", layer.size, int(layer.groups.shape[1]))
                       if isinstance(layer, MaxLayer) else LayerLayout("units", layer.size)
                       for layer in net.layers)
        return cls(layers, net.input_dim if witness_dim is None else int(witness_dim))

    @property
    def n_bits(self) -> int:
        return sum(la.size for la in self.layers if la.kind == "units")

    @property
    def n_groups(self) -> int:
        return sum(la.size for la in self.layers if la.kind == "max")

    @property
    def piece_dtype(self) -> np.dtype:
        k = max((la.pieces for la in self.layers if la.kind == "max"), default=0)
        return np.dtype(np.uint8 if k <= 256 else np.uint16)

    @property
    def dtype(self) -> np.dtype:
        """The record: ``bits`` (packed, big-endian bit order), ``pieces``, ``witness``,
        ``radius``; packed, little-endian."""
        fields: list = []
        if self.n_bits:
            fields.append(("bits", np.uint8, ((self.n_bits + 7) // 8,)))
        if self.n_groups:
            fields.append(("pieces", self.piece_dtype.newbyteorder("<"), (self.n_groups,)))
        fields.append(("witness", "<f8", (self.witness_dim,)))
        fields.append(("radius", "<f8"))
        return np.dtype(fields)

    def to_dict(self) -> dict:
        return {"layers": [{"kind": la.kind, "size": la.size, **(
                    {"pieces": la.pieces} if la.kind == "max" else {})} for la in self.layers],
                "witness_dim": self.witness_dim}

    @classmethod
    def from_dict(cls, d: dict) -> RegionLayout:
        layers = []
        for la in d["layers"]:
            if la["kind"] not in ("units", "max") or int(la["size"]) < 0:
                raise ValueError(f"bad layer {la!r}")
            layers.append(LayerLayout(la["kind"], int(la["size"]), int(la.get("pieces", 0))))
        return cls(tuple(layers), int(d["witness_dim"]))

    # -- patterns <-> record columns --------------------------------------------------------

    def encode(self, patterns: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """Per-layer patterns of R regions as (R, bits) bools and (R, groups) piece indices."""
        R = len(patterns)
        bits = np.zeros((R, self.n_bits), dtype=bool)
        pieces = np.zeros((R, self.n_groups), dtype=self.piece_dtype)
        ib = ig = 0
        for k, la in enumerate(self.layers):
            col = np.array([np.asarray(p[k]).ravel() for p in patterns]).reshape(R, la.size)
            if la.kind == "units":
                bits[:, ib:ib + la.size] = col
                ib += la.size
            else:
                pieces[:, ig:ig + la.size] = col
                ig += la.size
        return bits, pieces

    def decode(self, record) -> list[np.ndarray]:
        """The per-layer pattern of one record: bools for units, int64 indices for groups."""
        bits = np.unpackbits(record["bits"], count=self.n_bits).astype(bool) \
            if self.n_bits else None
        pieces = record["pieces"] if self.n_groups else None
        out, ib, ig = [], 0, 0
        for la in self.layers:
            if la.kind == "units":
                out.append(bits[ib:ib + la.size].copy())
                ib += la.size
            else:
                out.append(pieces[ig:ig + la.size].astype(np.int64))
                ig += la.size
        return out

    def keys(self, records: np.ndarray) -> np.ndarray:
        """The pattern bytes of each record, (R, key_bytes) uint8: what identifies a region."""
        parts = []
        if self.n_bits:
            parts.append(np.ascontiguousarray(records["bits"]).reshape(len(records), -1))
        if self.n_groups:
            p = np.ascontiguousarray(records["pieces"]).astype(self.piece_dtype.newbyteorder("<"))
            parts.append(p.view(np.uint8).reshape(len(records), -1))
        if not parts:
            return np.zeros((len(records), 0), dtype=np.uint8)
        return np.concatenate(parts, axis=1)

    def pattern_keys(self, patterns: list[np.ndarray]) -> np.ndarray:
        """The same key bytes from per-layer (N, n_k) pattern arrays (``Network.pattern``)."""
        N = len(patterns[0]) if patterns else 1
        rec = np.zeros(N, dtype=self.dtype)
        bits = [np.asarray(p).reshape(N, -1) for p, la in zip(patterns, self.layers)
                if la.kind == "units"]
        groups = [np.asarray(p).reshape(N, -1) for p, la in zip(patterns, self.layers)
                  if la.kind == "max"]
        if self.n_bits:
            rec["bits"] = np.packbits(np.concatenate(bits, axis=1).astype(bool), axis=1)
        if self.n_groups:
            rec["pieces"] = np.concatenate(groups, axis=1)
        return self.keys(rec)


@dataclass
class RegionWriter:
    """Appends regions to a ``.mpr`` file (``path``) or to memory (``path=None``, for a region
    set built in memory), ``CHUNK`` at a time. ``add(pattern, witness, radius)`` per region;
    ``close()`` (or the context manager) writes the rest. Holds one chunk, never the count."""

    layout: RegionLayout
    path: str | os.PathLike | None = None
    meta: dict = field(default_factory=dict)
    written: int = 0
    _fh: BinaryIO | None = None
    _chunks: list = field(default_factory=list)

    def __post_init__(self) -> None:
        L = self.layout
        self._bits = np.zeros((CHUNK, L.n_bits), dtype=bool)
        self._pieces = np.zeros((CHUNK, L.n_groups), dtype=L.piece_dtype)
        self._wit = np.zeros((CHUNK, L.witness_dim))
        self._rad = np.zeros(CHUNK)
        self._n = 0
        if self.path is not None:
            try:
                self._fh = open(self.path, "wb")
            except OSError as e:
                raise InputError(f"{self.path}: cannot write ({e.strerror or e})") from None
            self._fh.write(header_bytes(self.layout, self.meta))

    def add(self, pattern: list[np.ndarray], witness: np.ndarray, radius: float) -> None:
        n, ib, ig = self._n, 0, 0
        for la, p in zip(self.layout.layers, pattern):
            if la.kind == "units":
                self._bits[n, ib:ib + la.size] = np.asarray(p).ravel()
                ib += la.size
            else:
                self._pieces[n, ig:ig + la.size] = np.asarray(p).ravel()
                ig += la.size
        self._wit[n] = witness
        self._rad[n] = radius
        self._n = n + 1
        if self._n == CHUNK:
            self.flush()

    def flush(self) -> None:
        """Write the buffered records (as whole records)."""
        n = self._n
        if not n:
            return
        rec = np.zeros(n, dtype=self.layout.dtype)
        if self.layout.n_bits:
            rec["bits"] = np.packbits(self._bits[:n], axis=1)
        if self.layout.n_groups:
            rec["pieces"] = self._pieces[:n]
        rec["witness"] = self._wit[:n]
        rec["radius"] = self._rad[:n]
        if self._fh is not None:
            try:
                self._fh.write(rec.tobytes())
            except OSError as e:
                raise InputError(f"{self.path}: cannot write ({e.strerror or e})") from None
        else:
            self._chunks.append(rec)
        self.written += n
        self._n = 0

    def close(self) -> None:
        self.flush()
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def records(self) -> np.ndarray:
        """The records written to memory (``path=None``), after ``close``."""
        if not self._chunks:
            return np.zeros(0, dtype=self.layout.dtype)
        return np.concatenate(self._chunks) if len(self._chunks) > 1 else self._chunks[0]

    def __enter__(self) -> RegionWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def header_bytes(layout: RegionLayout, meta: dict) -> bytes:
    """Magic, length and the JSON header, padded so that records start at a multiple of 64."""
    text = json.dumps({"format": "milpregions-regions", "version": VERSION,
                       **layout.to_dict(), "meta": meta}).encode()
    size = len(MAGIC) + 8 + len(text)
    text += b" " * (-size % ALIGN)
    return MAGIC + struct.pack("<Q", len(text)) + text


def write_records(path: str | os.PathLike, layout: RegionLayout, meta: dict,
                  records: np.ndarray) -> None:
    """Write records of ``layout`` (e.g. a memory-mapped file's) to a new ``.mpr`` file, a
    chunk at a time."""
    try:
        with open(path, "wb") as fh:
            fh.write(header_bytes(layout, meta))
            for lo in range(0, len(records), CHUNK):
                fh.write(np.ascontiguousarray(records[lo:lo + CHUNK], dtype=layout.dtype)
                         .tobytes())
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None


@dataclass(frozen=True)
class RegionFile:
    """A ``.mpr`` file opened: its layout, metadata and the records (memory-mapped);
    ``partial_bytes``: the bytes of a record cut short at the end (a killed writer)."""

    layout: RegionLayout
    meta: dict
    records: np.ndarray
    partial_bytes: int


def is_region_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` names the compact format (by its extension, ``.mpr``)."""
    return os.fspath(path).lower().endswith(".mpr")


def read_region_file(path: str | os.PathLike) -> RegionFile:
    """Open a ``.mpr`` file; an ``InputError`` names what is wrong with a damaged one."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MAGIC) + 8)
            if len(head) < len(MAGIC) + 8 or head[:len(MAGIC)] != MAGIC:
                raise InputError(f"{path}: not a milpregions regions file (.mpr)")
            (H,) = struct.unpack("<Q", head[len(MAGIC):])
            if H > 1 << 24:
                raise InputError(f"{path}: damaged header (length {H})")
            text = fh.read(H)
        size = os.path.getsize(path)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        d = json.loads(text)
        if d.get("format") != "milpregions-regions" or d.get("version") != VERSION:
            raise ValueError("unknown format or version")
        layout = RegionLayout.from_dict(d)
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: damaged header ({e})") from None
    offset = len(MAGIC) + 8 + H
    dtype = layout.dtype
    n, partial = divmod(max(0, size - offset), dtype.itemsize)
    if n == 0:
        records = np.zeros(0, dtype=dtype)
    else:
        records = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n,))
    return RegionFile(layout, d.get("meta", {}), records, int(partial))
