"""The compiled LP path (numba): the whole depth-first walk for any network of the tree in
higher dimension (``kernel_pack.PackedNet``: two-piece units and max groups, layers reading
several sources, dense or CSR weights), with its own dense Chebyshev LP.

The same decisions as ``lp_path.LPPath.unit_cells`` / ``group_cells`` (sign evidence, the
mirror probes, LPs only where nothing cheaper proves a side or a piece, slivers cut off,
evidence trimmed to the deepest points), in the same order, on arrays: a stack entry is an
``Entry`` (layer, rows F, evidence points and radii, live units or groups, the layer's pattern
so far, the pattern before the layer, the layer's pre-activations and unit rows or group
geometry, the maps of the sources still read; the algebra is ``net_kernel``). The walk stops
after a node budget or when its output buffers are full and resumes from its stack, so the
Python driver checks time limits, progress and the region limit between calls.

The node LPs are small and dense (d + 1 columns, a few dozen rows), so they are solved here
instead of by a solver call: warm, by the dual simplex method from the optimal basis of the
node's LP (``Basis``, carried down the stack: a child only adds rows, so an ancestor's basis
stays dual feasible), and cold, where that answer is not proven, by a primal active-set method
(the simplex method on the inequality form, Bland's rule against cycling) from the deepest
evidence point. Every answer is checked: its point is
evaluated on every row (the radius used is never more than the point has), and a dual bound
(weak duality on the final multipliers) must come within ``GAP`` and its float error of it,
so an LP that did not converge is solved again from another start, and if it still does not
the walk stops with that node on its stack for the driver to count in Python (never taken for
an empty side); a point whose radius is above the margin is decided on without the bound.
Decisions then compare the point's radius with the margin, as the Python path does with
HiGHS's answer (whose feasibility tolerance is 1e-10).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.typed import List

from . import compiled_cache
from .kernel import verify
from .layers import THIN
from .net_kernel import (
    cell_rows,
    group_geometry,
    layer_pre,
    next_maps,
    output_map,
    unit_rows,
)

MAX_POINTS = 12          # evidence points kept per node (``lp_path.MAX_POINTS``)
GAP = 1e-9               # an LP answer's dual bound may exceed its point's radius by this much
#                          (a solved LP of 64 inputs comes within ~3e-12; one that stopped short
#                          of the optimum is off by far more)
LAMBDA_TOL = 1e-13       # a multiplier above -LAMBDA_TOL is taken as nonnegative
PIVOT_TOL = 1e-12        # a row blocks a step only if it decreases along it faster than this
STAT_MARGIN = 6          # ``stats[6]``, when the driver gives it: the walk's margin
DUAL_PIVOTS = 2          # x (d + 1): a warm start's pivots before the cold start takes over
#                          (from a far basis, e.g. the box's below a task's 60 rows, the dual
#                          simplex can take thousands of small steps)
EARLY_RADIUS = 1e-6      # an LP stops once its point has a ball this deep (and EARLY_MARGINS
EARLY_MARGINS = 100.0    # margins): it then only proves a side nonempty (issue 20: ~1.3x the
#                          CNN's and ~1.7x the 64-D MLP's regions/s, fewer pivots a region)


def cache_is_warm() -> bool:
    """Whether the compiled LP walk is in numba's cache."""
    from pathlib import Path

    return any(Path(str(walk._cache.cache_path)).glob("lp_kernel.walk-*.nbi"))


@njit(cache=True)
def _constraints(F, X, d):
    """The LP's rows ``G x >= h`` in x = (u, r): box faces, r <= 1, the node rows F, extra X."""
    n = d + 1
    M = 2 * d + 1 + F.shape[0] + X.shape[0]
    G = np.zeros((M, n))
    h = np.empty(M)
    for k in range(d):
        G[2 * k, k] = 1.0
        G[2 * k, d] = -1.0
        h[2 * k] = -1.0
        G[2 * k + 1, k] = -1.0
        G[2 * k + 1, d] = -1.0
        h[2 * k + 1] = -1.0
    G[2 * d, d] = -1.0
    h[2 * d] = -1.0
    t = 2 * d + 1
    for i in range(F.shape[0]):
        G[t, :d] = F[i, :d]
        G[t, d] = -1.0
        h[t] = -F[i, d]
        t += 1
    for i in range(X.shape[0]):
        G[t, :d] = X[i, :d]
        G[t, d] = -1.0
        h[t] = -X[i, d]
        t += 1
    return G, h


@njit(cache=True, inline="always")
def _dot(a, b):
    t = 0.0
    for i in range(a.size):
        t += a[i] * b[i]
    return t


@njit(cache=True, inline="always")
def _orthogonalise(Q, rank, v):
    """v less its components along the orthonormal rows ``Q[:rank]``, twice (in place)."""
    n = v.size
    for _ in range(2):
        for q in range(rank):
            t = 0.0
            for i in range(n):
                t += Q[q, i] * v[i]
            for i in range(n):
                v[i] -= t * Q[q, i]


@njit(cache=True)
def _extend(Q, rank, v):
    """Add the row v to the orthonormal rows ``Q[:rank]`` (Gram-Schmidt); the new rank
    (unchanged when v is in their span)."""
    v = v.copy()
    _orthogonalise(Q, rank, v)
    nv = np.sqrt(_dot(v, v))
    if nv > 1e-12:
        Q[rank] = v / nv
        rank += 1
    return rank


@njit(cache=True)
def _orthonormal(G, W, nw, n):
    """An orthonormal basis (rows) of the span of the rows ``G[W[:nw]]``; its rank."""
    Q = np.zeros((n, n))
    rank = np.int64(0)
    for j in range(nw):
        rank = _extend(Q, rank, G[W[j]])
    return Q, rank


@njit(cache=True)
def _inverse(A):
    """The inverse of A by Gauss-Jordan with partial pivoting; ok False when a pivot is
    below 1e-12 of its column's size (the active rows are numerically dependent)."""
    n = A.shape[0]
    M = np.zeros((n, 2 * n))
    M[:, :n] = A
    for i in range(n):
        M[i, n + i] = 1.0
    for col in range(n):
        piv = col
        big = abs(M[col, col])
        size = 0.0
        for i in range(n):
            size = max(size, abs(M[i, col]))
            if i > col and abs(M[i, col]) > big:
                big = abs(M[i, col])
                piv = i
        if big <= 1e-12 * max(size, 1e-300) or big == 0.0:
            return M[:, n:].copy(), False
        if piv != col:
            tmp = M[col].copy()
            M[col] = M[piv]
            M[piv] = tmp
        p = M[col, col]
        for q in range(2 * n):                  # loops: a row expression allocates
            M[col, q] /= p
        for i in range(n):
            m = M[i, col]
            if i != col and m != 0.0:
                for q in range(2 * n):
                    M[i, q] -= m * M[col, q]
    return M[:, n:].copy(), True


