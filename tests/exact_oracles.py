"""Independent exact region counters for 1-D and 2-D inputs, in rational arithmetic.

Ground truth for tests on degenerate networks (many hyperplanes through one point, duplicate
units, units touching zero, dead units). Nothing here shares code with the package beyond the
network IR: every weight, bias, slope and box bound is converted exactly with
``fractions.Fraction(float)`` and all geometry is done in exact rationals, so the results are
correct by construction for any degeneracy.

Method (the same in 1-D and 2-D): the box is a single convex piece. Layer by layer, on every
current piece each layer output of the earlier layers is an exact affine form of the input, so
the layer's pre-activations are exact affine forms too. The piece is cut by the zero set of
every pre-activation that is non-constant on it (keeping only sub-pieces of positive length /
area). In the interior of a resulting sub-piece no pre-activation changes sign, so the bit of
each unit is read at one interior point (a constant pre-activation c gives bit ``c > 0``; in
particular a unit identically 0 on the piece has bit 0). The layer outputs on the sub-piece are
then the exact affine forms ``z`` (bit 1) or ``neg_slope * z`` (bit 0).

The activation regions with nonempty interior are exactly the distinct patterns of the final
pieces: every piece interior is an open set with one pattern, and any open set meets some piece
interior in an open set. A degenerate box (zero length / area) has no regions: the count is 0.

Patterns are reported as a tuple with one tuple of bools per layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from milpregions.ir.network import Network

Form = tuple  # exact affine form (c_1, ..., c_p, const) over a p-dimensional parameter
Pattern = tuple  # tuple over layers of tuples of bools

__all__ = [
    "count_1d",
    "regions_1d",
    "count_line",
    "regions_line",
    "count_2d",
    "regions_2d",
    "count_plane",
    "regions_plane",
    "linear_regions_2d",
]


# --------------------------------------------------------------------------------------------
# exact network


def _fr(x) -> Fraction:
    return x if isinstance(x, Fraction) else Fraction(float(x))


class _ExactLayer:
    __slots__ = ("rows", "bias", "slopes", "size")

    def __init__(self, layer) -> None:
        aff = layer.affine
        self.size = aff.size
        self.bias = [_fr(v) for v in np.asarray(aff.b, dtype=np.float64)]
        self.slopes = [_fr(v) for v in np.asarray(layer.neg_slope, dtype=np.float64)]
        # rows[j] = list of (source, index, weight) with nonzero weight
        rows: list[list[tuple[int, int, Fraction]]] = [[] for _ in range(self.size)]
        for s, W in sorted(aff.W.items()):
            W = np.asarray(W, dtype=np.float64)
            for j in range(W.shape[0]):
                for i in range(W.shape[1]):
                    if W[j, i] != 0.0:
                        rows[j].append((s, i, _fr(W[j, i])))
        self.rows = rows


def _exact_layers(net: Network) -> list[_ExactLayer]:
    return [_ExactLayer(layer) for layer in net.layers]


# --------------------------------------------------------------------------------------------
# affine forms


def _form_eval(f: Form, x: Sequence[Fraction]) -> Fraction:
    v = f[-1]
    for c, xi in zip(f, x):
        if c:
            v += c * xi
    return v


def _is_constant(f: Form) -> bool:
    return not any(f[:-1])


def _preacts(layer: _ExactLayer, forms: list[list[Form]], p: int) -> list[Form]:
    out = []
    for j in range(layer.size):
        acc = [Fraction(0)] * p + [layer.bias[j]]
        for s, i, w in layer.rows[j]:
            f = forms[s][i]
            for t in range(p + 1):
                if f[t]:
                    acc[t] += w * f[t]
        out.append(tuple(acc))
    return out


# --------------------------------------------------------------------------------------------
# geometry: 1-D intervals (a, b) with a < b, and convex CCW polygons with positive area


class _Interval:
    dim = 1

    @staticmethod
    def split(piece, f: Form):
        """Cut (a, b) at the zero of the non-constant form f if it lies strictly inside."""
        a, b = piece
        r = -f[1] / f[0]
        if a < r < b:
            return [(a, r), (r, b)]
        return [piece]

    @staticmethod
    def interior_point(piece):
        a, b = piece
        return ((a + b) / 2,)

    @staticmethod
    def measure(piece) -> Fraction:
        return piece[1] - piece[0]


def _area2(poly) -> Fraction:
    """Twice the signed area (shoelace)."""
    s = Fraction(0)
    n = len(poly)
    for k in range(n):
        x0, y0 = poly[k]
        x1, y1 = poly[(k + 1) % n]
        s += x0 * y1 - x1 * y0
    return s


def _clean(poly):
    """Drop repeated and collinear vertices; None if the polygon has no positive area."""
    pts = []
    for p in poly:
        if not pts or pts[-1] != p:
            pts.append(p)
    while len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()
    changed = True
    while changed and len(pts) >= 3:
        changed = False
        n = len(pts)
        for k in range(n):
            a, b, c = pts[k - 1], pts[k], pts[(k + 1) % n]
            cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
            if cross == 0:
                del pts[k]
                changed = True
                break
    if len(pts) < 3 or _area2(pts) <= 0:
        return None
    return tuple(pts)


class _Polygon:
    dim = 2

    @staticmethod
    def split(piece, f: Form):
        """Cut a convex polygon by the line f = 0 (f non-constant); keep positive-area parts."""
        vals = [f[0] * x + f[1] * y + f[2] for x, y in piece]
        if all(v >= 0 for v in vals) or all(v <= 0 for v in vals):
            return [piece]
        pos, neg = [], []
        n = len(piece)
        for k in range(n):
            p, q = piece[k], piece[(k + 1) % n]
            fp, fq = vals[k], vals[(k + 1) % n]
            if fp >= 0:
                pos.append(p)
            if fp <= 0:
                neg.append(p)
            if (fp > 0 and fq < 0) or (fp < 0 and fq > 0):
                lam = fp / (fp - fq)
                r = (p[0] + lam * (q[0] - p[0]), p[1] + lam * (q[1] - p[1]))
                pos.append(r)
                neg.append(r)
        out = []
        for part in (neg, pos):
            c = _clean(part)
            if c is not None:
                out.append(c)
        return out

    @staticmethod
    def interior_point(piece):
        # The vertex mean: a strictly positive convex combination of the vertices of a convex
        # polygon with positive area lies in its interior.
        n = len(piece)
        return (sum((p[0] for p in piece), Fraction(0)) / n,
                sum((p[1] for p in piece), Fraction(0)) / n)

    @staticmethod
    def measure(piece) -> Fraction:
        return _area2(piece) / 2


# --------------------------------------------------------------------------------------------
# the generic splitter


def _regions(layers: list[_ExactLayer], geom, start, input_forms: list[Form], with_forms=False):
    """Final pieces as (piece, pattern) (with ``with_forms``: (piece, pattern, forms per
    source)). ``input_forms`` are the network inputs as exact affine forms of the parameter
    (dimension ``geom.dim``)."""
    p = geom.dim
    # a piece: (geometry, forms per source, pattern)
    pieces = [(start, [list(input_forms)], ())]
    for layer in layers:
        new = []
        for g, forms, pat in pieces:
            z = _preacts(layer, forms, p)
            geoms = [g]
            for f in z:
                if _is_constant(f):
                    continue
                nxt = []
                for gg in geoms:
                    nxt.extend(geom.split(gg, f))
                geoms = nxt
            for gg in geoms:
                x = geom.interior_point(gg)
                bits = []
                outs = []
                for j, f in enumerate(z):
                    v = _form_eval(f, x)
                    if not _is_constant(f) and v == 0:  # pragma: no cover - self-check
                        raise AssertionError("non-constant pre-activation vanishes at an "
                                             "interior point of a final piece")
                    on = v > 0
                    bits.append(on)
                    if on:
                        outs.append(f)
                    else:
                        s = layer.slopes[j]
                        outs.append(tuple(s * c for c in f))
                new.append((gg, forms + [outs], pat + (tuple(bits),)))
        pieces = new
    if with_forms:
        return [(g, pat, forms) for g, forms, pat in pieces]
    return [(g, pat) for g, _, pat in pieces]


def _check_dim(net: Network, d: int, what: str) -> None:
    if net.input_dim != d:
        raise ValueError(f"{what} needs a network with {d} inputs, got {net.input_dim}")


# --------------------------------------------------------------------------------------------
# 1-D


def regions_line(net: Network, p0, p1) -> list[tuple[Fraction, Fraction, Pattern]]:
    """Pieces of t in [0, 1] for t -> net(p0 + t (p1 - p0)): sorted (a, b, pattern), a < b.

    Pieces are maximal intervals between consecutive breakpoints (adjacent pieces can only
    share a pattern across a zero that a unit touches without changing sign)."""
    p0 = [_fr(v) for v in np.atleast_1d(np.asarray(p0, dtype=np.float64))]
    p1 = [_fr(v) for v in np.atleast_1d(np.asarray(p1, dtype=np.float64))]
    _check_dim(net, len(p0), "regions_line")
    if len(p1) != len(p0):
        raise ValueError("p0 and p1 differ in dimension")
    forms = [(b - a, a) for a, b in zip(p0, p1)]
    if p0 == p1:
        return []
    out = _regions(_exact_layers(net), _Interval, (Fraction(0), Fraction(1)), forms)
    return sorted(((a, b, pat) for (a, b), pat in out), key=lambda r: r[0])


def count_line(net: Network, p0, p1) -> int:
    """Number of distinct activation patterns on open subsets of the segment t in (0, 1) of
    t -> net(p0 + t (p1 - p0)); 0 if p0 == p1."""
    return len({pat for _, _, pat in regions_line(net, p0, p1)})


def regions_1d(net: Network, lo, hi) -> list[tuple[Fraction, Fraction, Pattern]]:
    """Pieces of [lo, hi] (net.input_dim == 1) as sorted (a, b, pattern) with exact a < b
    covering [lo, hi]; each pattern is the activation pattern on the open interval (a, b).
    Empty if lo >= hi."""
    _check_dim(net, 1, "regions_1d")
    lo = _fr(np.asarray(lo, dtype=np.float64).reshape(-1)[0])
    hi = _fr(np.asarray(hi, dtype=np.float64).reshape(-1)[0])
    if not lo < hi:
        return []
    out = _regions(_exact_layers(net), _Interval, (lo, hi), [(Fraction(1), Fraction(0))])
    return sorted(((a, b, pat) for (a, b), pat in out), key=lambda r: r[0])


def count_1d(net: Network, lo, hi) -> int:
    """Exact number of activation regions of a 1-input network in [lo, hi] (0 if lo >= hi)."""
    return len({pat for _, _, pat in regions_1d(net, lo, hi)})


# --------------------------------------------------------------------------------------------
# 2-D


def _pair(v) -> list[Fraction]:
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    if a.size == 1:
        a = np.repeat(a, 2)
    if a.size != 2:
        raise ValueError("2-D box bounds need 1 or 2 entries")
    return [_fr(x) for x in a]


def regions_plane(net: Network, c, u, v, lo, hi) -> list[tuple[tuple, Pattern]]:
    """Pieces of the 2-D section (s, t) -> net(c + s u + t v), (s, t) in [lo, hi] (per
    coordinate), as (polygon, pattern): exact convex CCW polygons of positive area that tile
    the rectangle, each with the pattern on its interior."""
    c = [_fr(x) for x in np.atleast_1d(np.asarray(c, dtype=np.float64))]
    u = [_fr(x) for x in np.atleast_1d(np.asarray(u, dtype=np.float64))]
    v = [_fr(x) for x in np.atleast_1d(np.asarray(v, dtype=np.float64))]
    _check_dim(net, len(c), "regions_plane")
    if not len(u) == len(v) == len(c):
        raise ValueError("c, u, v differ in dimension")
    (x0, y0), (x1, y1) = _pair(lo), _pair(hi)
    if not (x0 < x1 and y0 < y1):
        return []
    rect = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    forms = [(ui, vi, ci) for ci, ui, vi in zip(c, u, v)]
    return _regions(_exact_layers(net), _Polygon, rect, forms)


def count_plane(net: Network, c, u, v, lo, hi) -> int:
    """Number of distinct patterns on open subsets of the 2-D section of ``regions_plane``."""
    return len({pat for _, pat in regions_plane(net, c, u, v, lo, hi)})


def regions_2d(net: Network, lo, hi) -> list[tuple[tuple, Pattern]]:
    """Pieces of the box [lo, hi] (net.input_dim == 2; scalar bounds apply to both inputs) as
    (polygon, pattern), see ``regions_plane``. Empty if the box has no interior."""
    _check_dim(net, 2, "regions_2d")
    return regions_plane(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], lo, hi)


def count_2d(net: Network, lo, hi) -> int:
    """Exact number of activation regions of a 2-input network in the box [lo, hi]."""
    return len({pat for _, pat in regions_2d(net, lo, hi)})


def _output_form(net: Network, forms: list[list[Form]], p: int) -> tuple:
    """The network output on a piece, as exact affine forms (one per output)."""
    W = {s: np.asarray(w, dtype=np.float64) for s, w in net.output.W.items()}
    out = []
    for j, b in enumerate(np.asarray(net.output.b, dtype=np.float64)):
        acc = [Fraction(0)] * p + [_fr(b)]
        for s, w in W.items():
            for i, wij in enumerate(w[j]):
                if wij != 0.0:
                    f = forms[s][i]
                    for t in range(p + 1):
                        acc[t] += _fr(wij) * f[t]
        out.append(tuple(acc))
    return tuple(out)


def _share_edge(P, Q) -> bool:
    """Two convex polygons of a tiling share a segment of positive length (exact)."""
    for a in range(len(P)):
        p0, p1 = P[a], P[(a + 1) % len(P)]
        dx, dy = p1[0] - p0[0], p1[1] - p0[1]
        for b in range(len(Q)):
            q0, q1 = Q[b], Q[(b + 1) % len(Q)]
            if any(dx * (q[1] - p0[1]) - dy * (q[0] - p0[0]) != 0 for q in (q0, q1)):
                continue
            # collinear: overlap of the parameter intervals along p0 -> p1
            L = dx * dx + dy * dy
            t = sorted(((q[0] - p0[0]) * dx + (q[1] - p0[1]) * dy) / L for q in (q0, q1))
            if min(Fraction(1), t[1]) > max(Fraction(0), t[0]):
                return True
    return False


def linear_regions_2d(net: Network, lo, hi):
    """Exact activation regions, linear regions and affine pieces of a 2-input network in the
    box [lo, hi], and the region graph as a set of frozensets of two patterns: polygons of
    the exact splitter, adjacent when they share a segment, merged when their output forms
    are equal."""
    _check_dim(net, 2, "linear_regions_2d")
    (x0, y0), (x1, y1) = _pair(lo), _pair(hi)
    rect = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    forms = [(Fraction(1), Fraction(0), Fraction(0)), (Fraction(0), Fraction(1), Fraction(0))]
    pieces = _regions(_exact_layers(net), _Polygon, rect, forms, with_forms=True)
    pats = [pat for _, pat, _ in pieces]
    assert len(set(pats)) == len(pats)
    maps = [_output_form(net, f, 2) for _, _, f in pieces]
    n = len(pieces)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    edges = set()
    for i in range(n):
        for j in range(i + 1, n):
            if _share_edge(pieces[i][0], pieces[j][0]):
                edges.add(frozenset((pats[i], pats[j])))
                if maps[i] == maps[j]:
                    parent[find(i)] = find(j)
    linear = len({find(i) for i in range(n)})
    return n, linear, len(set(maps)), edges


def _solve3(M, b):
    """Gaussian elimination with partial pivoting (Decimal); None when singular."""
    n = 3
    R = [list(row) + [bv] for row, bv in zip(M, b)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(R[r][col]))
        if R[piv][col] == 0:
            return None
        R[col], R[piv] = R[piv], R[col]
        for r in range(n):
            if r != col:
                f = R[r][col] / R[col][col]
                R[r] = [a - f * b_ for a, b_ in zip(R[r], R[col])]
    return [R[i][n] / R[i][i] for i in range(n)]


def inradii_2d(net: Network, lo, hi) -> dict[Pattern, float]:
    """Per activation region of a 2-input network in the box [lo, hi] (scalars), the radius of
    the largest disc inside it, in box-normalised units (the box scaled to [-1, 1]^2), for
    tests that must tell regions thicker than a counting margin from thinner ones.

    The polygons are exact; the radius is computed in 60-digit decimals: the largest disc of
    a convex polygon touches three of its edge lines, so it is the largest of the discs
    tangent to three edges that stay inside all of them.
    """
    from decimal import Decimal, localcontext

    lo, hi = Fraction(float(lo)), Fraction(float(hi))
    half, mid = (hi - lo) / 2, (hi + lo) / 2
    out: dict[Pattern, float] = {}
    with localcontext() as ctx:
        ctx.prec = 60

        def dec(f: Fraction) -> Decimal:
            return Decimal(f.numerator) / Decimal(f.denominator)

        for poly, pat in regions_2d(net, lo, hi):
            V = [((x - mid) / half, (y - mid) / half) for x, y in poly]
            n = len(V)
            area2 = sum(V[i][0] * V[(i + 1) % n][1] - V[(i + 1) % n][0] * V[i][1]
                        for i in range(n))
            orient = 1 if area2 > 0 else -1
            lines = []                 # inward unit normal (a, b) and offset c: a x + b y + c
            for i in range(n):
                p, q = V[i], V[(i + 1) % n]
                ex, ey = q[0] - p[0], q[1] - p[1]
                if ex == 0 and ey == 0:
                    continue
                a, b = -orient * ey, orient * ex
                c = -(a * p[0] + b * p[1])
                nrm = (dec(a * a + b * b)).sqrt()
                lines.append((dec(a) / nrm, dec(b) / nrm, dec(c) / nrm))
            best = Decimal(0)
            m = len(lines)
            for i in range(m):
                for j in range(i + 1, m):
                    for k in range(j + 1, m):
                        L = [lines[i], lines[j], lines[k]]
                        sol = _solve3([[a, b, Decimal(-1)] for a, b, _ in L], [-c for *_, c in L])
                        if sol is None or sol[2] <= best:
                            continue
                        x, y, r = sol
                        if all(a * x + b * y + c >= r * (1 - Decimal(10) ** -40)
                               for a, b, c in lines):
                            best = r
            out[pat] = max(out.get(pat, 0.0), float(best))
    return out
