"""The network exactly as stored, in dyadic integer arithmetic.

Every float is a dyadic rational m 2^e, and so is every sum and product of floats: a matrix of
floats is held as one object array of Python ints and one exponent (``Dyadic``), and the
pre-activations of a region, affine forms of the normalised coordinates u, are computed with
integers only. Signs are all a certificate needs, and a positive scale never changes a sign,
so rows of halfspaces drop their exponents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..ir.domain import AllSpace, Ball, Box, Polytope, domain_rows, exact_affine
from ..ir.dyadic import Dyadic, add, dyadic, matmul
from ..ir.network import MaxLayer, Network


@dataclass(frozen=True)
class ExactLayer:
    """One layer of the network as stored: weights per source, bias, and slopes or groups."""

    W: dict[int, Dyadic]
    b: Dyadic
    slopes: Dyadic | None       # per unit, the slope when off (None for a MaxLayer)
    groups: np.ndarray | None   # the max groups (None for a unit layer)


@dataclass(frozen=True)
class ExactNetwork:
    """The network and its input map u -> x, exactly: ``inputs`` holds the inputs as affine
    forms of u (rows [g_1 .. g_d, c]); ``output`` the network's output map. ``box``: u
    ranges over [-1, 1]^d (a region's halfspaces include the box), else over all of R^d.
    ``domain_rows``: a polytope domain's rows ``b - A x > 0`` as primitive integer forms of u
    (rows [g, c]), part of every region's halfspaces and, like the box, its boundary."""

    layers: list[ExactLayer]
    inputs: Dyadic
    dim: int
    output: ExactLayer
    box: bool = True
    domain_rows: np.ndarray | None = None


def _dense(W) -> np.ndarray:
    return W if isinstance(W, np.ndarray) else W.toarray()


def _param_forms(problem) -> list[list[Fraction]]:
    """The domain's parameters as exact affine forms of u: parameter k = lo + (hi - lo)(u_k +
    1)/2 (only halving and adding floats of the box)."""
    box = problem.box
    d = box.dim
    lo, hi = [Fraction(float(v)) for v in box.lo], [Fraction(float(v)) for v in box.hi]
    params = []
    for k in range(d):
        f = [Fraction(0)] * (d + 1)
        f[k] = (hi[k] - lo[k]) / 2
        f[d] = (hi[k] + lo[k]) / 2
        params.append(f)
    return params


def _input_forms(problem, params: list[list[Fraction]]) -> list[list[Fraction]]:
    """The inputs as exact affine forms of u: the parameters themselves, or sent through a
    slice's, segment's or lifted ball's points (``P0 + sum_j (P_j - P0) p_j``) or its origin
    and directions."""
    dom = problem.domain
    d = len(params)
    if isinstance(dom, (Box, Ball, Polytope, AllSpace)):
        return params
    P0, D = exact_affine(dom)
    forms = []
    for i in range(len(P0)):
        f = [Fraction(0)] * (d + 1)
        f[d] = P0[i]
        for j in range(d):
            if D[i][j]:
                for t in range(d + 1):
                    f[t] += D[i][j] * params[j][t]
        forms.append(f)
    return forms


def _fraction_dyadic(rows: list[list[Fraction]]) -> Dyadic:
    """Rows of dyadic Fractions as one Dyadic."""
    k = max((f.denominator.bit_length() - 1 for r in rows for f in r), default=0)
    M = np.array([[f.numerator * ((1 << k) // f.denominator) for f in r] for r in rows],
                 dtype=object)
    return Dyadic(M, -k)


def exact_network(problem) -> ExactNetwork:
    """The problem's network as stored and its input map, in dyadic integers."""
    net: Network = problem.network
    layers = []
    for layer in net.layers:
        aff = layer.affine
        W = {s: dyadic(_dense(w)) for s, w in aff.W.items()}
        if isinstance(layer, MaxLayer):
            layers.append(ExactLayer(W, dyadic(aff.b), None, np.asarray(layer.groups)))
        else:
            layers.append(ExactLayer(W, dyadic(aff.b), dyadic(layer.neg_slope), None))
    out = net.output
    output = ExactLayer({s: dyadic(_dense(w)) for s, w in out.W.items()}, dyadic(out.b),
                        None, None)
    params = _param_forms(problem)
    return ExactNetwork(layers, _fraction_dyadic(_input_forms(problem, params)), problem.dim,
                        output, not isinstance(problem.domain, AllSpace),
                        _polytope_rows(problem.domain, params))


def _polytope_rows(dom, forms: list[list[Fraction]]) -> np.ndarray | None:
    """A polytope domain's rows ``b_i - A_i p(u)`` in its parameters p (``domain_rows``) as
    primitive integer forms of u (the floats of A and b, and the parameter forms, exactly);
    None for other domains."""
    rows_of = domain_rows(dom)
    if rows_of is None:
        return None
    d1 = len(forms[0])
    rows = []
    for a, b in zip(*rows_of):
        f = [Fraction(0)] * d1
        f[-1] = Fraction(float(b))
        for k, akf in enumerate(a):
            if akf:
                ak = Fraction(float(akf))
                for t in range(d1):
                    f[t] -= ak * forms[k][t]
        rows.append(primitive_row(f))
    return np.array(rows, dtype=object).reshape(len(rows), d1)


def primitive_row(f: list[Fraction]) -> list[int]:
    """The integer row of the same sign as the rational row ``f``, with no common factor."""
    den = 1
    for v in f:
        den = den * v.denominator // math.gcd(den, v.denominator)
    row = [int(v * den) for v in f]
    g = 0
    for v in row:
        g = math.gcd(g, v)
    return [v // g for v in row] if g else row


def _pre_forms(L: ExactLayer, values: list[Dyadic], d1: int) -> Dyadic:
    """The forms of a layer's pre-activations from the forms of its sources."""
    parts = [matmul(W, values[s]) for s, W in L.W.items()]
    bias = np.zeros((L.b.M.shape[0], d1), dtype=object)
    bias[:, -1] = L.b.M
    return add(parts + [Dyadic(bias, L.b.e)])


def _forms(xn: ExactNetwork, pattern: list[np.ndarray]) -> tuple[list[np.ndarray], Dyadic]:
    """Per layer the pre-activation forms on the region of ``pattern``, and the output's."""
    d1 = xn.dim + 1
    values = [xn.inputs]
    out_forms = []
    for L, p in zip(xn.layers, pattern):
        pre = _pre_forms(L, values, d1)
        out_forms.append(pre.M)
        if L.groups is not None:
            pick = L.groups[np.arange(L.groups.shape[0]), np.asarray(p, dtype=np.int64)]
            values.append(Dyadic(pre.M[pick], pre.e))
        else:
            on = np.asarray(p, dtype=bool)
            values.append(Dyadic(pre.M * _on_slopes(L, on)[:, None], pre.e + L.slopes.e))
    return out_forms, _pre_forms(xn.output, values, d1)


def region_forms(xn: ExactNetwork, pattern: list[np.ndarray]) -> list[np.ndarray]:
    """Per layer: the integer pre-activation forms (rows [g, c], one positive scale per layer)
    on the region of ``pattern``."""
    return _forms(xn, pattern)[0]


def output_form(xn: ExactNetwork, pattern: list[np.ndarray]) -> Dyadic:
    """The network's output on the region of ``pattern``: exact affine forms of u, one row
    [g, c] per output."""
    return _forms(xn, pattern)[1]


def same_form(a: Dyadic, b: Dyadic) -> bool:
    """Whether two Dyadic matrices hold the same numbers."""
    e = min(a.e, b.e)
    return a.M.shape == b.M.shape and bool(np.all(a.shifted(e) == b.shifted(e)))


@dataclass(frozen=True)
class Halfspaces:
    """A region as strict integer halfspaces ``A u + c > 0`` (the box included, units that
    are identically zero on it left out); ``empty`` when a constant contradicts the pattern."""

    A: np.ndarray      # (n, d) object ints
    c: np.ndarray      # (n,) object ints
    empty: bool


def halfspaces(xn: ExactNetwork, forms: list[np.ndarray], pattern) -> Halfspaces:
    """The region of ``pattern`` with its per-layer forms ``forms`` as halfspaces."""
    d = xn.dim
    rows: list[np.ndarray] = []
    for L, pre, p in zip(xn.layers, forms, pattern):
        if L.groups is not None:
            G = L.groups
            for g in range(G.shape[0]):
                i = int(p[g])
                for m in range(G.shape[1]):
                    if m == i or G[g, m] < 0:
                        continue
                    diff = pre[G[g, i]] - pre[G[g, m]]
                    if not any(diff):          # identical pieces: the earlier one wins
                        if m < i:
                            return Halfspaces(np.zeros((0, d), object), np.zeros(0, object), True)
                        continue
                    rows.append(diff)
            continue
        for j in range(pre.shape[0]):
            f = pre[j]
            if not any(f):                     # identically zero: off
                if p[j]:
                    return Halfspaces(np.zeros((0, d), object), np.zeros(0, object), True)
                continue
            rows.append(f if p[j] else -f)
    for k in range(d if xn.box else 0):        # the box: 1 + u_k > 0, 1 - u_k > 0
        for s in (1, -1):
            f = np.zeros(d + 1, dtype=object)
            f[k], f[d] = s, 1
            rows.append(f)
    if xn.domain_rows is not None:              # a polytope domain: b - A x(u) > 0
        rows.extend(xn.domain_rows)
    R = np.array(rows, dtype=object).reshape(len(rows), d + 1)
    A, c = R[:, :d], R[:, d]
    const = ~np.array([any(a) for a in A], dtype=bool)
    if any(c[const] <= 0):
        return Halfspaces(A[:0], c[:0], True)
    return Halfspaces(A[~const], c[~const], False)


def as_fraction_point(u) -> tuple[np.ndarray, int]:
    """A float point as (Q, D): u = Q / D exactly, Q object ints, D a power of two."""
    D = dyadic(np.asarray(u, dtype=np.float64))
    return D.M, 1 << -D.e


def strictly_inside(H: Halfspaces, Q: np.ndarray, D: int) -> bool:
    """Every halfspace strictly holds at Q / D (D > 0)."""
    return bool(np.all(H.A.dot(Q) + H.c * D > 0))


def _on_slopes(L: ExactLayer, on: np.ndarray) -> np.ndarray:
    """Per unit the slope of its piece (ints at exponent ``L.slopes.e``)."""
    s = L.slopes.M.copy()
    s[on] = 1 << -L.slopes.e
    return s


def pattern_near(xn: ExactNetwork, Q: np.ndarray, D: int, v: np.ndarray) -> list[np.ndarray]:
    """The pattern at Q/D + eps v for every small enough eps > 0 (Q, v ints; D > 0).

    Values and derivatives along v go forward together. A unit is on iff its value is
    positive, or zero with a positive derivative (zero and zero: it is zero along the ray, and
    off); a max group takes the first piece largest in (value, derivative).
    """
    QD = np.append(np.asarray(Q, dtype=object), D)
    vals = [Dyadic(xn.inputs.M.dot(QD), xn.inputs.e)]
    ders = [Dyadic(xn.inputs.M[:, :-1].dot(np.asarray(v, dtype=object)), xn.inputs.e)]
    out: list[np.ndarray] = []
    for L in xn.layers:
        bias = Dyadic(L.b.M * D, L.b.e)
        z = add([matmul(W, vals[s]) for s, W in L.W.items()] + [bias])
        dz = add([matmul(W, ders[s]) for s, W in L.W.items()])
        if L.groups is not None:
            G = L.groups
            choice = np.zeros(G.shape[0], dtype=np.int64)
            for g in range(G.shape[0]):
                best = None
                for m in range(G.shape[1]):
                    if G[g, m] >= 0:
                        key = (z.M[G[g, m]], dz.M[G[g, m]])
                        if best is None or key > best:
                            best, choice[g] = key, m
            pick = G[np.arange(G.shape[0]), choice]
            out.append(choice)
            vals.append(Dyadic(z.M[pick], z.e))
            ders.append(Dyadic(dz.M[pick], dz.e))
        else:
            on = np.array([a > 0 or (a == 0 and b > 0) for a, b in zip(z.M, dz.M)], dtype=bool)
            s = _on_slopes(L, on)
            out.append(on)
            vals.append(Dyadic(z.M * s, z.e + L.slopes.e))
            ders.append(Dyadic(dz.M * s, dz.e + L.slopes.e))
    return out