@njit(cache=True)
def _solve(G, h, u0, cap, stop_at):
    """max x_d s.t. G x >= h from the feasible point (u0, min slack): (x, active rows W,
    their multipliers, how many, code, pivots); code 0 optimal, 1 unbounded, 2 the active rows
    numerically dependent, 3 out of pivots, 4 stopped at a point with x_d > ``stop_at``.

    Active set W (independent rows held at equality); below full rank the step is the
    objective projected on their null space, at full rank a row with a negative multiplier
    (the first, Bland's rule) leaves and the inverse of G_W is updated in O(n^2)."""
    M, n = G.shape
    d = n - 1
    x = np.empty(n)
    x[:d] = u0
    best = np.inf
    t0 = 0
    for t in range(M):
        s = _dot(G[t, :d], u0) - h[t]
        if s < best:
            best = s
            t0 = t
    x[d] = best
    W = np.empty(n, dtype=np.int64)
    W[0] = t0
    nw = np.int64(1)
    inW = np.zeros(M, dtype=np.bool_)
    inW[t0] = True
    Q, rank = _orthonormal(G, W, nw, n)
    Binv = np.empty((n, n))
    have_inv = False
    updates = 0
    lam = np.zeros(n)
    for it in range(cap):
        jdrop = -1
        if nw < n:
            # the objective projected on the null space of the active rows
            p = np.zeros(n)
            p[d] = 1.0
            _orthogonalise(Q, rank, p)
            pn = np.sqrt(_dot(p, p))
            if pn <= 1e-12:
                # the objective lies in the span of the active rows: optimal unless a
                # multiplier (least squares, G_W^T lam = -c) is negative; by SVD, as the
                # normal equations of nearly dependent rows can be singular in floats
                GWt = np.empty((n, nw))
                for j in range(nw):
                    GWt[:, j] = G[W[j]]
                c = np.zeros(n)
                c[d] = -1.0
                lam[:nw] = np.linalg.lstsq(GWt, c)[0]
                first = M
                for j in range(nw):
                    if lam[j] < -LAMBDA_TOL and W[j] < first:
                        first = W[j]
                        jdrop = j
                if jdrop < 0:
                    return x, W, lam, nw, 0, it
                inW[W[jdrop]] = False
                W[jdrop:nw - 1] = W[jdrop + 1:nw].copy()
                nw -= 1
                Q, rank = _orthonormal(G, W, nw, n)
                continue
            # p may be nearly in the span of the active rows (then the projection lost
            # digits): make it orthogonal to them again, to rounding
            p /= pn
            _orthogonalise(Q, rank, p)
            p /= np.sqrt(_dot(p, p))
        else:
            if not have_inv:
                GW = np.empty((n, n))
                for j in range(n):
                    GW[j] = G[W[j]]
                Binv, invertible = _inverse(GW)
                if not invertible:
                    return x, W, lam, nw, 2, it
                have_inv = True
                updates = 0
                # the vertex from the fresh inverse: steps do not accumulate rounding
                hW = np.empty(n)
                for j in range(n):
                    hW[j] = h[W[j]]
                x = Binv @ hW
                x += Binv @ (hW - GW @ x)
            first = M
            for j in range(n):
                lam[j] = -Binv[d, j]
                if lam[j] < -LAMBDA_TOL and W[j] < first:
                    first = W[j]
                    jdrop = j
            if jdrop < 0:
                return x, W, lam, nw, 0, it
            p = Binv[:, jdrop].copy()
        # ratio test: the first row the step reaches (ties: the smallest index)
        alpha = np.inf
        tb = -1
        gpb = 0.0
        pscale = PIVOT_TOL * np.sqrt(_dot(p, p))
        for t in range(M):
            if inW[t]:
                continue
            gp = _dot(G[t], p)
            if gp < -pscale:
                s = _dot(G[t], x) - h[t]
                if s < 0.0:
                    s = 0.0
                a = s / (-gp)
                if a < alpha:
                    alpha = a
                    tb = t
                    gpb = gp
        if tb < 0:
            return x, W, lam, nw, 1, it          # unbounded: cannot happen with r <= 1
        x += alpha * p
        if x[d] > stop_at:
            return x, W, lam, nw, 4, it + 1
        inW[tb] = True
        if nw < n:
            W[nw] = tb
            nw += 1
            if nw < n:
                rank = _extend(Q, rank, G[tb])
            have_inv = False
        else:
            # row jdrop of G_W becomes G[tb]: Sherman-Morrison on Binv (Binv e_j = p)
            inW[W[jdrop]] = False
            w = np.zeros(n)
            for i in range(n):
                gi = G[tb, i]
                for q in range(n):
                    w[q] += gi * Binv[i, q]
            w[jdrop] -= 1.0
            for i in range(n):
                f = p[i] / gpb
                for q in range(n):
                    Binv[i, q] -= f * w[q]
            W[jdrop] = tb
            updates += 1
            if updates >= 32:
                have_inv = False
    return x, W, lam, nw, 3, cap


@njit(cache=True)
def _dual_bound(G, h, W, lam, nw, r_low):
    """An upper bound of the LP optimum by weak duality on the multipliers (clipped at 0),
    valid over the points with r >= r_low, and a bound of its float error."""
    n = G.shape[1]
    d = n - 1
    rho = np.zeros(n)
    rho[d] = 1.0
    yh = 0.0
    mag = 1.0
    ymag = 0.0
    for j in range(nw):
        y = lam[j]
        if y <= 0.0:
            continue
        t = W[j]
        yh += y * h[t]
        ymag += abs(y * h[t])
        for q in range(n):
            rho[q] += y * G[t, q]
            mag += abs(y * G[t, q])
    reach = 1.0 - r_low
    bound = -yh + max(rho[d], rho[d] * r_low)
    for k in range(d):
        bound += abs(rho[k]) * reach
    err = 4.0 * (nw + n + 2) * 2.220446049250313e-16 * (mag * max(1.0, abs(r_low)) + ymag)
    return bound, err


@njit(cache=True)
def _radius_of(G, h, x):
    """An LP answer's point u and its radius, evaluated on every row (never more than x_d)."""
    d = x.size - 1
    u = x[:d].copy()
    r = x[d]
    for t in range(G.shape[0]):
        s = _dot(G[t, :d], u) - h[t]
        if s < r:
            r = s
    return u, r


