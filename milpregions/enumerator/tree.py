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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from ..bounds import Bounds
from ..ir.network import MaxLayer, Network
from ..ir.pattern import split_pattern, verify_patterns
from ..ir.result import CountResult
from ..settings import DEFAULT_MARGIN
from ..solver.highs import ChebyshevLP
from .polytope import VPoly, new_row_id
VERTEX_TOL = 1e-10      # a vertex this close to a hyperplane lies on it
CONST_TOL = 1e-11       # relative size of a gradient that counts as zero
THIN = -1e-9            # an LP radius above this means a nonempty (if thin) set
MAX_POINTS = 12         # evidence points kept per node in the LP path

RegionCallback = Callable[[list, np.ndarray, float], None]
ProgressCallback = Callable[[int, int, int, float], None]


def _row_norms(W) -> np.ndarray:
    if isinstance(W, np.ndarray):
        return np.linalg.norm(W, axis=1)
    return np.sqrt(np.asarray(abs(W).power(2).sum(axis=1)).ravel())


@dataclass
class _Units:
    """A two-piece layer: units, their global stability, slopes."""

    sources: list            # [(s, W)]
    b: np.ndarray
    neg_slope: np.ndarray
    fixed: np.ndarray        # pattern of globally stable units (unstable ones: 0)
    cand: np.ndarray         # indices of globally unstable units
    wnorm: np.ndarray        # weight row norms of the candidates


@dataclass
class _Groups:
    """A max layer: groups of pieces, and the groups fixed on the whole box."""

    sources: list
    b: np.ndarray
    groups: np.ndarray       # (n_groups, k), -1 padded
    fixed: np.ndarray        # per group the fixed argmax, -1 where not fixed
    live: np.ndarray         # indices of groups not fixed
    cand: np.ndarray         # (n_groups, k) pieces that the bounds allow to win somewhere


@dataclass
class _Stats:
    nodes: int = 0
    regions: int = 0
    near_margin: int = 0
    dead_leaves: int = 0
    start: float = field(default_factory=time.perf_counter)


class _Stop(Exception):
    def __init__(self, why: str):
        self.why = why


