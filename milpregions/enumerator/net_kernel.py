"""The layer algebra of the tree (``layers``) compiled for any network (numba): a layer's
pre-activations on a node from the maps of all the sources it reads (dense or CSR weights),
its live units' unit-normal rows, its max groups' geometry, its output map, and the maps the
next layer gets. The network is ``kernel_pack.PackedNet``; a node's maps are a
``kernel_pack.PackedMaps`` (A, c, off, norm) of the sources still read. Decisions and
tolerances are those of ``layers.unit_rows`` / ``layers.group_geometry``, in the same order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .layers import CONST_TOL, VERTEX_TOL


@njit(cache=True)
def source_size(net, s, d):
    """The number of outputs of source s (0: the input, of dimension d)."""
    return d if s == 0 else net.n_out[s - 1]


@njit(cache=True)
def dense_weight(net, p, n, m):
    """The dense weight of source pair p as an (n, m) view."""
    return net.w[net.w_off[p]:net.w_off[p + 1]].reshape((n, m))


@njit(cache=True)
def layer_pre(net, k, MA, Mc, moff, mnorm):
    """``layers.layer_affine``: layer k's pre-activations ``A u + c`` on the node (from the maps
    of its sources), and the sum of the norms of those maps (``scale``)."""
    d = MA.shape[1]
    n = net.n_pre[k]
    A = np.zeros((n, d))
    c = net.b[net.pre_off[k]:net.pre_off[k + 1]].copy()
    scale = 0.0
    for p in range(net.src_off[k], net.src_off[k + 1]):
        s = net.src[p]
        m = source_size(net, s, d)
        o = moff[s]
        As = MA[o:o + m]
        cs = Mc[o:o + m]
        scale += mnorm[s]
        if net.sparse[p]:
            ip = net.indptr[net.ip_off[p]:net.ip_off[p + 1]]
            ix = net.indices[net.nz_off[p]:net.nz_off[p + 1]]
            dv = net.data[net.nz_off[p]:net.nz_off[p + 1]]
            for i in range(n):
                for t in range(ip[i], ip[i + 1]):
                    w = dv[t]
                    q = ix[t]
                    c[i] += w * cs[q]
                    for r in range(d):
                        A[i, r] += w * As[q, r]
        else:
            W = dense_weight(net, p, n, m)
            A += np.dot(W, As)
            c += np.dot(W, cs)
    return A, c, scale


@njit(cache=True)
def abs_terms(net, k, j, MA, Mc, moff):
    """``layers._abs_terms`` of pre-activation j of layer k: the sums of the absolute values of
    the terms of its gradient (per coordinate) and of its constant."""
    d = MA.shape[1]
    ga = np.zeros(d)
    gc = abs(net.b[net.pre_off[k] + j])
    n = net.n_pre[k]
    for p in range(net.src_off[k], net.src_off[k + 1]):
        s = net.src[p]
        m = source_size(net, s, d)
        o = moff[s]
        if net.sparse[p]:
            ip = net.indptr[net.ip_off[p]:net.ip_off[p + 1]]
            ix = net.indices[net.nz_off[p]:net.nz_off[p + 1]]
            dv = net.data[net.nz_off[p]:net.nz_off[p + 1]]
            for t in range(ip[j], ip[j + 1]):
                w = abs(dv[t])
                q = o + ix[t]
                gc += w * abs(Mc[q])
                for r in range(d):
                    ga[r] += w * abs(MA[q, r])
        else:
            W = dense_weight(net, p, n, m)
            for q in range(m):
                w = abs(W[j, q])
                if w == 0.0:
                    continue
                gc += w * abs(Mc[o + q])
                for r in range(d):
                    ga[r] += w * abs(MA[o + q, r])
    return ga, gc


@njit(cache=True)
def unit_rows(net, k, A, c, scale, MA, Mc, moff):
    """``layers.unit_rows`` for a two-piece layer k on a node: its bits so far, and the live
    units (``cl``) with their unit-normal rows ``An u + cn``."""
    d = A.shape[1]
    bits = net.fixed[net.pat_off[k]:net.pat_off[k + 1]].copy()
    cand = net.cand[net.cand_off[k]:net.cand_off[k + 1]]
    wnorm = net.wnorm[net.cand_off[k]:net.cand_off[k + 1]]
    rtol = net.rtol[k]
    n = cand.size
    if n == 0:
        return bits, cand.copy(), np.empty((0, d)), np.empty(0)
    nrm = np.empty(n)
    for i in range(n):
        j = cand[i]
        t = 0.0
        for r in range(d):
            t += A[j, r] * A[j, r]
        nrm[i] = np.sqrt(t)
    live = np.ones(n, dtype=np.bool_)
    lim = max(CONST_TOL, rtol) * scale
    for i in range(n):
        if nrm[i] <= lim * wnorm[i]:
            j = cand[i]
            ga, gc = abs_terms(net, k, j, MA, Mc, moff)
            if nrm[i] <= rtol * np.sqrt(np.dot(ga, ga)):
                live[i] = False
                bits[j] = 1 if c[j] > rtol * gc else 0
    nl = 0
    for i in range(n):
        if live[i]:
            nl += 1
    An = np.empty((nl, d))
    cn = np.empty(nl)
    cl = np.empty(nl, dtype=np.int64)
    t = 0
    for i in range(n):
        if live[i]:
            j = cand[i]
            for q in range(d):                  # a loop: a row expression allocates
                An[t, q] = A[j, q] / nrm[i]
            cn[t] = c[j] / nrm[i]
            cl[t] = j
            t += 1
    keep = np.ones(nl, dtype=np.bool_)
    for t in range(nl):
        reach = 0.0
        for r in range(d):
            reach += abs(An[t, r])
        if cn[t] - reach > VERTEX_TOL:
            bits[cl[t]] = 1
            keep[t] = False
        elif cn[t] + reach < -VERTEX_TOL:
            keep[t] = False
    return bits, cl[keep], An[keep].copy(), cn[keep].copy()


@njit(cache=True)
def group_table(net, k):
    """Max layer k's (n_groups, width) piece table (-1 padded) and candidate pieces."""
    w = net.g_width[k]
    G = net.groups[net.g_off[k]:net.g_off[k + 1]].reshape((net.n_out[k], w))
    C = net.gcand[net.g_off[k]:net.g_off[k + 1]].reshape((net.n_out[k], w))
    return G, C


