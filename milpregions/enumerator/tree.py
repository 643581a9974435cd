"""Branch-and-bound over activation patterns: the exact region counter (``--method tree``).

The tree fixes the activation pattern unit by unit (or max group by max group), in layer order,
depth first. A node is a polytope P of normalised input space (the box [-1, 1]^d cut by the
hyperplanes of the choices made so far); on P every fixed layer is affine, so the next layer's
pre-activations are affine functions ``z_j(u) = a_j . u + c_j`` on P. For each unit the node
decides, in order of cost:

1. globally stable (``Bounds``): its bit is fixed, it is never looked at again;
2. constant on P (numerically zero gradient): the bit is the sign of the constant;
3. one-signed on P: proven by the vertices of P (low dimension, ``vertex_dim``) or by an LP;
4. splitting P: proven by the vertices, or by two points of P, each the centre of a ball of
   radius > margin inside P, on opposite sides (sign evidence); LPs only when neither proves it.

A max group (maxout, MaxPool) branches into the cells ``{z_i >= z_m for all m}`` of its pieces
that hold a ball of radius > margin; pieces identical on P count once (the first one wins, as
``argmax`` does), and a piece dominated by another on every vertex of P is never a cell.

A unit that leaves only a sliver (depth <= margin) on one side does not split P; the sliver is
cut off. A leaf is an activation region; it is counted iff a ball of radius > ``margin``
(normalised coordinates) fits in it, and its centre is the witness. Witnesses are re-checked in
batches by a plain forward pass of the network: the pattern there must equal the leaf's.

This module is the driver (the stack of layers, leaves, the verification buffer). A node is
represented by one of two cell paths, chosen once per run: ``vertex_path`` (vertices, for
d <= ``vertex_dim``) or ``lp_path`` (evidence points and Chebyshev LPs); ``layers`` holds the
algebra both share and ``budget`` the limits and statistics. Both paths run compiled for
any network: the vertex path of a chain of dense two-piece layers on ``kernel`` (the fast
path), of any other network on ``vertex_kernel``, the LP path on ``lp_kernel``. When the
compiled walk is not loaded yet and the patterns of a few points (``size_guess``) do not show
a large count, a short Python trial comes first.
``split`` / ``count_split_cells`` cut the tree after layer 1 into subtrees that other
processes count (``milpregions.parallel``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..bounds import Bounds
from ..ir.network import Network
from ..ir.pattern import split_pattern, verify_patterns
from ..ir.result import CountResult
from ..settings import DEFAULT_MARGIN
from ..solver.highs import ChebyshevLP
from .budget import Budget, ProgressCallback, Stats, Stop, StopRequest
from .kernel_pack import compiled_layers, general_layers, pack_maps
from .layers import (
    VERTEX_TOL,
    Groups,
    Maps,
    TreeLayer,
    Units,
    build_layers,
    certified_radius,
    layer_affine,
    output_map,
    region_rows,
)
from .lp_path import LPNode, LPPath
from .polytope import VPoly, new_row_id
from .progress import compiling, watch_cover
from .size_guess import distinct_patterns
from .vertex_path import VertexPath

log = logging.getLogger(__name__)

RegionCallback = Callable[[list, np.ndarray, float], None]


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


@dataclass(frozen=True)
class PackedCells:
    """Cells of the compiled walk as flat arrays (``kernel.pack_cells``): cheap to pickle."""

    arrays: tuple


@dataclass(frozen=True)
class PackedStack:
    """Stack entries of a compiled walk stopped by a task's budget (``kernel.pack_stack``):
    the unexplored rest of its subtrees, a task of its own."""

    arrays: tuple
    lp: bool = False            # entries of the LP walk (``lp_kernel``), else the vertex walk


def _writable(arrays: tuple) -> tuple:
    """Packed arrays with the read-only ones copied: a cluster's object store hands arrays
    back read-only, and numba would compile (and cache) another specialisation of the
    compiled entry for them, in every worker process of a cold cache."""
    return tuple(_writable(a) if isinstance(a, tuple)
                 else a.copy() if isinstance(a, np.ndarray) and not a.flags.writeable else a
                 for a in arrays)


class Split:
    """The cells of layer 0 from ``TreeCounter.split``, handed out in batches by index."""

    def __init__(self, cells, compiled: bool, general: bool = False):
        # general: cells of ``vertex_kernel`` (any network), else of ``kernel`` (chains)
        self._cells, self.compiled, self.general = cells, compiled, general

    def __len__(self) -> int:
        return len(self._cells)

    def patterns(self) -> list[np.ndarray]:
        """The layer-0 pattern of every cell, in order."""
        if self.compiled:
            return [np.asarray(cell[4]) for cell in self._cells]
        return [cell.pattern for cell in self._cells]

    def vertices(self) -> list[np.ndarray] | None:
        """The vertices of every cell, in order (None on the LP path, whose cells have none)."""
        if self.compiled:
            return [np.asarray(cell[0]) for cell in self._cells]
        if self._cells and not isinstance(self._cells[0].node, VPoly):
            return None
        return [cell.node.V for cell in self._cells]

    def batch(self, idx) -> PackedCells | list[Cell]:
        """The cells ``idx`` (indices into the split), ready for ``count_split_cells``."""
        if self.compiled:
            from . import kernel, vertex_kernel

            module = vertex_kernel if self.general else kernel
            return PackedCells(module.pack_cells(self._cells,
                                                   np.ascontiguousarray(idx, dtype=np.int64)))
        return [self._cells[i] for i in idx]


@dataclass(frozen=True, slots=True)
class Frame:
    """A stack frame of the driver: the generator of layer k's cells inside one node.

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


