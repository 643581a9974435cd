"""The compiled vertex walk for any network (numba): max groups, layers reading several
sources, LeakyReLU slopes, dense or CSR weights (``kernel_pack.PackedNet``).

The same decisions as ``vertex_path.VertexPath`` (``unit_cells``, ``group_cells``, ``leaf``)
in the same order, on arrays: a node is a polytope (vertices ``V``, incidence bitsets ``inc``,
facet rows ``F``, ``simple``) cut by ``kernel.cut``; the layer algebra (pre-activations from
the maps of every source, unit rows, group geometry, output maps) is ``net_kernel``'s. The
walk stops after a node budget or when its output buffers are full and resumes from its
stack, like ``kernel.walk``, whose chain-only walk stays the fast path of plain MLPs.

A max group branches into the cells {z_i >= z_m} of its candidate pieces: pieces identical on
the node count once (the first wins: ``net_kernel.group_geometry``'s ``possible``), a piece
beaten by another at every vertex (beyond ``vtol``) is no candidate, a group with one
candidate is settled in place, and a cell that holds no ball of radius > margin is dropped.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.typed import List

from . import compiled_cache
from .kernel import POLYGON, _cut_polygon, _part, _pop, _tidy, cut, settle_units, to_bits
from .net_kernel import (
    cell_rows,
    group_geometry_all,
    layer_pre,
    next_maps,
    output_map,
    unit_rows,
)

ONE = np.uint64(1)


def cache_is_warm() -> bool:
    """Whether the general vertex walk is in numba's cache (else the first count compiles it)."""
    from pathlib import Path

    return any(Path(str(walk._cache.cache_path)).glob("vertex_kernel.walk-*.nbi"))


class CellRecord(NamedTuple):
    """A cell of the layers before a depth (``walk(..., depth, cells)``): its polytope, the
    pattern of those layers and the maps of the sources that later layers read."""

    V: np.ndarray
    inc: np.ndarray
    F: np.ndarray
    simple: int
    pattern: np.ndarray
    MA: np.ndarray
    Mc: np.ndarray
    moff: np.ndarray
    mnorm: np.ndarray


class Entry(NamedTuple):
    """A stack entry: layer k's node (V, incidence bits, F, simple: 1 yes, 0 no, -1 not known),
    its live units (indices into ``cl``) or live groups (indices into ``G``) in ``U``, the
    layer's pattern so far (``bits``: bits or winning pieces), the pattern of the layers before
    it (``prefix``), the unit rows (An, cn, cl) or group geometry (G, possible, active, inv),
    the layer's pre-activations (A, c), and the maps of the sources this layer and later ones
    read (``kernel_pack.PackedMaps``: MA, Mc, moff, mnorm)."""

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
    G: np.ndarray
    possible: np.ndarray
    active: np.ndarray
    inv: np.ndarray
    A: np.ndarray
    c: np.ndarray
    MA: np.ndarray
    Mc: np.ndarray
    moff: np.ndarray
    mnorm: np.ndarray


@njit(cache=True)
def _node(k, V, inc, F, simple, net, MA, Mc, moff, mnorm, prefix):
    """The entry of layer k on a cell of the layers before it (maps MA, Mc, moff, mnorm)."""
    d = MA.shape[1]
    A, c, scale = layer_pre(net, k, MA, Mc, moff, mnorm)
    if net.kind[k] == 0:
        bits, cl, An, cn = unit_rows(net, k, A, c, scale, MA, Mc, moff)
        return Entry(k, V, inc, F, simple, np.arange(cl.size), bits, prefix, An, cn, cl,
                     np.zeros((0, 1), dtype=np.int64), np.zeros((0, 1), dtype=np.bool_),
                     np.zeros((0, 1, 1), dtype=np.bool_), np.zeros((0, 1, 1)), A, c,
                     MA, Mc, moff, mnorm)
    bits = net.fixed[net.pat_off[k]:net.pat_off[k + 1]].copy()
    G, possible, active, inv = group_geometry_all(net, k, A, c, scale, MA, Mc, moff)
    return Entry(k, V, inc, F, simple, np.arange(G.shape[0]), bits, prefix, np.empty((0, d)),
                 np.empty(0), np.empty(0, dtype=np.int64), G, possible, active, inv, A, c,
                 MA, Mc, moff, mnorm)


