"""Regions as data (``geometry.regionset``): the region set of a count against the regions the
count streams (bit-exact through a ``.mpr`` file), ``locate`` against forward passes of random
points, inequalities strictly positive at every witness, local affine maps against the
network's output (the Network and onnxruntime), the graph against the one-bit flips of a line
arrangement, and a slice (parameter coordinates)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from milpregions import RegionSet, collect_regions, prepare
from milpregions.api import count
from milpregions.errors import InputError
from milpregions.ir.region_file import read_region_file
from milpregions.settings import Settings
from milpregions.testing.constructions import he_mlp

# (model file, domain keywords, the count when known)
MODELS = [
    ("zaslavsky_2d_8.onnx", {"box": (-1.0, 1.0)}, 37),
    ("montufar_2d_p2_d2.onnx", {"box": (0.0, 1.0)}, 16),
    ("serra_1d_3x3.onnx", {"box": (0.0, 1.0)}, 16),
    ("maxout_mlp.onnx", {"box": (-4.0, 4.0)}, None),
    ("residual_mlp.onnx", {"box": (-1.0, 1.0)}, None),
    ("he_2d_16x16.onnx", {"box": (-1.0, 1.0)}, None),
]


def same_regions(a, b) -> None:
    """Equal patterns (kind and values), witnesses bit for bit, radii exactly."""
    assert len(a) == len(b)
    for r, s in zip(a, b):
        assert len(r.pattern) == len(s.pattern)
        for p, q in zip(r.pattern, s.pattern):
            assert np.asarray(p).dtype.kind == np.asarray(q).dtype.kind
            assert np.array_equal(np.asarray(p).ravel(), np.asarray(q).ravel())
        assert np.asarray(r.witness, dtype=np.float64).tobytes() == \
            np.asarray(s.witness, dtype=np.float64).tobytes()
        assert r.radius == s.radius


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Per model: the regions ``count`` streams, the set in memory, and the set written to a
    .mpr file while counting and read back."""
    root = tmp_path_factory.mktemp("mpr")
    out = {}
    from pathlib import Path

    models = Path(__file__).resolve().parents[2] / "models"
    for name, domain, expected in MODELS:
        problem = prepare(models / name, domain["box"])
        streamed: list = []
        result = count(problem, on_region=streamed.append)
        memory = collect_regions(problem)
        path = root / (name + ".mpr")
        on_disk = collect_regions(models / name, domain["box"], path=path)
        out[name] = (problem, result, streamed, memory, on_disk, path, expected)
    return out


@pytest.mark.parametrize("name", [m[0] for m in MODELS])
def test_the_set_is_the_count_bit_for_bit(sets, name):
    problem, result, streamed, memory, on_disk, path, expected = sets[name]
    assert result.exact and len(streamed) == result.regions
    if expected is not None:
        assert result.regions == expected
    assert memory.result.regions == on_disk.result.regions == result.regions
    same_regions(streamed, list(memory))
    same_regions(streamed, list(on_disk))
    assert isinstance(on_disk.records, np.memmap)       # read back without loading
    # read again with no problem: the data are there, the geometry is refused
    bare = RegionSet.read(path)
    same_regions(streamed, list(bare))
    assert bare.meta["domain"] == problem.domain.to_dict()
    with pytest.raises(InputError, match="without its problem"):
        bare.locate(np.zeros(problem.dim))


@pytest.mark.parametrize("name", [m[0] for m in MODELS])
def test_locate_agrees_with_forward_passes(sets, name):
    problem, result, _, rs, *_ = sets[name]
    assert result.thin_dropped == 0          # every random point lies in a counted region
    # every witness is located in its own region
    assert np.array_equal(rs.locate_many(rs.witnesses), np.arange(len(rs)))
    rng = np.random.default_rng(0)
    box = problem.box
    X = box.lo + (box.hi - box.lo) * rng.random((2000, problem.dim))
    idx = rs.locate_many(X)
    assert (idx >= 0).all()
    pats = problem.network.pattern(X)
    for n in range(0, len(X), 97):
        want = rs.pattern(int(idx[n]))
        for k, layer in enumerate(pats):
            assert np.array_equal(np.asarray(layer[n]).ravel(), np.asarray(want[k]).ravel())
        ineq = rs.inequalities(int(idx[n]))       # the point satisfies its region's rows
        assert (ineq.A @ X[n] + ineq.b >= -1e-9).all()
    assert rs.locate(X[0]) == idx[0]
    # outside the box: no region
    assert rs.locate(box.hi + 1.0) is None