class TreeCounter:
    """One enumeration of a normalised network's regions in [-1, 1]^d."""

    def __init__(self, net: Network, bounds: Bounds, *, margin: float = DEFAULT_MARGIN,
                 vertex_dim: int = 6, time_limit: float | None = None,
                 max_regions: int | None = None, on_region: RegionCallback | None = None,
                 progress: ProgressCallback | None = None, verify_batch: int = 4096):
        self.net = net
        self.d = net.input_dim
        self.margin = float(margin)
        self.use_vertices = self.d <= vertex_dim
        self.time_limit = time_limit
        self.max_regions = max_regions
        self.on_region = on_region
        self.progress = progress
        self.lp = ChebyshevLP(self.d)
        self.stats = _Stats()
        self.verify_batch = verify_batch
        self._buf_u: list[np.ndarray] = []
        self._buf_bits: list[np.ndarray] = []
        self.layers: list[_Units | _Groups] = []
        for k, layer in enumerate(net.layers):
            sources = sorted(layer.affine.W.items())
            if isinstance(layer, MaxLayer):
                fixed = bounds.fixed_argmax(k).astype(np.int16)
                self.layers.append(_Groups(sources, layer.affine.b, layer.groups, fixed,
                                           np.flatnonzero(fixed < 0), bounds.candidates(k)))
                continue
            cand = np.flatnonzero(bounds.unstable(k))
            wn = sum(_row_norms(W) ** 2 for _, W in sources) ** 0.5
            self.layers.append(_Units(sources, layer.affine.b, layer.neg_slope,
                                      bounds.active(k).astype(np.int16), cand, wn[cand]))
        self.n_unstable = bounds.n_unstable
        self.bound_lps = bounds.lps

    # ------------------------------------------------------------------ driver
    def run(self) -> CountResult:
        stopped = None
        try:
            self._run()
        except _Stop as stop:
            stopped = stop.why
        self._flush()
        st = self.stats
        return CountResult(
            regions=st.regions, exact=stopped is None, method="tree",
            seconds=time.perf_counter() - st.start, nodes=st.nodes, lps=self.lp.solves,
            stopped=stopped, margin=self.margin, near_margin=st.near_margin, input_dim=self.d,
            widths=self.net.widths, unstable_units=self.n_unstable, bound_lps=self.bound_lps)

    def _run(self) -> None:
        """Depth first across layers: one generator of cells per layer on the stack, so memory
        stays proportional to the depth, and regions stream out from the start."""
        d = self.d
        if self.use_vertices:
            root = VPoly.box(d)
        else:
            root = (np.zeros((0, d + 1)), (), np.zeros((1, d)), np.ones(1))
        maps0, prefix0 = [(np.eye(d), np.zeros(d))], np.zeros(0, dtype=np.int16)
        last = len(self.layers)
        if last == 0:
            self._leaf(root, prefix0)
            return
        stack = [self._layer_cells(0, root, maps0, prefix0)]
        while stack:
            k, cells, maps, prefix, A, c = stack[-1]
            step = next(cells, None)
            if step is None:
                stack.pop()
                continue
            cell, choice = step
            pre = np.concatenate([prefix, choice])
            if k + 1 < last:
                L = self.layers[k]
                stack.append(self._layer_cells(k + 1, cell, maps + [self._output_map(L, choice, A, c)], pre))
            else:
                self._leaf(cell, pre)

    def _layer_cells(self, k: int, node, maps: list, prefix: np.ndarray):
        """A stack frame: the generator of layer k's cells inside ``node``, with its context."""
        L = self.layers[k]
        A, c, scale, cscale = self._layer_affine(L, maps)
        if isinstance(L, _Units):
            make = self._unit_cells_vertex if self.use_vertices else self._unit_cells_lp
            cells = make(L, node, A, c, scale, cscale)
        else:
            make = self._group_cells_vertex if self.use_vertices else self._group_cells_lp
            cells = make(L, node, A, c, scale)
        return k, cells, maps, prefix, A, c

    def _solve(self, ids, F, extra=None):
        """A Chebyshev LP; the time limit is checked here too (a node may need many LPs)."""
        if self.time_limit is not None and time.perf_counter() - self.stats.start > self.time_limit:
            raise _Stop("time-limit")
        return self.lp.solve(ids, F, extra=extra)

    def _tick(self) -> None:
        st = self.stats
        st.nodes += 1
        if st.nodes & 255 == 0:
            elapsed = time.perf_counter() - st.start
            if self.time_limit is not None and elapsed > self.time_limit:
                raise _Stop("time-limit")
            if self.progress is not None:
                self.progress(st.regions, st.nodes, self.lp.solves, elapsed)

    # ------------------------------------------------------------ layer maps
    @staticmethod
    def _layer_affine(L, maps: list):
        """Pre-activations of a layer on the node: (A, c), and the sizes of what fed them."""
        A = None
        c = L.b.copy()
        scale = cscale = 0.0
        for s, W in L.sources:
            As, cs = maps[s]
            term = W @ As
            A = term if A is None else A + term
            c += W @ cs
            scale += float(np.linalg.norm(As))
            cscale += float(np.linalg.norm(cs))
        return np.asarray(A), np.asarray(c), scale, cscale

    @staticmethod
    def _output_map(L, choice: np.ndarray, A: np.ndarray, c: np.ndarray):
        if isinstance(L, _Units):
            slope = np.where(choice > 0, 1.0, L.neg_slope)
            return slope[:, None] * A, slope * c
        idx = L.groups[np.arange(L.groups.shape[0]), choice]
        return A[idx], c[idx]

    def _unit_rows(self, L: _Units, A, c, scale, cscale):
        """Bits of units constant on the node, and the unit-normal rows of the live units."""
        bits = L.fixed.copy()
        cand = L.cand
        if cand.size == 0:
            return bits, cand, None, None
        a = A[cand]
        nrm = np.linalg.norm(a, axis=1)
        const = nrm <= CONST_TOL * L.wnorm * scale
        if const.any():
            cc = c[cand[const]]
            ctol = CONST_TOL * (np.abs(L.b[cand[const]]) + L.wnorm[const] * cscale)
            bits[cand[const]] = cc > ctol
            live = ~const
            cand, a, nrm = cand[live], a[live], nrm[live]
        An, cn = a / nrm[:, None], c[cand] / nrm
        # one-signed on the whole box [-1,1]^d with this node's maps (hence on the node)
        reach = np.abs(An).sum(axis=1)
        on, off = cn - reach > VERTEX_TOL, cn + reach < -VERTEX_TOL
        if on.any() or off.any():
            bits[cand[on]] = 1
            live = ~(on | off)
            cand, An, cn = cand[live], An[live], cn[live]
        return bits, cand, An, cn

    # ------------------------------------------------------- units, vertex path
    def _unit_cells_vertex(self, L, P, A, c, scale, cscale) -> Iterator:
        margin = self.margin
        bits0, cand, An, cn = self._unit_rows(L, A, c, scale, cscale)
        sub = [(P, np.arange(cand.size), bits0)]
        while sub:
            P, U, bits = sub.pop()
            self._tick()
            if U.size:
                vals = P.V @ An[U].T + cn[U]
                vmin = vals.min(axis=0)
                vmax = vals.max(axis=0)
                on = vmin >= -VERTEX_TOL
                off = (vmax <= VERTEX_TOL) & ~on
                if on.any():
                    bits[cand[U[on]]] = 1
                live = ~(on | off)
                U, vals = U[live], vals[:, live]
            if not U.size:
                yield P, bits
                continue
            j = U[0]
            s = vals[:, 0]
            plus, minus = P.cut(np.append(An[j], cn[j]), s, VERTEX_TOL)
            if minus is not None and s.min() >= -margin:
                minus = None
            if plus is not None and s.max() <= margin:
                plus = None
            rest = U[1:]
            if minus is not None:
                b0 = bits.copy()
                b0[cand[j]] = 0
                sub.append((minus, rest, b0))
            if plus is not None:
                bits[cand[j]] = 1
                sub.append((plus, rest, bits))

    # ----------------------------------------------------------- units, LP path
    def _unit_cells_lp(self, L, node, A, c, scale, cscale) -> Iterator:
        margin = self.margin
        bits0, cand, An, cn = self._unit_rows(L, A, c, scale, cscale)
        sub = [(node, np.arange(cand.size), bits0)]
        while sub:
            node, U, bits = sub.pop()
            self._tick()
            settled = self._settle_units(node, U, An, cn, cand, bits)
            if settled is None:
                continue
            node, U, split = settled
            if split is None:
                yield node, bits
                continue
            F, ids, pts, rad = node
            j, S = split
            row = np.append(An[j], cn[j])
            rest = U[U != j]
            neg = -S > margin
            b0 = bits.copy()
            b0[cand[j]] = 0
            sub.append(((np.vstack([F, -row]), ids + (new_row_id(),))
                        + _trim(pts[neg], np.minimum(rad[neg], -S[neg])), rest, b0))
            posm = S > margin
            bits[cand[j]] = 1
            sub.append(((np.vstack([F, row]), ids + (new_row_id(),))
                        + _trim(pts[posm], np.minimum(rad[posm], S[posm])), rest, bits))

    def _settle_units(self, node, U, An, cn, cand, bits):
        """Settle the live units of a LP-path node until only proven splitters are left.

        A unit is proven to split the node when known points give balls of radius > margin on
        both sides; otherwise the mirror probe or an LP finds such a point, or shows that one
        side holds no such ball (the unit is then settled, and a sliver on that side is cut
        off). Returns (node, U, split) with split = (unit, distances of the node's points) or
        None when every unit is settled; returns None when the node holds no ball of radius
        > margin. Units settled here stay settled in every descendant.
        """
        if not U.size:
            return node, U, None
        margin = self.margin
        F, ids, pts, rad = node
        settled = np.zeros(U.size, dtype=bool)
        restart = True
        while restart:
            restart = False
            S = pts @ An[U].T + cn[U]                                   # (k, |U|)
            posr = np.minimum(rad[:, None], S).max(axis=0, initial=-np.inf)
            negr = np.minimum(rad[:, None], -S).max(axis=0, initial=-np.inf)
            for i in range(U.size):
                while not settled[i] and not (posr[i] > margin and negr[i] > margin):
                    j = U[i]
                    row = np.append(An[j], cn[j])
                    side = 1.0 if posr[i] <= margin else -1.0
                    u, r = _probe(F, pts, rad, side * row) if pts.shape[0] else (None, -np.inf)
                    if r <= margin:
                        r_lp, u_lp = self._solve(ids, F, extra=side * row)
                        u, r = (u_lp, r_lp) if r_lp > margin else (None, r_lp)
                    if u is None:
                        keep = -side
                        if (negr[i] if keep < 0 else posr[i]) <= margin:
                            # no evidence for the other side either: look for it
                            r2, u2 = self._solve(ids, F, extra=keep * row)
                            if r2 <= margin:
                                return None
                            pts, rad = np.vstack([pts, u2]), np.append(rad, r2)
                        if keep > 0:
                            bits[cand[j]] = 1
                        settled[i] = True
                        if r > THIN:
                            # a sliver of depth <= margin on the probed side: cut it off
                            node = self._add_rows((F, ids, pts, rad), (keep * row)[None, :])
                            if node is None:
                                return None
                            F, ids, pts, rad = node
                            restart = True
                            break
                        continue
                    pts, rad = np.vstack([pts, u]), np.append(rad, r)
                    s_new = u @ An[U].T + cn[U]
                    posr = np.maximum(posr, np.minimum(r, s_new))
                    negr = np.maximum(negr, np.minimum(r, -s_new))
                if restart:
                    break
        U = U[~settled]
        if not U.size:
            return (F, ids) + _trim(pts, rad), U, None
        return (F, ids, pts, rad), U, (U[0], pts @ An[U[0]] + cn[U[0]])

    def _add_rows(self, node, rows: np.ndarray):
        """The LP-path node cut by more rows; None if no ball of radius > margin is left."""
        F, ids, pts, rad = node
        F = np.vstack([F, rows])
        ids = ids + tuple(new_row_id() for _ in range(rows.shape[0]))
        rad = np.minimum(rad, (pts @ rows[:, :-1].T + rows[:, -1]).min(axis=1))
        ok = rad > self.margin
        pts, rad = pts[ok], rad[ok]
        if not ok.any():
            r_node, u_node = self._solve(ids, F)
            if r_node <= self.margin:
                return None
            pts, rad = u_node[None, :], np.array([r_node])
        return F, ids, pts, rad

    # ------------------------------------------------------------- max groups
    def _group_geometry(self, L: _Groups, A, c, scale):
        """For the live groups: piece maps, which pieces can win at all, and unit-normal pair rows.

        ``R[g, i, m], rc[g, i, m]``: the unit-normal row of ``z_i - z_m >= 0``; ``active`` marks
        the pairs whose difference is not constant on the node.
        """
        G = L.groups[L.live]
        valid = G >= 0
        Gs = np.maximum(G, 0)
        Ap, cp = A[Gs], c[Gs]                                        # (g, k, d), (g, k)
        D = Ap[:, :, None, :] - Ap[:, None, :, :]                    # (g, k, k, d): i - m
        N = np.linalg.norm(D, axis=3)
        dc = cp[:, :, None] - cp[:, None, :]
        pn = np.linalg.norm(Ap, axis=2)
        k = G.shape[1]
        pair = valid[:, :, None] & valid[:, None, :] & ~np.eye(k, dtype=bool)
        const = N <= CONST_TOL * (pn[:, :, None] + pn[:, None, :] + scale)
        ctol = CONST_TOL * (np.abs(cp)[:, :, None] + np.abs(cp)[:, None, :] + 1.0)
        earlier = np.tril(np.ones((k, k), dtype=bool), -1)           # m < i
        wins = np.where(earlier, dc > ctol, dc >= -ctol)
        possible = valid & L.cand[L.live] & ~(pair & const & ~wins).any(axis=2)
        active = pair & ~const
        inv = np.where(active, 1.0 / np.where(active, N, 1.0), 0.0)
        # a piece that another piece beats on the whole box [-1,1]^d (with this node's maps)
        # never wins on the node: the range of z_i - z_m over the box is dc -+ |D|_1
        beaten = (dc + np.abs(D).sum(axis=3) < -ctol) & pair
        possible &= ~beaten.any(axis=2)
        R = D * inv[..., None]
        rc = dc * inv
        return G, Ap, cp, possible, active, inv, R, rc

    def _group_cells_vertex(self, L: _Groups, P, A, c, scale) -> Iterator:
        margin = self.margin
        choice0 = L.fixed.copy()
        if not L.live.size:
            yield P, choice0
            return
        G, Ap, cp, possible, active, inv, R, rc = self._group_geometry(L, A, c, scale)
        d = self.d
        sub = [(P, np.arange(G.shape[0]), choice0)]
        while sub:
            P, U, choice = sub.pop()
            self._tick()
            if not U.size:
                yield P, choice
                continue
            n, k = U.size, G.shape[1]
            Z = (P.V @ Ap[U].reshape(n * k, d).T + cp[U].ravel()).reshape(-1, n, k)
            Smax = ((Z[:, :, :, None] - Z[:, :, None, :]) * inv[U]).max(axis=0)   # (n, k, k)
            dominated = (active[U] & (Smax <= VERTEX_TOL)).any(axis=2)
            cand = possible[U] & ~dominated
            ncand = cand.sum(axis=1)
            single = ncand <= 1
            if single.any():
                pick = np.where(cand[single].any(axis=1), cand[single].argmax(axis=1),
                                possible[U[single]].argmax(axis=1))
                choice[L.live[U[single]]] = pick
                U, cand = U[~single], cand[~single]
            if not U.size:
                yield P, choice
                continue
            g, cands = U[0], np.flatnonzero(cand[0])
            rest = U[1:]
            for i in cands[::-1]:
                Q = P
                for m in cands:
                    if m == i or not active[g, i, m]:
                        continue
                    row = np.append(R[g, i, m], rc[g, i, m])
                    s = Q.V @ row[:-1] + row[-1]
                    Q = None if s.max() <= margin else Q.clip(row, s, VERTEX_TOL)
                    if Q is None:
                        break
                if Q is not None:
                    ch = choice.copy()
                    ch[L.live[g]] = i
                    sub.append((Q, rest, ch))

    def _group_cells_lp(self, L: _Groups, node, A, c, scale) -> Iterator:
        margin = self.margin
        choice0 = L.fixed.copy()
        if not L.live.size:
            yield node, choice0
            return
        G, Ap, cp, possible, active, inv, R, rc = self._group_geometry(L, A, c, scale)
        sub = [(node, np.arange(G.shape[0]), choice0)]
        while sub:
            node, U, choice = sub.pop()
            self._tick()
            alive = None
            while U.size:
                g = U[0]
                F, ids, pts, rad = node
                cert = possible[g] & (self._cell_depths(pts, rad, g, Ap, cp, active, inv) > margin)
                rstar = {}
                for i in np.flatnonzero(possible[g] & ~cert):
                    rows = np.column_stack([R[g, i][active[g, i]], rc[g, i][active[g, i]]])
                    r, u = self._solve(ids, F, extra=rows)
                    rstar[i] = r
                    if r > margin:
                        cert[i] = True
                        pts, rad = np.vstack([pts, u]), np.append(rad, r)
                node = (F, ids, pts, rad)
                alive = np.flatnonzero(cert)
                if alive.size != 1:
                    break
                i = alive[0]
                choice[L.live[g]] = i
                thin = [m for m, r in rstar.items() if r > THIN and active[g, i, m]]
                if thin:
                    node = self._add_rows(node, np.column_stack([R[g, i, thin], rc[g, i, thin]]))
                    if node is None:
                        break
                U = U[1:]
            if node is None or (U.size and alive.size == 0):
                continue
            if not U.size:
                yield node, choice
                continue
            g, rest = U[0], U[1:]
            F, ids, pts, rad = node
            for i in alive[::-1]:
                act = active[g, i]
                rows = np.column_stack([R[g, i][act], rc[g, i][act]])
                depth = (pts @ rows[:, :-1].T + rows[:, -1]).min(axis=1) if rows.size else rad
                keep = np.minimum(rad, depth) > margin
                child = ((np.vstack([F, rows]), ids + tuple(new_row_id() for _ in range(rows.shape[0])))
                         + _trim(pts[keep], np.minimum(rad, depth)[keep]))
                ch = choice.copy()
                ch[L.live[g]] = i
                sub.append((child, rest, ch))

    @staticmethod
    def _cell_depths(pts, rad, g, Ap, cp, active, inv) -> np.ndarray:
        """Per piece of group g: the largest certified ball radius of a known point in its cell."""
        Z = pts @ Ap[g].T + cp[g]                                    # (p, k)
        S = (Z[:, :, None] - Z[:, None, :]) * inv[g]                 # (p, k, k)
        S = np.where(active[g], S, np.inf)
        depth = np.minimum(S.min(axis=2), rad[:, None])              # (p, k)
        return depth.max(axis=0)

    # ------------------------------------------------------------------ leaves
    def _leaf(self, node, pattern: np.ndarray) -> None:
        margin = self.margin
        if self.use_vertices:
            # a hyperplane within VERTEX_TOL of a vertex was not cut: it may clip the region
            # by that much, so the certified ball is smaller by that much
            u, r = node.centroid_radius()
            r -= VERTEX_TOL
            if r <= 10 * margin:
                r_lp, u_lp = self._solve(node.ids, node.F)
                r_lp -= VERTEX_TOL
                if r_lp <= 10 * margin:
                    if r_lp <= margin:
                        self.stats.dead_leaves += 1
                        return
                    self.stats.near_margin += 1
                if r_lp > r:
                    u, r = u_lp, r_lp
        else:
            _, _, pts, rad = node
            best = int(np.argmax(rad))
            u, r = pts[best], float(rad[best])
            if r <= 10 * margin:
                self.stats.near_margin += 1
        self._count(u, r, pattern)

    def _count(self, u: np.ndarray, r: float, pattern: np.ndarray) -> None:
        st = self.stats
        if self.max_regions is not None and st.regions >= self.max_regions:
            # a region beyond the limit exists: stop, the count is a lower bound
            raise _Stop("max-regions")
        st.regions += 1
        self._buf_u.append(u)
        self._buf_bits.append(pattern)
        if self.on_region is not None:
            self.on_region(split_pattern(self.net, pattern), u, r)
        if len(self._buf_u) >= self.verify_batch:
            self._flush()

    def _flush(self) -> None:
        if not self._buf_u:
            return
        U = np.array(self._buf_u)
        B = np.array(self._buf_bits)
        self._buf_u.clear()
        self._buf_bits.clear()
        verify_patterns(self.net, U, B)


def _probe(F: np.ndarray, pts: np.ndarray, rad: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, float]:
    """Mirror the deepest point across the hyperplane ``row``: a candidate point on its far side.

    Returns the point and the radius of the largest ball around it inside the node and on the
    far side (a certificate without an LP when it exceeds the margin).
    """
    best = int(np.argmax(rad))
    p, r = pts[best], rad[best]
    a, c = row[:-1], row[-1]
    q = p + (r - (a @ p + c)) * a
    depth = min(r, 1.0 - float(np.abs(q).max()))
    if F.shape[0]:
        depth = min(depth, float((F[:, :-1] @ q + F[:, -1]).min()))
    return q, depth


def _trim(pts: np.ndarray, rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the MAX_POINTS deepest evidence points."""
    if rad.size > MAX_POINTS:
        keep = np.argsort(rad)[-MAX_POINTS:]
        pts, rad = pts[keep], rad[keep]
    return pts, rad