@njit(cache=True)
def _with(e, V, inc, F, simple, U, bits):
    """The entry e with a new node, live set and pattern (the layer's algebra shared)."""
    return Entry(e.k, V, inc, F, simple, U, bits, e.prefix, e.An, e.cn, e.cl, e.G, e.possible,
                 e.active, e.inv, e.A, e.c, e.MA, e.Mc, e.moff, e.mnorm)


@njit(cache=True)
def _root_maps(d, net):
    ns = net.last_use.size
    moff = np.full(ns, -1, dtype=np.int64)
    mnorm = np.zeros(ns)
    moff[0] = 0
    mnorm[0] = np.sqrt(float(d))
    return np.eye(d), np.zeros(d), moff, mnorm


@njit(cache=True)
def new_stack(V, inc, F, net):
    """The walk's stack with the root: the box (V, incidence as bools, F), layer 0 reading the
    identity map of the input (source 0)."""
    d = V.shape[1]
    MA, Mc, moff, mnorm = _root_maps(d, net)
    stack = List()
    stack.append(_node(np.int64(0), V, to_bits(inc), F, np.int64(1), net, MA, Mc, moff, mnorm,
                       np.zeros(0, dtype=np.int16)))
    return stack


@njit(cache=True)
def new_stack_at(k, V, inc, F, net, MA, Mc, moff, mnorm, prefix):
    """The walk's stack with one cell of the layers before k (a ``VPoly``'s V, incidence as
    bools and F), the maps of the sources read from k on (``kernel_pack.pack_maps``) and the
    pattern ``prefix`` of those layers."""
    stack = List()
    stack.append(_node(k, V, to_bits(inc), F, np.int64(-1), net, MA, Mc, moff, mnorm, prefix))
    return stack


@njit(cache=True)
def new_cells(d, ns):
    """An empty list of cells for ``walk(..., depth, cells)``: (V, incidence bits, F, simple,
    pattern, MA, Mc, moff, mnorm) of a cell of the layers before ``depth`` with the maps that
    layer depth and later ones read (``ns`` sources)."""
    cells = List()
    cells.append(CellRecord(np.zeros((1, d)), np.zeros((1, 1), dtype=np.uint64),
                            np.zeros((1, d + 1)), np.int64(1), np.zeros(1, dtype=np.int16),
                            np.zeros((1, d)), np.zeros(1), np.zeros(ns, dtype=np.int64),
                            np.zeros(ns)))
    cells.pop()
    return cells


@njit(cache=True)
def pack_cells(cells, idx):
    """The cells ``cells[idx]`` as flat arrays, cheap to pickle: offsets (V rows, incidence
    words, F rows, map rows; (5, n + 1)), words per vertex, simple flags, V, incidence words,
    F, patterns, MA, Mc, moff, mnorm."""
    n = idx.size
    d = cells[idx[0]].V.shape[1] if n else 1
    ns = cells[idx[0]].moff.size if n else 1
    p = cells[idx[0]].pattern.size if n else 0
    o = np.zeros((4, n + 1), dtype=np.int64)
    for t in range(n):
        V, inc, F, simple, pat, MA, Mc, moff, mnorm = cells[idx[t]]
        o[0, t + 1] = o[0, t] + V.shape[0]
        o[1, t + 1] = o[1, t] + inc.size
        o[2, t + 1] = o[2, t] + F.shape[0]
        o[3, t + 1] = o[3, t] + MA.shape[0]
    nws = np.empty(n, dtype=np.int64)
    simples = np.empty(n, dtype=np.int64)
    Vs = np.empty((o[0, n], d))
    Ws = np.empty(o[1, n], dtype=np.uint64)
    Fs = np.empty((o[2, n], d + 1))
    pats = np.empty((n, p), dtype=np.int16)
    MAs = np.empty((o[3, n], d))
    Mcs = np.empty(o[3, n])
    Mo = np.empty((n, ns), dtype=np.int64)
    Mn = np.empty((n, ns))
    for t in range(n):
        V, inc, F, simple, pat, MA, Mc, moff, mnorm = cells[idx[t]]
        nws[t] = inc.shape[1]
        simples[t] = simple
        Vs[o[0, t]:o[0, t + 1]] = V
        Ws[o[1, t]:o[1, t + 1]] = inc.ravel()
        Fs[o[2, t]:o[2, t + 1]] = F
        pats[t] = pat
        MAs[o[3, t]:o[3, t + 1]] = MA
        Mcs[o[3, t]:o[3, t + 1]] = Mc
        Mo[t] = moff
        Mn[t] = mnorm
    return o, nws, simples, Vs, Ws, Fs, pats, MAs, Mcs, Mo, Mn