@njit(cache=True)
def chebyshev(F, X, u0, stats):
    """The largest ball in {u in [-1,1]^d : a.u + b >= 0 for the rows of F and X} (unit a):
    (r, u, status). r is the radius evaluated at u on every row and face; status 0: r may be
    decided on, 1: not (the walk hands the LP to Python). r may be decided on when a dual bound
    proves it within ``GAP`` of the optimum, or proves the optimum <= THIN (the set is empty),
    or when r > the walk's margin (``stats[STAT_MARGIN]``, when given): the point itself then
    proves a ball of radius > margin, and the bound is needed only to prove a side empty; so
    with a margin the LP stops at the first point deeper than ``EARLY_RADIUS`` and
    ``EARLY_MARGINS`` margins (not the largest ball: a deep enough one). Tried from ``u0``,
    then from the centre. ``stats[3]`` counts LPs, ``stats[4]`` second starts, ``stats[5]``
    pivots."""
    d = u0.size
    G, h = _constraints(F, X, d)
    M = G.shape[0]
    stats[3] += 1
    margin = stats[STAT_MARGIN] if stats.size > STAT_MARGIN else np.inf
    # a point deeper than this decides (r > margin): the optimum is not needed
    stop_at = max(EARLY_RADIUS, EARLY_MARGINS * margin)
    cap = 20 * (M + d + 1)
    start = u0.copy()
    for _ in range(2):
        x, W, lam, nw, code, pivots = _solve(G, h, start, cap, stop_at)
        stats[5] += pivots
        u, r = _radius_of(G, h, x)
        if r > margin:
            return r, u, 0
        if code == 0:
            bound, err = _dual_bound(G, h, W, lam, nw, r)
            if bound - r <= GAP + err or bound + err <= THIN:
                return r, u, 0
        stats[4] += 1
        start = np.zeros(d)
    return r, u, 1


class Basis(NamedTuple):
    """An optimal basis of a node's Chebyshev LP (the warm start of its children's LPs): the
    d + 1 rows of ``_constraints`` held at equality (``W``), the inverse of their matrix
    (``B``) and their vertex ``x``. Below a node rows are only added (box faces first, then
    F in order), so an ancestor's basis stays dual feasible for every descendant's LP."""

    x: np.ndarray
    W: np.ndarray
    B: np.ndarray


@njit(cache=True)
def root_basis(d):
    """The box's basis: the faces u_k - r >= -1 and r <= 1 at the centre (r = 1)."""
    n = d + 1
    W = np.empty(n, dtype=np.int64)
    B = np.zeros((n, n))
    for k in range(d):
        W[k] = 2 * k
        B[k, k] = 1.0
        B[k, d] = -1.0
    W[d] = 2 * d
    B[d, d] = -1.0
    x = np.zeros(n)
    x[d] = 1.0
    return Basis(x, W, B)


@njit(cache=True, inline="always")
def _slack(G, h, t, x, d):
    """Row t's slack at x; a box face (rows < 2d + 1) in O(1)."""
    if t < 2 * d:
        k = t // 2
        return (x[k] if t % 2 == 0 else -x[k]) - x[d] + 1.0
    if t == 2 * d:
        return 1.0 - x[d]
    return _dot(G[t], x) - h[t]


@njit(cache=True)
def _factor(G, h, W):
    """The basis W's inverse from scratch and its vertex (one step of refinement): (x, B,
    invertible)."""
    n = W.size
    GW = np.empty((n, n))
    hW = np.empty(n)
    for j in range(n):
        GW[j] = G[W[j]]
        hW[j] = h[W[j]]
    B, invertible = _inverse(GW)
    x = B @ hW
    x += B @ (hW - GW @ x)
    return x, B, invertible


@njit(cache=True)
def _dual(G, h, basis, cap):
    """max x_d s.t. G x >= h by the dual simplex method from a dual feasible basis (rows only
    added since it was optimal): (x, W, B, multipliers, code, pivots); code 0 optimal, 1 no
    row can leave (numerical), 2 the basis numerically singular, 3 out of pivots. The most
    violated row enters (the first violated one, Bland's rule, after ``2 n`` pivots); the
    leaving row keeps the multipliers nonnegative (ties: the smallest row index)."""
    M, n = G.shape
    d = n - 1
    W = basis.W.copy()
    B = basis.B.copy()
    x = basis.x.copy()
    inW = np.zeros(M, dtype=np.bool_)
    for j in range(n):
        if W[j] >= M:
            return x, W, B, np.zeros(n), 2, 0
        inW[W[j]] = True
    lam = np.empty(n)
    for j in range(n):
        lam[j] = -B[d, j]
    w = np.empty(n)
    updates = 0
    for it in range(cap):
        tv = -1
        worst = -1e-12
        bland = it >= 2 * n
        for t in range(M):
            if inW[t]:
                continue
            s = _slack(G, h, t, x, d)
            if s < worst:
                worst = s
                tv = t
                if bland:
                    break
        if tv < 0:
            return x, W, B, lam, 0, it
        w[:] = 0.0
        for i in range(n):
            gi = G[tv, i]
            if gi != 0.0:
                for q in range(n):
                    w[q] += gi * B[i, q]
        wmax = 0.0
        for j in range(n):
            wmax = max(wmax, abs(w[j]))
        jl = -1
        best = np.inf
        for j in range(n):
            if w[j] > PIVOT_TOL * max(wmax, 1.0):
                ratio = max(lam[j], 0.0) / w[j]
                if ratio < best or (ratio == best and W[j] < W[jl]):
                    best = ratio
                    jl = j
        if jl < 0:
            return x, W, B, lam, 1, it
        p = B[:, jl].copy()
        wj = w[jl]
        x += (-worst / wj) * p
        w[jl] -= 1.0
        for i in range(n):
            f = p[i] / wj
            if f != 0.0:
                for q in range(n):
                    B[i, q] -= f * w[q]
        inW[W[jl]] = False
        W[jl] = tv
        inW[tv] = True
        updates += 1
        if updates >= 32:
            x, B, invertible = _factor(G, h, W)
            if not invertible:
                return x, W, B, lam, 2, it + 1
            updates = 0
        for j in range(n):
            lam[j] = -B[d, j]
    return x, W, B, lam, 3, cap


@njit(cache=True)
def warm_chebyshev(F, X, u0, basis, stats):
    """``chebyshev`` started from ``basis`` (an ancestor's or the node's; dual simplex), the
    cold start if that answer is not proven: (r, u, status, the LP's basis when the warm
    answer is proven optimal, else ``basis``). The same checks decide on the answer."""
    d = u0.size
    G, h = _constraints(F, X, d)
    x, W, B, lam, code, pivots = _dual(G, h, basis, DUAL_PIVOTS * (d + 1))
    stats[5] += pivots
    if code == 0:
        stats[3] += 1
        u, r = _radius_of(G, h, x)
        bound, err = _dual_bound(G, h, W, lam, d + 1, r)
        if bound - r <= GAP + err:
            return r, u, 0, Basis(x, W, B)
        margin = stats[STAT_MARGIN] if stats.size > STAT_MARGIN else np.inf
        if r > margin or bound + err <= THIN:
            return r, u, 0, basis
        stats[3] -= 1
    r, u, status = chebyshev(F, X, u0, stats)
    return r, u, status, basis