@njit(cache=True)
def live_table(net, k):
    """The piece table of max layer k's live groups, the whole candidate table and the live
    groups' indices."""
    Gall, Call = group_table(net, k)
    live = net.live[net.live_off[k]:net.live_off[k + 1]]
    G = np.empty((live.size, Gall.shape[1]), dtype=np.int64)
    for g in range(live.size):
        G[g] = Gall[live[g]]
    return G, Call, live


@njit(cache=True)
def _pair_geometry(G, Call, live, A, c, scale, rtol, gn, gcs, pn):
    """The pairs of ``group_geometry``: which pieces can win (a piece equal to an earlier one up
    to a constant that does not beat it, or beaten on the whole box, cannot), which pairs
    differ by a non-constant, and the inverse norms of those differences. ``gn``, ``gcs``,
    ``pn``: per (group, piece) the norms of the absolute gradient terms, the absolute
    constant terms, and the norm of the piece's gradient."""
    ng, w = G.shape
    d = A.shape[1]
    possible = np.zeros((ng, w), dtype=np.bool_)
    active = np.zeros((ng, w, w), dtype=np.bool_)
    inv = np.zeros((ng, w, w))
    D = np.empty(d)
    for g in range(ng):
        for i in range(w):
            pi = max(G[g, i], 0)
            ok = G[g, i] >= 0 and Call[live[g], i]
            for m in range(w):
                pm = max(G[g, m], 0)
                nsq = 0.0
                l1 = 0.0
                for r in range(d):
                    D[r] = A[pi, r] - A[pm, r]
                    nsq += D[r] * D[r]
                    l1 += abs(D[r])
                N = np.sqrt(nsq)
                dc = c[pi] - c[pm]
                pair = G[g, i] >= 0 and G[g, m] >= 0 and i != m
                const = N <= CONST_TOL * (pn[g, i] + pn[g, m] + scale) and \
                    N <= rtol * (gn[g, i] + gn[g, m])
                ctol = rtol * (gcs[g, i] + gcs[g, m])
                btol = CONST_TOL * (abs(c[pi]) + abs(c[pm]) + 1.0)
                wins = dc > ctol if m < i else dc >= -ctol
                if pair and const and not wins:
                    ok = False
                if pair and dc + l1 < -btol:
                    ok = False                     # beaten on the whole box
                if pair and not const:
                    active[g, i, m] = True
                    inv[g, i, m] = 1.0 / N
            possible[g, i] = ok
    return possible, active, inv


