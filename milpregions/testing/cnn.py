"""Xiong et al. 2020: the one-layer CNN whose number of regions Theorem 2 gives, and the box
that holds every vertex of an arrangement (so that the box count equals the count in R^n0).

Same conventions as ``testing.constructions``: float32-representable parameters, ``info`` with
the construction, its box and, where a formula exists, its count.
"""

from __future__ import annotations

from math import comb

import numpy as np

from ..ir.network import Network, mlp
from .constructions import _box_info, _f32, _flat_points


def _conv_geometry(input_shape, kernel_shape, stride):
    """Normalise the shapes; return (C, H, W), (kh, kw), (sh, sw), and per output position
    (row-major over the oh x ow output grid) the sorted flat input indices of its receptive
    field, all channels (flat index c*H*W + h*W + w: the NCHW flattening ONNX uses)."""
    shape = tuple(int(v) for v in np.atleast_1d(input_shape))
    if len(shape) == 1:
        shape = (1, 1) + shape
    elif len(shape) == 2:
        shape = (1,) + shape
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (W,), (H, W) or (C, H, W), got {input_shape}")
    kernel = tuple(int(v) for v in np.atleast_1d(kernel_shape))
    if len(kernel) == 1:
        kernel = (1,) + kernel
    st = tuple(int(v) for v in np.atleast_1d(stride))
    if len(st) == 1:
        st = (st[0], st[0]) if len(np.atleast_1d(kernel_shape)) == 2 else (1, st[0])
    if len(kernel) != 2 or len(st) != 2 or min(kernel) < 1 or min(st) < 1:
        raise ValueError("kernel_shape and stride need one or two positive entries")
    C_, H, W = shape
    kh, kw = kernel
    if kh > H or kw > W:
        raise ValueError(f"kernel {kernel} does not fit the input {H} x {W}")
    oh, ow = (H - kh) // st[0] + 1, (W - kw) // st[1] + 1
    supports = []
    for i in range(oh):
        for j in range(ow):
            idx = [c * H * W + (i * st[0] + a) * W + (j * st[1] + b)
                   for c in range(C_) for a in range(kh) for b in range(kw)]
            supports.append(np.array(sorted(idx)))
    return shape, kernel, st, (oh, ow), supports


def xiong_count(input_shape, kernel_shape, stride, filters: int) -> int:
    """Xiong, Huang, Yu, Liu, Zhu, Shao (ICML 2020), "On the number of linear regions of
    convolutional neural networks", Theorem 2: the maximal number of linear regions of a
    one-layer ReLU CNN (no padding), attained for almost all weights and biases, is

        R = sum over (t_p)_p in K of prod_p C(d, t_p),
        K = { t : 0 <= t_p <= d, and sum_{p in J} t_p <= |U_{p in J} S_p| for every set J
              of output positions },

    where d = ``filters``, p runs over the output positions and S_p is the set of input
    coordinates (all channels) in the receptive field of p. Equivalently: a set of units is
    linearly independent iff Hall's condition holds for their receptive fields (a transversal
    matroid), and with generic biases the regions of the arrangement are counted by its
    independent sets (Zaslavsky). Known check: input 1x3, kernel 1x2, stride 1, 3 filters ->
    40 (a dense layer of 6 units on R^3 has sum_{j<=3} C(6, j) = 42).

    Caveat (measured with this counter): the count needs the generic shared-weight
    convolution matrix to realise that transversal matroid. With one input channel and 2-D
    kernels this can fail for every weight: for input 3x3, kernel 2x2, stride 1, 2 filters the
    8 rows are Hall-independent but k2*k1 - k1*k2 = 0 (products of the filter polynomials)
    is a linear dependency, and the true count is 255, not 256. :func:`xiong_one_layer_cnn`
    refuses such settings; in 1-D (rows x^i k_f) and in all settings it accepts, the count
    holds.
    """
    _, _, _, _, supports = _conv_geometry(input_shape, kernel_shape, stride)
    d = int(filters)
    if d < 1:
        raise ValueError("need at least one filter")
    P = len(supports)
    if P > 16:
        raise ValueError(f"{P} output positions: too many for the subset enumeration")
    sets = [frozenset(s.tolist()) for s in supports]
    union = np.zeros(1 << P, dtype=np.int64)  # |union of S_p over the positions in mask|
    for mask in range(1, 1 << P):
        low = (mask & -mask).bit_length() - 1
        rest = mask & (mask - 1)
        union[mask] = len(sets[low].union(*[sets[q] for q in range(P) if rest >> q & 1])) \
            if rest else len(sets[low])
    caps = [min(d, len(s)) for s in sets]
    masks = np.arange(1 << P)
    member = np.array([(masks >> p) & 1 for p in range(P)], dtype=np.int64)  # (P, 2^P)
    total = 0
    for t in np.ndindex(*[c + 1 for c in caps]):
        if np.all(np.asarray(t) @ member <= union):
            prod = 1
            for tp in t:
                prod *= comb(d, tp)
            total += prod
    return total


def _min_flat_points(W: np.ndarray, b: np.ndarray, min_sv: float = 1e-9):
    """The minimal flats of the arrangement W x + b = 0 (rank r): for every r-subset S whose
    rows are independent, (S, the point of their flat nearest the origin, smallest singular
    value of the normalised rows)."""
    r = np.linalg.matrix_rank(W)
    out = []
    for S, x, sv in _flat_points(W, b, r):
        if sv >= min_sv:
            out.append((S, x, sv))
    return r, out