@njit(cache=True)
def _trim(pts, rad):
    if rad.size > MAX_POINTS:
        keep = np.argsort(rad)[-MAX_POINTS:]
        return pts[keep].copy(), rad[keep].copy()
    return pts, rad


@njit(cache=True)
def _deepest(pts, rad, d):
    if rad.size == 0:
        return np.zeros(d)
    return pts[np.argmax(rad)].copy()


@njit(cache=True)
def _with_row(F, row):
    F2 = np.empty((F.shape[0] + 1, F.shape[1]))
    F2[:F.shape[0]] = F
    F2[F.shape[0]] = row
    return F2


@njit(cache=True)
def _with_point(pts, rad, u, r):
    p2 = np.empty((pts.shape[0] + 1, pts.shape[1]))
    p2[:pts.shape[0]] = pts
    p2[pts.shape[0]] = u
    r2 = np.empty(rad.size + 1)
    r2[:rad.size] = rad
    r2[rad.size] = r
    return p2, r2


@njit(cache=True)
def _probe(F, pts, rad, row):
    """``lp_path._probe``: the deepest point mirrored across ``row``, and its radius."""
    d = pts.shape[1]
    best = np.argmax(rad)
    p = pts[best]
    r = rad[best]
    s = _dot(row[:d], p) + row[d]
    q = p + (r - s) * row[:d]
    depth = min(r, 1.0 - np.abs(q).max())
    for t in range(F.shape[0]):
        x = _dot(F[t, :d], q) + F[t, d]
        if x < depth:
            depth = x
    return q, depth


@njit(cache=True)
def _add_row(F, pts, rad, row, basis, margin, stats):
    """``LPPath._add_rows`` for one row: (ok, F, pts, rad); not ok when no ball of radius >
    margin is left (status 2: an LP that was not proven). ``basis``: the LP's warm start."""
    d = pts.shape[1]
    F2 = _with_row(F, row)
    np_ = rad.size
    rad2 = np.empty(np_)
    nk = 0
    for i in range(np_):
        x = min(rad[i], _dot(row[:d], pts[i]) + row[d])
        rad2[i] = x
        if x > margin:
            nk += 1
    if nk == 0:
        r, u, status, _ = warm_chebyshev(F2, np.empty((0, d + 1)), _deepest(pts, rad, d),
                                         basis, stats)
        if status:
            return 2, F2, pts, rad
        if r <= margin:
            return 0, F2, pts, rad
        P = np.empty((1, d))
        P[0] = u
        R = np.empty(1)
        R[0] = r
        return 1, F2, P, R
    P = np.empty((nk, d))
    R = np.empty(nk)
    j = 0
    for i in range(np_):
        if rad2[i] > margin:
            P[j] = pts[i]
            R[j] = rad2[i]
            j += 1
    return 1, F2, P, R


@njit(cache=True)
def _vertex_basis(G, h, u0, stats):
    """An optimal basis of the LP from the cold start (when no ancestor's basis leads to one
    in ``DUAL_PIVOTS``): the primal method to the optimum, then along the optimal face (the
    objective is constant on the null space of the active rows there) to a vertex; ok False
    where that fails."""
    M, n = G.shape
    x, W, lam, nw, code, pivots = _solve(G, h, u0, 20 * (M + n), np.inf)
    stats[5] += pivots
    W = W.copy()
    if code != 0:
        return x, W, np.zeros((n, n)), False
    inW = np.zeros(M, dtype=np.bool_)
    for j in range(nw):
        inW[W[j]] = True
    Q, rank = _orthonormal(G, W, nw, n)
    k = 0
    while nw < n and k < n:
        p = np.zeros(n)
        p[k] = 1.0
        k += 1
        _orthogonalise(Q, rank, p)
        pn = np.sqrt(_dot(p, p))
        if pn <= 1e-6:
            continue
        p /= pn
        for sign in (1.0, -1.0):
            alpha = np.inf
            tb = -1
            for t in range(M):
                if inW[t]:
                    continue
                gp = sign * _dot(G[t], p)
                if gp < -PIVOT_TOL:
                    a = max(_dot(G[t], x) - h[t], 0.0) / (-gp)
                    if a < alpha:
                        alpha = a
                        tb = t
            if tb >= 0:
                x += sign * alpha * p
                W[nw] = tb
                nw += 1
                inW[tb] = True
                rank = _extend(Q, rank, G[tb])
                k = 0
                break
    if nw < n:
        return x, W, np.zeros((n, n)), False
    x, B, ok = _factor(G, h, W)
    return x, W, B, ok


@njit(cache=True)
def _node_basis(F, u0, basis, stats):
    """The optimal basis of the node's own LP (rows F): from an ancestor's by the dual
    simplex method, else from the cold start (``_vertex_basis``); the ancestor's when
    neither is proven."""
    d = F.shape[1] - 1
    n = d + 1
    G, h = _constraints(F, np.empty((0, n)), d)
    x, W, B, lam, code, pivots = _dual(G, h, basis, DUAL_PIVOTS * n)
    stats[5] += pivots
    if code != 0:
        x, W, B, ok = _vertex_basis(G, h, u0, stats)
        if not ok:
            return basis
        for j in range(n):
            lam[j] = -B[d, j]
            if lam[j] < -LAMBDA_TOL:
                return basis
    stats[3] += 1
    _, r = _radius_of(G, h, x)
    bound, err = _dual_bound(G, h, W, lam, n, r)
    return Basis(x, W, B) if bound - r <= GAP + err else basis


