"""The compiled cut of a polygon (``kernel._cut_polygon``, the d = 2 path of ``kernel.cut`` and
``vertex_kernel.cut_both``) against the Python reference ``VPoly.cut``: the same kind and the
same vertices bit for bit, on sequences of cuts that go through vertices, repeat rows, run
nearly parallel to an edge or miss the polygon by less than the tolerance; and each result is
a polygon in cyclic form (every edge's row vanishes at both of its ends)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from milpregions.enumerator import kernel, vertex_kernel
from milpregions.enumerator.polytope import VPoly

TOL = 1e-10


def _row(kind: int, rng: np.random.Generator, V: np.ndarray, F: np.ndarray) -> np.ndarray:
    """A cutting row [a, b] with |a| = 1: generic, through a vertex, an existing row (or its
    negative), nearly parallel to one, or within the tolerance of a vertex."""
    a = rng.normal(size=2)
    a /= np.linalg.norm(a)
    v = V[rng.integers(len(V))]
    if kind == 1:
        return np.array([a[0], a[1], -a @ v])
    if kind == 2:
        r = F[rng.integers(len(F))].copy()
        return -r if rng.random() < 0.5 else r
    if kind == 3:
        r = F[rng.integers(len(F))].copy()
        t = np.array([r[0] + 1e-9 * a[0], r[1] + 1e-9 * a[1]])
        t /= np.linalg.norm(t)
        return np.array([t[0], t[1], r[2] - 0.3 * rng.random()])
    if kind == 4:
        return np.array([a[0], a[1], -a @ v + rng.uniform(-0.5, 0.5) * TOL])
    return np.array([a[0], a[1], rng.uniform(-0.8, 0.8)])


def _cyclic(V: np.ndarray, F: np.ndarray) -> bool:
    n = len(V)
    return all(abs(F[i, :2] @ V[j] + F[i, 2]) <= 1e-9 for i in range(n) for j in (i, (i + 1) % n))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kinds=st.lists(st.integers(0, 4), min_size=1, max_size=8))
def test_a_polygon_cut_equals_the_python_cut(seed, kinds):
    rng = np.random.default_rng(seed)
    box = VPoly.box(2)
    py = box
    C = np.ascontiguousarray
    V, inc, F, simple = C(box.V), kernel.to_bits(C(box.inc)), C(box.F), np.int64(1)
    for kind in kinds:
        row = _row(kind, rng, V, F)
        s = V @ row[:2] + row[2]
        plus, minus = py.cut(row, py.V @ row[:2] + row[2], TOL)
        k, Vp, incp, Fp, sp, Vm, incm, Fm = kernel.cut(V, inc, F, simple, row, s, TOL)
        assert k == (0 if minus is None else 1 if plus is None else 2)
        if k == 2:
            for got, ref in ((Vp, plus), (Vm, minus)):
                assert sorted(map(tuple, got)) == sorted(map(tuple, ref.V))
            assert sp == kernel.POLYGON and _cyclic(Vp, Fp) and _cyclic(Vm, Fm)
            both = vertex_kernel.cut_both(V, inc, F, simple, row, s, TOL)
            again = kernel.cut(V, inc, F, simple, -row, -s, TOL)
            assert both[0] == 2 and np.array_equal(both[1], Vp) and np.array_equal(both[3], Fp)
            assert np.array_equal(both[5], again[1]) and np.array_equal(both[7], again[3])
        keep_plus = k != 1 and (k == 0 or rng.random() < 0.5)
        if keep_plus:
            py = plus
            if k == 2:
                V, inc, F, simple = Vp, incp, Fp, sp
        else:
            py = minus
            V, inc, F, simple = (Vm, incm, Fm, sp) if k == 2 else (V, inc, F, simple)
        if len(V) < 3:
            break


def test_the_box_in_general_form_is_put_in_cyclic_form_at_its_first_cut():
    """The box's corners come in the order of ``VPoly.box`` (not around it); the first cut
    sorts them, each edge taking the row its two corners share."""
    box = VPoly.box(2)
    C = np.ascontiguousarray
    row = np.array([1.0, 0.0, 0.25])
    s = box.V @ row[:2] + row[2]
    k, Vp, incp, Fp, sp, Vm, incm, Fm = kernel.cut(C(box.V), kernel.to_bits(C(box.inc)),
                                                   C(box.F), np.int64(1), row, s, TOL)
    assert k == 2 and sp == kernel.POLYGON and len(Vp) == len(Vm) == 4
    assert not _cyclic(C(box.V), C(box.F)) and _cyclic(Vp, Fp) and _cyclic(Vm, Fm)
    assert sorted(map(tuple, Vm)) == [(-1.0, -1.0), (-1.0, 1.0), (-0.25, -1.0), (-0.25, 1.0)]
