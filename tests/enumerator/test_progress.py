"""The share of the domain a running count has covered (``enumerator.progress.Cover``), the ETA
pace, and the compile notice: the cover grows monotonically and reaches 1 at the end of every
complete count, on each walk (Python, compiled chain, compiled vertex walk of any network,
compiled LP walk); its reports match an independent reckoning from the counted patterns."""

from __future__ import annotations

import numpy as np
import pytest

from milpregions.bounds import compute_bounds
from milpregions.enumerator import TreeCounter, progress
from milpregions.enumerator.progress import (
    Cover,
    Pace,
    about,
    compile_notice,
    compiling,
    watch_cover,
)
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import Affine, Layer, MaxLayer, Network
from milpregions.ir.pattern import concat_pattern
from milpregions.testing.constructions import he_mlp


class Display:
    """A progress display that records what it is told (a real callback, no solver mocked)."""

    def __init__(self):
        self.shares: list[float] = []
        self.reports: list[tuple] = []
        self.notices: list[str] = []
        self.done: list[float] = []

    def cover(self, share: float) -> None:
        self.shares.append(share)

    def __call__(self, regions, nodes, lps, seconds) -> None:
        self.reports.append((regions, nodes, lps, seconds))

    def compiling(self, text: str) -> None:
        self.notices.append(text)

    def compiled(self, seconds: float) -> None:
        self.done.append(seconds)


def maxout_net(d: int, seed: int) -> Network:
    rng = np.random.default_rng(seed)
    L1 = Layer(Affine({0: rng.normal(size=(6, d))}, rng.normal(size=6) * 0.5), np.zeros(6))
    L2 = MaxLayer(Affine({1: rng.normal(size=(6, 6))}, rng.normal(size=6) * 0.5),
                  np.arange(6).reshape(3, 2))
    return Network(d, (L1, L2), Affine({2: rng.normal(size=(1, 3))}, np.zeros(1)))


def unit(net: Network) -> Network:
    return normalize(net, Box(-np.ones(net.input_dim), np.ones(net.input_dim)))


def counted(net: Network, **kw):
    """Count ``net`` on [-1, 1]^d with a recording display; the result, the counter, the
    display and the patterns of every region."""
    found: list[np.ndarray] = []
    display = Display()
    tc = TreeCounter(net, compute_bounds(net, "none"), progress=display,
                     on_region=lambda p, u, r: found.append(concat_pattern(p)), **kw)
    return tc.run(), tc, display, found


CASES = {
    "python": (lambda: unit(he_mlp(2, [16, 16], seed=1)), {"compiled": False}),
    "chain": (lambda: unit(he_mlp(3, [12, 12], seed=2)), {"compiled": True}),
    "general vertex": (lambda: unit(maxout_net(2, seed=3)), {"compiled": True}),
    "LP": (lambda: unit(he_mlp(7, [8, 6], seed=4)), {"compiled": True}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cover_reaches_one_and_only_grows(case, monkeypatch):
    monkeypatch.setattr(progress, "DRAW_AFTER", 0.0)       # every report shows the cover
    make, kw = CASES[case]
    result, tc, display, found = counted(make(), **kw)
    assert result.exact and result.regions == len(found) > 1
    assert tc.cover is not None and tc.cover.share == pytest.approx(1.0, abs=1e-12)
    shares = display.shares
    assert len(shares) == len(display.reports) > 0, "the display heard the cover"
    assert all(b >= a for a, b in zip(shares, shares[1:]))
    assert all(0.0 <= s <= 1.0 for s in shares)


def test_cover_is_the_share_of_sample_points_in_counted_regions():
    """Independent reckoning: the forward pass of the same sample points, and the regions
    counted so far as a set of patterns."""
    net = unit(he_mlp(2, [10, 10], seed=5))
    _, _, _, found = counted(net, compiled=False)
    cover = Cover(net, samples=1000, seed=7)
    rng = np.random.default_rng(7)
    rng.integers(0, 2 ** 63, size=sum(L.size for L in net.layers), dtype=np.uint64)  # multipliers
    U = rng.uniform(-1.0, 1.0, size=(1000, 2))
    P = np.concatenate([p.astype(np.int16) for p in net.pattern(U)], axis=1)
    half = found[: len(found) // 2]
    cover.add(np.array(half))
    cover.add(np.array(half[:3]))               # a region counted twice covers nothing more
    keys = {p.astype(np.int16).tobytes() for p in half}
    expect = np.mean([row.tobytes() in keys for row in P])
    assert 0.0 < expect < 1.0
    assert cover.share == pytest.approx(expect, abs=1e-12)
    cover.add(np.array(found))
    assert cover.share == pytest.approx(1.0, abs=1e-12)


def test_a_short_count_never_draws_the_sample():
    net = unit(he_mlp(2, [8, 8], seed=1))
    result, tc, display, found = counted(net, compiled=True)
    assert result.seconds < progress.DRAW_AFTER and display.reports and not display.shares
    assert tc.cover._keys is None                     # the forward pass was never paid
    assert tc.cover.share == pytest.approx(1.0, abs=1e-12)   # drawn now, from the pending


def test_no_cover_without_a_display_that_shows_it():
    net = unit(he_mlp(2, [4], seed=0))
    plain = []
    report, cover = watch_cover(plain.append, net)
    assert cover is None and report == plain.append
    assert watch_cover(None, net) == (None, None)
    tc = TreeCounter(net, compute_bounds(net, "none"), compiled=False)
    assert tc.run().regions > 1 and tc.cover is None


def test_pace_measures_from_its_restart():
    pace = Pace()
    assert pace.eta(10.0, 0.0) is None               # the first report sets the origin
    assert pace.eta(12.0, 0.0) is None               # nothing gained yet
    assert pace.eta(20.0, 0.5) == pytest.approx(10.0 * 0.5 / 0.5)
    pace.restart()                                   # e.g. after a 100 s compile
    assert pace.eta(120.0, 0.5) is None
    assert pace.eta(125.0, 0.75) == pytest.approx(5.0 * 0.25 / 0.25)
    assert pace.eta(130.0, 1.0) == 0.0


def test_compile_notice_text():
    assert about(25) == "about 30 s"
    assert about(86) == "about 90 s"
    assert about(131) == "about 2 min"
    text = compile_notice("lp_kernel", "/cache")
    assert text.startswith("compiling the LP counting kernel once (about ")
    assert "cached in /cache" in text and "milpregions warm-up" in text


def test_compiling_announces_only_a_cold_load_that_someone_watches():
    display = Display()
    with compiling(display, "kernel", True, "/c"):
        pass
    with compiling(None, "kernel", False, "/c"):
        pass
    assert display.notices == [] and display.done == []
    with compiling(display, "vertex_kernel", False, "/c"):
        pass
    assert display.notices == [compile_notice("vertex_kernel", "/c")]
    assert len(display.done) == 1 and display.done[0] >= 0.0