@njit(cache=True)
def _settle(F, pts, rad, U, An, cn, cl, bits, basis, margin, stats):
    """``LPPath._settle_units``: (status, F, pts, rad, U left, basis); status 0: no ball of
    radius > margin in the node; 1: settled (U left are proven splitters, the first one
    splits); 2: an LP was not proven (the walk stops). ``basis``: an ancestor's LP basis,
    returned as the node's own once an LP needed it (the warm start of the node's LPs)."""
    d = pts.shape[1]
    nu = U.size
    if nu == 0:
        return 1, F, pts, rad, U, basis
    fresh = False
    settled = np.zeros(nu, dtype=np.bool_)
    restart = True
    while restart:
        restart = False
        npts = rad.size
        posr = np.full(nu, -np.inf)
        negr = np.full(nu, -np.inf)
        for i in range(nu):
            j = U[i]
            for p in range(npts):
                s = _dot(pts[p], An[j]) + cn[j]
                posr[i] = max(posr[i], min(rad[p], s))
                negr[i] = max(negr[i], min(rad[p], -s))
        for i in range(nu):
            while not settled[i] and not (posr[i] > margin and negr[i] > margin):
                j = U[i]
                row = np.empty(d + 1)
                row[:d] = An[j]
                row[d] = cn[j]
                side = 1.0 if posr[i] <= margin else -1.0
                srow = side * row
                have = rad.size > 0
                r = -np.inf
                u = np.zeros(d)
                if have:
                    u, r = _probe(F, pts, rad, srow)
                if have and r > margin:
                    r = min(r, side * (_dot(u, An[j]) + cn[j]))
                if r <= margin:
                    X = np.empty((1, d + 1))
                    X[0] = srow
                    if not fresh:
                        basis = _node_basis(F, _deepest(pts, rad, d), basis, stats)
                        fresh = True
                    r_lp, u_lp, status, _ = warm_chebyshev(F, X, _deepest(pts, rad, d), basis,
                                                           stats)
                    if status:
                        return 2, F, pts, rad, U, basis
                    have = False
                    r = r_lp
                    if r_lp > margin:
                        r = min(r_lp, side * (_dot(u_lp, An[j]) + cn[j]))
                        if r > margin:
                            u = u_lp
                            have = True
                if not have:
                    keep = -side
                    if (negr[i] if keep < 0 else posr[i]) <= margin:
                        # no evidence for the other side either: look for it
                        X = np.empty((1, d + 1))
                        X[0] = keep * row
                        if not fresh:
                            basis = _node_basis(F, _deepest(pts, rad, d), basis, stats)
                            fresh = True
                        r2, u2, status, _ = warm_chebyshev(F, X, _deepest(pts, rad, d), basis,
                                                           stats)
                        if status:
                            return 2, F, pts, rad, U, basis
                        if r2 <= margin:
                            return 0, F, pts, rad, U, basis
                        pts, rad = _with_point(pts, rad, u2, r2)
                    if keep > 0:
                        bits[cl[j]] = 1
                    settled[i] = True
                    if r > THIN:
                        # a sliver of depth <= margin on the probed side: cut it off
                        if r > 0.0:
                            stats[1] += 1
                            stats[2] = max(stats[2], r)
                        ok, F, pts, rad = _add_row(F, pts, rad, keep * row, basis, margin,
                                                   stats)
                        fresh = False
                        if ok != 1:
                            return 0 if ok == 0 else 2, F, pts, rad, U, basis
                        restart = True
                        break
                    continue
                pts, rad = _with_point(pts, rad, u, r)
                for t in range(nu):
                    s = _dot(u, An[U[t]]) + cn[U[t]]
                    posr[t] = max(posr[t], min(r, s))
                    negr[t] = max(negr[t], min(r, -s))
            if restart:
                break
    nl = 0
    for i in range(nu):
        if not settled[i]:
            nl += 1
    U2 = np.empty(nl, dtype=np.int64)
    t = 0
    for i in range(nu):
        if not settled[i]:
            U2[t] = U[i]
            t += 1
    if nl == 0:
        pts, rad = _trim(pts, rad)
    return 1, F, pts, rad, U2, basis


@njit(cache=True)
def _add_rows(F, pts, rad, rows, basis, margin, stats):
    """``LPPath._add_rows``: (ok, F, pts, rad) as ``_add_row``, for several rows at once."""
    d = pts.shape[1]
    F2 = np.empty((F.shape[0] + rows.shape[0], d + 1))
    F2[:F.shape[0]] = F
    F2[F.shape[0]:] = rows
    np_ = rad.size
    rad2 = np.empty(np_)
    nk = 0
    for i in range(np_):
        x = rad[i]
        for t in range(rows.shape[0]):
            x = min(x, _dot(rows[t, :d], pts[i]) + rows[t, d])
        rad2[i] = x
        if x > margin:
            nk += 1
    if nk == 0:
        r, u, status, _ = warm_chebyshev(F2, np.empty((0, d + 1)), _deepest(pts, rad, d),
                                         basis, stats)
        if status:
            return 2, F2, pts, rad
        if r <= margin:
            return 0, F2, pts, rad
        P = np.empty((1, d))
        P[0] = u
        R = np.empty(1)
        R[0] = r
        return 1, F2, P, R
    P = np.empty((nk, d))
    R = np.empty(nk)
    j = 0
    for i in range(np_):
        if rad2[i] > margin:
            P[j] = pts[i]
            R[j] = rad2[i]
            j += 1
    return 1, F2, P, R


@njit(cache=True)
def _cell_depths(pts, rad, A, c, G, active, inv, g):
    """``lp_path._cell_depths``: per piece of live group g, the largest certified ball radius
    of a known point in its cell."""
    w = G.shape[1]
    npts = rad.size
    Z = np.empty((npts, w))
    for p in range(npts):
        for i in range(w):
            j = max(G[g, i], 0)
            Z[p, i] = _dot(pts[p], A[j]) + c[j]
    out = np.full(w, -np.inf)
    for i in range(w):
        for p in range(npts):
            x = rad[p]
            for m in range(w):
                if active[g, i, m]:
                    x = min(x, (Z[p, i] - Z[p, m]) * inv[g, i, m])
            out[i] = max(out[i], x)
    return out


@njit(cache=True)
def _probe_piece(F, pts, rad, A, c, G, active, inv, g, i, rows):
    """``lp_path._probe_piece``: the deepest point mirrored across the hyperplane between
    piece i and the piece that wins there, and the radius of the ball around it inside the
    node and the cell of piece i (``rows``)."""
    d = pts.shape[1]
    w = G.shape[1]
    best = np.argmax(rad)
    p = pts[best]
    r = rad[best]
    win = -1
    zw = -np.inf
    for m in range(w):
        if G[g, m] >= 0:
            z = _dot(p, A[G[g, m]]) + c[G[g, m]]
            if z > zw:
                zw = z
                win = m
    if win == i or not active[g, i, win]:
        return p.copy(), -np.inf
    pi = G[g, i]
    pw = G[g, win]
    f = inv[g, i, win]
    row = np.empty(d + 1)
    for k in range(d):
        row[k] = (A[pi, k] - A[pw, k]) * f
    row[d] = (c[pi] - c[pw]) * f
    q = p + (r - (_dot(row[:d], p) + row[d])) * row[:d]
    depth = min(r, 1.0 - np.abs(q).max())
    for t in range(F.shape[0]):
        depth = min(depth, _dot(F[t, :d], q) + F[t, d])
    for t in range(rows.shape[0]):
        depth = min(depth, _dot(rows[t, :d], q) + rows[t, d])
    return q, depth


