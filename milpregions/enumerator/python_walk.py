"""The Python walk: the tree over a cell path (``VertexPath`` or ``LPPath``), one generator of
cells per layer on a stack. It is the reference the compiled walks are tested against, the
short trial before a compiled walk is loaded, the walk over all of R^d, and the fallback for
a node of the compiled LP walk whose LP only HiGHS or exact arithmetic decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .layers import Groups, Maps, TreeLayer, Units, layer_affine, output_map, region_rows
from .lp_path import LPNode
from .polytope import new_row_id

#: a leaf: (pattern, witness, radius, the region's own rows on demand)
Settle = Callable[[np.ndarray, float, np.ndarray, Callable[[], np.ndarray]], None]


class CellPath(Protocol):
    """How a node is represented and split: ``VertexPath`` (a ``VPoly``) or ``LPPath`` (an
    ``LPNode``). The cell generators yield (cell, bits or argmaxes of the layer)."""

    def root(self): ...

    def unit_cells(self, L: Units, node, A: np.ndarray, c: np.ndarray, scale: float,
                   maps: Maps) -> Iterator[tuple[object, np.ndarray]]: ...

    def group_cells(self, L: Groups, node, A: np.ndarray, c: np.ndarray,
                    scale: float, maps: Maps) -> Iterator[tuple[object, np.ndarray]]: ...

    def leaf(self, node) -> tuple[np.ndarray, float]: ...


@dataclass(frozen=True, slots=True)
class Cell:
    """A cell of the first layers: their pattern, the cell (a ``VPoly`` or an ``LPNode``) and
    the affine maps of those layers on it: the root of a subtree (``TreeCounter.cells``)."""

    pattern: np.ndarray
    node: object
    maps: Maps


@dataclass(frozen=True, slots=True)
class Frame:
    """A stack frame of the walk: the generator of layer k's cells inside one node.

    ``maps`` (the affine maps of the layers before k on the node) and ``prefix`` (their
    pattern) are never written: a child frame gets new ones, built from these.
    """

    k: int
    cells: Iterator[tuple[object, np.ndarray]]
    maps: Maps
    prefix: np.ndarray
    A: np.ndarray               # layer k's pre-activations on the node: A u + c
    c: np.ndarray
    scale: float                # the sizes of what fed A (see ``layers.layer_affine``)


class PythonWalk:
    """Depth first across layers over ``path``; every leaf goes to ``settle``."""

    def __init__(self, layers: list[TreeLayer], d: int, path: CellPath, settle: Settle):
        self.layers, self.d, self.path, self.settle = layers, d, path, settle

    def _root_maps(self) -> Maps:
        return [(np.eye(self.d), np.zeros(self.d))]

    def run(self) -> None:
        """The whole tree from the domain's root."""
        root = self.path.root()
        prefix0 = np.zeros(0, dtype=np.int16)
        if not self.layers:
            self._leaf(root, prefix0, [])
            return
        self.walk([self.frame(0, root, self._root_maps(), prefix0)])

    def walk(self, stack: list[Frame], depth: int | None = None,
             prefix: np.ndarray | None = None, on_cell: Callable | None = None) -> None:
        """The depth-first loop over ``stack``. With ``depth``: a cell of the layers before
        ``depth`` goes to ``on_cell`` instead of being entered; with ``prefix`` (a pattern of
        those layers) only the cells on its path are entered.

        Invariants: only the top frame's generator advances; a frame is popped when it is
        exhausted. A yielded choice (bits / argmaxes) array is only read here, at once (copied
        into ``pre``, a new pattern, and read by ``output_map``), so it stays its generator's.
        Cells are never changed in place in a way that changes the set (sibling cells may be
        one object when a cut left it whole; a ``VPoly`` only drops non-facet rows lazily).
        Frames are frozen: a child frame gets new ``maps`` and ``prefix`` lists/arrays, and
        its siblings (later yields of the same generator) still see the parent's.
        """
        last = len(self.layers)
        while stack:
            f = stack[-1]
            step = next(f.cells, None)
            if step is None:
                stack.pop()
                continue
            cell, choice = step
            if prefix is not None and f.k < depth:
                at = f.prefix.size
                if not np.array_equal(prefix[at:at + choice.size], choice):
                    continue
            pre = np.concatenate([f.prefix, choice])
            if f.k + 1 < last:
                out = output_map(self.layers[f.k], choice, f.A, f.c)
                if depth is not None and f.k + 1 == depth:
                    on_cell(Cell(pre, cell, f.maps + [out]))
                    continue
                stack.append(self.frame(f.k + 1, cell, f.maps + [out], pre))
            else:
                self._leaf(cell, pre, stack)

    def cells(self, depth: int, prefix: np.ndarray | None = None) -> list[Cell]:
        """The cells of layers ``0 .. depth - 1`` in the order of the walk (with ``prefix``,
        only the cell of that pattern)."""
        found: list[Cell] = []
        root = self.frame(0, self.path.root(), self._root_maps(), np.zeros(0, dtype=np.int16))
        self.walk([root], depth, prefix, found.append)
        return found

    def count_cell(self, k: int, cell: Cell) -> None:
        """The subtree of ``cell`` (a cell of the layers before k)."""
        self.walk([self.frame(k, cell.node, cell.maps, cell.pattern)])

    def count_lp_entry(self, k: int, F: np.ndarray, pts: np.ndarray, rad: np.ndarray,
                       prefix: np.ndarray) -> None:
        """The subtree of a stack entry of the compiled LP walk at layer k (rows F, evidence
        ``pts``/``rad``, the pattern ``prefix`` of the layers before k).

        The entry's subtree depends only on its polytope (rows F, which hold every choice of
        the layers before it and of its own layer so far), its evidence and the pattern of the
        earlier layers, so this walk, settling its layer's units again from that polytope,
        finds the same regions."""
        node = LPNode(np.array(F), tuple(new_row_id() for _ in range(F.shape[0])),
                      np.array(pts), np.array(rad))
        frames, maps = self.frames_of(prefix, k)
        frames.append(self.frame(k, node, maps, prefix))
        self.walk(frames)

    def frame(self, k: int, node, maps: Maps, prefix: np.ndarray) -> Frame:
        """The stack frame of layer k inside ``node``."""
        L = self.layers[k]
        A, c, scale = layer_affine(L, maps)
        if isinstance(L, Units):
            cells = self.path.unit_cells(L, node, A, c, scale, maps)
        else:
            cells = self.path.group_cells(L, node, A, c, scale, maps)
        return Frame(k, cells, maps, prefix, A, c, scale)

    def frames_of(self, pattern: np.ndarray, k: int) -> tuple[list[Frame], Maps]:
        """Frames of layers 0 .. k - 1 rebuilt from their ``pattern`` (cells exhausted), and
        the maps of those layers (the input to layer k)."""
        maps = self._root_maps()
        frames, col = [], 0
        for j in range(k):
            L = self.layers[j]
            A, c, scale = layer_affine(L, maps)
            frames.append(Frame(j, iter(()), maps, pattern[:col], A, c, scale))
            n = L.fixed.size
            maps = maps + [output_map(L, pattern[col:col + n], A, c)]
            col += n
        return frames, maps

    def pattern_rows(self, pattern: np.ndarray) -> np.ndarray:
        """``region_rows`` of a whole pattern, its frames rebuilt from the pattern."""
        frames, _ = self.frames_of(pattern, len(self.layers))
        return region_rows(self.layers, frames, pattern, self.d)

    def _leaf(self, node, pattern: np.ndarray, stack: list[Frame]) -> None:
        u, r = self.path.leaf(node)
        self.settle(u, r, pattern, lambda: region_rows(self.layers, stack, pattern, self.d))