@njit(cache=True)
def group_geometry(net, k, A, c, scale, MA, Mc, moff):
    """``layers.group_geometry`` for the live groups of max layer k on a node: (G, possible,
    active, inv): the live groups' piece table, the pieces that can win somewhere on the node,
    the pairs (i, m) whose difference is not constant there, and 1 / |grad(z_i - z_m)| on
    them. The cell rows of a piece are built from A, c on demand (``cell_rows``)."""
    G, Call, live = live_table(net, k)
    ng, w = G.shape
    rtol = net.rtol[k]
    # the absolute terms of every piece (padding: piece 0's, as layers.group_geometry does)
    gn = np.empty((ng, w))
    gcs = np.empty((ng, w))
    pn = np.empty((ng, w))
    for g in range(ng):
        for i in range(w):
            j = max(G[g, i], 0)
            ga, gc = abs_terms(net, k, j, MA, Mc, moff)
            gn[g, i] = np.sqrt(np.dot(ga, ga))
            gcs[g, i] = gc
            pn[g, i] = np.sqrt(np.dot(A[j], A[j]))
    possible, active, inv = _pair_geometry(G, Call, live, A, c, scale, rtol, gn, gcs, pn)
    return G, possible, active, inv


@njit(cache=True)
def cell_rows(A, c, G, active, inv, g, i):
    """The unit-normal rows ``[a, b]`` of the cell of piece i of live group g: z_i - z_m >= 0
    for the pieces m whose difference with it is not constant, in the order of m."""
    d = A.shape[1]
    w = G.shape[1]
    nr = 0
    for m in range(w):
        if active[g, i, m]:
            nr += 1
    rows = np.empty((nr, d + 1))
    pi = G[g, i]
    t = 0
    for m in range(w):
        if active[g, i, m]:
            pm = G[g, m]
            f = inv[g, i, m]
            for r in range(d):
                rows[t, r] = (A[pi, r] - A[pm, r]) * f
            rows[t, d] = (c[pi] - c[pm]) * f
            t += 1
    return rows


@njit(cache=True)
def output_map(net, k, choice, A, c):
    """``layers.output_map``: layer k's outputs ``Aout u + cout`` on a cell of pattern
    ``choice`` (bits, or per group its winning piece), and the norm of Aout."""
    n = net.n_out[k]
    d = A.shape[1]
    Aout = np.empty((n, d))
    cout = np.empty(n)
    if net.kind[k] == 0:
        sl = net.slope[net.pre_off[k]:net.pre_off[k + 1]]
        for i in range(n):
            f = 1.0 if choice[i] > 0 else sl[i]
            for q in range(d):                  # a loop: a row expression allocates
                Aout[i, q] = f * A[i, q]
            cout[i] = f * c[i]
    else:
        G, _ = group_table(net, k)
        for i in range(n):
            j = G[i, choice[i]]
            for q in range(d):
                Aout[i, q] = A[j, q]
            cout[i] = c[j]
    size = 0.0                                  # np.sum's order, without the temporary
    for i in range(n):
        for q in range(d):
            size += Aout[i, q] * Aout[i, q]
    return Aout, cout, np.sqrt(size)


