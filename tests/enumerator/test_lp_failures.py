"""No LP failure ends a count: a node LP HiGHS does not settle is solved again (from scratch,
another algorithm, in the end exactly), the compiled LP walk decides on a point that proves
a ball or hands the node to the Python LP path, and the bound tightening keeps sound bounds on
a limit. Each class of net that broke the LP path is counted here against an independent
method: an analytic count, the vertex path (vertices, no LP), the other walk."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from milpregions import count_regions
from milpregions.bounds import compute_bounds, interval_bounds, symbolic_bounds
from milpregions.bounds.relaxation import lp_tighten
from milpregions.enumerator import TreeCounter, lp_kernel
from milpregions.errors import Interrupted
from milpregions.ir.domain import Box, normalize
from milpregions.ir.network import Affine, Layer, MaxLayer, Network, mlp
from milpregions.problem import load_network
from milpregions.solver.exact_simplex import chebyshev_exact
from milpregions.solver.highs import ChebyshevLP

REPRO = Path(__file__).parents[2] / "../shared/repro"
#: HiGHS with no iteration at all: every node LP fails every HiGHS method and is decided exactly
NO_HIGHS = {"simplex_iteration_limit": 0, "ipm_iteration_limit": 0}


# ---------------------------------------------------------------- networks of each class
def pencil(n: int, d: int = 8, tilt: float = 2.0 ** -20) -> Network:
    """n hyperplanes ``x_0 + k tilt x_1 = 0`` (k = -n/2 .. n/2 - 1) through the (d-2)-flat
    x_0 = x_1 = 0, which crosses the box: 2n thin wedges (angle ``tilt``), inradius ~2e-7."""
    k = np.arange(n) - n // 2
    W = np.zeros((n, d))
    W[:, 0] = 1.0
    W[:, 1] = k * tilt
    return mlp([W, np.ones((1, n))], [np.zeros(n), np.zeros(1)])


def leaky_net(seed: int, d: int = 8, widths=(5, 4), slope: float = 1e-6) -> Network:
    rng = np.random.default_rng(seed)
    sizes = [d, *widths, 1]
    Ws = [rng.normal(size=(b, a)) for a, b in zip(sizes, sizes[1:])]
    bs = [rng.normal(size=b) * 0.3 for b in sizes[1:]]
    return mlp(Ws, bs, neg_slope=slope)


def conv_maxpool_net(seed: int, shape=(2, 3), filters: int = 3, pool: int = 2) -> Network:
    """A 1 x H x W input, Conv 1 -> ``filters`` of 2x2 (stride 1) - ReLU - MaxPool of ``pool``
    consecutive positions (row-major, per channel) - Linear."""
    rng = np.random.default_rng(seed)
    H, Wd = shape
    oh, ow = H - 1, Wd - 1
    K = rng.normal(size=(filters, 2, 2))
    n = filters * oh * ow
    W = np.zeros((n, H * Wd))
    for c in range(filters):
        for i in range(oh):
            for j in range(ow):
                for a in range(2):
                    for b in range(2):
                        W[(c * oh + i) * ow + j, (i + a) * Wd + (j + b)] = K[c, a, b]
    conv = Layer(Affine({0: W}, rng.normal(size=n) * 0.3), np.zeros(n))
    groups = np.arange(n).reshape(-1, pool)
    pool_layer = MaxLayer(Affine({1: np.eye(n)}, np.zeros(n)), groups)
    out = Affine({2: rng.normal(size=(1, groups.shape[0]))}, np.zeros(1))
    return Network(H * Wd, (conv, pool_layer), out)


def magnitudes_net(seed: int, d: int = 7, widths=(6, 5), lo: float = -12.0,
                   hi: float = 10.0) -> Network:
    """Weights and biases of magnitudes 10^lo .. 10^hi (signs random); the first layer's
    biases cut the box."""
    rng = np.random.default_rng(seed)
    sizes = [d, *widths, 1]
    Ws = [rng.choice([-1.0, 1.0], size=(b, a)) * 10.0 ** rng.uniform(lo, hi, size=(b, a))
          for a, b in zip(sizes, sizes[1:])]
    bs = [rng.choice([-1.0, 1.0], size=b) * 10.0 ** rng.uniform(lo, hi, size=b)
          for b in sizes[1:]]
    bs[0] = rng.uniform(-0.9, 0.9, size=sizes[1]) * np.abs(Ws[0]).sum(axis=1)
    return mlp(Ws, bs)


# ---------------------------------------------------------------- helpers
def _patterns(net: Network, box=(-1.0, 1.0), lp: ChebyshevLP | None = None, **kw):
    """(result, sorted patterns) of one tree count on the box."""
    unit = normalize(net, Box.make(box[0], box[1], net.input_dim))
    found: list = []
    counter = TreeCounter(unit, compute_bounds(unit, "near-stable"), on_region=lambda p, u, r:
                          found.append(tuple(np.concatenate([np.asarray(x, np.int64)
                                                             for x in p]).tolist())), **kw)
    if lp is not None:
        counter.budget.lp = lp
    return counter.run(), sorted(found), counter


def _all_paths(net: Network, compiled: bool = True):
    """The patterns of the Python LP path, the compiled LP walk (if the net allows it) and the
    vertex path (vertex_dim = d: vertices, no LP decides a unit): all equal, and exact."""
    d = net.input_dim
    res, py, _ = _patterns(net, vertex_dim=0, compiled=False)
    assert res.exact
    _, vx, _ = _patterns(net, vertex_dim=d, compiled=False)
    assert py == vx and len(set(py)) == len(py)
    if compiled:
        _, cp, counter = _patterns(net, vertex_dim=0, compiled=True)
        assert counter.compiled is not None and cp == py
    return len(py)


def _repro(name: str) -> Path:
    path = REPRO / name
    if not path.exists():
        pytest.skip(f"{path} is not here")
    return path


def _count_file(path: Path, box, **kw):
    net = load_network(path)
    lo, hi = box
    return _patterns(net, (lo, hi), **kw)


# ---------------------------------------------------------------- the exact LP
@pytest.mark.parametrize("seed", range(6))
def test_the_exact_chebyshev_lp_agrees_with_highs(seed):
    rng = np.random.default_rng(seed)
    d, m = 3 + seed % 4, 6 + seed
    A = rng.normal(size=(m, d))
    A /= np.linalg.norm(A, axis=1)[:, None]
    rows = np.column_stack([A, rng.normal(size=m) * 0.5])
    r_h, u_h = ChebyshevLP(d).solve(tuple(range(m)), rows)
    ball = chebyshev_exact(rows)
    if r_h == -np.inf:                           # HiGHS: r < R_MIN = -4
        assert ball.r < -4
        return
    assert abs(float(ball.r) - r_h) <= 1e-9
    # the exact centre has the exact radius: every row and face holds it, one is at it
    u = ball.u
    slack = [sum(Fraction(float(a)) * ui for a, ui in zip(row[:d], u)) + Fraction(float(row[d]))
             for row in rows]
    slack += [1 - abs(ui) for ui in u] + [Fraction(1)]
    assert min(slack) == ball.r


def test_an_lp_every_highs_method_fails_on_is_decided_exactly():
    d = 5
    rng = np.random.default_rng(1)
    A = rng.normal(size=(9, d))
    A /= np.linalg.norm(A, axis=1)[:, None]
    rows = np.column_stack([A, rng.uniform(0.1, 0.5, size=9)])
    r_ref, _ = ChebyshevLP(d).solve(tuple(range(9)), rows)
    lp = ChebyshevLP(d, options=NO_HIGHS)
    r, u = lp.solve(tuple(range(9)), rows)
    assert lp.fallbacks.exact == 1 and lp.fallbacks.cold == 1 and lp.fallbacks.alternative == 2
    assert abs(r - r_ref) <= 1e-9 and r > 0
    # the radius is evaluated at the point it returns
    assert r <= min((rows[:, :d] @ u + rows[:, d]).min(), 1 - np.abs(u).max()) + 1e-15


def test_a_count_whose_every_node_lp_is_decided_exactly():
    """HiGHS is given no iteration at all, so the count's LPs all go to rational arithmetic:
    the 2n thin wedges of a pencil in 8-D are still all found."""
    d = 8
    res, found, _ = _patterns(pencil(4, d), lp=ChebyshevLP(d, options=NO_HIGHS), vertex_dim=0,
                              compiled=False)
    assert res.exact and res.regions == len(set(found)) == 8


# ---------------------------------------------------------------- own nets of each class
def test_thin_wedges_of_tilt_2_to_the_minus_20_in_8d():
    net = pencil(12)
    assert _all_paths(net) == 24


@pytest.mark.parametrize("seed", [0, 1])
def test_leaky_relu_of_slope_1e_minus_6_in_8d(seed):
    assert _all_paths(leaky_net(seed)) > 1


@pytest.mark.parametrize("seed, shape, filters", [(0, (2, 3), 3), (1, (3, 3), 1)])
def test_a_conv_maxpool_net(seed, shape, filters):
    assert _all_paths(conv_maxpool_net(seed, shape, filters), compiled=False) > 1


@pytest.mark.parametrize("seed, widths, certify", [(0, (5, 3), True), (1, (6, 5), False),
                                                   (2, (5, 4), False)])
def test_weights_of_magnitudes_1e_minus_12_to_1e10(seed, widths, certify):
    """Both LP walks count without error: (6, 5) seed 1 stopped both with a SolverError
    before, (5, 4) seed 2 the compiled one with a singular matrix (now least squares by SVD).
    Many regions of these nets have inradius near the margin (1e-10), where the walks' and the
    vertex path's tolerances decide differently (68 / 70 regions on seed 2), so the exact
    check is ``certify=True`` (margin-free): the same proven count from the LP path and from
    the vertex path, and no float count above it (certify costs seconds a region here)."""
    net = magnitudes_net(seed, widths=widths)
    res, py, _ = _patterns(net, vertex_dim=0, compiled=False)
    res_c, cp, counter = _patterns(net, vertex_dim=0, compiled=True)
    assert res.exact and res_c.exact and counter.compiled is not None
    if not certify:
        return
    lp = count_regions(net, vertex_dim=0, certify=True)
    vx = count_regions(net, vertex_dim=net.input_dim, certify=True)
    assert lp.certified and vx.certified and lp.regions == vx.regions
    assert max(res.regions, res_c.regions) <= lp.regions


# ---------------------------------------------------------------- the compiled walk hands over
@pytest.mark.parametrize("steps", [1, 4, 12])
def test_a_node_handed_to_python_gives_the_regions_of_the_compiled_walk(steps):
    """The compiled LP walk is stopped after a few nodes and every entry left on its stack is
    counted by the Python LP path (``TreeCounter._hand_back``, what an undecided LP does):
    the regions are those of the compiled walk alone."""
    net = pencil(6)
    res, full, _ = _patterns(net, vertex_dim=0, compiled=True)
    unit = normalize(net, Box.make(-1.0, 1.0, 8))
    found: list = []
    c = TreeCounter(unit, compute_bounds(unit, "near-stable"), vertex_dim=0, compiled=True,
                    on_region=lambda p, u, r: found.append(tuple(np.concatenate(
                        [np.asarray(x, np.int64) for x in p]).tolist())))
    stack = c.walk.root()
    width = sum(L.fixed.size for L in c.layers)
    out = (np.zeros((64, width), np.int16), np.zeros((64, 8)), np.zeros(64))
    stats = np.array([0, 0, 0, 0, 0, 0, c.margin], dtype=float)
    n, _ = lp_kernel.walk(stack, c.compiled, c.margin, steps, *out, stats, np.int64(-1),
                          lp_kernel.new_cells(8, c.compiled))
    for i in range(n):
        pat = out[0][i].copy()
        c.leaves.settle(out[1][i].copy(), float(out[2][i]), pat,
                        lambda p=pat: c.python.pattern_rows(p))
    left = len(stack)
    while len(stack):
        c._hand_back(stack.pop(), stats)
    r = c.finish()
    assert left > 0 and c.handed_to_python == left
    assert r.regions == res.regions == 12 and sorted(found) == full


# ---------------------------------------------------------------- bound tightening
def test_tightening_with_limits_keeps_sound_bounds():
    """Every LP stopped after one iteration keeps a bound that holds (sampled pre-activations
    lie inside), and the count with those bounds is the count with the symbolic ones."""
    net = magnitudes_net(0, widths=(8, 8, 6))
    unit = normalize(net, Box.make(-1.0, 1.0, 7))
    sym = symbolic_bounds(unit, interval_bounds(unit))
    tight = lp_tighten(unit, sym, lp_iterations=1)
    X = np.random.default_rng(0).uniform(-1, 1, size=(20000, 7))
    for z, lo, hi in zip(unit.preactivations(X), tight.lo, tight.hi):
        assert (z >= lo).all() and (z <= hi).all()
    a = TreeCounter(unit, tight, vertex_dim=7, compiled=False).run()
    b = TreeCounter(unit, sym, vertex_dim=7, compiled=False).run()
    assert a.exact and a.regions == b.regions


def test_a_stop_request_ends_the_tightening():
    net = magnitudes_net(1, widths=(30, 30, 30))
    unit = normalize(net, Box.make(-1.0, 1.0, 7))
    sym = symbolic_bounds(unit, interval_bounds(unit))
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 5

    with pytest.raises(Interrupted):
        lp_tighten(unit, sym, should_stop=stop)
    assert len(asked) == 6


# ---------------------------------------------------------------- the repro files
def test_repro_wedge_highs_counts_46():
    res, found, _ = _count_file(_repro("wedge_highs_8d.onnx"), (-1.0, 1.0), vertex_dim=0,
                                compiled=False)
    assert res.exact and res.regions == len(set(found)) == 46


def test_repro_leaky_highs_counts_667():
    path = _repro("leaky_highs_8d.onnx")
    res, found, _ = _count_file(path, (-1.0, 1.0), vertex_dim=0, compiled=False)
    assert res.exact and res.regions == 667
    res_c, found_c, _ = _count_file(path, (-1.0, 1.0), vertex_dim=0, compiled=True)
    assert res_c.regions == 667 and found_c == found


def test_repro_wedge_lpkernel_counts_77_with_the_compiled_walk_loaded():
    path = _repro("wedge_lpkernel_8d.onnx")
    lp_kernel.warm_up()
    res, found, counter = _count_file(path, (-1.0, 1.0), vertex_dim=0)
    assert counter.compiled is not None and counter.trial_nodes is None
    assert res.exact and res.regions == 77
    res_p, found_p, _ = _count_file(path, (-1.0, 1.0), vertex_dim=0, compiled=False)
    assert res_p.regions == 77 and found_p == found


def test_repro_cnn_counts_past_the_lp_that_stopped_it():
    """The CNN's count (hours) ended within a second with kUnknown, before its first region;
    now HiGHS's failures are re-solved (cold) and its first 200 regions come out, each
    witness checked by a forward pass, with no error."""
    path = _repro("cnn_conv_maxpool_8x8.onnx")
    res, found, counter = _count_file(path, (0.0, 1.0), max_regions=200, compiled=False)
    assert counter.budget.lp.fallbacks.cold > 0         # HiGHS stopped short, the count went on
    assert res.stopped == "max-regions" and res.regions == len(set(found)) == 200
    # the compiled LP walk (any network since) counts the same net without HiGHS
    res, found, _ = _count_file(path, (0.0, 1.0), max_regions=200, compiled=True)
    assert res.stopped == "max-regions" and res.regions == len(set(found)) == 200