@njit(cache=True)
def stack_of_packed(packed, k, net):
    """A walk's stack holding every cell of ``pack_cells``'s output (layer k next)."""
    o, nws, simples, Vs, Ws, Fs, pats, MAs, Mcs, Mo, Mn = packed
    stack = List()
    for t in range(simples.size):
        V = Vs[o[0, t]:o[0, t + 1]].copy()
        inc = Ws[o[1, t]:o[1, t + 1]].copy().reshape((V.shape[0], nws[t]))
        stack.append(_node(k, V, inc, Fs[o[2, t]:o[2, t + 1]].copy(), simples[t], net,
                           MAs[o[3, t]:o[3, t + 1]].copy(), Mcs[o[3, t]:o[3, t + 1]].copy(),
                           Mo[t].copy(), Mn[t].copy(), pats[t].copy()))
    return stack


@njit(cache=True)
def pack_stack(stack, idx):
    """The stack entries ``stack[idx]`` (a walk's frontier) as flat arrays, cheap to pickle:
    per entry its layer, simple flag and words per vertex, then each array field concatenated
    with its offsets (V, incidence, F, U, bits, prefix, maps MA / Mc; moff / mnorm per entry).
    The layer's algebra is recomputed from the maps when the stack is rebuilt (the same code
    on the same numbers)."""
    n = idx.size
    d = stack[idx[0]].V.shape[1] if n else 1
    ns = stack[idx[0]].moff.size if n else 1
    ks = np.empty(n, dtype=np.int64)
    simples = np.empty(n, dtype=np.int64)
    nws = np.empty(n, dtype=np.int64)
    o = np.zeros((7, n + 1), dtype=np.int64)    # V, inc words, F, U, bits, prefix, MA
    for t in range(n):
        e = stack[idx[t]]
        sizes = (e.V.shape[0], e.inc.size, e.F.shape[0], e.U.size, e.bits.size,
                 e.prefix.size, e.MA.shape[0])
        for q in range(7):
            o[q, t + 1] = o[q, t] + sizes[q]
    Vs = np.empty((o[0, n], d))
    Ws = np.empty(o[1, n], dtype=np.uint64)
    Fs = np.empty((o[2, n], d + 1))
    Us = np.empty(o[3, n], dtype=np.int64)
    Bs = np.empty(o[4, n], dtype=np.int16)
    Ps = np.empty(o[5, n], dtype=np.int16)
    MAs = np.empty((o[6, n], d))
    Mcs = np.empty(o[6, n])
    Mo = np.empty((n, ns), dtype=np.int64)
    Mn = np.empty((n, ns))
    for t in range(n):
        e = stack[idx[t]]
        ks[t] = e.k
        simples[t] = e.simple
        nws[t] = e.inc.shape[1]
        Vs[o[0, t]:o[0, t + 1]] = e.V
        Ws[o[1, t]:o[1, t + 1]] = e.inc.ravel()
        Fs[o[2, t]:o[2, t + 1]] = e.F
        Us[o[3, t]:o[3, t + 1]] = e.U
        Bs[o[4, t]:o[4, t + 1]] = e.bits
        Ps[o[5, t]:o[5, t + 1]] = e.prefix
        MAs[o[6, t]:o[6, t + 1]] = e.MA
        Mcs[o[6, t]:o[6, t + 1]] = e.Mc
        Mo[t] = e.moff
        Mn[t] = e.mnorm
    return ks, simples, nws, o, Vs, Ws, Fs, Us, Bs, Ps, MAs, Mcs, Mo, Mn