@njit(cache=True)
def next_maps(net, k, MA, Mc, moff, mnorm, Aout, cout, onorm):
    """The maps layer k + 1 and its successors read: the kept ones of layer k's node plus
    layer k's outputs (source k + 1); a map no later layer reads is dropped."""
    d = MA.shape[1]
    ns = moff.size
    off = np.full(ns, -1, dtype=np.int64)
    norm = np.zeros(ns)
    rows = 0
    for s in range(k + 1):
        if moff[s] >= 0 and net.last_use[s] >= k + 1:
            off[s] = rows
            rows += source_size(net, s, d)
    if net.last_use[k + 1] >= k + 1:
        off[k + 1] = rows
        rows += Aout.shape[0]
    A2 = np.empty((rows, d))
    c2 = np.empty(rows)
    for s in range(k + 1):
        if off[s] >= 0:
            m = source_size(net, s, d)
            A2[off[s]:off[s] + m] = MA[moff[s]:moff[s] + m]
            c2[off[s]:off[s] + m] = Mc[moff[s]:moff[s] + m]
            norm[s] = mnorm[s]
    if off[k + 1] >= 0:
        A2[off[k + 1]:] = Aout
        c2[off[k + 1]:] = cout
        norm[k + 1] = onorm
    return A2, c2, off, norm


@njit(cache=True)
def abs_terms_all(net, k, MA, Mc, moff):
    """``abs_terms`` of every pre-activation of layer k at once (one call: a call per piece
    passes the whole ``net`` each time, which cost max layers more than the sums): the norms
    of the per-coordinate sums (n,) and the constants' sums (n,)."""
    d = MA.shape[1]
    n = net.n_pre[k]
    ga = np.zeros((n, d))
    gc = np.abs(net.b[net.pre_off[k]:net.pre_off[k + 1]])
    for p in range(net.src_off[k], net.src_off[k + 1]):
        s = net.src[p]
        m = source_size(net, s, d)
        o = moff[s]
        if net.sparse[p]:
            ip = net.indptr[net.ip_off[p]:net.ip_off[p + 1]]
            ix = net.indices[net.nz_off[p]:net.nz_off[p + 1]]
            dv = net.data[net.nz_off[p]:net.nz_off[p + 1]]
            for j in range(n):
                for t in range(ip[j], ip[j + 1]):
                    w = abs(dv[t])
                    q = o + ix[t]
                    gc[j] += w * abs(Mc[q])
                    for r in range(d):
                        ga[j, r] += w * abs(MA[q, r])
        else:
            W = dense_weight(net, p, n, m)
            for j in range(n):
                for q in range(m):
                    w = abs(W[j, q])
                    if w == 0.0:
                        continue
                    gc[j] += w * abs(Mc[o + q])
                    for r in range(d):
                        ga[j, r] += w * abs(MA[o + q, r])
    gn = np.empty(n)
    for j in range(n):
        gn[j] = np.sqrt(np.dot(ga[j], ga[j]))
    return gn, gc


@njit(cache=True)
def group_geometry_all(net, k, A, c, scale, MA, Mc, moff):
    """``group_geometry`` with the absolute terms of all pieces from one ``abs_terms_all``
    call: the same sums in the same order, so the same (G, possible, active, inv)."""
    G, Call, live = live_table(net, k)
    ng, w = G.shape
    rtol = net.rtol[k]
    an, ac = abs_terms_all(net, k, MA, Mc, moff)
    gn = np.empty((ng, w))
    gcs = np.empty((ng, w))
    pn = np.empty((ng, w))
    for g in range(ng):
        for i in range(w):
            j = max(G[g, i], 0)
            gn[g, i] = an[j]
            gcs[g, i] = ac[j]
            pn[g, i] = np.sqrt(np.dot(A[j], A[j]))
    possible, active, inv = _pair_geometry(G, Call, live, A, c, scale, rtol, gn, gcs, pn)
    return G, possible, active, inv
