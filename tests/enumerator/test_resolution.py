"""A box far larger than the network's features: the hyperplanes crowd together nearer than
the walk resolves, and regions vanish without showing up as thin cells. The count must say so
(undecided, exit 5), and --certify must count them."""

from pathlib import Path

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.enumerator.resolution import RESOLUTION, hyperplanes_below_resolution
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import mlp
from milpregions.testing.constructions import general_position_layer, zaslavsky_count

MODEL = Path(__file__).resolve().parents[2] / "models" / "he_2d_8x8.onnx"


def _lines(n: int, offsets: np.ndarray):
    """n lines in the plane, at the given distances from the origin, directions spread."""
    t = np.pi * (np.arange(n) + 0.5) / n
    W = np.stack([np.cos(t), np.sin(t)], axis=1)
    return mlp([W, np.ones((1, n))], [offsets, np.zeros(1)])


def test_the_distance_rule_on_lines_at_known_distances():
    box = Box.make(-1.0, 1.0, 2)
    net = _lines(4, np.array([0.0, 1e-9, -5e-8, 1e-3]))
    assert hyperplanes_below_resolution(normalize(net, box)) == 2     # 0 and 1e-3 are not
    wide = Box.make(-1e6, 1e6, 2)                                    # 1e-3 / 1e6 = 1e-9
    assert hyperplanes_below_resolution(normalize(net, wide)) == 3
    assert RESOLUTION == pytest.approx(1e-7)


@pytest.mark.parametrize("scale", [1e6, 1e16, 1e60])
def test_lines_in_general_position_on_a_huge_box_are_undecided_and_certify_counts_them(scale):
    """10 lines in general position (their vertices in [-1, 1]^2): on a box `scale` times
    larger the float walk cannot see the bounded cells; the result says so, and --certify
    finds all 56."""
    layer = general_position_layer(2, 10, 0)
    res = count_regions(layer, (-scale, scale))
    assert res.below_resolution >= 2
    assert res.regions <= zaslavsky_count(2, 10)
    cert = count_regions(layer, (-scale, scale), certify=True)
    assert cert.certified and cert.regions == zaslavsky_count(2, 10) == 56


def test_a_box_that_fits_the_features_is_not_flagged():
    layer = general_position_layer(2, 10, 0)
    res = count_regions(layer, (-10.0, 10.0))
    assert res.below_resolution == 0 and res.exact and res.regions == 56


def test_the_cli_says_undecided_with_exit_5_and_certify_settles_it(cli):
    code, out, _ = cli("count", MODEL, "--box=-1e16,1e16")
    lines = out.splitlines()
    assert code == 5
    assert lines[1] == ("undecided: 8 first-layer hyperplanes pass within 1e-7 of the box "
                        "centre (normalised) without passing through it: regions there may be "
                        "smaller than the walk resolves, so some may be missing; count on a "
                        "smaller box, or --certify decides it exactly")
    code, out, _ = cli("count", MODEL, "--box=-1e16,1e16", "--certify")
    assert code == 0 and out.startswith("111 regions (certified exactly") and "undecided" not in out
    code, out, _ = cli("count", MODEL, "--box=-1e4,1e4")
    assert code == 0 and out == "111 regions\n"
