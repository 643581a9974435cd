"""The compiled vertex path (numba): the whole depth-first walk for chains of two-piece layers.

The same decisions as ``vertex_path`` + ``polytope`` + ``layers.unit_rows``, in the same
order, on arrays: a node is a polytope (vertices ``V``, incidence ``inc``, facet rows ``F``), a
stack entry is (layer, polytope, live units, bits, the node's unit rows). The walk stops after
a node budget or when its output buffers are full and resumes from its stack, so the Python
driver checks time limits, progress and the region limit between calls; leaves come out as
arrays (pattern, vertex centroid, its radius less the vertex tolerance).

Only for networks whose layers are all two-piece, dense, each reading the layer before it
(``compiled_layers`` says when); every other network takes ``vertex_kernel``, which reuses
``cut`` and ``to_bits`` from here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.typed import List

from . import compiled_cache
from .layers import CONST_TOL, SLIVER_FLOOR, VERTEX_TOL


def cache_dir() -> str:
    """Where numba keeps the compiled walk (next to this module, or numba's user cache)."""
    return str(walk._cache.cache_path)


def cache_is_warm() -> bool:
    """Whether the compiled walk is in the cache (else the first count compiles it, ~30 s)."""
    from pathlib import Path

    return any(Path(cache_dir()).glob("kernel.walk-*.nbi"))


class Entry(NamedTuple):
    """A stack entry of the walk: layer k's node (vertices V, incidence bitsets, facet rows F,
    whether it is simple: 1, not: 0, unknown: -1), its live units (indices into ``cl``), the
    layer's bits so far, the pattern of the layers before it (``prefix``), the node's unit rows
    (An, cn: normalised; cl: their units) and the layer's pre-activations (A, c)."""

    k: int
    V: np.ndarray
    inc: np.ndarray
    F: np.ndarray
    simple: int
    U: np.ndarray
    bits: np.ndarray
    prefix: np.ndarray
    An: np.ndarray
    cn: np.ndarray
    cl: np.ndarray
    A: np.ndarray
    c: np.ndarray


class CellRecord(NamedTuple):
    """A cell of the layers before a depth (``walk(..., depth, cells)``): its polytope, the
    pattern of those layers and the affine map (A, c) of their last outputs on it, with the
    sizes that fed it (``scale``)."""

    V: np.ndarray
    inc: np.ndarray
    F: np.ndarray
    simple: int
    pattern: np.ndarray
    A: np.ndarray
    c: np.ndarray
    scale: float


M1 = np.uint64(0x5555555555555555)
M2 = np.uint64(0x3333333333333333)
M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
H01 = np.uint64(0x0101010101010101)
ONE = np.uint64(1)
#: the simple flag of a polygon (d = 2) in cyclic form: vertices in order around it, F[i] the
#: row of the edge from vertex i to i + 1 (``_cut_polygon``; every vertex on two edges)
POLYGON = 2


@njit(cache=True, inline="always")
def _pop(x):
    """The number of set bits of a uint64."""
    x = x - ((x >> ONE) & M1)
    x = (x & M2) + ((x >> np.uint64(2)) & M2)
    x = (x + (x >> np.uint64(4))) & M4
    return (x * H01) >> np.uint64(56)


@njit(cache=True, inline="always")
def _bit(inc, v, r):
    return (inc[v, r >> 6] >> np.uint64(r & 63)) & ONE


@njit(cache=True)
def to_bits(inc_bool):
    """Incidence (nv, m) bools as bitsets (nv, ceil(m / 64)) uint64."""
    nv, m = inc_bool.shape
    nw = max(1, (m + 63) // 64)
    out = np.zeros((nv, nw), dtype=np.uint64)
    for v in range(nv):
        for r in range(m):
            if inc_bool[v, r]:
                out[v, r >> 6] |= ONE << np.uint64(r & 63)
    return out


@njit(cache=True)
def _tidy(V, inc, F):
    """Drop rows tight at fewer than d vertices; is every vertex on exactly d facets?"""
    nv, d = V.shape
    m = F.shape[0]
    keep = np.zeros(m, dtype=np.bool_)
    nk = 0
    for r in range(m):
        cnt = 0
        for v in range(nv):
            cnt += _bit(inc, v, r)
        if cnt >= d:
            keep[r] = True
            nk += 1
    if nk < m:
        nw = max(1, (nk + 63) // 64)
        inc2 = np.zeros((nv, nw), dtype=np.uint64)
        F2 = np.empty((nk, d + 1))
        j = 0
        for r in range(m):
            if keep[r]:
                for v in range(nv):
                    if _bit(inc, v, r):
                        inc2[v, j >> 6] |= ONE << np.uint64(j & 63)
                F2[j] = F[r]
                j += 1
        inc, F = inc2, F2
    simple = 1
    for v in range(nv):
        cnt = 0
        for w in range(inc.shape[1]):
            cnt += _pop(inc[v, w])
        if cnt != d:
            simple = 0
            break
    return inc, F, simple


@njit(cache=True)
def _part(V, inc, keep, zero, Vnew, inc_new, F, row, sign):
    """One side of a cut: the kept vertices (their incidence gains the new row when they lie on
    it) and the new ones; the new row is ``sign * row``."""
    nv, d = V.shape
    m = F.shape[0]
    nw = inc_new.shape[1]
    nk = 0
    for v in range(nv):
        if keep[v]:
            nk += 1
    nn = Vnew.shape[0]
    V2 = np.empty((nk + nn, d))
    inc2 = np.zeros((nk + nn, nw), dtype=np.uint64)
    bitm = ONE << np.uint64(m & 63)
    wm = m >> 6
    j = 0
    for v in range(nv):
        if keep[v]:
            V2[j] = V[v]
            inc2[j, :inc.shape[1]] = inc[v]
            if zero[v]:
                inc2[j, wm] |= bitm
            j += 1
    for t in range(nn):
        V2[j] = Vnew[t]
        inc2[j] = inc_new[t]
        j += 1
    F2 = np.empty((m + 1, d + 1))
    F2[:m] = F
    F2[m] = sign * row
    return V2, inc2, F2


@njit(cache=True)
def _ring_bits(n):
    """Incidence of a polygon in cyclic form: vertex i on the rows of edges i - 1 and i."""
    nw = max(1, (n + 63) // 64)
    inc = np.zeros((n, nw), dtype=np.uint64)
    for i in range(n):
        h = (i + n - 1) % n
        inc[i, i >> 6] |= ONE << np.uint64(i & 63)
        inc[i, h >> 6] |= ONE << np.uint64(h & 63)
    return inc


@njit(cache=True)
def _cyclic(V, inc, F, s):
    """A polygon (d = 2) in cyclic form (``POLYGON``): vertices in order around it, ``F[i]``
    the row of the edge from vertex i to vertex i + 1, and ``s`` in that order. ``ok`` is
    False when two neighbours share no row (a degenerate polygon: the general cut takes it)."""
    n = V.shape[0]
    cx = 0.0
    cy = 0.0
    for v in range(n):
        cx += V[v, 0]
        cy += V[v, 1]
    cx /= n
    cy /= n
    ang = np.empty(n)
    for v in range(n):
        ang[v] = np.arctan2(V[v, 1] - cy, V[v, 0] - cx)
    order = np.argsort(ang)
    m = F.shape[0]
    F2 = np.empty((n, 3))
    for t in range(n):
        a = order[t]
        b = order[(t + 1) % n]
        r = -1
        for q in range(inc.shape[1]):
            w = inc[a, q] & inc[b, q]
            if w:
                for z in range(64):
                    if (w >> np.uint64(z)) & ONE:
                        r = q * 64 + z
                        break
                break
        if r < 0 or r >= m:
            return False, V, inc, F, s
        F2[t] = F[r]
    return True, V[order], _ring_bits(n), F2, s[order]


@njit(cache=True, inline="always")
def _walk_code(si, sj, tol):
    """What edge i -> j (values ``si``, ``sj`` on the kept side's sign) adds to that side:
    0 nothing; 1 vertex i and its edge; 2 vertex i, then the chord (i on the cut); 3 vertex i
    and its edge, then the crossing point and the chord; 4 the crossing point and edge i."""
    if si >= -tol:
        if sj < -tol:
            return 3 if si > tol else 2
        return 1
    return 4 if sj > tol else 0


@njit(cache=True)
def _side(V, F, s, X, tol, sign, row):
    """One side of a polygon in cyclic form cut by ``row`` (values ``s`` at its vertices): the
    vertices with ``sign * s >= -tol``, in order, and the crossing points ``X`` (per edge, the
    one ``cut`` makes), with the edge rows; the chord's row is ``sign * row``."""
    n = V.shape[0]
    cnt = 0
    for i in range(n):
        code = _walk_code(sign * s[i], sign * s[(i + 1) % n], tol)
        cnt += 2 if code == 3 else 1 if code else 0
    V2 = np.empty((cnt, 2))
    F2 = np.empty((cnt, 3))
    t = 0
    for i in range(n):
        code = _walk_code(sign * s[i], sign * s[(i + 1) % n], tol)
        if code == 0:
            continue
        V2[t] = X[i] if code == 4 else V[i]
        if code == 3:
            F2[t] = F[i]
            t += 1
            V2[t] = X[i]
        if code == 2 or code == 3:
            for q in range(3):
                F2[t, q] = sign * row[q]
        else:
            F2[t] = F[i]
        t += 1
    return V2, _ring_bits(cnt), F2


@njit(cache=True)
def _cut_polygon(V, inc, F, simple, row, s, tol):
    """``cut`` of a polygon (d = 2): the same two parts, the same new vertices (a crossing
    edge's point from its plus vertex, as ``cut`` makes it), in cyclic form: O(vertices),
    no pairwise incidence test and no tidying. ``ok`` False: not a single run of each sign
    around the polygon, or not convertible (``_cyclic``): ``cut`` takes it."""
    if simple != POLYGON:
        ok, V, inc, F, s = _cyclic(V, inc, F, s)
        if not ok:
            return False, V, inc, F, V, inc, F
    n = V.shape[0]
    runs = 0
    for i in range(n):
        if (s[i] >= -tol) != (s[(i + 1) % n] >= -tol):
            runs += 1
    if runs != 2:
        return False, V, inc, F, V, inc, F
    runs = 0
    for i in range(n):
        if (s[i] <= tol) != (s[(i + 1) % n] <= tol):
            runs += 1
    if runs != 2:
        return False, V, inc, F, V, inc, F
    X = np.empty((n, 2))
    for i in range(n):
        j = (i + 1) % n
        if s[i] > tol and s[j] < -tol:
            u, w = i, j
        elif s[j] > tol and s[i] < -tol:
            u, w = j, i
        else:
            continue
        f = s[u] / (s[u] - s[w])
        for k in range(2):
            X[i, k] = V[u, k] + f * (V[w, k] - V[u, k])
    Vp, incp, Fp = _side(V, F, s, X, tol, 1.0, row)
    Vm, incm, Fm = _side(V, F, s, X, tol, -1.0, row)
    return True, Vp, incp, Fp, Vm, incm, Fm


@njit(cache=True)
def cut(V, inc, F, simple, row, s, tol):
    """``VPoly.cut``: (kind, plus, minus); kind 0: plus is P, no minus; 1: no plus, minus is P;
    2: both new (the polytopes as (V, incidence bitsets, F)), with the simple flag of both
    (-1: not known; ``POLYGON``: polygons in cyclic form, ``_cut_polygon``)."""
    nv, d = V.shape
    npos = 0
    nneg = 0
    for v in range(nv):
        if s[v] > tol:
            npos += 1
        elif s[v] < -tol:
            nneg += 1
    if nneg == 0:
        return 0, V, inc, F, simple, V, inc, F
    if npos == 0:
        return 1, V, inc, F, simple, V, inc, F
    if d == 2 and nv >= 3:
        ok, Vp, incp, Fp, Vm, incm, Fm = _cut_polygon(V, inc, F, simple, row, s, tol)
        if ok:
            return 2, Vp, incp, Fp, np.int64(POLYGON), Vm, incm, Fm
    if simple < 0:
        inc, F, simple = _tidy(V, inc, F)
    m = F.shape[0]
    nw = inc.shape[1]
    ip = np.empty(npos, dtype=np.int64)
    ineg = np.empty(nneg, dtype=np.int64)
    a = 0
    b = 0
    for v in range(nv):
        if s[v] > tol:
            ip[a] = v
            a += 1
        elif s[v] < -tol:
            ineg[b] = v
            b += 1
    eu = np.empty(npos * nneg, dtype=np.int64)
    ev = np.empty(npos * nneg, dtype=np.int64)
    ne = 0
    sh = np.empty(nw, dtype=np.uint64)
    for x in range(npos):
        u = ip[x]
        for y in range(nneg):
            w = ineg[y]
            cnt = 0
            for q in range(nw):
                sh[q] = inc[u, q] & inc[w, q]
                cnt += _pop(sh[q])
            if simple == 1:
                if cnt == d - 1:
                    eu[ne] = u
                    ev[ne] = w
                    ne += 1
            elif cnt >= d - 1:
                tight = 0
                for z in range(nv):
                    ok = True
                    for q in range(nw):
                        if (inc[z, q] & sh[q]) != sh[q]:
                            ok = False
                            break
                    if ok:
                        tight += 1
                        if tight > 2:
                            break
                if tight == 2:
                    eu[ne] = u
                    ev[ne] = w
                    ne += 1
    nw2 = (m + 1 + 63) // 64
    Vnew = np.empty((ne, d))
    inc_new = np.zeros((ne, nw2), dtype=np.uint64)
    bitm = ONE << np.uint64(m & 63)
    wm = m >> 6
    for t in range(ne):
        u = eu[t]
        w = ev[t]
        su = s[u]
        sv = s[w]
        f = su / (su - sv)
        for k in range(d):
            Vnew[t, k] = V[u, k] + f * (V[w, k] - V[u, k])
        for q in range(nw):
            inc_new[t, q] = inc[u, q] & inc[w, q]
        inc_new[t, wm] |= bitm
    pos = s > tol
    neg = s < -tol
    zero = ~(pos | neg)
    Vp, incp, Fp = _part(V, inc, pos | zero, zero, Vnew, inc_new, F, row, 1.0)
    Vm, incm, Fm = _part(V, inc, neg | zero, zero, Vnew, inc_new, F, row, -1.0)
    return 2, Vp, incp, Fp, np.int64(-1), Vm, incm, Fm


@njit(cache=True)
def clip_cell(V, inc, F, rows, tol):
    """The polytope (V, inc, F) cut down to where every row ``[a, b]`` (|a| = 1) is >= 0, the
    deepest violated row first; a row non-negative at every vertex is redundant from then on.
    Returns (V, inc, F), no vertex when the rest has no interior (beyond ``tol``)."""
    d = V.shape[1]
    m = rows.shape[0]
    live = np.ones(m, dtype=np.bool_)
    simple = np.int64(-1)
    while True:
        nv = V.shape[0]
        best = -1
        low = -tol
        for r in range(m):
            if not live[r]:
                continue
            lo = np.inf
            for v in range(nv):
                x = rows[r, d]
                for q in range(d):
                    x += V[v, q] * rows[r, q]
                if x < lo:
                    lo = x
            if lo >= -tol:
                live[r] = False
            elif lo < low:
                low = lo
                best = r
        if best < 0:
            break
        s = np.empty(nv)
        for v in range(nv):
            x = rows[best, d]
            for q in range(d):
                x += V[v, q] * rows[best, q]
            s[v] = x
        kind, V, inc, F, simple, Vm, incm, Fm = cut(V, inc, F, simple, rows[best], s, tol)
        if kind == 1:
            return V[:0], inc[:0], F
        live[best] = False
    inc, F, simple = _tidy(V, inc, F)
    return V, inc, F


@njit(cache=True)
def unit_rows(W, b, fixed, cand, wnorm, rtol, Ain, cin, scale):
    """``layers.layer_affine`` + ``layers.unit_rows`` for one chain layer on a node: the
    layer's pre-activations (A, c), its bits so far, and the live units with their
    unit-normal rows."""
    return _rows_of(np.dot(W, Ain), np.dot(W, cin) + b, W, b, fixed, cand, wnorm, rtol, Ain,
                    cin, scale)


@njit(cache=True)
def _constant_units(A, c, W, b, cand, wnorm, rtol, Ain, cin, nrm, lim, live, bits):
    """The candidates whose gradient is zero up to rounding (``layers.unit_rows``' test): not
    live, their bit set by the sign of the constant."""
    absAin = np.abs(Ain)
    absc = np.abs(cin)
    for i in range(cand.size):
        if nrm[i] <= lim * wnorm[i]:
            j = cand[i]
            wr = np.abs(W[j])
            ga = np.dot(wr, absAin)
            if nrm[i] <= rtol * np.sqrt(np.dot(ga, ga)):
                live[i] = False
                gc = abs(b[j]) + np.dot(wr, absc)
                bits[j] = 1 if c[j] > rtol * gc else 0


@njit(cache=True)
def _rows_of(A, c, W, b, fixed, cand, wnorm, rtol, Ain, cin, scale):
    """``unit_rows`` from the layer's pre-activations ``A u + c`` (= W (Ain u + cin) + b)."""
    bits = fixed.copy()
    n = cand.size
    d = Ain.shape[1]
    if n == 0:
        return A, c, bits, cand, np.empty((0, d)), np.empty(0)
    nrm = np.empty(n)
    lim = max(CONST_TOL, rtol) * scale
    small = False
    for i in range(n):
        j = cand[i]
        t = 0.0
        for k in range(d):
            t += A[j, k] * A[j, k]
        nrm[i] = np.sqrt(t)
        small |= nrm[i] <= lim * wnorm[i]
    live = np.ones(n, dtype=np.bool_)
    if small:                                   # rare: a gradient that may be zero
        _constant_units(A, c, W, b, cand, wnorm, rtol, Ain, cin, nrm, lim, live, bits)
    nl = 0
    for i in range(n):
        if live[i]:
            nl += 1
    An = np.empty((nl, d))
    cn = np.empty(nl)
    cl = np.empty(nl, dtype=np.int64)
    t = 0
    for i in range(n):                          # the unit-normal rows of the units that
        if not live[i]:                         # can cross the box, in order
            continue
        j = cand[i]
        reach = 0.0
        for q in range(d):                      # loops: a row expression allocates
            An[t, q] = A[j, q] / nrm[i]
            reach += abs(An[t, q])
        cn[t] = c[j] / nrm[i]
        if cn[t] - reach > VERTEX_TOL:
            bits[j] = 1
        elif not cn[t] + reach < -VERTEX_TOL:
            cl[t] = j
            t += 1
    return A, c, bits, cl[:t].copy(), An[:t].copy(), cn[:t].copy()


@njit(cache=True)
def output_map(bits, A, c, slopes):
    """``layers.output_map`` for a two-piece layer: its outputs ``Aout u + cout`` on a cell of
    pattern ``bits`` (pre-activations A u + c; slope 1 on, ``slopes`` off), and their size."""
    n, d = A.shape
    Aout = np.empty((n, d))
    cout = np.empty(n)
    for i in range(n):
        f = 1.0 if bits[i] > 0 else slopes[i]
        for q in range(d):                      # a loop: a row expression allocates
            Aout[i, q] = f * A[i, q]
        cout[i] = f * c[i]
    size = 0.0                                  # np.sum's order, without the temporary
    for i in range(n):
        for q in range(d):
            size += Aout[i, q] * Aout[i, q]
    return Aout, cout, np.sqrt(size)


@njit(cache=True)
def layer_arrays(net, k, n_in):
    """Layer k's weights (n_k, n_in), biases, fixed bits, candidate units, their weight norms
    and zero tolerance, as views of the flat arrays of ``kernel_pack.compiled_layers``."""
    sizes, W_flat, W_off, b_flat, s_flat, fixed_flat, u_off, cand_flat, cand_off, wn_flat, rtols = net
    W = W_flat[W_off[k]:W_off[k + 1]].reshape((sizes[k], n_in))
    return (W, b_flat[u_off[k]:u_off[k + 1]], fixed_flat[u_off[k]:u_off[k + 1]],
            cand_flat[cand_off[k]:cand_off[k + 1]], wn_flat[cand_off[k]:cand_off[k + 1]],
            rtols[k])


@njit(cache=True)
def _node(k, V, inc, F, simple, net, Ain, cin, scale, prefix):
    A, c, bits, cl, An, cn = unit_rows(*layer_arrays(net, k, Ain.shape[0]), Ain, cin, scale)
    U = np.arange(cl.size)
    return Entry(k, V, inc, F, simple, U, bits, prefix, An, cn, cl, A, c)


#: a layer's pre-activation map is updated from the previous cell's while fewer than this share
#: of the units below it changed side, and recomputed whole after ``REFRESH`` updates in a row
UPDATE_SHARE = 8
REFRESH = 16
#: an updated row is kept while its updates' rounding (``ULP`` times the bound ``_next_map``
#: keeps) stays below this share of its size
DRIFT = 1e-12
ULP = 2.3e-16


@njit(cache=True)
def _next_map(net, k, bits, A, c, Aout, cout, keys, memo_f, memo_A, memo_c, memo_e, memo_n):
    """Layer k + 1's pre-activations ``W (Aout u + cout) + b`` on a cell of layer k (its
    outputs ``Aout = diag(f) A``, f: 1 on, the slope off, from ``bits``).

    The cells of one layer-k node leave the walk one after another and differ in a few bits,
    so the map is the previous cell's (``memo_*`` at layer k + 1, kept while ``keys[k + 1]``
    is this node's A: one node's cells share that array) plus a rank-one term per unit that
    changed side: O(changed x n_(k+1) x d) instead of O(n_k x n_(k+1) x d).

    It is computed whole (bit for bit ``unit_rows``' product) for a new node, when more than
    1 / ``UPDATE_SHARE`` of the units changed, after ``REFRESH`` updates, and whenever the
    rounding of the updates (a bound per row, ``memo_e``) is not below ``DRIFT`` of the row's
    size. The last keeps every decision the direct product's: the updates' rounding is
    relative to terms that may have left the sum (a cell whose units are all off has the map
    0 exactly, where the updates would leave a residue that the zero-gradient test cannot
    see), so a row is trusted only while it is far larger than what its updates may have
    added."""
    sizes, W_flat, W_off, b_flat, s_flat, fixed_flat, u_off, cand_flat, cand_off, wn_flat, rtols = net
    n_in = sizes[k]
    n = sizes[k + 1]
    d = A.shape[1]
    W = W_flat[W_off[k + 1]:W_off[k + 2]].reshape((n, n_in))
    sl = s_flat[u_off[k]:u_off[k + 1]]
    fm = memo_f[u_off[k]:u_off[k + 1]]
    Am = memo_A[u_off[k + 1] * d:u_off[k + 2] * d].reshape((n, d))
    cm = memo_c[u_off[k + 1]:u_off[k + 2]]
    em = memo_e[u_off[k + 1]:u_off[k + 2]]
    same = keys[k + 1].ctypes.data == A.ctypes.data and 0 <= memo_n[k + 1] < REFRESH
    changed = 0
    if same:
        for i in range(n_in):
            if (1.0 if bits[i] > 0 else sl[i]) != fm[i]:
                changed += 1
    whole = not same or changed * UPDATE_SHARE > n_in
    if not whole and changed:
        for i in range(n_in):
            f = 1.0 if bits[i] > 0 else sl[i]
            if f != fm[i]:
                step = f - fm[i]
                for r in range(n):
                    w = W[r, i] * step
                    for q in range(d):
                        t = w * A[i, q]
                        em[r] += abs(Am[r, q]) + 2.0 * abs(t)
                        Am[r, q] += t
                    t = w * c[i]
                    em[r] += abs(cm[r]) + 2.0 * abs(t)
                    cm[r] += t
                fm[i] = f
        memo_n[k + 1] += 1
        for r in range(n):
            size = 0.0
            for q in range(d):
                size += Am[r, q] * Am[r, q]
            if ULP * em[r] > DRIFT * np.sqrt(size):
                whole = True
                break
    if whole:
        Am[:, :] = np.dot(W, Aout)
        cm[:] = np.dot(W, cout) + b_flat[u_off[k + 1]:u_off[k + 2]]
        em[:] = 0.0
        keys[k + 1] = A
        memo_n[k + 1] = 0
        for i in range(n_in):
            fm[i] = 1.0 if bits[i] > 0 else sl[i]
    return Am.copy(), cm.copy()


@njit(cache=True)
def _node_mapped(k, V, inc, F, simple, net, A, c, Ain, cin, scale, prefix):
    """``_node`` with the layer's pre-activations (A, c) already made (``_next_map``)."""
    W, b, fixed, cand, wnorm, rtol = layer_arrays(net, k, Ain.shape[0])
    A, c, bits, cl, An, cn = _rows_of(A, c, W, b, fixed, cand, wnorm, rtol, Ain, cin, scale)
    U = np.arange(cl.size)
    return Entry(k, V, inc, F, simple, U, bits, prefix, An, cn, cl, A, c)


@njit(cache=True)
def new_stack(V, inc, F, net):
    """The walk's stack with the root: the box (V, incidence as bools, F), layer 0 with the
    identity map."""
    d = V.shape[1]
    eye = np.eye(d)
    entry = _node(np.int64(0), V, to_bits(inc), F, np.int64(1), net, eye, np.zeros(d), np.sqrt(float(d)),
                  np.zeros(0, dtype=np.int16))
    stack = List()
    stack.append(entry)
    return stack


@njit(cache=True)
def new_stack_at(k, V, inc, F, net, Ain, cin, scale, prefix):
    """The walk's stack with one cell of the layers before k (a ``VPoly``'s V, incidence as
    bools and F; whether it is simple is left to the first cut), layer k fed by the affine
    map (Ain, cin) of layer k - 1's outputs on it, and the pattern ``prefix`` of those layers."""
    stack = List()
    stack.append(_node(k, V, to_bits(inc), F, np.int64(-1), net, Ain, cin, scale, prefix))
    return stack


@njit(cache=True)
def new_cells(d):
    """An empty list of cells for ``walk(..., depth, cells)``: (V, incidence bits, F, simple,
    pattern, A, c, scale) of a cell of the layers before ``depth``, with the affine map (A, c)
    of layer depth - 1's outputs on it."""
    cells = List()
    cells.append(CellRecord(np.zeros((1, d)), np.zeros((1, 1), dtype=np.uint64),
                            np.zeros((1, d + 1)), np.int64(1), np.zeros(1, dtype=np.int16),
                            np.zeros((1, d)), np.zeros(1), 1.0))
    cells.pop()
    return cells


@njit(cache=True)
def pack_cells(cells, idx):
    """The cells ``cells[idx]`` (from ``walk(..., depth, cells)``) as flat arrays, cheap to
    pickle: (V, V offsets, incidence words, their offsets, words per cell, F, F offsets,
    simple, patterns, A, c, scale)."""
    n = idx.size
    d = cells[0].V.shape[1] if len(cells) else 1
    nv_off = np.zeros(n + 1, dtype=np.int64)
    w_off = np.zeros(n + 1, dtype=np.int64)
    f_off = np.zeros(n + 1, dtype=np.int64)
    for t in range(n):
        V, inc, F, simple, pat, A, c, scale = cells[idx[t]]
        nv_off[t + 1] = nv_off[t] + V.shape[0]
        w_off[t + 1] = w_off[t] + inc.size
        f_off[t + 1] = f_off[t] + F.shape[0]
    p = cells[idx[0]].pattern.size if n else 0
    a = cells[idx[0]].A.shape[0] if n else 0
    Vs = np.empty((nv_off[n], d))
    Ws = np.empty(w_off[n], dtype=np.uint64)
    nws = np.empty(n, dtype=np.int64)
    Fs = np.empty((f_off[n], d + 1))
    simples = np.empty(n, dtype=np.int64)
    pats = np.empty((n, p), dtype=np.int16)
    As = np.empty((n, a, d))
    cs = np.empty((n, a))
    scales = np.empty(n)
    for t in range(n):
        V, inc, F, simple, pat, A, c, scale = cells[idx[t]]
        Vs[nv_off[t]:nv_off[t + 1]] = V
        Ws[w_off[t]:w_off[t + 1]] = inc.ravel()
        nws[t] = inc.shape[1]
        Fs[f_off[t]:f_off[t + 1]] = F
        simples[t] = simple
        pats[t] = pat
        As[t] = A
        cs[t] = c
        scales[t] = scale
    return Vs, nv_off, Ws, w_off, nws, Fs, f_off, simples, pats, As, cs, scales


@njit(cache=True)
def stack_of_packed(packed, k, net):
    """A walk's stack holding every cell of ``pack_cells``'s output (layer k next)."""
    Vs, nv_off, Ws, w_off, nws, Fs, f_off, simples, pats, As, cs, scales = packed
    stack = List()
    for t in range(simples.size):
        V = Vs[nv_off[t]:nv_off[t + 1]].copy()
        inc = Ws[w_off[t]:w_off[t + 1]].copy().reshape((V.shape[0], nws[t]))
        F = Fs[f_off[t]:f_off[t + 1]].copy()
        stack.append(_node(k, V, inc, F, simples[t], net, As[t].copy(), cs[t].copy(),
                           scales[t], pats[t].copy()))
    return stack


@njit(cache=True)
def pack_stack(stack, idx):
    """The stack entries ``stack[idx]`` (a walk's frontier) as flat arrays, cheap to pickle:
    per entry its layer, simple flag and incidence words per vertex, then each array field
    concatenated with its offsets (V, incidence, F, U, bits, prefix, unit rows An / cn / cl,
    layer map A / c)."""
    n = idx.size
    d = stack[idx[0]].V.shape[1] if n else 1
    ks = np.empty(n, dtype=np.int64)
    simples = np.empty(n, dtype=np.int64)
    nws = np.empty(n, dtype=np.int64)
    o = np.zeros((8, n + 1), dtype=np.int64)    # V, inc words, F, U, bits, prefix, An, A
    for t in range(n):
        k, V, inc, F, simple, U, bits, prefix, An, cn, cl, A, c = stack[idx[t]]
        sizes = (V.shape[0], inc.size, F.shape[0], U.size, bits.size, prefix.size,
                 An.shape[0], A.shape[0])
        for q in range(8):
            o[q, t + 1] = o[q, t] + sizes[q]
    Vs = np.empty((o[0, n], d))
    Ws = np.empty(o[1, n], dtype=np.uint64)
    Fs = np.empty((o[2, n], d + 1))
    Us = np.empty(o[3, n], dtype=np.int64)
    Bs = np.empty(o[4, n], dtype=np.int16)
    Ps = np.empty(o[5, n], dtype=np.int16)
    ANs = np.empty((o[6, n], d))
    CNs = np.empty(o[6, n])
    CLs = np.empty(o[6, n], dtype=np.int64)
    As = np.empty((o[7, n], d))
    Cs = np.empty(o[7, n])
    for t in range(n):
        k, V, inc, F, simple, U, bits, prefix, An, cn, cl, A, c = stack[idx[t]]
        ks[t] = k
        simples[t] = simple
        nws[t] = inc.shape[1]
        Vs[o[0, t]:o[0, t + 1]] = V
        Ws[o[1, t]:o[1, t + 1]] = inc.ravel()
        Fs[o[2, t]:o[2, t + 1]] = F
        Us[o[3, t]:o[3, t + 1]] = U
        Bs[o[4, t]:o[4, t + 1]] = bits
        Ps[o[5, t]:o[5, t + 1]] = prefix
        ANs[o[6, t]:o[6, t + 1]] = An
        CNs[o[6, t]:o[6, t + 1]] = cn
        CLs[o[6, t]:o[6, t + 1]] = cl
        As[o[7, t]:o[7, t + 1]] = A
        Cs[o[7, t]:o[7, t + 1]] = c
    return ks, simples, nws, o, Vs, Ws, Fs, Us, Bs, Ps, ANs, CNs, CLs, As, Cs


@njit(cache=True)
def stack_of_packed_stack(packed):
    """A walk's stack holding the entries of ``pack_stack``'s output, in their order."""
    ks, simples, nws, o, Vs, Ws, Fs, Us, Bs, Ps, ANs, CNs, CLs, As, Cs = packed
    stack = List()
    for t in range(ks.size):
        V = Vs[o[0, t]:o[0, t + 1]].copy()
        inc = Ws[o[1, t]:o[1, t + 1]].copy().reshape((V.shape[0], nws[t]))
        stack.append(Entry(ks[t], V, inc, Fs[o[2, t]:o[2, t + 1]].copy(), simples[t],
                           Us[o[3, t]:o[3, t + 1]].copy(), Bs[o[4, t]:o[4, t + 1]].copy(),
                           Ps[o[5, t]:o[5, t + 1]].copy(), ANs[o[6, t]:o[6, t + 1]].copy(),
                           CNs[o[6, t]:o[6, t + 1]].copy(), CLs[o[6, t]:o[6, t + 1]].copy(),
                           As[o[7, t]:o[7, t + 1]].copy(), Cs[o[7, t]:o[7, t + 1]].copy()))
    return stack


@njit(cache=True)
def settle_units(V, U, An, cn, cl, bits, vtol, stats):
    """The units ``U`` of a node with vertices ``V``: those within ``vtol`` of one side at
    every vertex are settled (a plus bit written to ``bits``); the rest, in order, are
    returned with the signed distances of the first one's vertices (empty when none is left).

    A unit settled although a vertex lies beyond ``SLIVER_FLOOR`` on its other side leaves
    out a sliver thinner than ``vtol`` (<= the margin): it is reported in ``stats``
    ([nodes, thin_dropped, thickest_dropped]) like every other cell dropped as too thin.
    """
    nv, d = V.shape
    nu = U.size
    keep = np.zeros(nu, dtype=np.bool_)
    s = np.empty(0)
    vals = np.empty(nv)
    nk = 0
    for t in range(nu):
        row_t = An[U[t]]
        c_t = cn[U[t]]
        vmin = np.inf
        vmax = -np.inf
        for v in range(nv):
            x = 0.0
            for q in range(d):
                x += V[v, q] * row_t[q]
            x += c_t
            vals[v] = x
            if x < vmin:
                vmin = x
            if x > vmax:
                vmax = x
        if vmin >= -vtol:
            bits[cl[U[t]]] = 1
            if -vmin > SLIVER_FLOOR:
                stats[1] += 1
                stats[2] = max(stats[2], -vmin)
        elif vmax <= vtol:
            if vmax > SLIVER_FLOOR:
                stats[1] += 1
                stats[2] = max(stats[2], vmax)
        else:
            keep[t] = True
            if nk == 0:
                s = vals.copy()
            nk += 1
    U2 = np.empty(nk, dtype=np.int64)
    t2 = 0
    for t in range(nu):
        if keep[t]:
            U2[t2] = U[t]
            t2 += 1
    return U2, s



@njit(cache=True)
def walk(stack, net, margin, vtol, node_budget, out_pat, out_u, out_r, stats, depth, cells):
    """Advance the walk by up to ``node_budget`` nodes or until the output buffers are full.

    Returns (leaves written, whether the walk is done). ``stats``: [nodes, thin_dropped,
    thickest_dropped], updated in place. A cell of the layers before ``depth`` (> 0) goes to
    ``cells`` (``new_cells``) instead of being entered; ``depth = -1``: every cell is entered.

    Invariants: an entry's node is a polytope (its vertices V, incidence bitsets and facet
    rows F; ``simple`` 1 when every vertex is on exactly d facets, -1 when not known) with a
    vertex beyond the margin from each cut that made it (a side without one is dropped as
    thin); the layer's units outside ``U`` are decided on it (``bits``).
    Only the top entry is read; a popped entry is never read again, so the plus child takes its
    ``bits`` array and the minus child a copy (pushed first: the plus side is walked first, as
    ``VertexPath.unit_cells`` yields it).
    """
    sizes, W_flat, W_off, b_flat, s_flat, fixed_flat, u_off, cand_flat, cand_off, wn_flat, rtols = net
    last = sizes.size - 1
    d = out_u.shape[1]
    n_out = 0
    cap = out_u.shape[0]
    nodes = 0
    # the last map made per layer (``_next_map``), valid for the cells of one node
    keys = List()
    for _ in range(last + 1):
        keys.append(np.empty((0, d)))
    memo_f = np.empty(u_off[-1])
    memo_A = np.empty(u_off[-1] * d)
    memo_c = np.empty(u_off[-1])
    memo_e = np.zeros(u_off[-1])
    memo_n = np.full(last + 1, -1, dtype=np.int64)
    while len(stack) > 0 and nodes < node_budget and n_out < cap:
        k, V, inc, F, simple, U, bits, prefix, An, cn, cl, A, c = stack.pop()
        nodes += 1
        if U.size:
            U2, s = settle_units(V, U, An, cn, cl, bits, vtol, stats)
            if U2.size:
                j = U2[0]
                row = np.empty(d + 1)
                row[:d] = An[j]
                row[d] = cn[j]
                kind, Vp, incp, Fp, sp, Vm, incm, Fm = cut(V, inc, F, simple, row, s, vtol)
                has_plus = kind != 1
                has_minus = kind != 0
                smin = s.min()
                smax = s.max()
                if has_minus and smin >= -margin:
                    has_minus = False
                    if -smin > 0:
                        stats[1] += 1
                        stats[2] = max(stats[2], -smin)
                if has_plus and smax <= margin:
                    has_plus = False
                    if smax > 0:
                        stats[1] += 1
                        stats[2] = max(stats[2], smax)
                rest = U2[1:].copy()
                if has_minus:
                    b0 = bits.copy()
                    b0[cl[j]] = 0
                    stack.append(Entry(k, Vm, incm, Fm, sp, rest, b0, prefix, An, cn, cl,
                                       A, c))
                if has_plus:
                    bits[cl[j]] = 1
                    stack.append(Entry(k, Vp, incp, Fp, sp, rest, bits, prefix, An, cn, cl, A,
                                       c))
                continue
        # a cell of layer k: a leaf, or a node of layer k + 1
        pat = np.empty(prefix.size + bits.size, dtype=np.int16)
        pat[:prefix.size] = prefix
        pat[prefix.size:] = bits
        if k == last:
            nv = V.shape[0]
            u = np.zeros(d)
            for v in range(nv):
                u += V[v]
            u /= nv
            r = np.inf
            for q in range(F.shape[0]):
                x = F[q, d]
                for t in range(d):
                    x += F[q, t] * u[t]
                if x < r:
                    r = x
            out_pat[n_out, :pat.size] = pat
            out_u[n_out] = u
            out_r[n_out] = r - vtol
            n_out += 1
            continue
        Aout, cout, scale = output_map(bits, A, c, s_flat[u_off[k]:u_off[k + 1]])
        if k + 1 == depth:
            cells.append(CellRecord(V, inc, F, simple, pat, Aout, cout, scale))
            continue
        A1, c1 = _next_map(net, k, bits, A, c, Aout, cout, keys, memo_f, memo_A, memo_c,
                           memo_e, memo_n)
        stack.append(_node_mapped(k + 1, V, inc, F, simple, net, A1, c1, Aout, cout, scale,
                                  pat))
    stats[0] += nodes
    return n_out, len(stack) == 0


@njit(cache=True)
def _magnitude(net, u, pat, k, j):
    """The sum of the magnitudes of the terms of unit j of layer k at the point u with the
    pattern ``pat`` (what ``verify`` compares a pre-activation of the wrong sign against)."""
    sizes, W_flat, W_off, b_flat, s_flat, fixed_flat, u_off, cand_flat, cand_off, wn_flat, rtols = net
    avals = np.abs(u)
    for m in range(k + 1):
        n = sizes[m]
        n_in = avals.size
        W = W_flat[W_off[m]:W_off[m + 1]].reshape((n, n_in))
        b = b_flat[u_off[m]:u_off[m + 1]]
        if m == k:
            t = abs(b[j])
            for q in range(n_in):
                t += abs(W[j, q]) * avals[q]
            return t
        sl = s_flat[u_off[m]:u_off[m + 1]]
        out = np.empty(n)
        for i in range(n):
            t = abs(b[i])
            for q in range(n_in):
                t += abs(W[i, q]) * avals[q]
            out[i] = t if pat[u_off[m] + i] > 0 else abs(sl[i]) * t
        avals = out
    return 0.0


@njit(cache=True)
def verify(net, U, P):
    """``ir.pattern.verify_patterns`` for a chain of two-piece layers: does every point U[i]
    have the pattern P[i] by a plain forward pass (a pre-activation within 1e-9 of the sum of
    its terms' magnitudes may go either way)? True when all do.

    Points go in chunks that stay in cache; the magnitudes are computed only for a
    pre-activation whose sign disagrees with the pattern (rare)."""
    sizes, W_flat, W_off, b_flat, s_flat, fixed_flat, u_off, cand_flat, cand_off, wn_flat, rtols = net
    N = U.shape[0]
    chunk = 256
    Wts = List()
    n_in = U.shape[1]
    for k in range(sizes.size):
        W = W_flat[W_off[k]:W_off[k + 1]].reshape((sizes[k], n_in))
        Wts.append(np.ascontiguousarray(W.T))
        n_in = sizes[k]
    for start in range(0, N, chunk):
        stop = min(N, start + chunk)
        vals = U[start:stop].copy()
        for k in range(sizes.size):
            n = sizes[k]
            b = b_flat[u_off[k]:u_off[k + 1]]
            sl = s_flat[u_off[k]:u_off[k + 1]]
            z = np.dot(vals, Wts[k])
            col = u_off[k]
            for i in range(stop - start):
                for j in range(n):
                    x = z[i, j] + b[j]
                    on = P[start + i, col + j] > 0
                    if on != (x > 0):
                        xa = _magnitude(net, U[start + i], P[start + i], k, j)
                        if abs(x) > 1e-9 * (xa + 1e-300):
                            return False
                    if not on:
                        z[i, j] = sl[j] * x
                    else:
                        z[i, j] = x
            vals = z
    return True


def is_loaded() -> bool:
    """Whether this process has compiled or loaded what a serial count calls already."""
    return all(bool(f.overloads) for f in (walk, verify, new_stack, new_cells))


@compiled_cache.one_at_a_time(walk)           # other processes wait, then load it
def warm_up(parallel: bool = True) -> None:
    """Compile (first run after install) or load (from the cache) the walk on a one-unit net,
    so that a count's clock starts after it. ``parallel=False``: only what a serial count
    calls (the cell splitting and packing of parallel counts, and the typed-list methods
    called from Python, which numba compiles anew in every process, cost ~0.5 s more; and the
    clipping of a region's cell, ``clip_cell``)."""
    from .polytope import VPoly

    sizes = np.array([1], dtype=np.int64)
    one = np.ones(1)
    net = (sizes, one.copy(), np.array([0, 1], dtype=np.int64), np.zeros(1), np.zeros(1),
           np.zeros(1, dtype=np.int16), np.array([0, 1], dtype=np.int64),
           np.zeros(1, dtype=np.int64), np.array([0, 1], dtype=np.int64), one.copy(),
           np.array([1e-14]))
    box = VPoly.box(1)
    C = np.ascontiguousarray
    stack = new_stack(C(box.V), C(box.inc), C(box.F), net)
    cells = new_cells(1)
    walk(stack, net, 1e-10, 1e-10, 16, np.zeros((4, 1), dtype=np.int16), np.zeros((4, 1)),
         np.zeros(4), np.zeros(3), -1, cells)
    verify(net, np.zeros((1, 1)), np.zeros((1, 1), dtype=np.int16))
    if not parallel:
        return
    new_stack_at(0, C(box.V), C(box.inc), C(box.F), net, np.eye(1), np.zeros(1), 1.0,
                 np.zeros(0, dtype=np.int16))
    few = new_cells(1)
    few.append(CellRecord(C(box.V), to_bits(C(box.inc)), C(box.F), np.int64(1),
                          np.zeros(1, dtype=np.int16), np.eye(1), np.zeros(1), 1.0))
    frontier = stack_of_packed(pack_cells(few, np.zeros(1, dtype=np.int64)), 0, net)
    stack_of_packed_stack(pack_stack(frontier, np.zeros(1, dtype=np.int64)))
    # the region geometry of --region-fields, --linear and --graph (``geometry.cells``)
    clip_cell(C(box.V), to_bits(C(box.inc)), C(box.F), np.array([[1.0, 2.0]]), 1e-10)


# before any compiled function of this folder is loaded: an edit to any compiled module drops
# the cached code of all of them (numba alone notices only a function's own file)
compiled_cache.refresh(walk)
