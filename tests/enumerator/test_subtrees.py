"""Subtrees: the cells of the first layers (``TreeCounter.cells``) partition the count. Summing
``count_cell`` over them gives the whole walk's count on both cell paths, Python and compiled,
at every depth; a cell asked for by its pattern is the one the walk reaches."""

from __future__ import annotations

import numpy as np
import pytest

from milpregions.enumerator import TreeCounter
from milpregions.problem import prepare
from milpregions.testing import constructions as C

NETS = [
    ("he_2d_16x16", lambda: C.he_mlp(2, [16, 16], 0), 412),
    ("he_3d_6x6x6", lambda: C.he_mlp(3, [6, 6, 6], 1), None),
    ("he_7d_5x5 (LP path)", lambda: C.he_mlp(7, [5, 5], 0), None),
    ("montufar", lambda: C.montufar_folding(2, 2, 2), None),
]


@pytest.mark.parametrize("name,make,expected", NETS, ids=[n for n, _, _ in NETS])
def test_the_cells_partition_the_count(name, make, expected, models_dir):
    p = prepare(make(), (-1.0, 1.0))
    whole = TreeCounter(p.unit_net, p.tree_bounds, compiled=False).run()
    if expected is not None:
        assert whole.regions == expected
    for depth in range(1, len(p.unit_net.layers)):
        cells = TreeCounter(p.unit_net, p.tree_bounds, compiled=False).cells(depth)
        assert len({c.pattern.tobytes() for c in cells}) == len(cells)
        for compiled in (False, True) if p.dim <= 6 else (None,):   # the LP path: one
            counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=compiled)
            for cell in cells:
                again = counter.cells(depth, cell.pattern)
                assert len(again) == 1 and np.array_equal(again[0].pattern, cell.pattern)
                counter.count_cell(cell)
            res = counter.finish()
            assert res.regions == whole.regions and res.exact


def test_depth_must_leave_a_layer():
    p = prepare(C.he_mlp(2, [4, 4], 0), (-1.0, 1.0))
    counter = TreeCounter(p.unit_net, p.tree_bounds)
    with pytest.raises(ValueError, match="depth must be in 1..1"):
        counter.cells(2)


def test_read_only_packed_cells_count_the_same_with_no_new_specialisation():
    """Cells a cluster hands back are read-only (Ray's object store: pickle's out-of-band
    buffers); they count the same, and the compiled entry is not specialised for read-only
    arrays (which a cold cache compiled in every cluster worker)."""
    import pickle

    from milpregions.enumerator import kernel

    p = prepare(C.he_mlp(2, [16, 16], 0), (-1.0, 1.0))
    split = TreeCounter(p.unit_net, p.tree_bounds, compiled=True).split()
    buffers: list = []
    data = pickle.dumps(split.batch(np.arange(len(split))), protocol=5,
                        buffer_callback=buffers.append)
    frozen = pickle.loads(data, buffers=[bytes(b.raw()) for b in buffers])
    assert not any(a.flags.writeable for a in frozen.arrays)
    counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=True)
    assert counter.count_split_cells(frozen) == []
    assert counter.finish().regions == 412
    assert all(t.mutable for sig in kernel.stack_of_packed.signatures for t in sig[0].types)
