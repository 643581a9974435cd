"""Branch-and-bound over activation patterns: the exact region counter (``--method tree``).

The tree fixes the activation pattern unit by unit, in layer order, depth first. A node is a
polytope P of normalised input space (the box [-1, 1]^d cut by the hyperplanes of the units
fixed so far); on P every fixed layer is affine, so the next layer's pre-activations are affine
functions ``z_j(u) = a_j . u + c_j`` on P. For each unit the node decides, in order of cost:

1. globally stable (``Bounds``): its bit is fixed, it is never looked at again;
2. constant on P (numerically zero gradient): the bit is the sign of the constant;
3. one-signed on P: proven by the vertices of P (low dimension, ``vertex_dim``) or by an LP;
4. splitting P: proven by the vertices, or by two points of P, each the centre of a ball of
   radius > margin inside P, on opposite sides (sign evidence); LPs only when neither proves it.

A unit that leaves only a sliver (depth <= margin) on one side does not split P; the sliver is
cut off. A leaf is an activation region; it is counted iff a ball of radius > ``margin``
(normalised coordinates) fits in it, and its centre is the witness. Witnesses are re-checked in
batches by a plain forward pass of the network: the pattern there must equal the leaf's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .bounds import Bounds
from .lp import ChebyshevLP
from .network import Network
from .polytope import VPoly, new_row_id
from .result import CountResult

DEFAULT_MARGIN = 1e-7
VERTEX_TOL = 1e-10      # a vertex this close to a hyperplane lies on it
CONST_TOL = 1e-11       # relative size of a gradient that counts as zero
MAX_POINTS = 12         # evidence points kept per node in the LP path

RegionCallback = Callable[[list, np.ndarray, float], None]
ProgressCallback = Callable[[int, int, int, float], None]


class CertificateError(RuntimeError):
    """A witness failed its forward-pass check: a bug or a numerical breakdown, never a count."""


@dataclass
class _LayerData:
    sources: list            # [(s, W)]
    b: np.ndarray
    neg_slope: np.ndarray
    fixed: np.ndarray        # bits of globally stable units (unstable ones: False)
    cand: np.ndarray         # indices of globally unstable units
    wnorm: np.ndarray        # row norms of the stacked weights of the candidates


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
        self.layers = []
        for k, layer in enumerate(net.layers):
            fixed = bounds.active(k).copy()
            cand = np.flatnonzero(bounds.unstable(k))
            Wall = np.hstack([W for _, W in sorted(layer.affine.W.items())])
            self.layers.append(_LayerData(sorted(layer.affine.W.items()), layer.affine.b,
                                          layer.neg_slope, fixed, cand,
                                          np.linalg.norm(Wall[cand], axis=1)))
        self.n_unstable = bounds.n_unstable
        self.bound_lps = bounds.lps

    # ------------------------------------------------------------------ driver
    def run(self) -> CountResult:
        stopped = None
        d = self.d
        maps0 = [(np.eye(d), np.zeros(d))]
        try:
            if not self.layers:
                self._leaf_single()
            elif self.use_vertices:
                self._run_vertices(maps0)
            else:
                self._run_lp(maps0)
        except _Stop as stop:
            stopped = stop.why
        self._flush()
        st = self.stats
        return CountResult(
            regions=st.regions, exact=stopped is None, method="tree",
            seconds=time.perf_counter() - st.start, nodes=st.nodes, lps=self.lp.solves,
            stopped=stopped, margin=self.margin, near_margin=st.near_margin, input_dim=d,
            widths=self.net.widths, unstable_units=self.n_unstable, bound_lps=self.bound_lps)

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
    def _layer_affine(self, k: int, maps: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pre-activations of layer k on the node: (A, c) for all units, and the scale of A."""
        L = self.layers[k]
        A = None
        c = L.b.copy()
        scale = 0.0
        for s, W in L.sources:
            As, cs = maps[s]
            term = W @ As
            A = term if A is None else A + term
            c += W @ cs
            scale += float(np.linalg.norm(As))
        return A, c, scale

    def _candidates(self, k: int, A: np.ndarray, c: np.ndarray, scale: float):
        """Split the layer's unstable units into constant ones (bits set) and live ones (unit rows)."""
        L = self.layers[k]
        bits = L.fixed.copy()
        cand = L.cand
        if cand.size == 0:
            return bits, cand, None, None
        a = A[cand]
        nrm = np.linalg.norm(a, axis=1)
        const = nrm <= CONST_TOL * (L.wnorm * scale + 1e-300)
        if const.any():
            cc = c[cand[const]]
            ctol = CONST_TOL * (np.abs(L.b[cand[const]]) + L.wnorm[const] * (1 + scale))
            bits[cand[const]] = cc > ctol
            live = ~const
            cand, a, nrm = cand[live], a[live], nrm[live]
        An = a / nrm[:, None]
        cn = c[cand] / nrm
        return bits, cand, An, cn

    def _output_map(self, k: int, bits: np.ndarray, A: np.ndarray, c: np.ndarray):
        slope = np.where(bits, 1.0, self.layers[k].neg_slope)
        return slope[:, None] * A, slope * c

    # -------------------------------------------------------------- vertex path
    def _run_vertices(self, maps0: list) -> None:
        margin = self.margin
        stack = [(0, VPoly.box(self.d), maps0, None)]
        while stack:
            k, P, maps, prefix = stack.pop()
            A, c, scale = self._layer_affine(k, maps)
            bits0, cand, An, cn = self._candidates(k, A, c, scale)
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
                        bits[cand[U[on]]] = True
                    live = ~(on | off)
                    U, vals = U[live], vals[:, live]
                if U.size:
                    j = U[0]
                    s = vals[:, 0]
                    row = np.append(An[j], cn[j])
                    plus, minus = P.cut(row, s, VERTEX_TOL)
                    if minus is not None and s.min() >= -margin:
                        minus = None
                    if plus is not None and s.max() <= margin:
                        plus = None
                    rest = U[1:]
                    unit = cand[j]
                    if minus is not None:
                        b0 = bits.copy()
                        b0[unit] = False
                        sub.append((minus, rest, b0))
                    if plus is not None:
                        bits[unit] = True
                        sub.append((plus, rest, bits))
                    continue
                Ak, ck = self._output_map(k, bits, A, c)
                pre = bits if prefix is None else np.concatenate([prefix, bits])
                if k + 1 < len(self.layers):
                    stack.append((k + 1, P, maps + [(Ak, ck)], pre))
                else:
                    self._leaf_vertices(P, pre)

    def _leaf_vertices(self, P: VPoly, bits: np.ndarray) -> None:
        u, r = P.centroid_radius()
        if r <= 10 * self.margin:
            r_lp, u_lp = self.lp.solve(P.ids, P.F)
            if r_lp <= 10 * self.margin:
                if r_lp <= self.margin:
                    self.stats.dead_leaves += 1
                    return
                self.stats.near_margin += 1
            if r_lp > r:
                u, r = u_lp, r_lp
        self._count(u, r, bits)

    # ------------------------------------------------------------------ LP path
    def _run_lp(self, maps0: list) -> None:
        d = self.d
        F0 = np.zeros((0, d + 1))
        pts0 = np.zeros((1, d))
        rad0 = np.ones(1)
        stack = [(0, F0, (), pts0, rad0, maps0, None)]
        while stack:
            k, F, ids, pts, rad, maps, prefix = stack.pop()
            A, c, scale = self._layer_affine(k, maps)
            bits0, cand, An, cn = self._candidates(k, A, c, scale)
            sub = [(F, ids, pts, rad, np.arange(cand.size), bits0)]
            while sub:
                F, ids, pts, rad, U, bits = sub.pop()
                self._tick()
                settled = self._resolve(F, ids, pts, rad, U, An, cn, cand, bits)
                if settled is None:
                    continue
                F, ids, pts, rad, U, split = settled
                if split is not None:
                    j, S = split
                    row = np.append(An[j], cn[j])
                    rest = U[U != j]
                    unit = cand[j]
                    neg = -S > self.margin
                    b0 = bits.copy()
                    b0[unit] = False
                    sub.append((np.vstack([F, -row]), ids + (new_row_id(),), pts[neg],
                                np.minimum(rad[neg], -S[neg]), rest, b0))
                    posm = S > self.margin
                    bits[unit] = True
                    sub.append((np.vstack([F, row]), ids + (new_row_id(),), pts[posm],
                                np.minimum(rad[posm], S[posm]), rest, bits))
                    continue
                Ak, ck = self._output_map(k, bits, A, c)
                pre = bits if prefix is None else np.concatenate([prefix, bits])
                if k + 1 < len(self.layers):
                    stack.append((k + 1, F, ids, pts, rad, maps + [(Ak, ck)], pre))
                else:
                    best = int(np.argmax(rad))
                    if rad[best] <= 10 * self.margin:
                        self.stats.near_margin += 1
                    self._count(pts[best], float(rad[best]), pre)

    def _resolve(self, F, ids, pts, rad, U, An, cn, cand, bits):
        """Settle the live units of a LP-path node until one is proven to split it.

        Returns (F, ids, pts, rad, U, split) with split = (unit, distances of pts) or None when
        every unit is one-signed on the node; returns None when the node holds no ball of radius
        > margin. Units settled here stay settled in every descendant.
        """
        margin = self.margin
        while U.size:
            S = pts @ An[U].T + cn[U]                                   # (k, |U|)
            R = rad[:, None]
            posr = np.max(np.minimum(R, S), axis=0)
            negr = np.max(np.minimum(R, -S), axis=0)
            both = (posr > margin) & (negr > margin)
            if both.all():
                # every unit left splits the node: branch on the first; the others carry over
                return F, ids, pts, rad, U, (U[0], S[:, 0])
            # settle units without evidence here, once, rather than in every descendant
            i = int(np.argmin(both))
            j = U[i]
            row = np.append(An[j], cn[j])
            side = 1.0 if posr[i] <= margin else -1.0
            q, rq = _probe(F, pts, rad, side * row)
            if rq > margin:
                pts, rad = _add_point(pts, rad, q, rq)
                continue
            r_lp, u_lp = self.lp.solve(ids, F, extra=side * row)
            if r_lp > margin:
                pts, rad = _add_point(pts, rad, u_lp, r_lp)
                continue
            keep = -side
            if (negr[i] if keep < 0 else posr[i]) <= margin:
                # no evidence for the other side either: probe it
                r2, u2 = self.lp.solve(ids, F, extra=keep * row)
                if r2 <= margin:
                    return None
                pts, rad = _add_point(pts, rad, u2, r2)
            if keep > 0:
                bits[cand[j]] = True
            if r_lp > -1e-9:
                # a sliver of depth <= margin on the probed side: cut it off
                F = np.vstack([F, keep * row])
                ids = ids + (new_row_id(),)
                rad = np.minimum(rad, keep * (pts @ An[j] + cn[j]))
                ok = rad > margin
                pts, rad = pts[ok], rad[ok]
                if not ok.any():
                    r_node, u_node = self.lp.solve(ids, F)
                    if r_node <= margin:
                        return None
                    pts, rad = u_node[None, :], np.array([r_node])
            U = np.delete(U, i)
        return F, ids, pts, rad, U, None

    # ------------------------------------------------------------------ leaves
    def _leaf_single(self) -> None:
        self._count(np.zeros(self.d), 1.0, np.zeros(0, dtype=bool))

    def _count(self, u: np.ndarray, r: float, bits: np.ndarray) -> None:
        st = self.stats
        if self.max_regions is not None and st.regions >= self.max_regions:
            # a region beyond the limit exists: stop, the count is a lower bound
            raise _Stop("max-regions")
        st.regions += 1
        self._buf_u.append(u)
        self._buf_bits.append(bits)
        if self.on_region is not None:
            self.on_region(self._split_bits(bits), u, r)
        if len(self._buf_u) >= self.verify_batch:
            self._flush()

    def _split_bits(self, bits: np.ndarray) -> list[np.ndarray]:
        out, i = [], 0
        for L in self.layers:
            n = L.b.shape[0]
            out.append(bits[i:i + n].copy())
            i += n
        return out

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


