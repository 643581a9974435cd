"""An affine input map folded into a network exactly, each coefficient rounded once.

Counting on a domain counts the network ``u -> F(o + G u)`` on [-1, 1]^d, where the exact map
(``o``, ``G``: dyadic rationals from the domain's floats) sends the unit box onto the domain.
Folding it in floats (``b + W @ centre``) rounds every term: in a box 1e-9 wide around 12345.5
the rounding of ``b + W @ centre`` is ~1e-2 of the box, enough to move three concurrent lines
apart and make a region that does not exist. Here every folded coefficient (``W @ G`` and
``b + W @ o``) is the exact value rounded once to the nearest float, so the folded network is
the true restricted one up to a relative error of 2^-53 per coefficient.

How: the exact map's numbers are split into float expansions (floats whose exact sum is the
number); every product of a weight and an expansion term is split exactly into two floats
(Dekker's product with Veltkamp's split), and ``math.fsum`` rounds each exact sum once. Where
a product could overflow or underflow (Dekker's product is exact only in range) the affine
map is folded in Python rationals instead. A folded coefficient that overflows is an
``InputError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InputError
from .network import Affine, Layer, MaxLayer, Network

_SPLIT = 134217729.0                   # 2^27 + 1, Veltkamp's splitter for float64
_BIG = 2.0 ** 995                      # the split of a larger number overflows
_SMALL = 2.0 ** -900                   # smaller nonzero factors or products may underflow
_BLOCK = 1 << 20                       # floats held at once per block of rows
# Largest pre-activation magnitude a normalised network may reach on [-1, 1]^d: squared norms
# of the tree's rows (sums of squares, times fan-in) stay far inside float range below it.
MAX_MAGNITUDE = 2.0 ** 400             # ~2.6e120
# Smallest folded weight of a nonzero weight: below it the products lose their precision
# (subnormal) or vanish.
MIN_FOLDED = 2.0 ** -1000


@dataclass(frozen=True)
class ExactInputMap:
    """``x = origin + G @ u`` exactly (Fractions of floats). ``diagonal`` (a box): G is
    diagonal and ``G`` holds its diagonal only (n0 numbers), so each folded weight is one
    product; else ``G`` holds the rows of the (n0, d) matrix."""

    G: tuple                                # (n0,) diagonal, or (n0, d) rows
    origin: tuple[Fraction, ...]            # (n0,)
    diagonal: bool

    @property
    def dim(self) -> int:
        if self.diagonal:
            return len(self.G)
        return len(self.G[0]) if self.G else 0

    def entry(self, i: int, k: int) -> Fraction:
        """G[i, k]."""
        if self.diagonal:
            return self.G[i] if i == k else Fraction(0)
        return self.G[i][k]


def expansion(values, terms: int | None = None) -> np.ndarray | None:
    """Fractions (any shape) as float expansions, shape + (m,): floats, largest first, whose
    exact sum is each value; None if a value needs a float below the normal range."""
    flat = [Fraction(v) for v in np.asarray(values, dtype=object).ravel()]
    parts: list[list[float]] = []
    for f in flat:
        out = []
        while f:
            try:
                x = float(f)
            except OverflowError:
                return None
            if x == 0.0 or (abs(x) < _SMALL):
                return None
            out.append(x)
            f -= Fraction(x)
        parts.append(out)
    m = max([len(p) for p in parts] + [1, terms or 1])
    E = np.zeros((len(flat), m))
    for i, p in enumerate(parts):
        E[i, :len(p)] = p
    return E.reshape(np.asarray(values, dtype=object).shape + (m,))


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a * b = p + e`` exactly (elementwise; exact where ``_in_range``)."""
    p = a * b
    t = _SPLIT * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLIT * b
    bh = t - (t - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _in_range(a: np.ndarray) -> bool:
    """Whether every nonzero |a| is in [2^-900, 2^995] (Dekker's product is exact there)."""
    x = np.abs(a[a != 0])
    return bool(np.all((x >= _SMALL) & (x <= _BIG)))


def _rows(W) -> tuple[int, Callable[[int, int], np.ndarray]]:
    """The number of rows of W and a getter of dense row blocks (dense or scipy sparse)."""
    if isinstance(W, np.ndarray):
        return W.shape[0], lambda r0, r1: W[r0:r1]
    Wc = W.tocsr()
    return Wc.shape[0], lambda r0, r1: Wc[r0:r1].toarray()


def _fsum_rows(T: np.ndarray) -> np.ndarray:
    """Each row of T (2-D) summed exactly and rounded once."""
    return np.array([math.fsum(r) for r in T], dtype=np.float64)


def _fold_floats(W0, b: np.ndarray, m: ExactInputMap, Ge: np.ndarray, oe: np.ndarray):
    """(W0 @ G, b + W0 @ o) rounded once per entry, by exact products and fsum; None where
    some product may leave Dekker's range."""
    n, get = _rows(W0)
    n0, d = len(m.G), m.dim
    if not (_in_range(Ge) and _in_range(oe) and _in_range(b)):
        return None
    if m.diagonal and Ge.shape[-1] == 1:
        # one product per folded weight: numpy rounds it once
        h = Ge[:, 0]
        if isinstance(W0, np.ndarray):
            Wn = W0 * h[None, :]
        else:
            from scipy import sparse

            Wn = (W0 @ sparse.diags(h)).asformat(W0.format)
    else:
        Wn = None
    bn = np.empty(n)
    Wd = np.empty((n, d)) if Wn is None else None
    per = Ge.shape[-1] if m.diagonal else Ge.shape[-1] * d
    step = max(1, _BLOCK // max(1, n0 * max(per, oe.shape[-1]) * 2))
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        B = np.asarray(get(r0, r1), dtype=np.float64)
        if not _in_range(B):
            return None
        p, e = _two_prod(B[:, :, None], oe[None, :, :])
        bn[r0:r1] = _fsum_rows(np.concatenate([b[r0:r1, None], p.reshape(r1 - r0, -1),
                                               e.reshape(r1 - r0, -1)], axis=1))
        if Wd is not None:
            if m.diagonal:          # W[:, k] g_kk, a short expansion per entry
                p, e = _two_prod(B[:, :, None], Ge[None, :, :])
                T = np.concatenate([p, e], axis=2).reshape(-1, 2 * Ge.shape[1])
                Wd[r0:r1] = _fsum_rows(T).reshape(r1 - r0, n0)
            else:
                for k in range(d):
                    p, e = _two_prod(B[:, :, None], Ge[None, :, k, :])
                    Wd[r0:r1, k] = _fsum_rows(np.concatenate(
                        [p.reshape(r1 - r0, -1), e.reshape(r1 - r0, -1)], axis=1))
    if Wd is not None:
        Wn = Wd
        if not isinstance(W0, np.ndarray) and m.diagonal:
            from scipy import sparse

            Wn = sparse.csr_matrix(Wd).asformat(W0.format)
    return Wn, bn


def _fold_fractions(W0, b: np.ndarray, m: ExactInputMap):
    """The same, in Python rationals (slow; for numbers out of Dekker's range)."""
    n, get = _rows(W0)
    d = m.dim
    Wn = np.empty((n, d))
    bn = np.empty(n)
    for r in range(n):
        row = get(r, r + 1)[0]
        nz = np.flatnonzero(row)
        w = [Fraction(float(row[i])) for i in nz]
        bn[r] = float(Fraction(float(b[r])) + sum(
            (wi * m.origin[i] for wi, i in zip(w, nz)), Fraction(0)))
        if m.diagonal:
            Wn[r] = 0.0
            for wi, i in zip(w, nz):
                Wn[r, i] = float(wi * m.G[i])
            continue
        for k in range(d):
            Wn[r, k] = float(sum((wi * m.G[i][k] for wi, i in zip(w, nz)), Fraction(0)))
    if not isinstance(W0, np.ndarray):
        from scipy import sparse

        return sparse.csr_matrix(Wn).asformat(W0.format), bn
    return Wn, bn


def _finite(W) -> bool:
    return bool(np.all(np.isfinite(W if isinstance(W, np.ndarray) else W.data)))


def fold_exact(net: Network, m: ExactInputMap) -> Network:
    """The network ``u -> F(origin + G u)``, every folded coefficient the exact value rounded
    once. Raises InputError if one overflows (the domain is too large for floats)."""
    Ge = expansion(np.array(m.G, dtype=object).reshape(
        (len(m.G),) if m.diagonal else (len(m.G), m.dim)))
    oe = expansion(np.array(m.origin, dtype=object))

    def fold(aff: Affine) -> Affine:
        if 0 not in aff.W:
            return aff
        W = dict(aff.W)
        W0 = W.pop(0)
        try:
            out = None if Ge is None or oe is None else _fold_floats(W0, aff.b, m, Ge, oe)
            if out is None:
                out = _fold_fractions(W0, aff.b, m)
        except OverflowError:
            out = None
        if out is None or not (_finite(out[0]) and _finite(out[1])):
            raise InputError("the domain is too large for float arithmetic: the network "
                             "mapped onto it has coefficients beyond 1.8e308")
        if _vanishing(W0, out[0], m):
            raise InputError("the domain is too small for float arithmetic: weights of the "
                             "network mapped onto it fall below 1e-301")
        return Affine({0: out[0], **W}, out[1])

    layers = tuple(MaxLayer(fold(layer.affine), layer.groups, layer.name)
                   if isinstance(layer, MaxLayer)
                   else Layer(fold(layer.affine), layer.neg_slope, layer.name)
                   for layer in net.layers)
    out = Network(m.dim, layers, fold(net.output), dict(net.info))
    top = magnitude(out)
    if top > MAX_MAGNITUDE:
        raise InputError(f"the domain is too large for float arithmetic: pre-activations "
                         f"reach {top:.3g} on it (the limit is {MAX_MAGNITUDE:.3g}); count "
                         "on a smaller box")
    return out


def _vanishing(W0, Wn, m: ExactInputMap) -> bool:
    """Whether a nonzero weight of a box's network folds to a weight below ``MIN_FOLDED``
    (a slice's folded weights are sums: there a zero can be exact)."""
    if not m.diagonal:
        return False
    a = W0 if isinstance(W0, np.ndarray) else W0.toarray()
    b = Wn if isinstance(Wn, np.ndarray) else Wn.toarray()
    return bool(np.any((a != 0) & (np.abs(b) < MIN_FOLDED)))


def magnitude(net: Network) -> float:
    """An upper bound of every |pre-activation| of ``net`` on [-1, 1]^d (interval arithmetic
    on magnitudes: |b| + sum |W| times the sources' bounds; 1 for the inputs)."""
    bound = [np.ones(net.input_dim)]
    top = 0.0
    for layer in list(net.layers) + [net.output]:
        aff = layer if isinstance(layer, Affine) else layer.affine
        with np.errstate(over="ignore"):
            z = np.abs(aff.b).astype(np.float64)
            for s, W in aff.W.items():
                z = z + np.asarray(abs(W) @ bound[s]).ravel()
        top = max(top, float(z.max(initial=0.0)))
        if isinstance(layer, MaxLayer):
            z = z.max(initial=0.0) * np.ones(layer.size)
        elif isinstance(layer, Layer):
            z = z * np.maximum(1.0, np.abs(layer.neg_slope))
        bound.append(z)
    return top
