"""The compact regions file (``ir.region_file``) and the pattern index (``ir.pattern_index``):
records round-trip bit-exactly through a file cut anywhere, and ``PatternIndex.find`` agrees
with a dict of the same bytes (hits, misses, multi-word keys, equal hashes)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from milpregions.errors import InputError
from milpregions.ir.network import Affine, Layer, MaxLayer, Network
from milpregions.ir.pattern_index import PatternIndex, pattern_hash
from milpregions.ir.region_file import (
    CHUNK,
    RegionLayout,
    RegionWriter,
    read_region_file,
    write_records,
)


def mixed_net(n0: int = 3, units: int = 13, groups: int = 5, pieces: int = 3) -> Network:
    """A two-piece layer then a max layer: patterns of both kinds."""
    rng = np.random.default_rng(0)
    l1 = Layer(Affine({0: rng.normal(size=(units, n0))}, rng.normal(size=units)),
               np.zeros(units))
    G = np.arange(groups * pieces).reshape(groups, pieces)
    l2 = MaxLayer(Affine({1: rng.normal(size=(groups * pieces, units))},
                         rng.normal(size=groups * pieces)), G)
    out = Affine({2: rng.normal(size=(1, groups))}, np.zeros(1))
    return Network(n0, (l1, l2), out)


def random_regions(layout: RegionLayout, n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        pattern = [rng.random(la.size) < 0.5 if la.kind == "units"
                   else rng.integers(0, la.pieces, la.size).astype(np.int64)
                   for la in layout.layers]
        # witnesses with every bit pattern a float64 can have (not just "nice" values)
        w = rng.integers(0, 2 ** 63, layout.witness_dim, dtype=np.int64).view(np.float64)
        w[~np.isfinite(w)] = 1.0
        out.append((pattern, w, float(rng.random())))
    return out


def test_round_trip_is_bit_exact_across_chunks(tmp_path):
    layout = RegionLayout.of(mixed_net())
    assert [(la.kind, la.size) for la in layout.layers] == [("units", 13), ("max", 5)]
    regions = random_regions(layout, CHUNK + 37)          # one full chunk and a part
    path = tmp_path / "r.mpr"
    with RegionWriter(layout, path, {"note": "x"}) as w:
        for p, x, r in regions:
            w.add(p, x, r)
    f = read_region_file(path)
    assert f.layout == layout and f.meta == {"note": "x"} and f.partial_bytes == 0
    assert len(f.records) == len(regions)
    # 13 bits -> 2 bytes, 5 uint8 pieces, 3 + 1 float64
    assert layout.dtype.itemsize == 2 + 5 + 32
    for rec, (p, x, r) in zip(f.records, regions):
        got = layout.decode(rec)
        assert got[0].dtype == bool and np.array_equal(got[0], p[0])
        assert got[1].dtype == np.int64 and np.array_equal(got[1], p[1])
        assert rec["witness"].tobytes() == x.tobytes() and rec["radius"] == r
    # the in-memory writer gives the same records
    with RegionWriter(layout) as m:
        for p, x, r in regions:
            m.add(p, x, r)
    assert m.records().tobytes() == np.asarray(f.records).tobytes()
    # and writing the memory-mapped records again gives the same file
    write_records(tmp_path / "s.mpr", layout, {"note": "x"}, f.records)
    assert (tmp_path / "s.mpr").read_bytes() == path.read_bytes()


def test_a_cut_file_reads_as_its_whole_records(tmp_path):
    layout = RegionLayout.of(mixed_net())
    regions = random_regions(layout, 100)
    path = tmp_path / "r.mpr"
    with RegionWriter(layout, path) as w:
        for p, x, r in regions:
            w.add(p, x, r)
    size = os.path.getsize(path)
    item = layout.dtype.itemsize
    with open(path, "r+b") as fh:
        fh.truncate(size - item - 5)                  # 98 whole records and part of one
    f = read_region_file(path)
    assert len(f.records) == 98 and f.partial_bytes == item - 5
    assert np.array_equal(f.records["witness"], np.array([x for _, x, _ in regions[:98]]))


def test_a_file_with_no_regions_and_damaged_files(tmp_path):
    layout = RegionLayout.of(mixed_net())
    path = tmp_path / "empty.mpr"
    RegionWriter(layout, path).close()
    f = read_region_file(path)
    assert len(f.records) == 0 and f.layout == layout
    assert os.path.getsize(path) % 64 == 0              # records start aligned
    bad = tmp_path / "bad.mpr"
    bad.write_bytes(b"not a regions file")
    with pytest.raises(InputError, match="not a milpregions regions file"):
        read_region_file(bad)
    data = bytearray(path.read_bytes())
    data[20:30] = b"}}}}}}}}}}"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match="damaged header"):
        read_region_file(bad)


def test_wide_max_groups_take_two_bytes_per_piece():
    G = np.arange(300).reshape(1, 300)
    net = Network(1, (MaxLayer(Affine({0: np.ones((300, 1))}, np.arange(300.0)), G),),
                  Affine({1: np.ones((1, 1))}, np.zeros(1)))
    layout = RegionLayout.of(net)
    assert layout.piece_dtype == np.uint16 and layout.n_bits == 0
    with RegionWriter(layout) as w:
        w.add([np.array([299])], np.array([0.5]), 0.25)
    assert layout.decode(w.records()[0])[0].tolist() == [299]


@pytest.mark.parametrize("nbytes", [1, 8, 9, 40])
def test_pattern_index_agrees_with_a_dict(nbytes):
    rng = np.random.default_rng(nbytes)
    keys = np.unique(rng.integers(0, 4, (3000, nbytes), dtype=np.uint8), axis=0)
    rng.shuffle(keys)
    index = PatternIndex(keys)
    table = {k.tobytes(): i for i, k in enumerate(keys)}
    queries = rng.integers(0, 4, (2000, nbytes), dtype=np.uint8)
    queries[:500] = keys[rng.integers(0, len(keys), 500)]
    want = [table.get(q.tobytes(), -1) for q in queries]
    assert index.find(queries).tolist() == want
    assert (np.array(want) >= 0).sum() >= 500


def _state(w0: int) -> int:
    """The hash state after the first word (the mixing of ``pattern_hash``)."""
    h = (w0 * 0x9E3779B97F4A7C15) % 2 ** 64
    return h ^ (h >> 29)


def test_pattern_index_compares_the_bytes_behind_equal_hashes():
    # two-word keys (a, x) and (b, y) collide when state(a) ^ x == state(b) ^ y: build such
    # pairs; each key must be found at its own row, never at its partner's
    rng = np.random.default_rng(3)
    pairs = []
    for _ in range(50):
        a, b, x = (int(v) for v in rng.integers(0, 2 ** 62, 3))
        y = _state(a) ^ x ^ _state(b)
        pairs += [(a, x), (b, y)]
    keys = np.array(pairs, dtype="<u8").view(np.uint8).reshape(len(pairs), 16)
    h = pattern_hash(keys)
    assert np.array_equal(h[0::2], h[1::2]) and np.unique(h).size == 50
    index = PatternIndex(keys)
    assert np.array_equal(index.find(keys), np.arange(len(keys)))
    # a third key with the same hash and other bytes is not found
    a, x = pairs[0]
    c = 12345
    other = np.array([[c, _state(a) ^ x ^ _state(c)]], dtype="<u8").view(np.uint8)
    assert pattern_hash(other)[0] == h[0]
    assert index.find(other).tolist() == [-1]


def test_the_writer_streams_a_chunk_at_a_time(tmp_path):
    layout = RegionLayout.of(mixed_net())
    regions = random_regions(layout, 2 * CHUNK + 3)
    path = tmp_path / "r.mpr"
    w = RegionWriter(layout, path)
    w._fh.flush()
    head = os.path.getsize(path)
    assert head % 64 == 0 and head > 0
    sizes = []
    for i, (p, x, r) in enumerate(regions, start=1):
        w.add(p, x, r)
        if i % CHUNK == 0:
            w._fh.flush()
            sizes.append(os.path.getsize(path) - head)
    assert sizes == [CHUNK * layout.dtype.itemsize, 2 * CHUNK * layout.dtype.itemsize]
    assert w._chunks == [] and w._n == 3            # nothing kept but the open chunk
    w.close()
    assert len(read_region_file(path).records) == len(regions)