#: a compiled walk's call longer than this halves the node budget of the next one
BLOCK_SECONDS = 0.5
#: a task hands its stack back once its seconds are over and it walked this many nodes (or
#: BLOCK_SECONDS passed)
TASK_MIN_NODES = 64
#: nodes the Python walk may take before a count switches to the compiled walk, when that is
#: not loaded yet: about 1 s of Python, what loading it from numba's cache costs a process
#: (benchmarks/README.md, "Start-up"); counts that finish within it never import numba
TRIAL_NODES = 8192
#: the same for the LP path, whose Python nodes cost about 0.5 ms each (their LPs included)
TRIAL_NODES_LP = 2048
#: distinct patterns among ``size_guess.SAMPLE_POINTS`` (512) spread points from which a count
#: loads the compiled walk at once: a trial would not finish (he_3d_16x16, 3,524 regions in 7,639
#: nodes, shows 237 and finishes inside the trial)
LARGE_SAMPLE = 256


def _kernel_loaded(name: str) -> bool:
    """Whether this process has the compiled walk ``name`` (a module of this package) loaded
    already (then it costs nothing)."""
    module = sys.modules.get(f"{__package__}.{name}")
    return module is not None and module.is_loaded()


class TreeCounter:
    """One enumeration of a normalised network's regions in [-1, 1]^d."""

    def __init__(self, net: Network, bounds: Bounds, *, margin: float = DEFAULT_MARGIN,
                 vertex_dim: int = 6, time_limit: float | None = None,
                 max_regions: int | None = None, on_region: RegionCallback | None = None,
                 progress: ProgressCallback | None = None, verify_batch: int = 4096,
                 compiled: bool | None = None, should_stop: StopRequest | None = None,
                 box: bool = True):
        self.net = net
        self.d = net.input_dim
        self.margin = float(margin)
        # box=False: all of R^d (``AllSpace``), on the Python LP path alone (the vertex path
        # and the compiled walks hold the box [-1, 1]^d in their nodes and LPs)
        self.box = box
        self._extent_lp = None      # over R^d: the LP that tells bounded regions (``recession``)
        self.lines = False          # over R^d: every region contains a line (input rank < d)
        self.reach = 0.0            # over R^d: the largest |u|_inf of a witness
        if not box:
            from .recession import input_rank

            vertex_dim, compiled = -1, False
            self.lines = input_rank(net) < self.d
        self.use_vertices = self.d <= vertex_dim
        self.on_region = on_region
        self.layers: list[TreeLayer] = build_layers(net, bounds)
        # compiled: True / False force it (where the network allows); None: when it pays.
        # Both walks take any network: the vertex walk of a chain of dense two-piece layers
        # is ``kernel`` (its fast path), of any other network ``vertex_kernel``; the LP walk
        # is ``lp_kernel``.
        chain = compiled_layers(self.layers)
        self._general_vertices = self.use_vertices and chain is None
        if compiled is False:
            self.compiled = None
        elif self.use_vertices and not self._general_vertices:
            self.compiled = chain
        else:
            self.compiled = general_layers(self.layers)
        self._kernel_name = ("vertex_kernel" if self._general_vertices else "kernel") \
            if self.use_vertices else "lp_kernel"
        self._kernel_ready = False
        self._witness_filter = None     # the compiled witness filter (``witness_filter``)
        self.handed_to_python = 0       # nodes of the compiled LP walk counted in Python
        self.trial_nodes: int | None = None
        # the share of the domain counted so far, for a display that shows it (``progress``)
        progress, self.cover = watch_cover(progress, net) if box else (progress, None)
        if self.compiled is not None:
            if (compiled is None and not _kernel_loaded(self._kernel_name)
                    and distinct_patterns(net) < LARGE_SAMPLE):
                # loading it costs ~1 s, and the count may well be small: try Python first
                self.trial_nodes = TRIAL_NODES if self.use_vertices else TRIAL_NODES_LP
            else:
                self._load_kernel(progress)
        lp = ChebyshevLP(self.d, box=box)
        # over R^d far LP points are pulled in to balls of this radius, still far above the
        # margin, so no decision of the walk (r > margin) changes
        if not box:
            from ..solver.highs import PULL_RADIUS

            lp.pull = max(PULL_RADIUS, 100 * self.margin)
        self.budget = Budget(lp, time_limit=time_limit,
                             max_regions=max_regions, progress=progress,
                             should_stop=should_stop)
        self.path: CellPath = VertexPath(self.d, self.margin, self.budget) \
            if self.use_vertices else LPPath(self.d, self.margin, self.budget, box)
        self.verify_batch = verify_batch
        self._buf_u: list[np.ndarray] = []      # witnesses to verify, one by one
        self._buf_bits: list[np.ndarray] = []
        self._blocks: list[tuple[np.ndarray, np.ndarray]] = []   # and in blocks (compiled)
        self._buffered = 0
        self.n_unstable = bounds.n_unstable
        self.bound_lps = bounds.lps

    # ------------------------------------------------------------------ driver
    def run(self) -> CountResult:
        stopped = None
        try:
            self._run()
        except Stop as stop:
            stopped = stop.why
        return self.finish(stopped)

    def _run(self) -> None:
        if self.compiled is None:
            self._run_python()
            return
        if self.trial_nodes is not None:
            if self._trial():
                return
            self._load_kernel(self.budget.progress)
        self._run_compiled()

    def _load_kernel(self, progress) -> None:
        """Compile (first run after install) or load the compiled walk of this path."""
        from importlib import import_module

        from . import kernel

        module = import_module(f"{__package__}.{self._kernel_name}")
        # a first compile is announced on its own line, with how long it takes
        with compiling(progress, self._kernel_name, module.cache_is_warm(), kernel.cache_dir()):
            module.warm_up(parallel=False)
        self._kernel_ready = True

    def _trial(self) -> bool:
        """The Python walk with a node limit; True if it finished the count (or a limit
        stopped it). Else everything it did is dropped, and the compiled walk starts over:
        regions it found reach ``on_region`` only if it finished, so none is reported twice."""
        real, held = self.on_region, []
        if real is not None:
            self.on_region = lambda *region: held.append(region)
        self.budget.node_limit = self.trial_nodes
        try:
            self._run_python()
        except Stop as stop:
            if stop.why != "trial":
                self._deliver(real, held)
                raise
            self.on_region = real
            self.budget.node_limit = None
            self.budget.stats = Stats(start=self.budget.stats.start)   # the time stays
            self.budget.lp.solves = 0
            self._buf_u.clear()
            self._buf_bits.clear()
            self._blocks.clear()
            self._buffered = 0
            return False
        self._deliver(real, held)
        return True

    def _deliver(self, real, held: list) -> None:
        self.on_region = real
        self.budget.node_limit = None
        for region in held:
            real(*region)

    def _run_compiled(self, stack=None, seconds: float | None = None):
        """The compiled walk (``kernel``) from the box, or from ``stack``: leaves come back in
        blocks; between blocks the budget checks the time limit and reports progress. With
        ``seconds``, it stops after a block once they have passed and returns the rest of the
        stack (None when the walk is done)."""
        d, pack = self.d, self.compiled
        st = self.budget.stats
        if stack is None:
            stack = self._compiled_root()
        walk = self._compiled_walk()
        width = sum(L.fixed.size for L in self.layers)
        block = 4096
        out_pat = np.zeros((block, width), dtype=np.int16)
        out_u = np.zeros((block, d))
        out_r = np.zeros(block)
        # [nodes, thin dropped, thickest dropped] (+ [LPs, second starts, pivots] on LPs)
        # (+ the margin, which the LP walk's LP reads: ``lp_kernel.STAT_MARGIN``)
        stats = np.array([0.0, 0.0, st.thickest_dropped, 0.0, 0.0, 0.0, self.margin])
        nodes0, thin0 = st.nodes, st.thin_dropped       # a counter may run several walks
        lps0 = self.budget.lp.solves
        far = 10 * self.margin
        done = False
        # nodes per call: from 1, doubled up to 2^14 while a call stays under BLOCK_SECONDS (a
        # first call of 256 nodes took 52 s on the digits CNN's whole pixel box, past any limit)
        budget = 1
        start = time.perf_counter()
        until = None if seconds is None else start + seconds
        while not done:
            self.budget.check(st.nodes)
            if until is not None and time.perf_counter() > until and (
                    st.nodes - nodes0 >= TASK_MIN_NODES
                    or time.perf_counter() - start > BLOCK_SECONDS):
                # every task makes progress: a task of 1 node, handing back the rest each time,
                # cost a he_4d_16x16 count with --task-seconds 1e-5 five minutes
                return stack
            t_call = time.perf_counter()
            n, done = walk(stack, pack, budget, out_pat, out_u, out_r, stats)
            # nodes of 64-D LP walks cost ~1 ms: keep a call near BLOCK_SECONDS, so limits,
            # progress and interrupts stay prompt
            if time.perf_counter() - t_call > BLOCK_SECONDS:
                budget = max(1, budget // 2)
            else:
                budget = min(2 * budget, 1 << 14)
            st.nodes = nodes0 + int(stats[0])
            st.thin_dropped, st.thickest_dropped = thin0 + int(stats[1]), float(stats[2])
            self.budget.lp.solves = lps0 + int(stats[3])
            R = out_r[:n]
            quick = R > far
            if self.on_region is None and quick.all() and (
                    self.budget.max_regions is None
                    or st.regions + n <= self.budget.max_regions):
                st.regions += n
                if n:
                    st.min_radius = min(st.min_radius, float(R.min()))
                self._blocks.append((out_u[:n].copy(), out_pat[:n].copy()))
                if self.cover is not None:
                    self.cover.add(out_pat[:n])
                self._buffered += n
                if self._buffered >= self.verify_batch:
                    self._flush()
            else:
                for i in range(n):
                    pat = out_pat[i].copy()
                    self._settle_leaf(out_u[i].copy(), float(R[i]), pat,
                                      lambda pat=pat: self._pattern_rows(pat))

    def _compiled_root(self):
        """The compiled walk's stack at the root of the tree."""
        d, C = self.d, np.ascontiguousarray
        if self.use_vertices:
            module = self._vertex_module()
            box = VPoly.box(d)
            return module.new_stack(C(box.V), C(box.inc), C(box.F), self.compiled)
        from . import lp_kernel

        return lp_kernel.new_stack(d, self.compiled)

    def _compiled_walk(self) -> Callable:
        """``walk(stack, pack, node_budget, out_pat, out_u, out_r, stats) -> (leaves, done)``
        of this path's compiled walk."""
        margin = self.margin
        if self.use_vertices:
            module = self._vertex_module()
            vtol = min(VERTEX_TOL, margin)
            no_cells = self._new_cells()

            def walk(stack, pack, budget, out_pat, out_u, out_r, stats):
                return module.walk(stack, pack, margin, vtol, budget, out_pat, out_u, out_r,
                                   stats, -1, no_cells)
            return walk
        from . import lp_kernel

        handed = [False]        # the last call stopped at an LP it could not decide

        def walk_lp(stack, pack, budget, out_pat, out_u, out_r, stats):
            if handed[0]:
                # after the leaves of that call were taken: the node it stopped at is counted
                # by the Python LP path (HiGHS, then exact LPs), the walk goes on without it
                handed[0] = False
                self._python_entry(stack.pop(), stats)
            n, state = lp_kernel.walk(stack, pack, margin, budget, out_pat, out_u, out_r, stats)
            if state == 2:
                handed[0] = True
                return n, False
            return n, state == 1
        return walk_lp

    def _vertex_module(self):
        """The compiled vertex walk of this network: ``vertex_kernel`` (any network) or
        ``kernel`` (chains of dense two-piece layers, the fast path)."""
        if self._general_vertices:
            from . import vertex_kernel

            return vertex_kernel
        from . import kernel

        return kernel

    def _new_cells(self):
        """An empty list of cells for the compiled vertex walk's ``depth`` argument."""
        if self._general_vertices:
            from . import vertex_kernel

            return vertex_kernel.new_cells(self.d, self.compiled.last_use.size)
        from . import kernel

        return kernel.new_cells(self.d)

    def _python_entry(self, entry, stats: np.ndarray) -> None:
        """Count the subtree of a stack entry of the compiled LP walk with the Python LP path,
        into the walk's ``stats`` (the driver reads its node, sliver and LP counts from there).

        The entry's subtree depends only on its polytope (rows F, which hold every choice of
        the layers before it and of its own layer so far), its evidence and the pattern of the
        earlier layers, so the Python path, settling its layer's units again from that
        polytope, finds the same regions (``lp_kernel.walk`` returns state 2 with the entry on
        top of its stack when one of its LPs is not decided)."""
        k, F, pts, rad, prefix = int(entry[0]), entry[1], entry[2], entry[3], entry[6]
        st, lp = self.budget.stats, self.budget.lp
        nodes, thin, solves = st.nodes, st.thin_dropped, lp.solves
        node = LPNode(np.array(F), tuple(new_row_id() for _ in range(F.shape[0])),
                      np.array(pts), np.array(rad))
        frames, maps = self._frames_of(np.asarray(prefix, dtype=np.int16), k)
        frames.append(self._frame(k, node, maps, np.asarray(prefix, dtype=np.int16)))
        self.handed_to_python += 1
        try:
            self._walk(frames)
        finally:
            stats[0] += st.nodes - nodes
            stats[1] += st.thin_dropped - thin
            stats[2] = max(stats[2], st.thickest_dropped)
            stats[3] += lp.solves - solves
            st.nodes, st.thin_dropped, lp.solves = nodes, thin, solves

    def _frames_of(self, pattern: np.ndarray, k: int) -> tuple[list[Frame], Maps]:
        """Frames of layers 0 .. k - 1 rebuilt from their ``pattern`` (cells exhausted), and the
        maps of those layers (the input to layer k)."""
        d = self.d
        maps: Maps = [(np.eye(d), np.zeros(d))]
        frames, col = [], 0
        for j in range(k):
            L = self.layers[j]
            A, c, scale = layer_affine(L, maps)
            frames.append(Frame(j, iter(()), maps, pattern[:col], A, c, scale))
            n = L.fixed.size
            maps = maps + [output_map(L, pattern[col:col + n], A, c)]
            col += n
        return frames, maps

    def _pattern_rows(self, pattern: np.ndarray) -> np.ndarray:
        """``region_rows`` of a pattern, its frames rebuilt from the pattern (compiled walk)."""
        frames, _ = self._frames_of(pattern, len(self.layers))
        return region_rows(self.layers, frames, pattern, self.d)

    def _run_python(self) -> None:
        """Depth first across layers: one generator of cells per layer on the stack, so memory
        stays proportional to the depth, and regions stream out from the start.

        Invariants: only the top frame's generator advances; a frame is popped when it is
        exhausted. A yielded choice (bits / argmaxes) array is only read here, at once (copied
        into ``pre``, a new pattern, and read by ``output_map``), so it stays its generator's.
        Cells are never changed in place in a way that changes the set (sibling cells may be
        one object when a cut left it whole; a ``VPoly`` only drops non-facet rows lazily).
        Frames are frozen: a child frame gets new ``maps`` and ``prefix`` lists/arrays, and
        its siblings (later yields of the same generator) still see the parent's.
        """
        d = self.d
        root = self.path.root()
        maps0, prefix0 = [(np.eye(d), np.zeros(d))], np.zeros(0, dtype=np.int16)
        if not self.layers:
            self._leaf(root, prefix0, [])
            return
        self._walk([self._frame(0, root, maps0, prefix0)])

    def _walk(self, stack: list[Frame], depth: int | None = None,
              prefix: np.ndarray | None = None, on_cell: Callable | None = None) -> None:
        """The depth-first loop over ``stack``. With ``depth``: a cell of the layers before
        ``depth`` goes to ``on_cell`` instead of being entered; with ``prefix`` (a pattern of
        those layers) only the cells on its path are entered."""
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
                stack.append(self._frame(f.k + 1, cell, f.maps + [out], pre))
            else:
                self._leaf(cell, pre, stack)

    # ------------------------------------------------------------------ subtrees
    def cells(self, depth: int, prefix: np.ndarray | None = None) -> list[Cell]:
        """The cells of layers ``0 .. depth - 1`` (1 <= depth < number of layers), in the
        order of the walk, as the Python path builds them; with ``prefix``, only the cell of
        that pattern (the same object the whole walk would reach). The regions of the network
        are those of these cells' subtrees (``count_cell``), each counted once."""
        if not 1 <= depth < len(self.layers):
            raise ValueError(f"depth must be in 1..{len(self.layers) - 1}, not {depth}")
        d = self.d
        found: list[Cell] = []
        root = self._frame(0, self.path.root(), [(np.eye(d), np.zeros(d))],
                           np.zeros(0, dtype=np.int16))
        self._walk([root], depth, prefix, found.append)
        return found

    def count_cell(self, cell: Cell, seconds: float | None = None):
        """Count the regions inside ``cell`` (from ``cells``) into this counter's statistics;
        ``finish`` then gives the result. Limits raise ``Stop`` as in ``run``. With
        ``seconds``, a compiled walk stops after them and returns the rest of its stack (else
        None)."""
        k = self._depth_of(cell.pattern.size)
        if self.compiled is not None:
            if not self._kernel_ready:
                self._load_kernel(None)
            P = cell.node
            C = np.ascontiguousarray
            if self._general_vertices:
                from . import vertex_kernel

                def mine(x, dtype=float):   # writable: cells from a cluster are read-only
                    return np.array(x, dtype=dtype, order="C")

                maps = pack_maps(self.compiled, k, cell.maps)     # fresh, writable arrays
                stack = vertex_kernel.new_stack_at(k, mine(P.V), mine(P.inc, bool),
                                                   mine(P.F), self.compiled, *maps,
                                                   mine(cell.pattern, np.int16))
            elif self.use_vertices:
                from . import kernel

                A, c = cell.maps[-1]
                scale = float(np.sqrt(np.sum(A * A)))
                stack = kernel.new_stack_at(k, C(P.V), C(P.inc), C(P.F), self.compiled, C(A),
                                            C(c), scale, C(cell.pattern))
            else:
                from . import lp_kernel

                def own(x, dtype=float):    # writable: cells from a cluster are read-only
                    return np.array(x, dtype=dtype, order="C")

                maps = pack_maps(self.compiled, k, cell.maps)     # fresh, writable arrays
                stack = lp_kernel.new_stack_at(k, own(P.F), own(P.pts), own(P.rad),
                                               self.compiled, *maps,
                                               own(cell.pattern, np.int16))
            return self._run_compiled(stack, seconds)
        self._walk([self._frame(k, cell.node, cell.maps, cell.pattern)])
        return None

    def split(self) -> Split:
        """The cells of layer 0, each the root of a subtree to count elsewhere
        (``Split.batch``, then ``count_split_cells``): by the compiled walk where the network
        allows (its own nodes, kept in numba's list), else ``cells(1)``. Limits raise ``Stop``."""
        if len(self.layers) < 2:
            raise ValueError("a network of one layer has no subtrees to split off")
        if self.compiled is None or not self.use_vertices:
            return Split(self.cells(1), False)
        if not self._kernel_ready:
            self._load_kernel(self.budget.progress)
        module = self._vertex_module()
        d, st, C = self.d, self.budget.stats, np.ascontiguousarray
        box = VPoly.box(d)
        stack = module.new_stack(C(box.V), C(box.inc), C(box.F), self.compiled)
        cells = self._new_cells()
        stats = np.array([0.0, 0.0, st.thickest_dropped])
        nodes0, thin0 = st.nodes, st.thin_dropped
        out = (np.zeros((1, sum(L.fixed.size for L in self.layers)), dtype=np.int16),
               np.zeros((1, d)), np.zeros(1))
        done = False
        while not done:
            self.budget.check(st.nodes)
            n, done = module.walk(stack, self.compiled, self.margin, min(VERTEX_TOL, self.margin),
                                  1 << 14, *out, stats, 1, cells)
            st.nodes = nodes0 + int(stats[0])
        st.thin_dropped, st.thickest_dropped = thin0 + int(stats[1]), float(stats[2])
        return Split(cells, True, self._general_vertices)

    def count_split_cells(self, cells, seconds: float | None = None,
                          pieces: int = 4) -> list[PackedStack]:
        """Count the subtrees of cells from ``Split.batch`` (made in any process), or of a
        ``PackedStack``, into this counter: packed compiled cells in one walk, the others one by
        one. With ``seconds``, a compiled walk stops after about that long and returns the
        rest as up to ``pieces`` new tasks (``PackedStack``), and the cells not begun as one
        more (a list of cells); the Python walk of a cell always finishes."""
        if isinstance(cells, (PackedCells, PackedStack)):
            if not self._kernel_ready:
                self._load_kernel(None)
            from . import kernel, lp_kernel, vertex_kernel

            arrays = _writable(cells.arrays)
            if isinstance(cells, PackedCells):
                stack = self._vertex_module().stack_of_packed(arrays, 1, self.compiled)
            elif cells.lp:
                stack = lp_kernel.stack_of_packed_stack(arrays, self.compiled)
            elif self._general_vertices:
                stack = vertex_kernel.stack_of_packed_stack(arrays, self.compiled)
            else:
                stack = kernel.stack_of_packed_stack(arrays)
            return self._frontier(self._run_compiled(stack, seconds), pieces)
        until = None if seconds is None else time.perf_counter() + seconds
        for i, cell in enumerate(cells):
            if i and until is not None and time.perf_counter() > until:
                return [list(cells[i:])]            # the cells not begun: a task of their own
            node = cell.node
            fresh = tuple(new_row_id() for _ in range(len(node.ids)))   # this process's ids
            if isinstance(node, VPoly):
                node = VPoly(node.V, node.inc, node.F, np.array(fresh), node.simple)
            else:
                node = LPNode(node.F, fresh, node.pts, node.rad)
            left = None if until is None else max(0.0, until - time.perf_counter())
            rest = self.count_cell(Cell(cell.pattern, node, cell.maps), left)
            if rest is not None and len(rest):
                later = [list(cells[i + 1:])] if i + 1 < len(cells) else []
                return self._frontier(rest, pieces) + later
        return []

    def _frontier(self, rest, pieces: int) -> list[PackedStack]:
        """The rest of a compiled walk's stack as up to ``pieces`` tasks, its entries dealt
        round robin (the deep ones, near the root, are the big ones)."""
        if rest is None or len(rest) == 0:
            return []
        from . import lp_kernel

        module = self._vertex_module() if self.use_vertices else lp_kernel
        order = np.arange(len(rest))
        # contiguous index arrays: a strided slice would compile another specialisation
        return [PackedStack(module.pack_stack(rest, np.ascontiguousarray(order[i::pieces])),
                            not self.use_vertices)
                for i in range(min(pieces, len(rest)))]

    def _depth_of(self, width: int) -> int:
        """The layer that starts after ``width`` pattern entries."""
        total = 0
        for k, L in enumerate(self.layers):
            if total == width:
                return k
            total += L.fixed.size
        raise ValueError(f"a pattern of {width} entries ends inside a layer")

    def finish(self, stopped: str | None = None) -> CountResult:
        """The result of what was counted (``run`` does this itself)."""
        self._flush()
        st = self.budget.stats
        return CountResult(
            regions=st.regions, exact=stopped is None, method="tree",
            seconds=time.perf_counter() - st.start, nodes=st.nodes, lps=self.budget.lp.solves,
            stopped=stopped, margin=self.margin, near_margin=st.near_margin, input_dim=self.d,
            widths=self.net.widths, unstable_units=self.n_unstable, bound_lps=self.bound_lps,
            thin_dropped=st.thin_dropped, thickest_dropped=st.thickest_dropped,
            min_radius=None if st.regions == 0 else st.min_radius, undecided=st.undecided,
            **({} if self.box else self._all_space_fields()))

    def _all_space_fields(self) -> dict:
        """Over all of R^d: the bounded / unbounded split and how far out the walk went."""
        from .recession import reach_limit

        st = self.budget.stats
        reach = max(self.reach, self.budget.lp.reach)
        return {"bounded": st.bounded, "unbounded": st.unbounded,
                "extent_undecided": st.extent_undecided, "lines": self.lines,
                "reach": reach, "beyond_reach": reach > reach_limit(self.margin, self.d)}

    def _frame(self, k: int, node, maps: Maps, prefix: np.ndarray) -> Frame:
        """The stack frame of layer k inside ``node``."""
        L = self.layers[k]
        A, c, scale = layer_affine(L, maps)
        if isinstance(L, Units):
            cells = self.path.unit_cells(L, node, A, c, scale, maps)
        else:
            cells = self.path.group_cells(L, node, A, c, scale, maps)
        return Frame(k, cells, maps, prefix, A, c, scale)

    # ------------------------------------------------------------------ leaves
    def _leaf(self, node, pattern: np.ndarray, stack: list[Frame]) -> None:
        u, r = self.path.leaf(node)
        self._settle_leaf(u, r, pattern, lambda: region_rows(self.layers, stack, pattern, self.d))

    def _settle_leaf(self, u: np.ndarray, r: float, pattern: np.ndarray, rows) -> None:
        """Count the region of ``pattern`` iff a ball of radius > margin is certified in it
        (``u, r``: the path's witness and radius; ``rows()``: the region's own rows).

        Far from the margin the path's radius decides (the node's own rows, less the path's
        tolerance). Near it the radius is evaluated on the region's own rows (every unstable
        unit of every layer on its side, the chosen max pieces above the others, the box), so
        no tolerance of the search (vertices within ``VERTEX_TOL``, LP feasibility) enters it:
        the margin is honoured as it is given, on both paths.
        """
        margin = self.margin
        st = self.budget.stats
        if r > 10 * margin and self.box:    # far from the margin: the path's own radius holds
            st.min_radius = min(st.min_radius, r)
            self._count(u, r, pattern)
            return
        # over all of R^d the witness may lie far out: its radius is always evaluated on the
        # region's own rows with their rounding (and the rows tell bounded regions)
        if not self.box:
            self.reach = max(self.reach, float(np.abs(u).max(initial=0.0)))
        H = rows()
        r = certified_radius(H, u, self.box)
        if r <= margin:
            r_lp, u_lp = self.budget.solve((), np.zeros((0, self.d + 1)), extra=H)
            if r_lp <= margin:
                if r_lp > 0:
                    st.thin_dropped += 1
                    st.thickest_dropped = max(st.thickest_dropped, r_lp)
                else:
                    st.dead_leaves += 1
                return
            u, r = u_lp, r_lp
        if r <= 10 * margin:
            st.near_margin += 1
        st.min_radius = min(st.min_radius, r)
        self._count(u, r, pattern)
        if not self.box:
            self._extent(H)

    def _extent(self, H: np.ndarray) -> None:
        """Over all of R^d: a counted region (rows ``H``) is bounded or not (``recession``)."""
        from .recession import Extent, extent

        st = self.budget.stats
        if self.lines:
            st.unbounded += 1
            return
        if self._extent_lp is None:
            from ..solver.highs import RecessionLP

            self._extent_lp = RecessionLP()
        kind = extent(H, self._extent_lp)
        if kind is Extent.BOUNDED:
            st.bounded += 1
        elif kind is Extent.UNBOUNDED:
            st.unbounded += 1
        else:
            st.extent_undecided += 1

    def _count(self, u: np.ndarray, r: float, pattern: np.ndarray) -> None:
        self.budget.region()
        self._buf_u.append(u)
        self._buf_bits.append(pattern)
        self._buffered += 1
        if self.cover is not None:
            self.cover.add(pattern)
        if self.on_region is not None:
            self.on_region(split_pattern(self.net, pattern), u, r)
        if self._buffered >= self.verify_batch:
            self._flush()

    def _flush(self) -> None:
        """Prove the buffered witnesses' patterns (``verify_patterns``; raises on a mismatch)."""
        if not self._buffered:
            return
        blocks = self._blocks
        if self._buf_u:
            blocks.append((np.array(self._buf_u), np.array(self._buf_bits)))
        U = np.concatenate([u for u, _ in blocks])
        B = np.concatenate([b for _, b in blocks])
        self._buf_u.clear()
        self._buf_bits.clear()
        blocks.clear()
        self._buffered = 0
        # proven bounds, exact where they do not separate; with the compiled walk loaded, the
        # compiled float filter first (the same bound), numpy and exact for the rest
        if self._kernel_ready:
            if self._witness_filter is None:
                from .witness_kernel import witness_filter

                self._witness_filter = witness_filter(self.net)
            rest = ~self._witness_filter(np.ascontiguousarray(U, dtype=np.float64),
                                         np.ascontiguousarray(B, dtype=np.int16))
            U, B = U[rest], B[rest]
            if not len(U):
                return
        self.budget.stats.undecided += len(verify_patterns(self.net, U, B))
