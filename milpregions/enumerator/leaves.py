"""The leaves of the tree: which are counted, and the proof of every counted witness.

A leaf (an activation pattern with the walk's witness u and radius r) is counted iff a ball
of radius > margin is certified inside its region; counted witnesses are buffered and proven
in batches (``_flush``: the compiled float filter with a proven rounding bound where the
compiled walk is loaded, then ``verify_patterns``, exact where floats do not separate). Over
all of R^d a counted region is also told bounded or unbounded. Every walk, compiled or
Python, hands its leaves here, so the rule that counts a region is written once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.network import Network
from ..ir.pattern import split_pattern, verify_patterns
from .budget import Budget
from .layers import certified_radius

RegionCallback = Callable[[list, np.ndarray, float], None]


class Leaves:
    """Counts and proves the leaves of one enumeration into ``budget.stats``."""

    def __init__(self, net: Network, budget: Budget, margin: float, box: bool,
                 on_region: RegionCallback | None, cover, verify_batch: int, lines: bool):
        self.net, self.budget, self.margin, self.box = net, budget, margin, box
        self.on_region = on_region          # replaced while a trial holds regions back
        self.cover = cover                  # the share of the domain counted (or None)
        self.verify_batch = verify_batch
        self.compiled_filter = False        # the compiled walk is loaded: filter with it too
        self.lines = lines                  # over R^d: every region contains a line
        self.reach = 0.0                    # over R^d: the largest |u|_inf of a witness
        self._extent_lp = None              # over R^d: the LP that tells bounded regions
        self._witness_filter = None
        self._buf_u: list[np.ndarray] = []      # witnesses to verify, one by one
        self._buf_bits: list[np.ndarray] = []
        self._blocks: list[tuple[np.ndarray, np.ndarray]] = []   # and in blocks (compiled)
        self._buffered = 0

    def drop_buffers(self) -> None:
        """Forget the witnesses not proven yet (a trial's, when its count starts over)."""
        self._buf_u.clear()
        self._buf_bits.clear()
        self._blocks.clear()
        self._buffered = 0

    def add_block(self, U: np.ndarray, P: np.ndarray, R: np.ndarray) -> bool:
        """Count a compiled walk's block of leaves at once when every radius is far above
        the margin and nothing watches single regions; False (nothing done) otherwise."""
        st, n = self.budget.stats, len(R)
        if self.on_region is not None or not (R > 10 * self.margin).all() or (
                self.budget.max_regions is not None and st.regions + n > self.budget.max_regions):
            return False
        st.regions += n
        if n:
            st.min_radius = min(st.min_radius, float(R.min()))
        self._blocks.append((U.copy(), P.copy()))
        if self.cover is not None:
            self.cover.add(P)
        self._buffered += n
        if self._buffered >= self.verify_batch:
            self.flush()
        return True

    def settle(self, u: np.ndarray, r: float, pattern: np.ndarray,
               rows: Callable[[], np.ndarray]) -> None:
        """Count the region of ``pattern`` iff a ball of radius > margin is certified in it
        (``u, r``: the walk's witness and radius; ``rows()``: the region's own rows).

        Far from the margin the walk's radius decides (the node's own rows, less the walk's
        tolerance). Near it the radius is evaluated on the region's own rows (every unstable
        unit of every layer on its side, the chosen max pieces above the others, the box), so
        no tolerance of the search (vertices within ``VERTEX_TOL``, LP feasibility) enters it:
        the margin is honoured as it is given, on every walk.
        """
        margin = self.margin
        st = self.budget.stats
        if r > 10 * margin and self.box:    # far from the margin: the walk's own radius holds
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
            r_lp, u_lp = self.budget.solve((), np.zeros((0, self.net.input_dim + 1)), extra=H)
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
            self.flush()

    def flush(self) -> None:
        """Prove the buffered witnesses' patterns (``verify_patterns``; raises on a mismatch)."""
        if not self._buffered:
            return
        blocks = self._blocks
        if self._buf_u:
            blocks.append((np.array(self._buf_u), np.array(self._buf_bits)))
        U = np.concatenate([u for u, _ in blocks])
        B = np.concatenate([b for _, b in blocks])
        self.drop_buffers()
        # proven bounds, exact where they do not separate; with the compiled walk loaded, the
        # compiled float filter first (the same bound), numpy and exact for the rest
        if self.compiled_filter:
            if self._witness_filter is None:
                from . import witness_kernel

                if not witness_kernel.cache_is_warm():      # compiled by one process at a time
                    witness_kernel.warm_up()
                self._witness_filter = witness_kernel.witness_filter(self.net)
            rest = ~self._witness_filter(np.ascontiguousarray(U, dtype=np.float64),
                                         np.ascontiguousarray(B, dtype=np.int16))
            U, B = U[rest], B[rest]
            if not len(U):
                return
        self.budget.stats.undecided += len(verify_patterns(self.net, U, B))
