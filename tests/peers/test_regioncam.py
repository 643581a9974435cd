"""Our counts against regioncam's, an independent planar tool (it splits one global planar
complex neuron by neuron, in float32): on random 2-D ReLU and LeakyReLU MLPs whose weights are
float32 numbers, so that both tools see the same lines."""

import numpy as np
import pytest
import regioncam

from milpregions.api import count_regions
from milpregions.ir.network import mlp


def _net(widths, seed: int, slope: float):
    rng = np.random.default_rng(seed)
    sizes = [2, *widths, 1]
    Ws = [(rng.normal(0, np.sqrt(2 / a), (b, a))).astype(np.float32).astype(np.float64)
          for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0, 0.1, b).astype(np.float32).astype(np.float64) for b in sizes[1:]]
    return mlp(Ws, bs, neg_slope=slope)


def _regioncam_faces(net, slope: float) -> int:
    cam = regioncam.Regioncam(size=1.0)         # the square [-1, 1]^2
    for layer in net.layers:
        (W,) = layer.affine.W.values()
        cam.linear(np.asarray(W, np.float32).T.copy(), np.asarray(layer.affine.b, np.float32))
        if slope:
            cam.leaky_relu(slope)
        else:
            cam.relu()
    return cam.num_faces


@pytest.mark.parametrize("widths", [(8, 8), (16, 16), (6, 6, 6), (24,), (32, 32), (12, 12, 12)])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_our_count_equals_regioncam_s_faces(widths, seed, slope):
    net = _net(widths, seed, slope)
    res = count_regions(net, (-1.0, 1.0))
    assert res.exact and res.thin_dropped == 0
    assert res.regions == _regioncam_faces(net, slope)