@pytest.mark.parametrize("name", [m[0] for m in MODELS])
def test_inequalities_hold_strictly_at_every_witness(sets, name):
    problem, _, _, rs, *_ = sets[name]
    for i in range(len(rs)):
        A, b = rs.inequalities(i)
        v = A @ rs.witnesses[i] + b
        # rows have unit norm in normalised coordinates: a row's value is the distance from
        # the witness to its hyperplane there, at least the certified radius
        assert (v > 0).all() and (v >= rs.radii[i] - 1e-9).all()


@pytest.mark.parametrize("name", [m[0] for m in MODELS])
def test_local_affine_map_is_the_network_near_the_witness(sets, name):
    problem, _, _, rs, *_ = sets[name]
    rng = np.random.default_rng(1)
    hw = problem.box.halfwidth
    for i in range(len(rs)):
        A, c = rs.affine_map(i)
        w, r = rs.witnesses[i], rs.radii[i]
        d = rng.normal(size=(4, problem.dim))
        d *= 0.9 * r / np.linalg.norm(d, axis=1, keepdims=True)
        X = np.vstack([w, w + d * hw])
        F = problem.network.forward(X)
        scale = 1.0 + np.abs(F).max()
        assert np.allclose(X @ A.T + c, F, rtol=0, atol=1e-9 * scale)


def test_local_affine_map_against_onnxruntime(models_dir, sets):
    ort = pytest.importorskip("onnxruntime")
    _, _, _, rs, *_ = sets["he_2d_16x16.onnx"]
    sess = ort.InferenceSession(str(models_dir / "he_2d_16x16.onnx"))
    name = sess.get_inputs()[0].name
    X = rs.witnesses.astype(np.float32)
    F = sess.run(None, {name: X})[0]
    for i in range(len(rs)):
        A, c = rs.affine_map(i)
        assert np.allclose(X[i].astype(np.float64) @ A.T + c, F[i], rtol=1e-5, atol=1e-5)


def test_graph_is_the_one_bit_flips_of_a_line_arrangement(models_dir):
    rs = collect_regions(models_dir / "zaslavsky_2d_8.onnx", (-1.0, 1.0), graph=True)
    g = rs.to_networkx()
    assert g.number_of_nodes() == 37
    # in an arrangement of lines, two cells are adjacent iff their sign vectors differ in
    # exactly one line
    bits = [rs.pattern(i)[0] for i in range(len(rs))]
    want = {(i, j) for i, j in itertools.combinations(range(len(rs)), 2)
            if int((bits[i] != bits[j]).sum()) == 1}
    assert {tuple(sorted(e)) for e in g.edges} == want
    assert g.nodes[0]["witness"] == [float(v) for v in rs.witnesses[0]]
    with pytest.raises(InputError, match="graph=True"):
        collect_regions(models_dir / "zaslavsky_2d_8.onnx", (-1.0, 1.0)).to_networkx()


def test_a_slice_is_in_its_parameter_coordinates(models_dir):
    imgs = np.load(models_dir / "digits_test_images.npy")[:3]
    rs = collect_regions(models_dir / "digits_mlp.onnx", slice=tuple(imgs))
    problem = rs.problem
    assert rs.result.exact and len(rs) == rs.result.regions > 10
    assert rs.witnesses.shape == (len(rs), 64)           # witnesses are input points
    P0, P1, P2 = imgs
    # every witness in (s, t), found in its own region, strictly inside its rows
    S0 = rs.parameters
    assert S0.shape == (len(rs), 2)
    assert np.allclose(P0 + S0[:, :1] * (P1 - P0) + S0[:, 1:] * (P2 - P0), rs.witnesses,
                       rtol=0, atol=1e-9 * np.abs(imgs).max())
    assert np.array_equal(rs.locate_many(S0), np.arange(len(rs)))
    for i in range(len(rs)):
        Ai, bi = rs.inequalities(i)
        assert (Ai @ S0[i] + bi >= rs.radii[i] - 1e-9).all()
    rng = np.random.default_rng(2)
    S = rng.random((500, 2))
    idx = rs.locate_many(S)
    assert (idx >= 0).all()
    X = P0 + S[:, :1] * (P1 - P0) + S[:, 1:] * (P2 - P0)
    pats = problem.network.pattern(X)
    F = problem.network.forward(X)
    for n in range(0, 500, 25):
        i = int(idx[n])
        want = rs.pattern(i)
        for k in range(len(pats)):
            assert np.array_equal(pats[k][n], want[k])
        A, c = rs.affine_map(i)                      # the output as a map of (s, t)
        assert np.allclose(A @ S[n] + c, F[n], rtol=0, atol=1e-9 * (1 + np.abs(F[n]).max()))
        Ai, bi = rs.inequalities(i)
        assert (Ai @ S[n] + bi >= -1e-9).all()