@njit(cache=True)
def stack_of_packed_stack(packed, net):
    """A walk's stack holding the entries of ``pack_stack``'s output, in their order."""
    ks, simples, nws, o, Vs, Ws, Fs, Us, Bs, Ps, MAs, Mcs, Mo, Mn = packed
    stack = List()
    for t in range(ks.size):
        V = Vs[o[0, t]:o[0, t + 1]].copy()
        inc = Ws[o[1, t]:o[1, t + 1]].copy().reshape((V.shape[0], nws[t]))
        e = _node(ks[t], V, inc, Fs[o[2, t]:o[2, t + 1]].copy(), simples[t], net,
                  MAs[o[6, t]:o[6, t + 1]].copy(), Mcs[o[6, t]:o[6, t + 1]].copy(),
                  Mo[t].copy(), Mn[t].copy(), Ps[o[5, t]:o[5, t + 1]].copy())
        stack.append(_with(e, e.V, e.inc, e.F, e.simple, Us[o[3, t]:o[3, t + 1]].copy(),
                           Bs[o[4, t]:o[4, t + 1]].copy()))
    return stack


@njit(cache=True)
def cut_both(V, inc, F, simple, row, s, tol):
    """``kernel.cut(V, inc, F, simple, row, s, tol)``'s plus part and
    ``kernel.cut(V, inc, F, simple, -row, -s, tol)``'s plus part, bit for bit (the same
    vertices in the same order), with one edge search: the two cells of a max group with two
    candidates, whose rows are exact negatives of each other. Returns (kind, plus, other); kind
    0: plus is P, no other; 1: no plus, other is P; 2: both new (the polytopes as (V,
    incidence bitsets, F, simple))."""
    nv, d = V.shape
    npos = 0
    nneg = 0
    for v in range(nv):
        if s[v] > tol:
            npos += 1
        elif s[v] < -tol:
            nneg += 1
    if nneg == 0:
        return 0, V, inc, F, simple, V, inc, F, simple
    if npos == 0:
        return 1, V, inc, F, simple, V, inc, F, simple
    if d == 2 and nv >= 3:                  # kernel.cut's polygon path, both ways
        ok, V1, inc1, F1, _, _, _ = _cut_polygon(V, inc, F, simple, row, s, tol)
        if ok:
            ok, V0, inc0, F0, _, _, _ = _cut_polygon(V, inc, F, simple, -row, -s, tol)
            if ok:
                return (2, V1, inc1, F1, np.int64(POLYGON), V0, inc0, F0,
                        np.int64(POLYGON))
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
    adj = np.zeros((npos, nneg), dtype=np.bool_)
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
                    adj[x, y] = True
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
                    adj[x, y] = True
                    ne += 1
    nw2 = (m + 1 + 63) // 64
    bitm = ONE << np.uint64(m & 63)
    wm = m >> 6
    Vp = np.empty((ne, d))
    incp = np.zeros((ne, nw2), dtype=np.uint64)
    t = 0
    for x in range(npos):                   # cut(row, s): from the plus vertex
        for y in range(nneg):
            if adj[x, y]:
                u = ip[x]
                w = ineg[y]
                su = s[u]
                sv = s[w]
                f = su / (su - sv)
                for k in range(d):
                    Vp[t, k] = V[u, k] + f * (V[w, k] - V[u, k])
                for q in range(nw):
                    incp[t, q] = inc[u, q] & inc[w, q]
                incp[t, wm] |= bitm
                t += 1
    Vo = np.empty((ne, d))
    inco = np.zeros((ne, nw2), dtype=np.uint64)
    t = 0
    for y in range(nneg):                   # cut(-row, -s): from the other side's vertex
        for x in range(npos):
            if adj[x, y]:
                u = ineg[y]
                w = ip[x]
                su = -s[u]
                sv = -s[w]
                f = su / (su - sv)
                for k in range(d):
                    Vo[t, k] = V[u, k] + f * (V[w, k] - V[u, k])
                for q in range(nw):
                    inco[t, q] = inc[u, q] & inc[w, q]
                inco[t, wm] |= bitm
                t += 1
    pos = s > tol
    neg = s < -tol
    zero = ~(pos | neg)
    V1, inc1, F1 = _part(V, inc, pos | zero, zero, Vp, incp, F, row, 1.0)
    V2, inc2, F2 = _part(V, inc, neg | zero, zero, Vo, inco, F, -row, 1.0)
    return 2, V1, inc1, F1, -1, V2, inc2, F2, -1


