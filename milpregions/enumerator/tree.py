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

This module is the driver: it picks one walk once and runs it. ``walks`` holds the compiled
walks behind one protocol: the vertex walk (vertices, d <= ``vertex_dim``) of a chain of dense
two-piece layers on ``kernel`` (the fast path), of any other network on ``vertex_kernel``, and
the LP walk (evidence points and Chebyshev LPs) on ``lp_kernel``. ``python_walk`` is the
reference walk over ``vertex_path`` / ``lp_path``: the short trial before a compiled walk is
loaded (when the patterns of a few points, ``size_guess``, do not show a large count), the walk
over all of R^d, and the fallback for a node whose LP only HiGHS or exact arithmetic decides.
``leaves`` decides which leaves count and proves their witnesses; ``layers`` holds the algebra
the walks share and ``budget`` the limits and statistics. ``split`` / ``count_split_cells``
cut the tree after layer 1 into subtrees that other processes count (``milpregions.parallel``).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from ..bounds import Bounds
from ..ir.network import Network
from ..ir.result import CountResult
from ..settings import DEFAULT_MARGIN
from ..solver.highs import ChebyshevLP
from .budget import Budget, ProgressCallback, Stats, Stop, StopRequest
from .layers import TreeLayer, build_layers
from .leaves import Leaves, RegionCallback
from .lp_path import LPNode, LPPath
from .polytope import VPoly, new_row_id
from .progress import compiling, watch_cover
from .python_walk import Cell, CellPath, PythonWalk
from .size_guess import distinct_patterns
from .vertex_path import VertexPath
from .walks import ChainVertexWalk, CompiledWalk, LeafBuffers, UndecidedSplit, choose_walk

__all__ = ["Cell", "PackedCells", "PackedStack", "RegionCallback", "Split", "TreeCounter"]


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


def _writable_packed(arrays: tuple) -> tuple:
    """Packed arrays with the read-only ones copied: a cluster's object store hands arrays
    back read-only, and numba would compile (and cache) another specialisation of the
    compiled entry for them, in every worker process of a cold cache."""
    return tuple(_writable_packed(a) if isinstance(a, tuple)
                 else a.copy() if isinstance(a, np.ndarray) and not a.flags.writeable else a
                 for a in arrays)


class Split:
    """The cells of layer 0 from ``TreeCounter.split``, handed out in batches by index."""

    def __init__(self, cells, walk: ChainVertexWalk | None = None):
        # walk: the compiled vertex walk whose cells these are, else ``Cell`` objects
        self._cells, self._walk = cells, walk

    @property
    def compiled(self) -> bool:
        return self._walk is not None

    def __len__(self) -> int:
        return len(self._cells)

    def patterns(self) -> list[np.ndarray]:
        """The layer-0 pattern of every cell, in order."""
        if self._walk is not None:
            return [self._walk.cell_pattern(cell) for cell in self._cells]
        return [cell.pattern for cell in self._cells]

    def vertices(self) -> list[np.ndarray] | None:
        """The vertices of every cell, in order (None on the LP path, whose cells have none)."""
        if self._walk is not None:
            if self._walk.lp:
                return None
            return [self._walk.cell_vertices(cell) for cell in self._cells]
        if self._cells and not isinstance(self._cells[0].node, VPoly):
            return None
        return [cell.node.V for cell in self._cells]

    def batch(self, idx) -> PackedCells | PackedStack | list[Cell]:
        """The cells ``idx`` (indices into the split), ready for ``count_split_cells``."""
        if self._walk is not None and self._walk.lp:       # stack entries of the LP walk
            idx = np.ascontiguousarray(idx, dtype=np.int64)
            return PackedStack(self._walk.pack_stack(self._cells, idx), lp=True)
        if self._walk is not None:
            return PackedCells(self._walk.pack_cells(self._cells, idx))
        return [self._cells[i] for i in idx]


