"""Bounded or unbounded: the recession cone of a region counted over all of R^d (``AllSpace``).

A region ``{u : G u + c >= 0}`` with interior is bounded iff its recession cone
``{y : G y >= 0}`` is {0}: iff G has full column rank and no y has ``G y >= 0`` with ``G y != 0``
(Stiemke's lemma: the alternative to such a y is a ``lambda > 0`` with ``G^T lambda = 0``).
With rank d and unit rows, ``max sum_i (G y)_i`` over ``G y >= 0``, ``|y|_inf <= 1``
(``solver.highs.RecessionLP``) is 0 for a bounded region and at least ``sigma_min(G)`` for an
unbounded one (a recession direction scaled to ``|y|_inf = 1`` has ``|G y|_1 >= |G y|_2 >=
sigma_min |y|_2 >= sigma_min``). So the LP decides with a gap of ``sigma_min / 2``; where that
gap is not wider than the LP's tolerance the region is left undecided.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from ..ir.network import Network
from ..solver.highs import RecessionLP

#: HiGHS meets each row to 1e-10 (``highs.new_highs``): the LP's optimum may be off by this
#: much per row, so a gap ``sigma_min / 2`` is trusted only above ``LP_NOISE * rows``
LP_NOISE = 1e-9
#: how many times the rounding of a row's value at a point must fit in the margin for the
#: walk's decisions there to hold (``reach_limit``)
ROUNDING_UNITS = 8


def reach_limit(margin: float, d: int) -> float:
    """The largest |u|_inf at which the walk over R^d still resolves the margin: beyond it the
    rounding of a row's value at a point, ``(d + 2) eps |u|`` and more inside HiGHS, reaches
    ``margin / ROUNDING_UNITS``, so a region out there may be missed or a sliver taken for
    one (he_mlp nets stay under 10^3; relucent's ckpt5795 reaches 5e9 and its count moves
    with the unit of length). ``count`` reports such a count as undecided."""
    return margin / (ROUNDING_UNITS * (d + 2) * float(np.finfo(np.float64).eps))


class Extent(Enum):
    """Of a region in R^d: ``BOUNDED``, ``UNBOUNDED`` or ``UNDECIDED`` (within the LP's
    tolerance: a nearly rank-deficient set of rows)."""

    BOUNDED = "bounded"
    UNBOUNDED = "unbounded"
    UNDECIDED = "undecided"


def input_rank(net: Network) -> int:
    """The rank of every weight that reads the input, stacked (numpy's numerical rank): below
    ``input_dim``, every pattern is constant along the common null space of those weights, so
    every region contains a line."""
    blocks = []
    for layer in net.layers:
        W = layer.affine.W.get(0)
        if W is not None:
            blocks.append(W.toarray() if hasattr(W, "toarray") else np.asarray(W, dtype=float))
    if not blocks:
        return 0
    return int(np.linalg.matrix_rank(np.vstack(blocks)))


def extent(H: np.ndarray, lp: RecessionLP) -> Extent:
    """Whether the region of rows ``H`` (``[a, b]`` with unit ``a``, the region ``a . u + b >=
    0``; nonempty with interior) is bounded. Fewer than d + 1 rows never bound a region."""
    G = H[:, :-1]
    m, d = G.shape
    if m <= d:
        return Extent.UNBOUNDED
    sv = np.linalg.svd(G, compute_uv=False)
    gap = sv[-1] / 2
    if gap <= LP_NOISE * m:
        # rank below d within rounding (a line?) or a gap the LP cannot resolve
        return Extent.UNDECIDED
    answer = lp.solve(G)
    if answer is None:
        return Extent.UNDECIDED
    return Extent.UNBOUNDED if answer[0] > gap else Extent.BOUNDED
