"""The LP path of the enumeration tree (input dimension above ``vertex_dim``).

A node is an ``LPNode``: its rows, and a few evidence points, each the centre of a ball of known
radius inside the node. A split is proven by evidence on both sides (sign evidence); the
mirror probe looks for missing evidence without an LP, and Chebyshev LPs (``Budget.solve``)
are the last resort, which either find a point or prove that a side holds no ball of radius
> margin.

``LPPath(..., box=False)`` walks all of R^d (``AllSpace``): nodes have no box faces, radii are
capped at 1 instead (the LP's ``r <= 1``), and the one proof that rests on |u| <= 1
(``_beaten_on_a_row``) is not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .budget import Budget
from .layers import EPS, THIN, Groups, Maps, Units, group_geometry, unit_rows
from .polytope import new_row_id

MAX_POINTS = 12         # evidence points kept per node in the LP path


@dataclass(slots=True, eq=False)
class LPNode:
    """A polytope of the LP path: ``F @ [u, 1] >= 0`` (unit-normal rows, ids for the warm LP)
    inside [-1, 1]^d, and evidence: points ``pts`` (p, d) with balls of radius ``rad`` (p,) in it.

    A value: its fields are never reassigned and its arrays never written in place (children
    and settled versions of a node share them); a new fact about a node is a new ``LPNode``.
    Not ``frozen`` only because a frozen ``__init__`` costs ~0.6 us more, on the hot path.
    """

    F: np.ndarray
    ids: tuple
    pts: np.ndarray
    rad: np.ndarray

    def child(self, rows: np.ndarray, pts: np.ndarray, rad: np.ndarray) -> LPNode:
        """This node cut by ``rows`` (fresh row ids), with the evidence kept for it (trimmed)."""
        ids = self.ids + tuple(new_row_id() for _ in range(rows.shape[0]))
        return LPNode(np.vstack([self.F, rows]), ids, *_trim(pts, rad))


class LPPath:
    """Cells of a layer inside an ``LPNode``, and the witness of a leaf."""

    def __init__(self, d: int, margin: float, budget: Budget, box: bool = True):
        self.d = d
        self.margin = margin
        self.budget = budget
        self.box = box             # False: the node is not cut by [-1, 1]^d (radii capped at 1)

    def root(self) -> LPNode:
        d = self.d
        return LPNode(np.zeros((0, d + 1)), (), np.zeros((1, d)), np.ones(1))

    def unit_cells(self, L: Units, node: LPNode, A: np.ndarray, c: np.ndarray, scale: float,
                   maps: Maps) -> Iterator[tuple[LPNode, np.ndarray]]:
        """The cells of a unit layer in the node that hold a ball of radius > margin, with bits.

        ``sub`` is a stack of (node, live units, bits); each bits array belongs to its entry
        alone (``_settle_units`` writes into it): the plus child takes over its parent's array,
        the minus child gets a copy.
        """
        margin = self.margin
        tick = self.budget.tick
        bits0, cand, An, cn = unit_rows(L, A, c, scale, maps, self.box)
        sub = [(node, np.arange(cand.size), bits0)]
        while sub:
            node, U, bits = sub.pop()
            tick()
            settled = self._settle_units(node, U, An, cn, cand, bits)
            if settled is None:
                continue
            node, U, split = settled
            if split is None:
                yield node, bits
                continue
            pts, rad = node.pts, node.rad
            j, S = split
            row = np.append(An[j], cn[j])
            rest = U[U != j]
            neg = -S > margin
            b0 = bits.copy()
            b0[cand[j]] = 0
            sub.append((node.child((-row)[None, :], pts[neg], np.minimum(rad[neg], -S[neg])), rest, b0))
            posm = S > margin
            bits[cand[j]] = 1
            sub.append((node.child(row[None, :], pts[posm], np.minimum(rad[posm], S[posm])), rest, bits))

    def _settle_units(self, node: LPNode, U: np.ndarray, An: np.ndarray, cn: np.ndarray,
                      cand: np.ndarray, bits: np.ndarray):
        """Settle the live units of a LP-path node until only proven splitters are left.

        A unit is proven to split the node when known points give balls of radius > margin on
        both sides; otherwise the mirror probe or an LP finds such a point, or shows that one
        side holds no such ball (the unit is then settled, and a sliver on that side is cut
        off). Returns (node, U, split) with split = (unit, distances of the node's points) or
        None when every unit is settled; returns None when the node holds no ball of radius
        > margin. Units settled here stay settled in every descendant; their bits are written
        into ``bits``.
        """
        if not U.size:
            return node, U, None
        margin = self.margin
        solve = self.budget.solve
        F, ids, pts, rad = node.F, node.ids, node.pts, node.rad
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
                    # a point proves a side only with its distance to this unit's hyperplane,
                    # computed as below for posr/negr: so an accepted point always makes
                    # progress (no loop can revisit the unit without a new proof or settling)
                    u, r = _probe(F, pts, rad, side * row, self.box) if pts.shape[0] \
                        else (None, -np.inf)
                    if u is not None and r > margin:
                        s_new = u @ An[U].T + cn[U]
                        r = min(r, side * float(s_new[i]))
                    if r <= margin:
                        r_lp, u_lp = solve(ids, F, extra=side * row)
                        u, r = None, r_lp
                        if r_lp > margin:
                            s_new = u_lp @ An[U].T + cn[U]
                            r = min(r_lp, side * float(s_new[i]))
                            if r > margin:
                                u = u_lp
                    if u is None:
                        keep = -side
                        if (negr[i] if keep < 0 else posr[i]) <= margin:
                            # no evidence for the other side either: look for it
                            r2, u2 = solve(ids, F, extra=keep * row)
                            if r2 <= margin:
                                return None
                            pts, rad = np.vstack([pts, u2]), np.append(rad, r2)
                        if keep > 0:
                            bits[cand[j]] = 1
                        settled[i] = True
                        if r > THIN:
                            # a sliver of depth <= margin on the probed side: cut it off
                            self.budget.stats.dropped(r)
                            cut = self._add_rows(LPNode(F, ids, pts, rad), (keep * row)[None, :])
                            if cut is None:
                                return None
                            F, ids, pts, rad = cut.F, cut.ids, cut.pts, cut.rad
                            restart = True
                            break
                        continue
                    pts, rad = np.vstack([pts, u]), np.append(rad, r)
                    posr = np.maximum(posr, np.minimum(r, s_new))
                    negr = np.maximum(negr, np.minimum(r, -s_new))
                if restart:
                    break
        U = U[~settled]
        if not U.size:
            return LPNode(F, ids, *_trim(pts, rad)), U, None
        return LPNode(F, ids, pts, rad), U, (U[0], pts @ An[U[0]] + cn[U[0]])

    def _add_rows(self, node: LPNode, rows: np.ndarray) -> LPNode | None:
        """The node cut by more rows; None if no ball of radius > margin is left."""
        pts = node.pts
        F = np.vstack([node.F, rows])
        ids = node.ids + tuple(new_row_id() for _ in range(rows.shape[0]))
        rad = np.minimum(node.rad, (pts @ rows[:, :-1].T + rows[:, -1]).min(axis=1))
        ok = rad > self.margin
        pts, rad = pts[ok], rad[ok]
        if not ok.any():
            r_node, u_node = self.budget.solve(ids, F)
            if r_node <= self.margin:
                return None
            pts, rad = u_node[None, :], np.array([r_node])
        return LPNode(F, ids, pts, rad)

    def group_cells(self, L: Groups, node: LPNode, A: np.ndarray, c: np.ndarray,
                    scale: float, maps: Maps) -> Iterator[tuple[LPNode, np.ndarray]]:
        """The cells of a max layer in the node that hold a ball of radius > margin, with argmaxes.

        ``sub`` is a stack of (node, live groups, choice); each child gets its own copy of the
        choice array, so an entry may write into the one it popped.
        """
        margin = self.margin
        tick, solve = self.budget.tick, self.budget.solve
        choice0 = L.fixed.copy()
        if not L.live.size:
            yield node, choice0
            return
        G, Ap, cp, possible, active, inv, R, rc = group_geometry(L, A, c, scale, maps,
                                                                 self.box)
        sub = [(node, np.arange(G.shape[0]), choice0)]
        while sub:
            node, U, choice = sub.pop()
            tick()
            alive = None
            # groups with a single cell on the node are settled in place
            while U.size:
                g = U[0]
                F, ids, pts, rad = node.F, node.ids, node.pts, node.rad
                cert = possible[g] & (_cell_depths(pts, rad, g, Ap, cp, active, inv) > margin)
                rstar = {}
                for i in np.flatnonzero(possible[g] & ~cert):
                    rows = np.column_stack([R[g, i][active[g, i]], rc[g, i][active[g, i]]])
                    if self.box and _beaten_on_a_row(F, rows, margin):
                        continue
                    if pts.shape[0]:
                        q, r = _probe_piece(F, pts, rad, G[g], i, Ap[g], cp[g], active[g], R[g],
                                            rc[g], rows, self.box)
                        if r > margin:
                            cert[i] = True
                            pts, rad = np.vstack([pts, q]), np.append(rad, r)
                            continue
                    r, u = solve(ids, F, extra=rows)
                    rstar[i] = r
                    if r > margin:
                        cert[i] = True
                        pts, rad = np.vstack([pts, u]), np.append(rad, r)
                    else:
                        self.budget.stats.dropped(r)
                node = LPNode(F, ids, pts, rad)
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
            pts, rad = node.pts, node.rad
            for i in alive[::-1]:
                act = active[g, i]
                rows = np.column_stack([R[g, i][act], rc[g, i][act]])
                depth = (pts @ rows[:, :-1].T + rows[:, -1]).min(axis=1) if rows.size else rad
                keep = np.minimum(rad, depth) > margin
                child = node.child(rows, pts[keep], np.minimum(rad, depth)[keep])
                ch = choice.copy()
                ch[L.live[g]] = i
                sub.append((child, rest, ch))

    def leaf(self, node: LPNode) -> tuple[np.ndarray, float]:
        """A witness of the region, its deepest evidence point, and a radius that holds there:
        its certified radius less -THIN (a unit settled because its other side held no ball
        may still reach into the region by that much)."""
        best = int(np.argmax(node.rad))
        return node.pts[best], float(node.rad[best]) + THIN


def _probe_piece(F, pts, rad, G, i, Ap, cp, active, R, rc, rows,
                 box: bool = True) -> tuple[np.ndarray, float]:
    """The mirror probe of a max group: the deepest point mirrored across the hyperplane between
    piece i and the piece that wins there (the first on ties), and the radius of the ball around
    it inside the node and the cell of piece i (``rows``): a point of the cell without an LP
    when that exceeds the margin. ``G, Ap, cp, active, R, rc``: the group's geometry;
    ``box``: the node lies in [-1, 1]^d (else in R^d)."""
    best = int(np.argmax(rad))
    p, r = pts[best], rad[best]
    win = int(np.argmax(np.where(G >= 0, Ap @ p + cp, -np.inf)))
    if win == i or not active[i, win]:
        return p, -np.inf
    a, e = R[i, win], rc[i, win]
    q = p + (r - (a @ p + e)) * a
    depth = min(r, 1.0 - float(np.abs(q).max())) if box else float(r)
    if F.shape[0]:
        depth = min(depth, float((F[:, :-1] @ q + F[:, -1]).min()))
    if rows.shape[0]:
        depth = min(depth, float((rows[:, :-1] @ q + rows[:, -1]).min()))
    return q, depth


def _beaten_on_a_row(F: np.ndarray, rows: np.ndarray, margin: float) -> bool:
    """Does a row of the node prove, without an LP, that the cell ``rows >= 0`` holds no ball of
    radius > margin? A ball of radius r centred at x in both a cell row (q, e) and a node row
    (a, b) (unit normals, x in the box) has ``2 r <= (q + a).x + e + b <= |q + a|_1 + e + b``.
    So when that bound (with its float error) is <= 2 margin for some pair, the cell is at
    most a sliver. This is the case of a max over ReLU outputs: a piece that is off (0) against
    one that is on, whose "on" row (the same hyperplane, opposite side) the node holds."""
    if not F.shape[0] or not rows.shape[0]:
        return False
    d = F.shape[1] - 1
    S = rows[:, None, :d] + F[None, :, :d]                      # (cell rows, node rows, d)
    gap = np.abs(S).sum(axis=2) + rows[:, None, d] + F[None, :, d]
    mag = (np.abs(rows[:, None, :]).sum(axis=2) + np.abs(F[None, :, :]).sum(axis=2))
    return bool((gap + 4.0 * (d + 2) * EPS * mag <= 2.0 * margin).any())


def _cell_depths(pts, rad, g, Ap, cp, active, inv) -> np.ndarray:
    """Per piece of group g: the largest certified ball radius of a known point in its cell."""
    Z = pts @ Ap[g].T + cp[g]                                    # (p, k)
    S = (Z[:, :, None] - Z[:, None, :]) * inv[g]                 # (p, k, k)
    S = np.where(active[g], S, np.inf)
    depth = np.minimum(S.min(axis=2), rad[:, None])              # (p, k)
    return depth.max(axis=0)


def _probe(F: np.ndarray, pts: np.ndarray, rad: np.ndarray, row: np.ndarray,
           box: bool = True) -> tuple[np.ndarray, float]:
    """Mirror the deepest point across the hyperplane ``row``: a candidate point on its far side.

    Returns the point and the radius of the largest ball around it inside the node and on the
    far side (a certificate without an LP when it exceeds the margin); ``box``: the node lies
    in [-1, 1]^d (else in R^d, radii capped at 1 by the evidence's own).
    """
    best = int(np.argmax(rad))
    p, r = pts[best], rad[best]
    a, c = row[:-1], row[-1]
    q = p + (r - (a @ p + c)) * a
    depth = min(r, 1.0 - float(np.abs(q).max())) if box else float(r)
    if F.shape[0]:
        depth = min(depth, float((F[:, :-1] @ q + F[:, -1]).min()))
    return q, depth


def _trim(pts: np.ndarray, rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the MAX_POINTS deepest evidence points (the module global, read at call time)."""
    if rad.size > MAX_POINTS:
        keep = np.argsort(rad)[-MAX_POINTS:]
        pts, rad = pts[keep], rad[keep]
    return pts, rad