@njit(cache=True)
def _beaten_on_a_row(F, A, c, G, active, inv, g, i, margin):
    """``lp_path._beaten_on_a_row``: is piece i of live group g beaten by another piece on the
    node by a row of the node itself (its cell then holds no ball of radius > margin)?"""
    d = A.shape[1]
    w = G.shape[1]
    pi = G[g, i]
    for m in range(w):
        if not active[g, i, m]:
            continue
        pm = G[g, m]
        f = inv[g, i, m]
        for t in range(F.shape[0]):
            gap = (c[pi] - c[pm]) * f + F[t, d]
            mag = abs((c[pi] - c[pm]) * f) + abs(F[t, d])
            for r in range(d):
                x = (A[pi, r] - A[pm, r]) * f
                gap += abs(x + F[t, r])
                mag += abs(x) + abs(F[t, r])
            if gap + 4.0 * (d + 2) * 2.220446049250313e-16 * mag <= 2.0 * margin:
                return True
    return False


@njit(cache=True)
def _settle_groups(F, pts, rad, U, live, A, c, G, possible, active, inv, choice, basis,
                   margin, stats):
    """``LPPath.group_cells``, the loop of one popped entry: groups with a single cell on the
    node are settled in place (``choice`` written), slivers of the other pieces cut off.
    Returns (status, F, pts, rad, U left, alive pieces of U[0], basis); status 0: no ball of
    radius > margin in the node; 1: done (U left empty: a cell of the layer; else U[0] splits
    into the cells of ``alive``); 2: an LP was not proven (the walk stops). ``basis`` as in
    ``_settle``."""
    d = pts.shape[1]
    w = G.shape[1]
    fresh = False
    alive = np.empty(0, dtype=np.int64)
    start = 0
    while start < U.size:
        g = U[start]
        depth = _cell_depths(pts, rad, A, c, G, active, inv, g)
        cert = np.zeros(w, dtype=np.bool_)
        for i in range(w):
            cert[i] = possible[g, i] and depth[i] > margin
        rstar = np.full(w, -np.inf)
        tried = np.zeros(w, dtype=np.bool_)
        for i in range(w):
            if possible[g, i] and not cert[i]:
                if _beaten_on_a_row(F, A, c, G, active, inv, g, i, margin):
                    continue
                rows = cell_rows(A, c, G, active, inv, g, i)
                if rad.size:
                    q, r = _probe_piece(F, pts, rad, A, c, G, active, inv, g, i, rows)
                    if r > margin:
                        cert[i] = True
                        pts, rad = _with_point(pts, rad, q, r)
                        continue
                if not fresh:
                    basis = _node_basis(F, _deepest(pts, rad, d), basis, stats)
                    fresh = True
                r, u, status, _ = warm_chebyshev(F, rows, _deepest(pts, rad, d), basis, stats)
                if status:
                    return 2, F, pts, rad, U[start:], alive, basis
                rstar[i] = r
                tried[i] = True
                if r > margin:
                    cert[i] = True
                    pts, rad = _with_point(pts, rad, u, r)
                elif r > 0.0:
                    stats[1] += 1
                    stats[2] = max(stats[2], r)
        na = 0
        for i in range(w):
            if cert[i]:
                na += 1
        alive = np.empty(na, dtype=np.int64)
        t = 0
        for i in range(w):
            if cert[i]:
                alive[t] = i
                t += 1
        if na != 1:
            break
        i = alive[0]
        choice[live[g]] = i
        nthin = 0
        for m in range(w):
            if tried[m] and rstar[m] > THIN and active[g, i, m]:
                nthin += 1
        if nthin:
            rows_i = cell_rows(A, c, G, active, inv, g, i)
            thin = np.empty((nthin, d + 1))
            t = 0
            q = 0
            for m in range(w):
                if active[g, i, m]:
                    if tried[m] and rstar[m] > THIN:
                        thin[t] = rows_i[q]
                        t += 1
                    q += 1
            ok, F, pts, rad = _add_rows(F, pts, rad, thin, basis, margin, stats)
            fresh = False
            if ok != 1:
                return 0 if ok == 0 else 2, F, pts, rad, U[start:], alive, basis
        start += 1
    if start < U.size and alive.size == 0:
        return 0, F, pts, rad, U[start:], alive, basis
    return 1, F, pts, rad, U[start:].copy(), alive, basis


class Entry(NamedTuple):
    """A stack entry of the walk: layer k's node (rows F, evidence points and radii), its live
    units (indices into ``cl``) or live groups (indices into ``G``) in ``U``, the layer's
    pattern so far (``bits``: bits or winning pieces), the pattern of the layers before it
    (``prefix``), the layer's pre-activations (A, c) and what the node decides on: unit rows
    (An, cn, cl) or group geometry (G, possible, active, inv), and the maps of the sources
    that this layer and later ones read (``kernel_pack.PackedMaps``: MA, Mc, moff, mnorm)."""

    k: int
    F: np.ndarray
    pts: np.ndarray
    rad: np.ndarray
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
    basis: Basis


@njit(cache=True)
def _node(k, F, pts, rad, net, MA, Mc, moff, mnorm, prefix, basis):
    """The entry of layer k on a cell of the layers before it (maps MA, Mc, moff, mnorm)."""
    d = MA.shape[1]
    A, c, scale = layer_pre(net, k, MA, Mc, moff, mnorm)
    if net.kind[k] == 0:
        bits, cl, An, cn = unit_rows(net, k, A, c, scale, MA, Mc, moff)
        return Entry(k, F, pts, rad, np.arange(cl.size), bits, prefix, An, cn, cl,
                     np.zeros((0, 1), dtype=np.int64), np.zeros((0, 1), dtype=np.bool_),
                     np.zeros((0, 1, 1), dtype=np.bool_), np.zeros((0, 1, 1)), A, c,
                     MA, Mc, moff, mnorm, basis)
    bits = net.fixed[net.pat_off[k]:net.pat_off[k + 1]].copy()
    G, possible, active, inv = group_geometry(net, k, A, c, scale, MA, Mc, moff)
    return Entry(k, F, pts, rad, np.arange(G.shape[0]), bits, prefix, np.empty((0, d)),
                 np.empty(0), np.empty(0, dtype=np.int64), G, possible, active, inv, A, c,
                 MA, Mc, moff, mnorm, basis)


@njit(cache=True)
def _with(e, F, pts, rad, U, bits, basis):
    """The entry e with a new node, live set, pattern and LP basis (the layer's algebra
    shared)."""
    return Entry(e.k, F, pts, rad, U, bits, e.prefix, e.An, e.cn, e.cl, e.G, e.possible,
                 e.active, e.inv, e.A, e.c, e.MA, e.Mc, e.moff, e.mnorm, basis)


@njit(cache=True)
def new_stack(d, net):
    """The walk's stack with the root: the box with its centre as evidence, layer 0 reading
    the identity map of the input (source 0)."""
    ns = net.last_use.size
    moff = np.full(ns, -1, dtype=np.int64)
    mnorm = np.zeros(ns)
    moff[0] = 0
    mnorm[0] = np.sqrt(float(d))
    stack = List()
    stack.append(_node(np.int64(0), np.empty((0, d + 1)), np.zeros((1, d)), np.ones(1), net, np.eye(d),
                       np.zeros(d), moff, mnorm, np.zeros(0, dtype=np.int16), root_basis(d)))
    return stack


