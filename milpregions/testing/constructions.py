"""Networks whose number of activation regions in a box is known: ground truth for the counter.

Every function returns a float64 :class:`~milpregions.ir.network.Network` whose ``info`` holds
``construction``, ``box_lo``/``box_hi`` (the box the count refers to) and, where a formula
exists, ``count`` (the number of full-dimensional activation regions in that box).

All parameters are float32-representable (integers for the folding and zigzag nets, values
rounded to float32 for the random ones, with the stated properties checked *after* rounding).
An ONNX export, which stores float32, therefore holds exactly the same network, and the
analytic counts hold for the exported file as well.

Activation region and pattern are as in DESIGN.md: per unit the bit ``z > 0``; a region counts
iff it has nonempty interior in the box.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

from ..ir.network import Affine, Layer, MaxLayer, Network, mlp

__all__ = [
    "general_position_layer",
    "zaslavsky_count",
    "montufar_folding",
    "montufar_count",
    "serra_zigzag",
    "serra_count",
    "he_mlp",
    "concurrent_layer",
    "central_count",
    "all_stable",
    "tseran_maxout",
]


def _f32(a) -> np.ndarray:
    """Round to the nearest float32 value, kept as float64."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def _box_arrays(box, n0: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = box
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64).reshape(-1), (n0,)).copy()
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64).reshape(-1), (n0,)).copy()
    if np.any(lo >= hi):
        raise ValueError("box must have lo < hi in every input")
    return lo, hi


def _box_info(lo: np.ndarray, hi: np.ndarray) -> dict:
    return {"box_lo": [float(v) for v in lo], "box_hi": [float(v) for v in hi]}


# --------------------------------------------------------------------------------------------
# Zaslavsky: one layer in general position
# --------------------------------------------------------------------------------------------

def zaslavsky_count(n0: int, n: int) -> int:
    """Regions of n hyperplanes in general position in R^n0: sum_{j=0}^{n0} C(n, j)."""
    return sum(comb(n, j) for j in range(n0 + 1))


def _flat_points(W: np.ndarray, b: np.ndarray, k: int):
    """For every k-subset S of the hyperplanes W x + b = 0: (S, the point of their common flat
    nearest the origin, the smallest singular value of W[S] / row norms)."""
    for S in combinations(range(W.shape[0]), k):
        A = W[list(S)]
        x, *_ = np.linalg.lstsq(A, -b[list(S)], rcond=None)
        sv = np.linalg.svd(A / np.linalg.norm(A, axis=1, keepdims=True), compute_uv=False)
        yield S, x, sv[-1]


def _general_position_ok(W, b, lo, hi, margin, min_sep, min_sv) -> bool:
    """Check, on the given (rounded) weights, the properties the Zaslavsky count needs.

    With k = min(n0, n): every k-subset of hyperplanes is linearly independent (smallest
    singular value of the normalised rows >= min_sv), its flat (for k = n0: the vertex) has a
    point inside the box at least ``margin`` from every face, and that point is at least
    ``min_sep`` (relative to the half-width) from every other hyperplane. Then the
    arrangement is in general position, every region has a vertex (or meets the flat of all
    hyperplanes) strictly inside the box, and so every region of the arrangement meets the
    box in a set with interior: the count in the box equals the count in R^n0.
    """
    n, n0 = W.shape
    k = min(n0, n)
    c, hw = (lo + hi) / 2, (hi - lo) / 2
    norms = np.linalg.norm(W, axis=1)
    if np.any(norms == 0):
        return False
    # distances are measured in normalised coordinates u = (x - c) / hw
    Wu = W * hw
    bu = b + W @ c
    for S, u, sv in _flat_points(Wu, bu, k):
        if sv < min_sv:
            return False
        if np.any(np.abs(u) > 1 - margin):
            return False
        others = [i for i in range(n) if i not in S]
        if others:
            d = np.abs(Wu[others] @ u + bu[others]) / np.linalg.norm(Wu[others], axis=1)
            if np.min(d) < min_sep:
                return False
    return True


