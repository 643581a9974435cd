"""Hyperplanes closer together than the walk can tell apart.

The walk decides in the normalised box [-1, 1]^d with absolute tolerances (``VERTEX_TOL``, the
margin). On a box far larger than the network's own features (a net with biases ~0.1 on
``--box=-1e16,1e16``), every first-layer hyperplane passes within 1e-17 of the centre without
passing through it: in floats the arrangement there is central, its bounded cells collapse onto
one vertex, and they vanish without even showing up as thin cells. The count would be short and
look exact. What is lost lives in data the exact domain fold keeps: the normalised offsets. A
hyperplane whose distance to the box centre is positive but below ``RESOLUTION`` flags the count.
"""

from __future__ import annotations

import numpy as np

from ..ir.network import Network
from .layers import VERTEX_TOL

#: a first-layer hyperplane nearer than this to the box centre (normalised), and not through
#: it, has neighbours the walk may not resolve: 1,000 vertex tolerances
RESOLUTION = 1e3 * VERTEX_TOL


def hyperplanes_below_resolution(net: Network) -> int:
    """How many first-layer units (reading the input alone) have a hyperplane at a distance
    in (0, RESOLUTION] from the centre of [-1, 1]^d."""
    if not net.layers:
        return 0
    aff = net.layers[0].affine
    if set(aff.W) != {0}:
        return 0
    W = aff.W[0]
    W = W.toarray() if hasattr(W, "toarray") else np.asarray(W, dtype=np.float64)
    b = np.asarray(aff.b, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", W, W))
    live = norms > 0
    dist = np.abs(b[live]) / norms[live]
    return int(np.count_nonzero((dist > 0) & (dist <= RESOLUTION)))