@njit(cache=True)
def _cell_done(stack, e, V, inc, F, simple, bits, net, vtol, out_pat, out_u, out_r, n_out,
               depth, cells):
    """A cell of layer e.k: a leaf (its vertex centroid and the centroid's distance to the
    facets less ``vtol``, written to the outputs), a cell kept for ``depth``, or the entry of
    layer k + 1 pushed. Returns the new number of leaves written."""
    k = e.k
    d = V.shape[1]
    pat = np.empty(e.prefix.size + bits.size, dtype=np.int16)
    pat[:e.prefix.size] = e.prefix
    pat[e.prefix.size:] = bits
    if k == net.kind.size - 1:
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
        return n_out + 1
    Aout, cout, onorm = output_map(net, k, bits, e.A, e.c)
    MA, Mc, moff, mnorm = next_maps(net, k, e.MA, e.Mc, e.moff, e.mnorm, Aout, cout, onorm)
    if k + 1 == depth:
        cells.append(CellRecord(V, inc, F, simple, pat, MA, Mc, moff, mnorm))
    else:
        stack.append(_node(k + 1, V, inc, F, simple, net, MA, Mc, moff, mnorm, pat))
    return n_out


@njit(cache=True)
def _unit_step(stack, e, margin, vtol, stats):
    """``VertexPath.unit_cells``, one popped entry: units one-signed at every vertex are
    settled (bits written); the first unit left splits the node (its children pushed, minus
    below plus, a sliver side dropped). Returns True when no unit is left (a cell)."""
    V = e.V
    U = e.U
    bits = e.bits
    An = e.An
    cn = e.cn
    cl = e.cl
    d = V.shape[1]
    if U.size == 0:
        return True
    U2, s = settle_units(V, U, An, cn, cl, bits, vtol, stats)
    if U2.size == 0:
        return True
    j = U2[0]
    row = np.empty(d + 1)
    row[:d] = An[j]
    row[d] = cn[j]
    kind, Vp, incp, Fp, sp, Vm, incm, Fm = cut(V, e.inc, e.F, e.simple, row, s, vtol)
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
        stack.append(_with(e, Vm, incm, Fm, sp, rest, b0))
    if has_plus:
        bits[cl[j]] = 1
        stack.append(_with(e, Vp, incp, Fp, sp, rest, bits))
    return False


@njit(cache=True)
def _two_cells(stack, e, live, g, c0, c1, rest, margin, vtol, stats):
    """The cells of group g with the two candidates c0 < c1 (their pair active), exactly as
    the loop of ``_group_step`` makes them, with one edge search (``cut_both``): the row of
    c0 is the exact negative of c1's, so are its vertex values."""
    V = e.V
    d = V.shape[1]
    nv = V.shape[0]
    rows = cell_rows(e.A, e.c, e.G, e.active, e.inv, g, c1)
    row = np.empty(d + 1)
    t = 0
    for m in range(e.G.shape[1]):
        if e.active[g, c1, m]:
            if m == c0:
                row[:] = rows[t]
            t += 1
    s = np.empty(nv)
    for v in range(nv):
        x = 0.0
        for q in range(d):
            x += V[v, q] * row[q]
        s[v] = x + row[d]                   # as numpy's V @ a + b
    smax = s.max()
    smin = s.min()
    keep1 = smax > margin                   # c1's cell holds a point beyond the margin
    keep0 = -smin > margin                  # c0's: its values are -s
    if not keep1 and smax > vtol:
        stats[1] += 1
        stats[2] = max(stats[2], smax)
    if not keep0 and -smin > vtol:
        stats[1] += 1
        stats[2] = max(stats[2], -smin)
    if keep1 and keep0:
        kind, V1, inc1, F1, s1, V0, inc0, F0, s0 = cut_both(V, e.inc, e.F, e.simple, row, s,
                                                            vtol)
    elif keep1:                             # cut's plus part (P itself, or simple -1)
        kind, V1, inc1, F1, s1, V0, inc0, F0 = cut(V, e.inc, e.F, e.simple, row, s, vtol)
        s0 = s1
    elif keep0:
        kind, V0, inc0, F0, s0, V1, inc1, F1 = cut(V, e.inc, e.F, e.simple, -row, -s, vtol)
        s1 = s0
    else:
        return
    if keep1:
        ch = e.bits.copy()
        ch[live[g]] = c1
        stack.append(_with(e, V1, inc1, F1, s1, rest, ch))
    if keep0:
        ch = e.bits.copy()
        ch[live[g]] = c0
        stack.append(_with(e, V0, inc0, F0, s0, rest, ch))