def _add_point(pts: np.ndarray, rad: np.ndarray, u: np.ndarray, r: float):
    pts = np.vstack([pts, u])
    rad = np.append(rad, r)
    if rad.size > MAX_POINTS:
        keep = np.argsort(rad)[-MAX_POINTS:]
        pts, rad = pts[keep], rad[keep]
    return pts, rad


def verify_patterns(net: Network, U: np.ndarray, bits: np.ndarray) -> None:
    """Check by a plain forward pass that each point U[i] has the pattern bits[i].

    A pre-activation within rounding error of zero (a unit constant at zero on the region)
    may show either sign. Raises CertificateError on any other disagreement.
    """
    values, avalues = [U], [np.abs(U)]
    col = 0
    for k, layer in enumerate(net.layers):
        aff = layer.affine
        z = aff.apply(values)
        za = np.broadcast_to(np.abs(aff.b), z.shape).copy()
        for s, W in aff.W.items():
            za += avalues[s] @ np.abs(W).T
        n = aff.size
        want = bits[:, col:col + n]
        bad = (want != (z > 0)) & (np.abs(z) > 1e-9 * (za + 1e-300))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise CertificateError(
                f"witness {U[i].tolist()} has z={z[i, j]:.3e} at layer {k + 1} unit {j}, "
                f"but its region's pattern says {'on' if want[i, j] else 'off'}")
        col += n
        h = np.where(want, z, layer.neg_slope * z)
        values.append(h)
        avalues.append(np.where(want, za, np.abs(layer.neg_slope) * za))