@njit(cache=True)
def new_cells(d, net):
    """An empty list of stack entries (the cells of ``walk``'s ``split_k``)."""
    cells = new_stack(d, net)
    cells.pop()
    return cells


@njit(cache=True)
def new_stack_at(k, F, pts, rad, net, MA, Mc, moff, mnorm, prefix):
    """The walk's stack with one cell of the layers before k (an ``LPNode``'s rows and
    evidence), the maps of the sources read from k on (``kernel_pack.pack_maps``) and the
    pattern ``prefix`` of those layers."""
    stack = List()
    stack.append(_node(k, F, pts, rad, net, MA, Mc, moff, mnorm, prefix,
                       root_basis(F.shape[1] - 1)))
    return stack


@njit(cache=True)
def pack_stack(stack, idx):
    """The stack entries ``stack[idx]`` (a walk's frontier) as flat arrays, cheap to pickle:
    per entry its layer, then each array field concatenated with its offsets (F, evidence
    points and radii, U, bits, prefix, maps MA / Mc, moff / mnorm). The layer's algebra is
    recomputed from the maps when the stack is rebuilt (the same code on the same numbers)."""
    n = idx.size
    d = stack[idx[0]].F.shape[1] - 1 if n else 1
    ns = stack[idx[0]].moff.size if n else 1
    ks = np.empty(n, dtype=np.int64)
    o = np.zeros((6, n + 1), dtype=np.int64)    # F, pts, U, bits, prefix, MA
    for t in range(n):
        e = stack[idx[t]]
        sizes = (e.F.shape[0], e.pts.shape[0], e.U.size, e.bits.size, e.prefix.size,
                 e.MA.shape[0])
        for q in range(6):
            o[q, t + 1] = o[q, t] + sizes[q]
    Fs = np.empty((o[0, n], d + 1))
    Ps = np.empty((o[1, n], d))
    Rs = np.empty(o[1, n])
    Us = np.empty(o[2, n], dtype=np.int64)
    Bs = np.empty(o[3, n], dtype=np.int16)
    Xs = np.empty(o[4, n], dtype=np.int16)
    MAs = np.empty((o[5, n], d))
    Mcs = np.empty(o[5, n])
    Mo = np.empty((n, ns), dtype=np.int64)
    Mn = np.empty((n, ns))
    for t in range(n):
        e = stack[idx[t]]
        ks[t] = e.k
        Fs[o[0, t]:o[0, t + 1]] = e.F
        Ps[o[1, t]:o[1, t + 1]] = e.pts
        Rs[o[1, t]:o[1, t + 1]] = e.rad
        Us[o[2, t]:o[2, t + 1]] = e.U
        Bs[o[3, t]:o[3, t + 1]] = e.bits
        Xs[o[4, t]:o[4, t + 1]] = e.prefix
        MAs[o[5, t]:o[5, t + 1]] = e.MA
        Mcs[o[5, t]:o[5, t + 1]] = e.Mc
        Mo[t] = e.moff
        Mn[t] = e.mnorm
    return ks, o, Fs, Ps, Rs, Us, Bs, Xs, MAs, Mcs, Mo, Mn


@njit(cache=True)
def stack_of_packed_stack(packed, net):
    """A walk's stack holding the entries of ``pack_stack``'s output, in their order."""
    ks, o, Fs, Ps, Rs, Us, Bs, Xs, MAs, Mcs, Mo, Mn = packed
    stack = List()
    for t in range(ks.size):
        e = _node(ks[t], Fs[o[0, t]:o[0, t + 1]].copy(), Ps[o[1, t]:o[1, t + 1]].copy(),
                  Rs[o[1, t]:o[1, t + 1]].copy(), net, MAs[o[5, t]:o[5, t + 1]].copy(),
                  Mcs[o[5, t]:o[5, t + 1]].copy(), Mo[t].copy(), Mn[t].copy(),
                  Xs[o[4, t]:o[4, t + 1]].copy(), root_basis(Fs.shape[1] - 1))
        stack.append(_with(e, e.F, e.pts, e.rad, Us[o[2, t]:o[2, t + 1]].copy(),
                           Bs[o[3, t]:o[3, t + 1]].copy(), e.basis))
    return stack


@njit(cache=True)
def _split_points(pts, rad, rows, margin):
    """The evidence a child cut by ``rows`` keeps: points whose ball, shrunk to the rows, is
    still of radius > margin (trimmed to the deepest)."""
    d = pts.shape[1]
    npts = rad.size
    depth = np.empty(npts)
    nk = 0
    for p in range(npts):
        x = rad[p]
        for t in range(rows.shape[0]):
            x = min(x, _dot(pts[p], rows[t, :d]) + rows[t, d])
        depth[p] = x
        if x > margin:
            nk += 1
    P = np.empty((nk, d))
    R = np.empty(nk)
    j = 0
    for p in range(npts):
        if depth[p] > margin:
            P[j] = pts[p]
            R[j] = depth[p]
            j += 1
    return _trim(P, R)


@njit(cache=True)
def _cell_done(stack, e, F, pts, rad, bits, basis, net, out_pat, out_u, out_r, n_out,
               split_k, cells):
    """A cell of layer e.k: a leaf (written to the outputs), or the entry of layer k + 1
    pushed (onto ``cells`` instead when k + 1 is ``split_k``); the new number of leaves
    written."""
    k = e.k
    pat = np.empty(e.prefix.size + bits.size, dtype=np.int16)
    pat[:e.prefix.size] = e.prefix
    pat[e.prefix.size:] = bits
    if k == net.kind.size - 1:
        best = np.argmax(rad)
        out_pat[n_out, :pat.size] = pat
        out_u[n_out] = pts[best]
        out_r[n_out] = rad[best] + THIN
        return n_out + 1
    Aout, cout, onorm = output_map(net, k, bits, e.A, e.c)
    MA, Mc, moff, mnorm = next_maps(net, k, e.MA, e.Mc, e.moff, e.mnorm, Aout, cout, onorm)
    entry = _node(k + 1, F, pts, rad, net, MA, Mc, moff, mnorm, pat, basis)
    if k + 1 == split_k:
        cells.append(entry)
    else:
        stack.append(entry)
    return n_out