@njit(cache=True)
def _group_step(stack, e, live, margin, vtol, stats):
    """``VertexPath.group_cells``, one popped entry: the candidates of each live group are its
    possible pieces not beaten (beyond ``vtol``) by another at every vertex; a group with at
    most one is settled in place (that piece, else its first possible one). The first group
    left splits the node into the cells of its candidates (pushed so that the first is popped
    first). Returns True when no group is left (a cell)."""
    V = e.V
    G = e.G
    possible = e.possible
    active = e.active
    inv = e.inv
    A = e.A
    c = e.c
    choice = e.bits
    U = e.U
    d = V.shape[1]
    nv = V.shape[0]
    w = G.shape[1]
    if U.size == 0:
        return True
    nu = U.size
    cand = np.zeros((nu, w), dtype=np.bool_)
    Z = np.empty((nv, w))
    S = np.empty((w, w))
    left = 0
    for t in range(nu):
        g = U[t]
        for i in range(w):
            p = max(G[g, i], 0)
            for v in range(nv):
                x = 0.0
                for q in range(d):
                    x += V[v, q] * A[p, q]
                Z[v, i] = x + c[p]
        # S[i, m]: the largest (z_i - z_m) / |grad| at a vertex; S[m, i] from the same pass
        # (the differences and 1/|grad| of (m, i) are exact negatives and equal)
        for i in range(w):
            for m in range(i + 1, w):
                if not active[g, i, m]:
                    continue
                f = inv[g, i, m]
                hi = -np.inf
                lo = np.inf
                for v in range(nv):
                    x = (Z[v, i] - Z[v, m]) * f
                    if x > hi:
                        hi = x
                    if x < lo:
                        lo = x
                S[i, m] = hi
                S[m, i] = -lo
        ncand = 0
        for i in range(w):
            if not possible[g, i]:
                continue
            dominated = False
            for m in range(w):
                if active[g, i, m] and S[i, m] <= vtol:
                    dominated = True
                    break
            if not dominated:
                cand[t, i] = True
                ncand += 1
        if ncand <= 1:
            pick = -1
            for i in range(w):
                if cand[t, i]:
                    pick = i
                    break
            if pick < 0:
                pick = 0
                for i in range(w):
                    if possible[g, i]:
                        pick = i
                        break
            choice[live[g]] = pick
        else:
            left += 1
    if left == 0:
        return True
    U2 = np.empty(left, dtype=np.int64)
    first = -1
    t2 = 0
    for t in range(nu):
        n = 0
        for i in range(w):
            if cand[t, i]:
                n += 1
        if n > 1:
            if first < 0:
                first = t
            U2[t2] = U[t]
            t2 += 1
    g = U2[0]
    rest = U2[1:].copy()
    c0 = np.int64(-1)
    c1 = np.int64(-1)
    nc = 0
    for i in range(w):
        if cand[first, i]:
            nc += 1
            if c0 < 0:
                c0 = i
            else:
                c1 = i
    if nc == 2 and active[g, c1, c0]:
        _two_cells(stack, e, live, g, c0, c1, rest, margin, vtol, stats)
        return False
    for i in range(w - 1, -1, -1):
        if not cand[first, i]:
            continue
        rows = cell_rows(A, c, G, active, inv, g, i)
        QV = V
        Qinc = e.inc
        QF = e.F
        Qs = e.simple
        ok = True
        r = 0
        for m in range(w):
            if not active[g, i, m]:
                continue
            if m != i and cand[first, m]:
                row = rows[r]
                nq = QV.shape[0]
                s = np.empty(nq)
                for v in range(nq):
                    x = 0.0
                    for q in range(d):
                        x += QV[v, q] * row[q]
                    s[v] = x + row[d]
                smax = s.max()
                if smax <= margin:
                    if smax > vtol:
                        stats[1] += 1
                        stats[2] = max(stats[2], smax)
                    ok = False
                    break
                kind, Vp, incp, Fp, sp, Vm, incm, Fm = cut(QV, Qinc, QF, Qs, row, s, vtol)
                if kind == 1:
                    ok = False
                    break
                if kind == 2:
                    QV, Qinc, QF = Vp, incp, Fp
                Qs = sp
            r += 1
        if ok:
            ch = choice.copy()
            ch[live[g]] = i
            stack.append(_with(e, QV, Qinc, QF, Qs, rest, ch))
    return False