#: a compiled walk's call longer than this halves the node budget of the next one
BLOCK_SECONDS = 0.5
#: the LP walk's split (``TreeCounter.split``) ends after this many nodes (~1 s at 64
#: inputs): layer 1 of a 64-input MLP has 2^16 cells, a CNN's conv layer most of the count's
#: regions. Nodes, not seconds: a resumed checkpoint must find the same cells
SPLIT_NODES = 1 << 14
#: a task hands its stack back once its seconds are over and it walked this many nodes (or
#: BLOCK_SECONDS passed)
TASK_MIN_NODES = 64
#: nodes the Python walk may take before a count switches to the compiled walk, when that is
#: not loaded yet: about 1 s of Python, what loading it from numba's cache costs a process
#: (benchmarks/README.md, "Start-up"); counts that finish within it never import numba
TRIAL_NODES = 8192
#: the same for the LP path, whose Python nodes cost about 0.5 ms each (their LPs included)
TRIAL_NODES_LP = 2048
#: and a trial ends after this long whatever its nodes: a Python LP node of the digits CNN
#: costs ~1 ms on a quiet machine and ~5 ms on a loaded one, where 2,048 of them took 8 s
#: before the compiled walk started over. About what loading the compiled walk costs (the
#: ski-rental rule: a count never pays more than about twice the better of the two choices).
#: Digits CNN r = 0.06 (1,440 regions), whole process: loaded 7.9 s -> 3.1 s, quiet 2.3-2.6 s
#: -> 2.3-2.4 s; r = 0.05 (144 regions, finishes inside the trial): quiet 0.75-0.95 -> 0.66-0.74 s
TRIAL_SECONDS = 1.0
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
    """One enumeration of a normalised network's regions in [-1, 1]^d (or all of R^d).

    The driver: it picks one walk once (``walk``: a compiled walk from ``walks.choose_walk``,
    or None for the Python walk alone), runs a short Python trial first when loading the
    compiled walk may cost more than the count, and feeds every leaf to ``leaves``. ``split``,
    ``cells``, ``count_cell`` and ``count_split_cells`` serve the parallel engines.
    """

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
        lines = False               # over R^d: every region contains a line (input rank < d)
        if not box:
            from .recession import input_rank

            vertex_dim, compiled = -1, False
            lines = input_rank(net) < self.d
        self.use_vertices = self.d <= vertex_dim
        self.layers: list[TreeLayer] = build_layers(net, bounds)
        # compiled: True / False force it (where the network allows); None: when it pays
        self.walk: CompiledWalk | None = None if compiled is False else choose_walk(
            self.layers, self.d, self.margin, self.use_vertices, self._hand_back)
        self.handed_to_python = 0       # nodes of the compiled LP walk counted in Python
        self.trial_nodes: int | None = None
        self.trial_dropped = False      # the trial outgrew its nodes or seconds
        # the share of the domain counted so far, for a display that shows it (``progress``)
        progress, cover = watch_cover(progress, net) if box else (progress, None)
        lp = ChebyshevLP(self.d, box=box)
        # over R^d far LP points are pulled in to balls of this radius, still far above the
        # margin, so no decision of the walk (r > margin) changes
        if not box:
            from ..solver.highs import PULL_RADIUS

            lp.pull = max(PULL_RADIUS, 100 * self.margin)
        self.budget = Budget(lp, time_limit=time_limit,
                             max_regions=max_regions, progress=progress,
                             should_stop=should_stop)
        self.leaves = Leaves(net, self.budget, self.margin, box, on_region, cover,
                             verify_batch, lines)
        path: CellPath = VertexPath(self.d, self.margin, self.budget) \
            if self.use_vertices else LPPath(self.d, self.margin, self.budget, box)
        self.python = PythonWalk(self.layers, self.d, path, self.leaves.settle)
        if self.walk is not None:
            if (compiled is None and not _kernel_loaded(self.walk.name)
                    and distinct_patterns(net) < LARGE_SAMPLE):
                # loading it costs ~1 s, and the count may well be small: try Python first
                self.trial_nodes = TRIAL_NODES if self.use_vertices else TRIAL_NODES_LP
            else:
                self._load_kernel(progress)
        self.n_unstable = bounds.n_unstable
        self.bound_lps = bounds.lps

    @property
    def compiled(self):
        """The packed network of the compiled walk (None: the Python walk alone)."""
        return None if self.walk is None else self.walk.pack

    @property
    def cover(self):
        return self.leaves.cover

    @cover.setter
    def cover(self, cover) -> None:
        self.leaves.cover = cover

    # ------------------------------------------------------------------ driver
    def run(self) -> CountResult:
        stopped = None
        try:
            self._run()
        except Stop as stop:
            stopped = stop.why
        return self.finish(stopped)

    def _run(self) -> None:
        if self.walk is None:
            self.python.run()
            return
        if self.trial_nodes is not None:
            if self._trial():
                return
            self._load_kernel(self.budget.progress)
        self._run_compiled(self.walk.root())

    def _load_kernel(self, progress) -> None:
        """Compile (first run after install) or load the compiled walk."""
        from . import kernel

        module = self.walk.module()
        # a first compile is announced on its own line, with how long it takes
        with compiling(progress, self.walk.name, module.cache_is_warm(), kernel.cache_dir()):
            module.warm_up(parallel=False)
        self.leaves.compiled_filter = True

    @property
    def _kernel_ready(self) -> bool:
        return self.leaves.compiled_filter

    def _trial(self) -> bool:
        """The Python walk with a node limit; True if it finished the count (or a limit
        stopped it). Else everything it did is dropped, and the compiled walk starts over:
        regions it found reach ``on_region`` only if it finished, so none is reported twice."""
        leaves = self.leaves
        real, held = leaves.on_region, []
        if real is not None:
            leaves.on_region = lambda *region: held.append(region)
        self.budget.node_limit = self.trial_nodes
        self.budget.trial_until = time.perf_counter() + TRIAL_SECONDS
        try:
            self.python.run()
        except Stop as stop:
            if stop.why != "trial":
                self._deliver(real, held)
                raise
            self.trial_dropped = True
            leaves.on_region = real
            self.budget.node_limit, self.budget.trial_until = None, float("inf")
            self.budget.stats = Stats(start=self.budget.stats.start)   # the time stays
            self.budget.lp.solves = 0
            leaves.drop_buffers()
            return False
        self._deliver(real, held)
        return True

    def _deliver(self, real, held: list) -> None:
        self.leaves.on_region = real
        self.budget.node_limit, self.budget.trial_until = None, float("inf")
        for region in held:
            real(*region)

    def _run_compiled(self, stack, seconds: float | None = None):
        """The compiled walk from ``stack``: leaves come back in blocks; between blocks the
        budget checks the time limit and reports progress. With ``seconds``, it stops after a
        block once they have passed and returns the rest of the stack (None when the walk is
        done)."""
        st = self.budget.stats
        width = sum(L.fixed.size for L in self.layers)
        out = LeafBuffers.new(4096, width, self.d, self.margin, st.thickest_dropped)
        nodes0, thin0 = st.nodes, st.thin_dropped       # a counter may run several walks
        lps0 = self.budget.lp.solves
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
            n, done = self.walk.step(stack, budget, out)
            # nodes of 64-D LP walks cost ~1 ms: keep a call near BLOCK_SECONDS, so limits,
            # progress and interrupts stay prompt
            if time.perf_counter() - t_call > BLOCK_SECONDS:
                budget = max(1, budget // 2)
            else:
                budget = min(2 * budget, 1 << 14)
            stats = out.stats
            st.nodes = nodes0 + int(stats[0])
            st.thin_dropped, st.thickest_dropped = thin0 + int(stats[1]), float(stats[2])
            self.budget.lp.solves = lps0 + int(stats[3])
            if not self.leaves.add_block(out.u[:n], out.pat[:n], out.r[:n]):
                for i in range(n):
                    pat = out.pat[i].copy()
                    self.leaves.settle(out.u[i].copy(), float(out.r[i]), pat,
                                       lambda pat=pat: self.python.pattern_rows(pat))

    def _hand_back(self, entry, stats: np.ndarray) -> None:
        """Count the subtree of a stack entry of the compiled LP walk whose LP it could not
        decide with the Python LP path (HiGHS, then exact LPs), into the walk's ``stats``
        (the driver reads its node, sliver and LP counts from there)."""
        st, lp = self.budget.stats, self.budget.lp
        nodes, thin, solves = st.nodes, st.thin_dropped, lp.solves
        self.handed_to_python += 1
        try:
            self.python.count_lp_entry(int(entry.k), entry.F, entry.pts, entry.rad,
                                       np.asarray(entry.prefix, dtype=np.int16))
        finally:
            stats[0] += st.nodes - nodes
            stats[1] += st.thin_dropped - thin
            stats[2] = max(stats[2], st.thickest_dropped)
            stats[3] += lp.solves - solves
            st.nodes, st.thin_dropped, lp.solves = nodes, thin, solves

    # ------------------------------------------------------------------ subtrees
    def cells(self, depth: int, prefix: np.ndarray | None = None) -> list[Cell]:
        """The cells of layers ``0 .. depth - 1`` (1 <= depth < number of layers), in the
        order of the walk, as the Python path builds them; with ``prefix``, only the cell of
        that pattern (the same object the whole walk would reach). The regions of the network
        are those of these cells' subtrees (``count_cell``), each counted once."""
        if not 1 <= depth < len(self.layers):
            raise ValueError(f"depth must be in 1..{len(self.layers) - 1}, not {depth}")
        return self.python.cells(depth, prefix)

    def count_cell(self, cell: Cell, seconds: float | None = None):
        """Count the regions inside ``cell`` (from ``cells``) into this counter's statistics;
        ``finish`` then gives the result. Limits raise ``Stop`` as in ``run``. With
        ``seconds``, a compiled walk stops after them and returns the rest of its stack (else
        None)."""
        k = self._depth_of(cell.pattern.size)
        if self.walk is None:
            self.python.count_cell(k, cell)
            return None
        if not self._kernel_ready:
            self._load_kernel(None)
        return self._run_compiled(self.walk.stack_at(k, cell.pattern, cell.node, cell.maps),
                                  seconds)

    def split(self) -> Split:
        """The cells of layer 0, each the root of a subtree to count elsewhere
        (``Split.batch``, then ``count_split_cells``): by the compiled walk where the
        network allows (its own nodes, kept in numba's list), else ``cells(1)``. The LP walk
        stops after ``SPLIT_NODES`` and hands out the entries of its stack as well. Limits
        raise ``Stop``."""
        if len(self.layers) < 2:
            raise ValueError("a network of one layer has no subtrees to split off")
        walk = self.walk
        if walk is None or not walk.splits:
            return Split(self.cells(1))
        if not self._kernel_ready:
            self._load_kernel(self.budget.progress)
        st = self.budget.stats
        stack, cells = walk.root(), walk.new_cells()
        out = LeafBuffers.new(1, sum(L.fixed.size for L in self.layers), self.d, self.margin,
                              st.thickest_dropped)
        nodes0, thin0 = st.nodes, st.thin_dropped
        done = False
        while not done:
            self.budget.check(st.nodes)
            if walk.lp and st.nodes - nodes0 >= SPLIT_NODES:
                # layer 1 has too many cells to walk to here (a CNN's conv layer): the
                # entries still on the stack are subtrees too
                while len(stack):
                    cells.append(stack.pop())
                break
            try:
                budget = min(1 << 12, SPLIT_NODES - (st.nodes - nodes0)) if walk.lp else 1 << 14
                n, done = walk.step(stack, budget, out, 1, cells)
            except UndecidedSplit:
                st.nodes = nodes0
                return Split(self.cells(1))
            st.nodes = nodes0 + int(out.stats[0])
        st.thin_dropped, st.thickest_dropped = thin0 + int(out.stats[1]), float(out.stats[2])
        return Split(cells, walk)

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
            arrays = _writable_packed(cells.arrays)
            if isinstance(cells, PackedCells):
                stack = self.walk.stack_of_packed(arrays)
            else:
                stack = self.walk.stack_of_packed_stack(arrays)
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
        order = np.arange(len(rest))
        # contiguous index arrays: a strided slice would compile another specialisation
        return [PackedStack(self.walk.pack_stack(rest, np.ascontiguousarray(order[i::pieces])),
                            self.walk.lp)
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
        self.leaves.flush()
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
        reach = max(self.leaves.reach, self.budget.lp.reach)
        return {"bounded": st.bounded, "unbounded": st.unbounded,
                "extent_undecided": st.extent_undecided, "lines": self.leaves.lines,
                "reach": reach, "beyond_reach": reach > reach_limit(self.margin, self.d)}
