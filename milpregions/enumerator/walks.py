"""The compiled walks behind one protocol, so the tree's driver picks one walk once.

``choose_walk`` picks, from the dimension and the network: ``ChainVertexWalk`` (``kernel``:
the vertex walk of a chain of dense two-piece layers, the fast path), ``GeneralVertexWalk``
(``vertex_kernel``: the vertex walk of any network the importer reads: max groups, skips,
sparse weights) or ``LPWalk`` (``lp_kernel``: evidence points and Chebyshev LPs, any network,
high dimension). Each wraps its module's entry points: a root stack, a stack at a cell of the
first layers (``Cell``), one call of the walk into a ``LeafBuffers``, and the packing of
stacks and cells that other processes count. The modules are imported on first use, so a
count that finishes in the Python trial never imports numba.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .kernel_pack import PackedNet, compiled_layers, general_layers, pack_maps
from .layers import VERTEX_TOL, TreeLayer
from .polytope import VPoly

#: a stack entry of the LP walk whose LP it could not decide, counted by the Python LP path
#: into the walk's statistics (``TreeCounter``'s hand-back)
HandBack = Callable[[object, np.ndarray], None]


@dataclass
class LeafBuffers:
    """What one call of a compiled walk writes: leaves (pattern, witness, radius) and the
    walk's statistics [nodes, thin dropped, thickest dropped, LPs, second starts, pivots,
    margin] (the LP walk reads the margin from the last slot: ``lp_kernel.STAT_MARGIN``)."""

    pat: np.ndarray
    u: np.ndarray
    r: np.ndarray
    stats: np.ndarray

    @classmethod
    def new(cls, block: int, width: int, d: int, margin: float,
            thickest: float = 0.0) -> LeafBuffers:
        return cls(np.zeros((block, width), dtype=np.int16), np.zeros((block, d)),
                   np.zeros(block), np.array([0.0, 0.0, thickest, 0.0, 0.0, 0.0, margin]))


def _writable(x, dtype=float) -> np.ndarray:
    """A fresh C-ordered copy: cells that came from a cluster are read-only."""
    return np.array(x, dtype=dtype, order="C")


class CompiledWalk(Protocol):
    """One compiled walk over a packed network (``kernel_pack``)."""

    name: str                   # its module in this package (numba's cache, loading)
    lp: bool                    # the LP walk (stack entries of ``lp_kernel``)
    splits: bool                # hands out the cells of layer 0 (``TreeCounter.split``)
    pack: object                # the packed network it walks

    def module(self): ...

    def root(self): ...

    def stack_at(self, k: int, pattern: np.ndarray, node, maps) -> object: ...

    def step(self, stack, node_budget: int, out: LeafBuffers) -> tuple[int, bool]: ...

    def stack_of_packed_stack(self, arrays: tuple): ...

    def pack_stack(self, stack, idx: np.ndarray) -> tuple: ...


@dataclass
class ChainVertexWalk:
    """``kernel``: the vertex walk of a chain of dense two-piece layers (d <= vertex_dim)."""

    pack: object
    d: int
    margin: float
    name: str = "kernel"
    lp: bool = False
    splits: bool = True

    @property
    def vtol(self) -> float:
        return min(VERTEX_TOL, self.margin)

    def module(self):
        from . import kernel

        return kernel

    def root(self):
        box, C = VPoly.box(self.d), np.ascontiguousarray
        return self.module().new_stack(C(box.V), C(box.inc), C(box.F), self.pack)

    def stack_at(self, k: int, pattern: np.ndarray, node, maps):
        C = np.ascontiguousarray
        A, c = maps[-1]
        scale = float(np.sqrt(np.sum(A * A)))
        return self.module().new_stack_at(k, C(node.V), C(node.inc), C(node.F), self.pack,
                                          C(A), C(c), scale, C(pattern))

    def new_cells(self):
        """An empty list for the cells of the layers before a depth (``split``)."""
        return self.module().new_cells(self.d)

    def step(self, stack, node_budget: int, out: LeafBuffers, depth: int = -1,
             cells=None) -> tuple[int, bool]:
        if cells is None:
            cells = self.new_cells()
        return self.module().walk(stack, self.pack, self.margin, self.vtol, node_budget,
                                  out.pat, out.u, out.r, out.stats, depth, cells)

    def cell_pattern(self, cell) -> np.ndarray:
        return np.asarray(cell.pattern)

    def cell_vertices(self, cell) -> np.ndarray:
        return np.asarray(cell.V)

    def pack_cells(self, cells, idx: np.ndarray) -> tuple:
        return self.module().pack_cells(cells, np.ascontiguousarray(idx, dtype=np.int64))

    def stack_of_packed(self, arrays: tuple):
        return self.module().stack_of_packed(arrays, 1, self.pack)

    def stack_of_packed_stack(self, arrays: tuple):
        return self.module().stack_of_packed_stack(arrays)

    def pack_stack(self, stack, idx: np.ndarray) -> tuple:
        return self.module().pack_stack(stack, idx)


@dataclass
class GeneralVertexWalk(ChainVertexWalk):
    """``vertex_kernel``: the vertex walk of any network (max groups, skips, sparse weights)."""

    name: str = "vertex_kernel"

    def module(self):
        from . import vertex_kernel

        return vertex_kernel

    def stack_at(self, k: int, pattern: np.ndarray, node, maps):
        packed = pack_maps(self.pack, k, maps)          # fresh, writable arrays
        return self.module().new_stack_at(k, _writable(node.V), _writable(node.inc, bool),
                                          _writable(node.F), self.pack, *packed,
                                          _writable(pattern, np.int16))

    def new_cells(self):
        return self.module().new_cells(self.d, self.pack.last_use.size)

    def stack_of_packed_stack(self, arrays: tuple):
        return self.module().stack_of_packed_stack(arrays, self.pack)


@dataclass
class LPWalk:
    """``lp_kernel``: the LP walk of any network (d > vertex_dim). A node whose LP it cannot
    decide comes back on top of the stack; ``hand_back`` counts its subtree with the Python
    LP path (HiGHS, then exact LPs) at the start of the next call, after that call's leaves
    were taken, and the walk goes on without it."""

    pack: object
    d: int
    margin: float
    hand_back: HandBack | None = None
    name: str = "lp_kernel"
    lp: bool = True
    splits: bool = True
    _handed: bool = field(default=False, repr=False)
    _no_cells: object = field(default=None, repr=False)

    def module(self):
        from . import lp_kernel

        return lp_kernel

    def root(self):
        return self.module().new_stack(self.d, self.pack)

    def stack_at(self, k: int, pattern: np.ndarray, node, maps):
        packed = pack_maps(self.pack, k, maps)          # fresh, writable arrays
        return self.module().new_stack_at(k, _writable(node.F), _writable(node.pts),
                                          _writable(node.rad), self.pack, *packed,
                                          _writable(pattern, np.int16))

    def new_cells(self):
        """An empty list for the cells of the layers before a depth (``split``)."""
        return self.module().new_cells(self.d, self.pack)

    def step(self, stack, node_budget: int, out: LeafBuffers, depth: int = -1,
             cells=None) -> tuple[int, bool]:
        if self._handed:
            self._handed = False
            self.hand_back(stack.pop(), out.stats)
        if cells is None:
            if self._no_cells is None:
                self._no_cells = self.new_cells()
            cells = self._no_cells
        n, state = self.module().walk(stack, self.pack, self.margin, node_budget, out.pat,
                                      out.u, out.r, out.stats, np.int64(depth), cells)
        if state == 2:
            if depth >= 0:
                raise UndecidedSplit
            if self.hand_back is None:
                raise RuntimeError("the LP walk stopped at an undecided LP with no hand-back")
            self._handed = True
            return n, False
        return n, state == 1

    def stack_of_packed_stack(self, arrays: tuple):
        return self.module().stack_of_packed_stack(arrays, self.pack)

    def pack_stack(self, stack, idx: np.ndarray) -> tuple:
        return self.module().pack_stack(stack, idx)

    def cell_pattern(self, cell) -> np.ndarray:
        return np.asarray(cell.prefix)

    def cell_vertices(self, cell) -> None:
        return None                     # the LP walk's cells are rows and evidence


class UndecidedSplit(Exception):
    """The LP walk met an LP it cannot decide while splitting: the split is left to the
    Python walk (a hand-back would count a subtree in the splitter)."""


def choose_walk(layers: list[TreeLayer], d: int, margin: float, use_vertices: bool,
                hand_back: HandBack | None = None) -> CompiledWalk | None:
    """The compiled walk of these layers: the chain vertex walk where it applies (the fast
    path), else the general vertex walk or the LP walk; None where no packing exists."""
    if use_vertices:
        chain = compiled_layers(layers)
        if chain is not None:
            return ChainVertexWalk(chain, d, margin)
        general: PackedNet | None = general_layers(layers)
        return None if general is None else GeneralVertexWalk(general, d, margin)
    general = general_layers(layers)
    return None if general is None else LPWalk(general, d, margin, hand_back)