def arrangement_box(net: Network, margin: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """A box (lo, hi) that contains, with room to spare, a point of every minimal flat of the
    first layer's hyperplane arrangement (its vertices, for an essential arrangement).

    Every region of the arrangement has a minimal flat in its closure (modulo the lineality
    space the regions are pointed polyhedra, and their vertices are the minimal flats), so
    every region meets the interior of this box, and the count in the box equals the count in
    R^n0. The points are padded by ``margin`` times the largest extent of the point cloud
    (at least ``margin``) on every side.
    """
    aff = net.layers[0].affine
    W, b = aff.W[0], aff.b
    _, flats = _min_flat_points(W, b)
    if not flats:
        raise ValueError("the first layer has no hyperplanes")
    pts = np.array([x for _, x, _ in flats])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = margin * max(1.0, float(np.max(hi - lo)))
    return _f32(np.floor((lo - pad) * 8) / 8), _f32(np.ceil((hi + pad) * 8) / 8)


def _hall_rank(rows, supports_of_row) -> int:
    """Size of a maximum matching of rows to distinct input coordinates of their supports."""
    match: dict[int, int] = {}

    def augment(r, seen):
        for c in supports_of_row[r]:
            if c in seen:
                continue
            seen.add(c)
            if c not in match or augment(match[c], seen):
                match[c] = r
                return True
        return False

    return sum(bool(augment(r, set())) for r in rows)


def _hall_independent(rows, supports_of_row) -> bool:
    """Rows can be matched to distinct input coordinates of their supports."""
    rows = list(rows)
    return _hall_rank(rows, supports_of_row) == len(rows)


def xiong_one_layer_cnn(input_shape, kernel_shape, stride, filters: int, seed: int, *,
                        min_sv: float = 1e-4, min_sep: float = 1e-3,
                        max_tries: int = 100) -> Network:
    """One convolutional ReLU layer (no padding, ``filters`` output channels, shared weights
    and one bias per filter) as a dense Network on the flattened input, output = sum of units.

    The weight matrix is the convolution: unit ``f * P + p`` (filter f, output position p in
    row-major order, P positions: the NCHW flattening of the conv output) has the filter's
    weights on the receptive field of p and zeros elsewhere. Weights and biases are N(0, 1)
    rounded to float32 (``default_rng(seed)``).

    Count: :func:`xiong_count` regions in the box of :func:`arrangement_box` (stored in
    ``info``). The genericity the count needs is checked on the rounded weights: every set
    of r units (r = rank) that Hall's condition calls independent has normalised smallest
    singular value >= ``min_sv``, and every minimal-flat point is at least ``min_sep``
    (normalised box coordinates) from every other hyperplane; a failing draw is replaced by
    the next draw of the same generator.
    """
    shape, kernel, st, (oh, ow), supports = _conv_geometry(input_shape, kernel_shape, stride)
    C_, H, Wd = shape
    kh, kw = kernel
    n0, P, d = C_ * H * Wd, len(supports), int(filters)
    rng = np.random.default_rng(seed)
    row_support = [supports[p] for f in range(d) for p in range(P)]
    for _ in range(max_tries):
        K = _f32(rng.standard_normal((d, C_, kh, kw)))
        bias = _f32(rng.standard_normal(d))
        Wm = np.zeros((d * P, n0))
        for f in range(d):
            for p in range(P):
                # supports[p] is sorted as c, then kernel row, then kernel column
                Wm[f * P + p, supports[p]] = K[f].reshape(-1)
        b = np.repeat(bias, P)
        net = mlp([Wm, np.ones((1, d * P))], [b, np.zeros(1)])
        r = np.linalg.matrix_rank(Wm)
        if r != _hall_rank(range(d * P), row_support):
            continue  # weight sharing can force a dependency Hall's condition misses
        lo, hi = arrangement_box(net)
        c, hw = (lo + hi) / 2, (hi - lo) / 2
        Wu, bu = Wm * hw, b + Wm @ c
        ok = True
        for S, u, sv in _flat_points(Wu, bu, r):
            if not _hall_independent(S, row_support):
                continue
            if sv < min_sv:
                ok = False
                break
            others = [i for i in range(d * P) if i not in S]
            if others:
                dist = np.abs(Wu[others] @ u + bu[others]) / np.linalg.norm(Wu[others], axis=1)
                if np.min(dist) < min_sep:
                    ok = False
                    break
        if not ok:
            continue
        info = {"construction": f"xiong_one_layer_cnn(input_shape={shape}, kernel_shape={kernel}, "
                                f"stride={st}, filters={d}, seed={seed})",
                "count": xiong_count(shape, kernel, st, d), "conv_output_shape": [d, oh, ow],
                **_box_info(lo, hi)}
        return Network(n0, net.layers, net.output, info)
    raise RuntimeError(
        f"no draw in {max_tries} realises the transversal matroid of {shape}, kernel {kernel}, "
        f"stride {st}, {d} filters: weight sharing forces a linear dependency (e.g. one input "
        f"channel, two filters k1, k2 whose products k2*k1 = k1*k2 both fit the input), so "
        f"xiong_count does not apply here")


__all__ = ["xiong_count", "xiong_one_layer_cnn", "arrangement_box"]