def general_position_layer(n0: int, n: int, seed: int, box=(-1.0, 1.0), *, margin: float = 0.05,
                           min_sep: float = 1e-3, max_tries: int = 1000) -> Network:
    """One hidden ReLU layer of ``n`` units on R^n0 whose hyperplanes are in general position,
    with every vertex of the arrangement strictly inside ``box``; output = sum of the units.

    Count in the box: ``sum_{j=0}^{n0} C(n, j)`` activation regions (Zaslavsky 1975; for
    hyperplanes in general position). Linear regions are the same number (neighbouring
    regions differ in the gradient by a nonzero normal).

    Construction: in normalised coordinates u in [-1,1]^n0, draw unit normals a_i and offsets
    beta_i ~ N(0,1) for the hyperplanes a_i . u = beta_i, then rescale all offsets by one factor
    so that the farthest vertex (intersection of n0 hyperplanes; for n < n0 the point of the
    common flat nearest the centre) sits at sup-norm ``1 - margin``. Scaling about the centre
    keeps general position. Weights are rounded to float32, and the checks (independence,
    every vertex inside the box at least ``margin`` from its faces, every vertex at least
    ``min_sep`` from every other hyperplane, all in normalised units) are made on the rounded
    weights; a draw failing them is replaced by the next draw of the same generator.
    """
    if n0 < 1 or n < 1:
        raise ValueError("need n0 >= 1 and n >= 1")
    lo, hi = _box_arrays(box, n0)
    c, hw = (lo + hi) / 2, (hi - lo) / 2
    rng = np.random.default_rng(seed)
    k = min(n0, n)
    for _ in range(max_tries):
        A = rng.standard_normal((n, n0))
        A /= np.linalg.norm(A, axis=1, keepdims=True)
        beta = rng.standard_normal(n)
        pts = [u for _, u, _ in _flat_points(A, -beta, k)]
        R = max(float(np.max(np.abs(u))) for u in pts)
        if not np.isfinite(R) or R == 0:
            continue
        beta = beta * (1 - margin) / R
        # back to input space: a . (x - c) / hw = beta  <=>  (a / hw) . x - (a / hw) . c - beta = 0
        W = A / hw
        b = -(W @ c) - beta
        scale = np.max(np.abs(W), axis=1, keepdims=True)  # keep entries O(1)
        W, b = _f32(W / scale), _f32(b / scale[:, 0])
        # margin/2: the farthest vertex sits exactly at 1 - margin before rounding
        if _general_position_ok(W, b, lo, hi, margin / 2, min_sep, 1e-6):
            info = {"construction": f"general_position_layer(n0={n0}, n={n}, seed={seed})",
                    "count": zaslavsky_count(n0, n), **_box_info(lo, hi)}
            return mlp([W, np.ones((1, n))], [b, np.zeros(1)], info=info)
    raise RuntimeError(f"no general-position draw found in {max_tries} tries")


# --------------------------------------------------------------------------------------------
# Montufar et al. 2014: folding
# --------------------------------------------------------------------------------------------

def montufar_count(n0: int, p: int, depth: int) -> int:
    """Activation (= linear) regions of :func:`montufar_folding` in [0,1]^n0: p^(n0 * depth)."""
    return p ** (n0 * depth)


def _fold_coefficients(p: int) -> np.ndarray:
    """c with g(t) = sum_i c_i h_i, h_1 = relu(p t), h_i = relu(p t - (i - 1)): 1, -2, 2, -2, ..."""
    c = np.array([2.0 * (-1) ** (i - 1) for i in range(1, p + 1)])
    c[0] = 1.0
    return c


def montufar_folding(n0: int, p: int, depth: int) -> Network:
    """Montufar, Pascanu, Cho, Bengio (2014), "On the number of linear regions of deep neural
    networks": every hidden layer has ``n0 * p`` ReLU units, ``p`` per input coordinate.

    Per coordinate t in [0,1] a layer computes h_1 = relu(p t) and h_i = relu(p t - (i-1)),
    i = 2..p, and the fold g(t) = h_1 - 2 h_2 + 2 h_3 - 2 h_4 + ... is the sawtooth with p
    linear pieces [(k-1)/p, k/p], each mapped onto [0,1] (slope +p, -p, +p, ...). The next layer
    reads g, with the coefficients folded into its weights (weights p * c_i, biases -(i-1)),
    so there are no linear layers. The output is the sum over coordinates of the last fold.

    Count on the box [0,1]^n0: ``p ** (n0 * depth)`` activation regions and as many linear
    regions (the grid of n0 sawtooth partitions, each with p^depth pieces per coordinate;
    adjacent cells have opposite slopes in one coordinate). h_1 is zero only on the box face
    t = 0 (layer 1) or at points where an earlier fold touches 0, which are already region
    boundaries, so it never splits a region.

    Degenerate on purpose: later layers' hyperplanes coincide with earlier ones where a fold
    touches 0 or 1, and units reach zero exactly at box faces. All weights and biases are
    small integers, exact in float32.
    """
    if n0 < 1 or p < 1 or depth < 1:
        raise ValueError("need n0, p, depth >= 1")
    c = _fold_coefficients(p)
    offs = -np.arange(p, dtype=np.float64)  # biases 0, -1, ..., -(p-1)
    layers = []
    for k in range(1, depth + 1):
        if k == 1:
            block = np.full((p, 1), float(p))  # reads t
        else:
            block = p * c[None, :].repeat(p, axis=0)  # reads g = c . h of the previous layer
        W = np.kron(np.eye(n0), block)
        b = np.tile(offs, n0)
        layers.append(Layer(Affine({k - 1: W}, b), np.zeros(n0 * p), f"fold{k}"))
    out = Affine({depth: np.tile(c, n0)[None, :]}, np.zeros(1))
    info = {"construction": f"montufar_folding(n0={n0}, p={p}, depth={depth})",
            "count": montufar_count(n0, p, depth), **_box_info(np.zeros(n0), np.ones(n0))}
    return Network(n0, tuple(layers), out, info)