@njit(cache=True)
def _evidence_sides(pts, rad, row, margin):
    """The evidence points on each side of ``row`` (a . u + c) beyond the margin, their radii
    cut to their distance from it (a ball on one side stays inside that side), trimmed."""
    d = pts.shape[1]
    npts = rad.size
    S = np.empty(npts)
    nneg = 0
    npos = 0
    for p in range(npts):
        S[p] = _dot(pts[p], row[:d]) + row[d]
        if -S[p] > margin:
            nneg += 1
        if S[p] > margin:
            npos += 1
    Pm = np.empty((nneg, d))
    Rm = np.empty(nneg)
    Pp = np.empty((npos, d))
    Rp = np.empty(npos)
    a = 0
    b = 0
    for p in range(npts):
        if -S[p] > margin:
            Pm[a] = pts[p]
            Rm[a] = min(rad[p], -S[p])
            a += 1
        if S[p] > margin:
            Pp[b] = pts[p]
            Rp[b] = min(rad[p], S[p])
            b += 1
    Pm, Rm = _trim(Pm, Rm)
    Pp, Rp = _trim(Pp, Rp)
    return Pm, Rm, Pp, Rp


@njit(cache=True)
def walk(stack, net, margin, node_budget, out_pat, out_u, out_r, stats, split_k, cells):
    """Advance the walk by up to ``node_budget`` nodes or until the output buffers are full.
    With ``split_k`` >= 1 the entries of layer ``split_k`` go to ``cells`` instead (the
    cells of the layers before it, each the root of a subtree: ``TreeCounter.split``).

    Returns (leaves written, state): 0 more to do, 1 done, 2 stopped at an LP that was not
    proven. ``stats``: [nodes, thin_dropped, thickest_dropped, LPs, second starts, pivots],
    updated in place. A leaf's radius is its deepest evidence radius less -THIN (``LPPath.leaf``).
    A max layer without live groups is one cell and no node (as ``LPPath.group_cells``).

    Invariants: an entry's node is its rows F inside the box; each evidence point lies in the
    node with a ball of its radius proven inside (``rad``), and the layer's units outside ``U``
    (groups outside ``U``) are decided on the node (``bits``). Only the top entry is read; a
    popped entry is never read again, so the plus child takes its ``bits`` array and the minus
    child a copy (pushed first, so the plus side is walked first, as ``LPPath.unit_cells``
    yields it). An entry handed back (state 2) is back on top, unchanged.
    """
    d = out_u.shape[1]
    n_out = np.int64(0)
    cap = out_u.shape[0]
    nodes = 0
    while len(stack) > 0 and nodes < node_budget and n_out < cap:
        e = stack.pop()
        k = e.k
        if net.kind[k] == 0:
            nodes += 1
            status, F, pts, rad, U, basis = _settle(e.F, e.pts, e.rad, e.U, e.An, e.cn, e.cl,
                                                    e.bits, e.basis, margin, stats)
            if status == 2:
                stack.append(e)
                stats[0] += nodes
                return n_out, 2
            if status == 0:
                continue
            if U.size:
                j = U[0]
                rest = U[1:].copy()
                row = np.empty(d + 1)
                row[:d] = e.An[j]
                row[d] = e.cn[j]
                Pm, Rm, Pp, Rp = _evidence_sides(pts, rad, row, margin)
                b0 = e.bits.copy()
                b0[e.cl[j]] = 0
                stack.append(_with(e, _with_row(F, -row), Pm, Rm, rest, b0, basis))
                bits = e.bits
                bits[e.cl[j]] = 1
                stack.append(_with(e, _with_row(F, row), Pp, Rp, rest, bits, basis))
                continue
            n_out = _cell_done(stack, e, F, pts, rad, e.bits, basis, net, out_pat, out_u,
                               out_r, n_out, split_k, cells)
            continue
        live = net.live[net.live_off[k]:net.live_off[k + 1]]
        if live.size:
            nodes += 1
        status, F, pts, rad, U, alive, basis = _settle_groups(
            e.F, e.pts, e.rad, e.U, live, e.A, e.c, e.G, e.possible, e.active, e.inv, e.bits,
            e.basis, margin, stats)
        if status == 2:
            stack.append(e)
            stats[0] += nodes
            return n_out, 2
        if status == 0:
            continue
        if U.size == 0:
            n_out = _cell_done(stack, e, F, pts, rad, e.bits, basis, net, out_pat, out_u,
                               out_r, n_out, split_k, cells)
            continue
        g = U[0]
        rest = U[1:].copy()
        for t in range(alive.size - 1, -1, -1):
            i = alive[t]
            rows = cell_rows(e.A, e.c, e.G, e.active, e.inv, g, i)
            P, R = _split_points(pts, rad, rows, margin)
            Fc = np.empty((F.shape[0] + rows.shape[0], d + 1))
            Fc[:F.shape[0]] = F
            Fc[F.shape[0]:] = rows
            ch = e.bits.copy()
            ch[live[g]] = i
            stack.append(_with(e, Fc, P, R, rest, ch, basis))
    stats[0] += nodes
    return n_out, 1 if len(stack) == 0 else 0


def is_loaded() -> bool:
    """Whether this process has compiled or loaded what a serial count calls already (the LP
    walk and the witness check)."""
    return all(bool(f.overloads) for f in (walk, new_stack, verify))


@compiled_cache.one_at_a_time(walk)           # other processes wait, then load it
def warm_up(parallel: bool = True) -> None:
    """Compile (first run after install) or load (from the cache) the LP walk on a tiny net
    (a unit layer reading the input, then a max layer reading both it and the input, one
    weight dense and one sparse: every specialisation a count uses). ``parallel=False``: only
    what a serial count calls, not the stack packing of parallel counts."""
    from scipy.sparse import csr_matrix

    from .kernel_pack import compiled_layers, general_layers, pack_maps
    from .layers import Groups, Units

    one = np.ones((1, 1))
    units = Units([(0, one)], np.zeros(1), np.zeros(1), np.zeros(1, dtype=np.int16),
                  np.zeros(1, dtype=np.int64), np.ones(1), 1e-14)
    groups = Groups([(0, one), (1, csr_matrix(one))], np.zeros(1), np.zeros((1, 1), np.int64),
                    np.zeros(1, dtype=np.int16), np.zeros(0, dtype=np.int64),
                    np.ones((1, 1), dtype=bool), 1e-14)
    net = general_layers([units, groups])
    stack = new_stack(1, net)
    walk(stack, net, 1e-10, 16, np.zeros((4, 2), dtype=np.int16), np.zeros((4, 1)),
         np.zeros(4), np.zeros(7), np.int64(-1), new_cells(1, net))
    chain = compiled_layers([units])
    verify(chain, np.zeros((1, 1)), np.zeros((1, 1), dtype=np.int16))
    if not parallel:
        return
    maps = pack_maps(net, 1, [(np.eye(1), np.zeros(1)), (np.eye(1), np.zeros(1))])
    new_stack_at(1, np.empty((0, 2)), np.zeros((1, 1)), np.ones(1), net, *maps,
                 np.zeros(1, dtype=np.int16))
    stack_of_packed_stack(pack_stack(new_stack(1, net), np.zeros(1, dtype=np.int64)), net)