@njit(cache=True)
def walk(stack, net, margin, vtol, node_budget, out_pat, out_u, out_r, stats, depth, cells):
    """Advance the walk by up to ``node_budget`` nodes or until the output buffers are full.

    Returns (leaves written, whether the walk is done). ``stats``: [nodes, thin_dropped,
    thickest_dropped], updated in place. A cell of the layers before ``depth`` (> 0) goes to
    ``cells`` (``new_cells``) instead of being entered; ``depth = -1``: every cell is entered.
    A max layer without live groups is one cell and no node (as ``VertexPath.group_cells``).
    """
    n_out = np.int64(0)
    cap = out_u.shape[0]
    nodes = 0
    while len(stack) > 0 and nodes < node_budget and n_out < cap:
        e = stack.pop()
        k = e.k
        if net.kind[k] == 0:
            nodes += 1
            if not _unit_step(stack, e, margin, vtol, stats):
                continue
        else:
            live = net.live[net.live_off[k]:net.live_off[k + 1]]
            if live.size:
                nodes += 1
                if not _group_step(stack, e, live, margin, vtol, stats):
                    continue
        n_out = _cell_done(stack, e, e.V, e.inc, e.F, e.simple, e.bits, net, vtol, out_pat,
                           out_u, out_r, n_out, depth, cells)
    stats[0] += nodes
    return n_out, len(stack) == 0


def is_loaded() -> bool:
    """Whether this process has compiled or loaded what a serial count calls already."""
    return all(bool(f.overloads) for f in (walk, new_stack, new_cells))


@compiled_cache.one_at_a_time(walk)           # other processes wait, then load it
def warm_up(parallel: bool = True) -> None:
    """Compile (first run after install) or load (from the cache) the walk on a tiny net (a
    unit layer reading the input, then a max layer reading both it and the input, one weight
    dense and one sparse: every specialisation a count uses). ``parallel=False``: only what
    a serial count calls, not the cell splitting and packing of parallel counts."""
    from scipy.sparse import csr_matrix

    from .kernel_pack import general_layers, pack_maps
    from .layers import Groups, Units
    from .polytope import VPoly

    one = np.ones((1, 1))
    units = Units([(0, one)], np.zeros(1), np.zeros(1), np.zeros(1, dtype=np.int16),
                  np.zeros(1, dtype=np.int64), np.ones(1), 1e-14)
    groups = Groups([(0, one), (1, csr_matrix(one))], np.zeros(1), np.zeros((1, 1), np.int64),
                    np.zeros(1, dtype=np.int16), np.zeros(0, dtype=np.int64),
                    np.ones((1, 1), dtype=bool), 1e-14)
    net = general_layers([units, groups])
    box = VPoly.box(1)
    C = np.ascontiguousarray
    stack = new_stack(C(box.V), C(box.inc), C(box.F), net)
    cells = new_cells(1, net.last_use.size)
    walk(stack, net, 1e-10, 1e-10, 16, np.zeros((4, 2), dtype=np.int16), np.zeros((4, 1)),
         np.zeros(4), np.zeros(3), 1, cells)
    if not parallel:
        return
    maps = pack_maps(net, 1, [(np.eye(1), np.zeros(1)), (np.eye(1), np.zeros(1))])
    new_stack_at(1, C(box.V), C(box.inc), C(box.F), net, *maps, np.zeros(1, dtype=np.int16))
    if len(cells):
        frontier = stack_of_packed(pack_cells(cells, np.zeros(1, dtype=np.int64)), 1, net)
        stack_of_packed_stack(pack_stack(frontier, np.zeros(1, dtype=np.int64)), net)