def test_ten_thousand_regions_through_a_file(tmp_path):
    net = he_mlp(2, [100, 100], seed=0)
    path = tmp_path / "big.mpr"
    rs = collect_regions(net, (-1.0, 1.0), path=path)
    assert rs.result.exact and len(rs) == rs.result.regions == 18165
    f = read_region_file(path)
    # 200 bits -> 25 bytes, two float64 coordinates and the radius: 49 bytes a region
    assert f.layout.dtype.itemsize == 49 and f.partial_bytes == 0
    assert path.stat().st_size < 49 * 18165 + 1024
    assert np.array_equal(rs.locate_many(rs.witnesses), np.arange(len(rs)))
    X = np.random.default_rng(3).uniform(-1, 1, (5000, 2))
    idx = rs.locate_many(X)
    assert (idx >= 0).all()
    pats = np.concatenate(net.pattern(X), axis=1)
    got = np.array([np.concatenate(rs.pattern(int(i))) for i in idx[:500]])
    assert np.array_equal(pats[:500], got)


def test_collect_regions_refuses_what_it_cannot_do(models_dir, tmp_path):
    z = models_dir / "zaslavsky_2d_8.onnx"
    with pytest.raises(InputError, match=r"\.mpr"):
        collect_regions(z, (-1.0, 1.0), path=tmp_path / "x.jsonl")
    problem = prepare(z, (-1.0, 1.0))
    with pytest.raises(InputError, match="Problem has its domain"):
        collect_regions(problem, margin=1e-8)
    rs = collect_regions(z, (-1.0, 1.0), path=tmp_path / "z.mpr")
    other = prepare(models_dir / "he_2d_8x8.onnx", (-1.0, 1.0))
    with pytest.raises(InputError, match="not those of this problem"):
        RegionSet.read(tmp_path / "z.mpr", other)
    # a limit: the set holds what was found, and the graph is refused
    part = collect_regions(z, (-1.0, 1.0), max_regions=5)
    assert not part.result.exact and len(part) == 5
    with pytest.raises(InputError, match="stopped by a limit"):
        collect_regions(z, (-1.0, 1.0), max_regions=5, graph=True)
    # JSON lines from a set: the records of ``count --regions``
    rs.write(tmp_path / "z.jsonl")
    lines = (tmp_path / "z.jsonl").read_text().splitlines()
    assert lines == [r.to_json() for r in rs]
    assert Settings().margin == rs.result.margin


def test_collect_regions_refuses_a_file_another_count_is_writing(models_dir, tmp_path):
    """``collect_regions(path=)`` takes the lock ``count --regions`` takes: while another count
    holds the file it is refused in one line and the file is left as it was; once the lock is
    gone it writes the set."""
    from milpregions.ir.file_lock import REGIONS_BUSY, FileLock

    z = models_dir / "zaslavsky_2d_8.onnx"
    path = tmp_path / "z.mpr"
    path.write_bytes(b"the other count's bytes")
    with FileLock(path, REGIONS_BUSY, create=True):      # another count writing it
        with pytest.raises(InputError) as refused:
            collect_regions(z, (-1.0, 1.0), path=path)
        assert str(refused.value) == f"{path}: {REGIONS_BUSY}"
        assert path.read_bytes() == b"the other count's bytes"
    rs = collect_regions(z, (-1.0, 1.0), path=path)
    assert rs.result.exact and len(rs) == rs.result.regions == len(RegionSet.read(path))