# --------------------------------------------------------------------------------------------
# Serra et al. 2018: zigzag, one input
# --------------------------------------------------------------------------------------------

def serra_count(widths) -> int:
    """Activation regions of :func:`serra_zigzag` in [0,1]: prod_l (n_l + 1)."""
    out = 1
    for n in widths:
        out *= int(n) + 1
    return out


def _zigzag(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One zigzag layer on t in [0,1] with m = n + 1 pieces [(j)/m, (j+1)/m].

    Units u_k = relu(s_k (m t - k)), k = 1..n, with s_3 = -1 (unit 3 is active left of its
    breakpoint) and s_k = +1 otherwise. Output g = sum_k a_k u_k + c0 with slopes (in t)
    +2m, -2m, +m, -m, +m, ... on the pieces, so g(t) at the breakpoints 0, 1/m, 2/m, ... is
    0, 2, 0, 1, 0, 1, ...: every piece maps onto a superset of [0,1], alternating direction.

    Why unit 3 faces left: with no linear term, the slope on the first piece is minus the sum
    of the coefficients of the left-facing units, which must be a nonzero sum of slope jumps.
    A single left-facing unit at breakpoint k needs s_k = s_{k-1} - s_0 of opposite sign to
    s_{k-1}, i.e. k odd >= 3 and |s_0| > |s_{k-1}|. That is why every layer but the last
    needs at least 3 units (Serra et al.: widths >= 3). Returns (row weights, biases, a, c0).
    """
    m = n + 1
    s = np.ones(n)
    s[2] = -1.0
    w = s * m
    bias = -s * np.arange(1, n + 1)
    a = np.array([-4.0, 3.0, -2.0] + [2.0 * (-1) ** k for k in range(4, n + 1)])
    return w, bias, a, 6.0


def serra_zigzag(widths) -> Network:
    """Serra, Tjandraatmadja, Ramalingam (2018), "Bounding and counting linear regions of deep
    neural networks": one input, L hidden ReLU layers of widths n_l, with
    ``prod_l (n_l + 1)`` activation regions on the box [0, 1].

    Each layer l < L maps its input t (t = x for l = 1, else the previous layer's zigzag g) by a
    zigzag with n_l + 1 monotone pieces of alternating direction, breakpoints at k/(n_l+1), and
    every piece covering [0,1] (see ``_zigzag``). By induction, on each region of the first
    l-1 layers t sweeps monotonically over a superset of [0,1], so all n_l breakpoints of
    layer l lie inside it and the region splits into n_l + 1. The last layer only has to cross:
    its units relu((n_L+1) t - k), k = 1..n_L, split each region into n_L + 1; it may have
    any width >= 1. The output is the last layer's zigzag g (n_L >= 3) or sum_k (-1)^(k+1) u_k,
    so linear regions = activation regions when n_L >= 3.

    Every layer but the last needs n_l >= 3 (as in the paper's theorem); a width-2 layer cannot
    reach the bound: its two units trace a convex chain that a hyperplane crosses at most twice.
    All weights and biases are integers, exact in float32.
    """
    widths = [int(n) for n in widths]
    if not widths or min(widths) < 1:
        raise ValueError("need at least one layer, every width >= 1")
    if any(n < 3 for n in widths[:-1]):
        raise ValueError("serra_zigzag needs width >= 3 in every layer but the last")
    layers = []
    a_prev, c_prev = None, 0.0
    L = len(widths)
    for k, n in enumerate(widths, start=1):
        if n >= 3:
            w, bias, a, c0 = _zigzag(n)
        else:  # last layer of width 1 or 2: crossing units only
            w, bias = np.full(n, float(n + 1)), -np.arange(1.0, n + 1)
            a, c0 = np.array([(-1.0) ** j for j in range(n)]), 0.0
        if k == 1:
            W = w[:, None]
            b = bias.copy()
        else:  # w * (a_prev . h + c_prev) + bias
            W = w[:, None] * a_prev[None, :]
            b = bias + w * c_prev
        layers.append(Layer(Affine({k - 1: W}, b), np.zeros(n), f"zigzag{k}"))
        a_prev, c_prev = a, c0
    out = Affine({L: a_prev[None, :]}, np.array([c_prev]))
    info = {"construction": f"serra_zigzag({widths})", "count": serra_count(widths),
            **_box_info(np.zeros(1), np.ones(1))}
    return Network(1, tuple(layers), out, info)


# --------------------------------------------------------------------------------------------
# Random and degenerate networks (no formula; compared against an exact oracle)
# --------------------------------------------------------------------------------------------

def he_mlp(n0: int, widths, seed: int, out_dim: int = 1) -> Network:
    """A He-initialised ReLU MLP: weights N(0, 2 / fan_in), biases N(0, 0.1^2).

    Biases are small and nonzero so that the hyperplanes do not all pass through the origin
    (zero biases would make the first layer a central arrangement). The output layer is drawn
    the same way. Deterministic in ``seed`` (numpy ``default_rng``); parameters rounded to
    float32. No closed-form count: the box of record is [-1, 1]^n0.
    """
    rng = np.random.default_rng(seed)
    sizes = [int(n0)] + [int(w) for w in widths] + [int(out_dim)]
    Ws, bs = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        Ws.append(_f32(rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_out, fan_in))))
        bs.append(_f32(rng.normal(0.0, 0.1, fan_out)))
    info = {"construction": f"he_mlp(n0={n0}, widths={list(widths)}, seed={seed}, out_dim={out_dim})",
            **_box_info(-np.ones(n0), np.ones(n0))}
    return mlp(Ws, bs, info=info)


def central_count(n0: int, n: int) -> int:
    """Regions of n generic hyperplanes through one point of R^n0: 2 sum_{j<n0} C(n-1, j)."""
    return 2 * sum(comb(n - 1, j) for j in range(n0))


def concurrent_layer(n0: int, n: int, seed: int, n2: int | None = None, x0=None) -> Network:
    """Degenerate: all first-layer hyperplanes pass through one point x0 inside [-1, 1]^n0.

    Layer 1: n ReLU units with random N(0,1) weights and biases b = -W x0 (x0 = 0 by default,
    so the biases are exactly 0). Layer 2 (``n2`` units, default n; ``n2=0`` omits it): He
    weights, biases N(0, 0.1^2). Output: one unit, He weights. Parameters rounded to float32;
    with x0 = 0 the concurrency is exact after rounding.

    With n2 = 0 the count in the box is the central arrangement's
    ``2 sum_{j<n0} C(n-1, j)`` (generic normals; x0 strictly inside the box). With a second
    layer there is no formula; compare against an exact oracle.
    """
    rng = np.random.default_rng(seed)
    n2 = n if n2 is None else int(n2)
    x0 = np.zeros(n0) if x0 is None else np.asarray(x0, dtype=np.float64)
    W1 = _f32(rng.standard_normal((n, n0)))
    b1 = _f32(-W1 @ x0)
    Ws, bs = [W1], [b1]
    fan_in = n
    if n2 > 0:
        Ws.append(_f32(rng.normal(0.0, np.sqrt(2.0 / n), (n2, n))))
        bs.append(_f32(rng.normal(0.0, 0.1, n2)))
        fan_in = n2
    Ws.append(_f32(rng.normal(0.0, np.sqrt(2.0 / fan_in), (1, fan_in))))
    bs.append(np.zeros(1))
    info = {"construction": f"concurrent_layer(n0={n0}, n={n}, seed={seed}, n2={n2})",
            "x0": [float(v) for v in x0], **_box_info(-np.ones(n0), np.ones(n0))}
    if n2 == 0:
        info["count"] = central_count(n0, n)
    return mlp(Ws, bs, info=info)


def all_stable(n0: int, widths, seed: int, *, margin: float = 0.1) -> Network:
    """Every unit is stable on [-1, 1]^n0, so the count there is 1.

    Random N(0, 2/fan_in) weights; each unit is made always-on or always-off (coin flip) by
    choosing its bias so that its interval-arithmetic bound on the box is >= ``margin`` or
    <= -``margin``. Interval bounds are sound, so the unit keeps one sign on the whole box.
    The output is one unit reading the last layer.
    """
    rng = np.random.default_rng(seed)
    lo, hi = -np.ones(n0), np.ones(n0)
    Ws, bs = [], []
    fan_in = n0
    for n in widths:
        W = _f32(rng.normal(0.0, np.sqrt(2.0 / fan_in), (n, fan_in)))
        Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
        zlo, zhi = Wp @ lo + Wn @ hi, Wp @ hi + Wn @ lo
        on = rng.random(n) < 0.5
        b = np.where(on, margin - zlo, -margin - zhi)
        b = _f32(np.where(on, np.ceil(b * 8) / 8, np.floor(b * 8) / 8))  # dyadic, keeps the margin
        Ws.append(W)
        bs.append(b)
        zlo, zhi = zlo + b, zhi + b
        lo, hi = np.maximum(zlo, 0), np.maximum(zhi, 0)
        fan_in = n
    Ws.append(_f32(rng.normal(0.0, np.sqrt(2.0 / fan_in), (1, fan_in))))
    bs.append(np.zeros(1))
    info = {"construction": f"all_stable(n0={n0}, widths={list(widths)}, seed={seed})",
            "count": 1, **_box_info(-np.ones(n0), np.ones(n0))}
    return mlp(Ws, bs, info=info)


#: Tseran & Montufar's maxout He-normal variance times fan_in, per rank K
MAXOUT_HE_VARIANCE = {2: 1.0, 3: 2 * np.pi / (np.sqrt(3) + 2 * np.pi),
                      4: np.pi / (np.sqrt(3) + np.pi), 5: 0.5555}


def tseran_maxout(seed: int = 123, hidden=(7, 7, 6), k: int = 2, classes: int = 2) -> Network:
    """The maxout classifier of Tseran & Montufar (2021) at initialisation: 2 inputs, maxout
    layers of rank ``k`` (``hidden`` units), a linear layer of ``classes`` logits.

    Drawn as their code draws it: ``np.random.seed(seed)``, then per maxout layer a weight of
    shape [fan_out, K, fan_in] and a bias [fan_out, K] from N(0, c_K / fan_in) (their maxout
    He-normal, ``MAXOUT_HE_VARIANCE``: c_2 = 1), then the linear layer's [classes, fan_in]
    weight and bias from N(0, 2 / fan_in), in that order; unit j's pieces are rows
    j K .. j K + K - 1. Rounded to float32 (the counts are the same in float64). On
    [-3, 3]^2: 216 activation regions and a decision boundary crossing 30 of them
    (``info["count"]``, ``info["decision_pieces"]``: the numbers their code prints).
    """
    state = np.random.RandomState(seed)          # their np.random.seed(seed) stream
    sizes = [2, *[int(h) for h in hidden]]
    layers: list = []
    for s, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        std = np.sqrt(MAXOUT_HE_VARIANCE[k] / fan_in)
        W = _f32(state.normal(0.0, std, (fan_out, k, fan_in)))
        b = _f32(state.normal(0.0, std, (fan_out, k)))
        layers.append(MaxLayer(Affine({s: W.reshape(fan_out * k, fan_in)}, b.reshape(-1)),
                               np.arange(fan_out * k).reshape(fan_out, k)))
    std = np.sqrt(2.0 / sizes[-1])
    W = _f32(state.normal(0.0, std, (classes, sizes[-1])))
    b = _f32(state.normal(0.0, std, classes))
    info = {"construction": f"tseran_maxout(seed={seed}, hidden={list(hidden)}, k={k}, "
                            f"classes={classes})",
            **_box_info(np.full(2, -3.0), np.full(2, 3.0))}
    if (seed, tuple(hidden), k, classes) == (123, (7, 7, 6), 2, 2):
        info["count"], info["decision_pieces"] = 216, 30
    return Network(2, tuple(layers), Affine({len(layers): W}, b), info)
