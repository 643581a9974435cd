"""Probabilistic lower bounds on the number of regions by random parity (XOR) constraints.

This is MIPBound (Serra & Ramalingam, "Empirical Bounds on Linear Regions of Deep Rectifier
Networks", AAAI 2020, arXiv:1810.03370): MBound, the XOR-streamlining model counter of Gomes,
Sabharwal & Selman ("Model Counting: A New Strategy for Obtaining Good Bounds", AAAI 2006),
applied to the binaries of a MILP of the network instead of the variables of a CNF formula.

What is bounded
---------------
The binaries are those of the point MILP (``milp.point``): one per unstable unit of a
two-piece layer and one per candidate piece of an unfixed max group, N in all. A region's
binary vector d is its pattern on them; distinct regions have distinct vectors. ``M`` is the
number of activation regions of the network in the box that hold a ball of radius > ``margin``
(normalised coordinates, the counting margin, default 1e-10): what ``count`` counts. Every
region this module *exhibits* is checked to be one of them: a witness point u and its
region's own rows (``milp.point.region_rows``: every unit with a binary on its side, the
chosen pieces above the others) with a ball of radius > margin around u inside the box and
every row, evaluated at u, else the Chebyshev LP of those rows. So ``regions_seen`` <= M.
On a polytope domain ``A x <= b`` (``domain_rows``) M counts the regions in the polytope: its
rows join every check and the point MILP (``with_domain_rows``: each row held by the MILP's
margin at the witness), so every region exhibited holds a ball inside the polytope, and the
statement below is unchanged.

One trial
---------
Draw, independently, rows r_1, r_2, ..., r_Kmax: row i is a subset S_i of the N binaries and a
parity bit b_i, 1 with probability 1/2 independently of everything else. By default each binary
is in S_i with probability 1/2 (MBound's long XORs); ``xor_length=k`` takes k binaries drawn
uniformly instead (short XORs, Gomes, Hoffmann, Sabharwal & Selman, SAT 2007). A region d
satisfies row i iff sum_{j in S_i} d_j = b_i (mod 2). For every fixed d and any subsets the
parities make A d + b uniform over GF(2)^K, so d satisfies the first K rows with probability
exactly 2^-K, and by the union bound

    p_K := P[some region satisfies r_1..r_K] <= M / 2^K.                       (1)

(Long XORs make the family pairwise independent, which makes p_K close to M / 2^K when
M >> 2^K: what makes the bound *good*. Short XORs keep (1), so the bound stays valid; they
cost quality, measured in benchmarks/README.md.)

The trial's *level* is the largest K for which a region satisfying r_1..r_K was exhibited. The
search for one (``_Oracle.level``) never has to prove that none exists: a trial counts as
feasible at K only when it exhibits a checked region, so the observed number of feasible
trials never exceeds the true one, which is all the statement below needs. It looks, in
order, at: the regions already known (the distinct patterns of ``points`` uniform random
points, checked as above, and every region exhibited so far); their neighbours (one unit's bit
flipped, or one group's piece changed: the regions across a facet), checked by a Chebyshev
LP (at most ``NEIGHBOUR_CHECKS`` per trial); and the point MILP with the parity rows of the
next level, each r_i as ``sum_{j in S_i} d_j = 2 y_i + b_i`` (y_i integer), solved by HiGHS
with a node limit (``milp_nodes``; at most ``MILP_CALLS`` solves per trial): a solve that ends
at the limit shows nothing. After ``MILP_PATIENCE`` solves in a row that exhibit no new
region the MILP is not asked again (a note says so). None of this needs a proof that no region
satisfies the rows, which is what made one solve cost seconds (benchmarks/README.md,
"hashing.py"): it only decides how many feasible trials are seen, never whether a feasible
trial is true.

From T trials to a bound (the statement implemented)
----------------------------------------------------
With c_K of T trials feasible at K: every trial counted feasible has a region that satisfies
its first K rows, so c_K never exceeds the number of trials that have one, and that number is
Binomial(T, p_K) (trials use fresh randomness; which regions are known when a trial runs
depends only on earlier trials and on the sampled points, so it decides how often a region is
exhibited, never whether a false one is). MBound's rule (Gomes et al. 2006, Theorem 1: s = K
XORs, t = T trials, slack alpha, deviation delta): if at least (1/2 + delta) T trials are
feasible, report M >= 2^(K - alpha), wrong with probability at most 2^(-alpha T) for
delta = 1/2 and at most the Chernoff bound (e^beta / (1 + beta)^(1 + beta))^(T / 2^alpha),
beta = 2^alpha (1/2 + delta) - 1, of the tail P[Binomial(T, 2^-alpha) >= (1/2 + delta) T] in
general (proof: if M < 2^(K - alpha) then p_K < 2^-alpha by (1)). Serra & Ramalingam use the
same statement.

We evaluate that binomial tail exactly instead of through Chernoff (never weaker, identical to
2^(-alpha T) when all trials are feasible) and choose the slack from the data:

    p_lo = the largest p in [0, 1] with P[Binomial(T, p) >= c] <= gamma'
         = the (1 - gamma') one-sided Clopper-Pearson lower limit = BetaInv(gamma'; c, T - c + 1),

and report M >= 2^K p_lo (alpha = -log2(p_lo), ``mbound_slack``). If the true M were smaller,
p_K <= M / 2^K < p_lo, and c or more feasible trials would have probability at most gamma'.
For c = T, p_lo = gamma'^(1/T): MBound with all trials feasible. M is an integer, so the bound
is rounded up: ceil(2^K p_lo). c = 0 gives no bound.

Which K (multiple testing)
--------------------------
A trial's rows are nested, so one trial is a trial at every K <= Kmax at once (its level says
at which). The bound is the best over a *plan* of K values fixed before the trials it uses,
so the confidence is split (Bonferroni, valid for dependent tests): gamma' = gamma / |plan|,
gamma = 1 - confidence. ``xors=K`` or ``xors=[K1, K2, ...]`` is the plan. By default the plan
is chosen from ``EXPLORE_TRIALS`` exploration trials with their own randomness, which make no
claim: with L their median level (about log2 M + 1/2), the plan is L - 2, ..., L + 1.

Stopping early (time limit, Ctrl-C): the plan's trials that did not finish count as not
feasible, with T the planned number, which keeps the statement above (c only gets smaller);
``stopped`` says why. Stopped during exploration, there is no plan and no probabilistic bound.

The result
----------
``regions_seen`` (distinct regions exhibited and checked, by sampling, neighbours or the MILP)
is a lower bound with certainty. The reported ``lower_bound`` is max(regions_seen,
probabilistic bound): it holds with probability at least ``confidence`` over the random XORs
(the network, the box and the sampled points are fixed). ``probabilistic_bound`` alone is the
MIPBound estimate, also when it is below ``regions_seen``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..bounds import Bounds
from ..errors import InputError
from ..ir.domain import L1Ball, Polytope
from ..ir.network import Network
from ..milp.point import MARGIN, PointMILP, build_point_milp, region_rows
from ..problem import Problem, prepare
from ..settings import DEFAULT_MARGIN, Settings, check_time_limit
from .body import L1_LIFTED_REFUSED, PolytopeBody

DEFAULT_TRIALS = 100
DEFAULT_CONFIDENCE = 0.95
DEFAULT_POINTS = 100_000        # uniform points whose regions seed the known ones
EXPLORE_TRIALS = 5              # trials that choose the plan (no claim)
PLAN_BELOW, PLAN_ABOVE = 2, 1   # plan = median exploration level - 2 .. + 1
MAX_XORS = 62                   # a level is a 64-bit code (2^62 regions is beyond any count)
MILP_NODES = 300                # HiGHS node limit of one MILP solve
MILP_SECONDS = 10.0             # and its time limit
MILP_CALLS = 2                  # MILP solves per trial at most
MILP_PATIENCE = 8               # no more MILP solves after this many in a row that found nothing
NEIGHBOUR_CHECKS = 64           # Chebyshev LPs per trial for neighbours of known regions
POINT_BATCH = 8192
MAX_SEEDED = 50_000             # sampling stops once this many regions are known


# ----------------------------------------------------------------------------------- statistics


def survival_lower_limit(feasible: int, trials: int, gamma: float) -> float:
    """The largest p in [0, 1] with P[Binomial(trials, p) >= feasible] <= gamma (0 if feasible = 0).

    That is the one-sided (1 - gamma) Clopper-Pearson lower limit BetaInv(gamma; c, T - c + 1).
    """
    if not 0 <= feasible <= trials or trials < 1:
        raise ValueError(f"need 0 <= feasible <= trials, trials >= 1 (got {feasible}, {trials})")
    if not 0 < gamma < 1:
        raise ValueError(f"gamma must be in (0, 1), got {gamma}")
    if feasible == 0:
        return 0.0
    if feasible == trials:
        return gamma ** (1.0 / trials)
    from scipy.special import betaincinv

    p = float(betaincinv(feasible, trials - feasible + 1, gamma))
    # guard against rounding: the tail at p must not exceed gamma
    for _ in range(200):
        if binomial_tail(feasible, trials, p) <= gamma:
            return p
        p *= 1 - 1e-9
    return 0.0


def mbound_slack(feasible: int, trials: int, gamma: float) -> float:
    """The slack alpha of the bound M >= 2^(K - alpha) at error probability ``gamma``
    (``inf`` when no trial was feasible)."""
    p = survival_lower_limit(feasible, trials, gamma)
    return math.inf if p <= 0 else -math.log2(p)


def mbound_chernoff_error(alpha: float, delta: float, trials: int) -> float:
    """MBound's stated error probability (Gomes, Sabharwal & Selman 2006, Theorem 1) for the
    lower bound 2^(s - alpha) after at least (1/2 + delta) t of t trials were satisfiable:
    2^(-alpha t) if delta = 1/2, else (e^beta / (1 + beta)^(1 + beta))^(t / 2^alpha) with
    beta = 2^alpha (1/2 + delta) - 1 > 0. For reference and tests; the bound itself uses the
    exact binomial tail, which is never larger."""
    if delta == 0.5:
        return 2.0 ** (-alpha * trials)
    b = 2.0 ** alpha * (0.5 + delta) - 1.0
    if b <= 0:
        return 1.0
    return min(1.0, math.exp((b - (1 + b) * math.log1p(b)) * trials / 2.0 ** alpha))


def binomial_tail(feasible: int, trials: int, p: float) -> float:
    """P[Binomial(trials, p) >= feasible] (= I_p(feasible, trials - feasible + 1), the
    regularised incomplete beta function, for feasible >= 1)."""
    if feasible <= 0:
        return 1.0
    if feasible > trials:
        return 0.0
    from scipy.special import betainc

    return float(betainc(feasible, trials - feasible + 1, p))


def plan_from_levels(levels: list[int]) -> list[int]:
    """The K values tested after exploration trials of these levels (median - 2 .. + 1)."""
    L = int(np.median(levels)) if levels else 1
    lo = max(1, L - PLAN_BELOW)
    hi = max(lo, min(MAX_XORS, L + PLAN_ABOVE))
    return list(range(lo, hi + 1))


# ---------------------------------------------------------------------------------- the result


@dataclass
class HashResult:
    """A MIPBound probabilistic lower bound.

    ``lower_bound`` holds with probability at least ``confidence`` (over the random XORs):
    max(``regions_seen``, ``probabilistic_bound``). ``feasible[K]`` of ``trials[K]`` trials were
    feasible at K XORs (K = 0: a region is known at all); ``bounds[K]`` is the (real) bound
    2^K p_lo that K alone gives at the split error level ``gamma_per_k``; ``best_xors`` is the
    K of ``probabilistic_bound``. ``levels``: per planned trial the largest K it showed
    feasible (-1: not finished); ``exploration_levels``: the same for the trials that chose the
    plan. ``found``: regions by how they were first seen (``sample``, ``neighbour``, ``milp``).
    """

    lower_bound: int
    confidence: float
    probabilistic_bound: int
    regions_seen: int
    best_xors: int | None
    feasible: dict[int, int]
    trials: dict[int, int]
    bounds: dict[int, float]
    gamma_per_k: float
    planned_xors: int
    binaries: int
    solves: int
    timeouts: int
    seconds: float
    seed: int
    stopped: str | None = None
    method: str = "mipbound"
    notes: list[str] = field(default_factory=list)
    plan: list[int] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    exploration_levels: list[int] = field(default_factory=list)
    xor_length: int | None = None
    points: int = 0
    found: dict[str, int] = field(default_factory=dict)
    lp_checks: int = 0
    milp_nodes: int = 0
    milp_seconds: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("feasible", "trials", "bounds"):
            d[key] = {str(k): v for k, v in d[key].items()}
        d["probabilistic"] = True
        d["regions"] = self.lower_bound        # the shared names: a count that is a lower bound
        d["exact"] = False
        d["lower_bound"] = True
        return d


@dataclass
class HashProgress:
    """What a running ``hash_lower_bound`` reports to its ``progress`` callback."""

    stage: str                  # "sampling", "exploring" or "trials"
    done: int                   # trials finished in this stage
    total: int
    regions_seen: int
    bound: int                  # the probabilistic bound if the run stopped now (0: none yet)
    solves: int
    seconds: float


# ---------------------------------------------------------------------------------- the search


def parity_rows(A: np.ndarray, b: np.ndarray, binary_cols: np.ndarray, n_cols: int):
    """Row i of (A, b) as ``sum_{j: A[i, j]} d_j - 2 y_i = b_i`` with a new integer column
    0 <= y_i <= floor((|S_i| - b_i) / 2), numbered from ``n_cols``: (cols_lo, cols_hi, rows)
    for ``FeasibilityMIP.solve``. None when a row is 0 = 1 (empty subset, parity 1); an
    empty subset with parity 0 gives no row."""
    cols_lo: list[float] = []
    cols_hi: list[float] = []
    rows = []
    for i in range(A.shape[0]):
        S = np.flatnonzero(A[i])
        par = int(b[i])
        if S.size == 0:
            if par:
                return None
            continue
        y = n_cols + len(cols_lo)
        cols_lo.append(0.0)
        cols_hi.append(float((S.size - par) // 2))
        rows.append((par, par, np.append(np.asarray(binary_cols)[S], y),
                     np.append(np.ones(S.size), -2.0)))
    return cols_lo, cols_hi, rows


def _ctz(codes: np.ndarray, kmax: int) -> np.ndarray:
    """Per uint64 code, the index of its lowest set bit (``kmax`` when the code is 0, or when
    the bit is at ``kmax`` or beyond): the first row it violates = its level."""
    codes = np.asarray(codes, dtype=np.uint64)
    low = codes & (~codes + np.uint64(1))
    out = np.full(codes.shape, kmax, dtype=np.int64)
    nz = low != 0
    if np.any(nz):
        out[nz] = np.minimum(kmax, np.round(np.log2(low[nz].astype(np.float64))).astype(np.int64))
    return out


def _pack(D: np.ndarray) -> np.ndarray:
    """Rows of 0/1 bytes as rows of uint64 words (bit j of the row = entry j)."""
    D = np.atleast_2d(np.asarray(D, dtype=np.uint8))
    words = max(1, -(-D.shape[1] // 64))
    B = np.packbits(D, axis=1, bitorder="little")
    out = np.zeros((D.shape[0], 8 * words), dtype=np.uint8)
    out[:, : B.shape[1]] = B
    return out.view(np.uint64)


class _Known:
    """Distinct checked regions as binary vectors: rows of a growing uint8 matrix, and the
    same rows packed into 64-bit words for the parities."""

    def __init__(self, n: int):
        self.D = np.zeros((64, n), dtype=np.uint8)
        self.P = np.zeros((64, _pack(np.zeros((1, n))).shape[1]), dtype=np.uint64)
        self.size = 0
        self.keys: dict[bytes, int] = {}
        self.source: list[str] = []

    def add(self, d: np.ndarray, source: str) -> bool:
        key = d.tobytes()
        if key in self.keys:
            return False
        if self.size == self.D.shape[0]:
            self.D = np.vstack([self.D, np.zeros_like(self.D)])
            self.P = np.vstack([self.P, np.zeros_like(self.P)])
        self.D[self.size] = d
        self.P[self.size] = _pack(d[None, :])[0]
        self.keys[key] = self.size
        self.source.append(source)
        self.size += 1
        return True

    def matrix(self) -> np.ndarray:
        return self.D[: self.size]

    def packed(self) -> np.ndarray:
        return self.P[: self.size]


class _Oracle:
    """Exhibits regions satisfying a prefix of parity rows (see the module docstring)."""

    def __init__(self, net: Network, bounds: Bounds, margin: float, milp_margin: float,
                 milp_nodes: int, remaining: Callable[[], float | None],
                 domain_rows: np.ndarray | None = None,
                 on_region: Callable[[list[np.ndarray]], None] | None = None):
        from ..milp.point import Binaries
        from ..solver.highs_mip import ChebyshevBall

        self.net = net
        self.bounds = bounds
        self.margin = margin
        self.milp_margin = milp_margin
        self.milp_nodes = milp_nodes
        self.remaining = remaining
        d = net.input_dim
        self.domain_rows = (np.zeros((0, d + 1)) if domain_rows is None
                            else np.asarray(domain_rows, dtype=np.float64).reshape(-1, d + 1))
        self.on_region = on_region
        self.B = Binaries(net, bounds)
        self.N = len(self.B)
        self.known = _Known(self.N)
        self.bad: set[bytes] = set()
        self.lp = ChebyshevBall(net.input_dim)
        self.lp_checks = 0
        self.mip = None
        self.P = None
        self.solves = 0
        self.timeouts = 0
        self.milp_seconds = 0.0
        self.unverified = 0
        self.idle = 0                   # MILP solves in a row that exhibited nothing new
        self.milp_off = False
        # max-group moves: for each unfixed group, the binaries of its candidate pieces
        names = self.B.names
        groups: dict[tuple[int, int], list[int]] = {}
        for i, nm in enumerate(names):
            if len(nm) == 3:
                groups.setdefault((nm[0], nm[1]), []).append(i)
        self.unit_bins = np.array([i for i, nm in enumerate(names) if len(nm) == 2], dtype=np.int64)
        self.group_bins = [np.array(v, dtype=np.int64) for v in groups.values()]

    # -- checking a region ------------------------------------------------------------------

    def radius_at(self, d: np.ndarray, u: np.ndarray | None,
                  lp: bool = True) -> tuple[float, np.ndarray | None]:
        """The radius of a ball around u inside the region of d, the box, every row and the
        domain's rows (a polytope's); if that is not above the margin (or u is None) and
        ``lp``, the Chebyshev ball's. (0, None) if d is no region."""
        pattern = self.B.pattern(d)
        R = None if pattern is None else region_rows(self.net, pattern, self.B)
        if R is None:
            return 0.0, None
        if self.domain_rows.shape[0]:
            R = np.vstack([R, self.domain_rows])
        if u is not None:
            r = 1.0 - float(np.abs(u).max(initial=0.0))
            if R.shape[0]:
                r = min(r, float((R[:, :-1] @ u + R[:, -1]).min()))
            if r > self.margin or not lp:
                return r, u
        self.lp_checks += 1
        r, c = self.lp.solve(R)
        return (r, c) if c is not None else (0.0, None)

    def check(self, d: np.ndarray, u: np.ndarray | None, source: str) -> bool:
        """Add d to the known regions if its region holds a ball of radius > margin."""
        key = d.tobytes()
        if key in self.known.keys:
            return True
        if key in self.bad:
            return False
        r, _ = self.radius_at(d, u)
        if r > self.margin:
            self._add(d, source)
            return True
        self.bad.add(key)
        return False

    def seed(self, U: np.ndarray) -> None:
        """The regions of a batch of points (normalised coordinates), each checked by the ball
        around its first point (no LP: a point near a boundary is just skipped)."""
        D = self.B.from_patterns(self.net.pattern(U))
        tried: set[bytes] = set()
        for i, d in enumerate(D):
            key = d.tobytes()
            if key in tried or key in self.known.keys:
                continue
            tried.add(key)
            r, _ = self.radius_at(d, U[i], lp=False)
            if r > self.margin:
                self._add(d, "sample")

    def _add(self, d: np.ndarray, source: str) -> None:
        if self.known.add(d, source) and self.on_region is not None:
            self.on_region(self.B.pattern(d))

    # -- one trial --------------------------------------------------------------------------

    def level(self, A: np.ndarray, b: np.ndarray, kmin: int, kmax: int, milp_calls: int) -> int:
        """The largest K <= kmax for which a region satisfying rows 0..K-1 of (A, b) was
        exhibited (the MILP is not asked for levels below ``kmin``)."""
        weights = np.left_shift(np.uint64(1), np.arange(kmax, dtype=np.uint64))
        A = np.asarray(A[:kmax], dtype=np.uint8)
        b = np.asarray(b[:kmax], dtype=np.uint8)
        Ap = _pack(A) if kmax else np.zeros((0, 1), dtype=np.uint64)
        bcode = np.bitwise_xor.reduce(np.where(b > 0, weights, np.uint64(0)), initial=np.uint64(0))
        colcode = np.bitwise_or.reduce(np.where(A.T > 0, weights[None, :], np.uint64(0)), axis=1,
                                       initial=np.uint64(0))

        def codes_of(Dp: np.ndarray) -> np.ndarray:
            """The (first violated row) codes of packed binary vectors: bit i = row i fails."""
            code = np.full(Dp.shape[0], bcode, dtype=np.uint64)
            for i in range(kmax):
                par = np.bitwise_count(Dp & Ap[i]).sum(axis=1, dtype=np.uint64) & np.uint64(1)
                code ^= par << np.uint64(i)
            return code

        best = -1
        if self.known.size:
            codes = codes_of(self.known.packed())
            best = int(_ctz(codes, kmax).max())
            if best < kmax:
                best = self._neighbours(codes, best, kmax, colcode, codes_of)
        calls = 0
        while best < kmax and calls < milp_calls and not self.milp_off:
            left = self.remaining()
            if left is not None and left <= 0:
                break
            calls += 1
            target = max(best + 1, kmin)
            d = self._milp(A[:target], b[:target], left)
            self.idle = 0 if d is not None else self.idle + 1
            if self.idle >= MILP_PATIENCE:
                self.milp_off = True
            if d is None:
                break
            best = max(best, int(_ctz(codes_of(_pack(d[None, :])), kmax)[0]))
        return max(best, 0)

    def _neighbours(self, codes, best, kmax, colcode, codes_of) -> int:
        """Check the neighbours of known regions that would raise the level, best first (a
        neighbour of a higher level than every known region is not known)."""
        checks = 0
        src = np.arange(self.known.size)
        for _ in range(4):                     # rounds: from the regions the last one found
            D = self.known.D
            lvls, idx, kinds, aa, bb = [], [], [], [], []
            step = max(1, (1 << 20) // max(1, self.unit_bins.size))
            for lo in range(0, src.size if self.unit_bins.size else 0, step):
                part = src[lo:lo + step]
                lv = _ctz(codes[part, None] ^ colcode[None, self.unit_bins], kmax)
                r, c = np.nonzero(lv > best)
                lvls.append(lv[r, c])
                idx.append(part[r])
                kinds.append(np.zeros(r.size, dtype=np.int64))
                aa.append(self.unit_bins[c])
                bb.append(np.zeros(r.size, dtype=np.int64))
            for gb in self.group_bins:
                cur = gb[np.argmax(D[src][:, gb], axis=1)]
                lv = _ctz((codes[src] ^ colcode[cur])[:, None] ^ colcode[None, gb], kmax)
                lv[gb[None, :] == cur[:, None]] = -1
                r, c = np.nonzero(lv > best)
                lvls.append(lv[r, c])
                idx.append(src[r])
                kinds.append(np.ones(r.size, dtype=np.int64))
                aa.append(cur[r])
                bb.append(gb[c])
            if not lvls:
                return best
            lv = np.concatenate(lvls)
            if not lv.size:
                return best
            order = np.argsort(-lv, kind="stable")
            idx, kinds = np.concatenate(idx)[order], np.concatenate(kinds)[order]
            aa, bb, lv = np.concatenate(aa)[order], np.concatenate(bb)[order], lv[order]
            first_new = self.known.size
            for t in range(lv.size):
                if lv[t] <= best:
                    continue
                if checks >= NEIGHBOUR_CHECKS:
                    return best
                d = D[idx[t]].copy()
                if kinds[t] == 0:
                    d[aa[t]] ^= 1
                else:
                    d[aa[t]], d[bb[t]] = 0, 1
                if d.tobytes() in self.bad:
                    continue
                checks += 1
                if self.check(d, None, "neighbour"):
                    best = int(lv[t])
                    if best >= kmax:
                        return best
            if self.known.size == first_new:
                return best
            new = np.arange(first_new, self.known.size)
            codes = np.concatenate([codes, codes_of(self.known.P[new])])
            src = new
        return best

    def _milp(self, A: np.ndarray, b: np.ndarray, left: float | None) -> np.ndarray | None:
        """One node-limited MILP solve of the point model with parity rows (A, b); the checked
        binary vector it exhibits, or None."""
        from ..solver.highs_mip import FeasibilityMIP, MIPStatus

        if self.mip is None:
            P = with_domain_rows(build_point_milp(self.net, self.bounds, self.milp_margin),
                                 self.domain_rows)
            self.P = P
            self.mip = FeasibilityMIP(P.col_lo, P.col_hi, P.integer, P.row_lo, P.row_hi,
                                      P.starts, P.index, P.value)
        P = self.P
        bc = P.binary_cols
        parity = parity_rows(A, b, bc, P.n_cols)
        if parity is None:
            return None                        # a row 0 = 1: no region satisfies it
        cols_lo, cols_hi, rows = parity
        limit = MILP_SECONDS if left is None else max(1e-3, min(MILP_SECONDS, left))
        t0 = time.perf_counter()
        status, x = self.mip.solve(cols_lo, cols_hi, rows, max_nodes=self.milp_nodes,
                                   time_limit=limit)
        self.milp_seconds += time.perf_counter() - t0
        self.solves += 1
        if status is MIPStatus.LIMIT:
            self.timeouts += 1
        if status is not MIPStatus.FEASIBLE:
            return None
        d = (x[bc] > 0.5).astype(np.uint8)
        u = np.clip(x[P.x_cols], -1.0, 1.0)
        if self.check(d, u, "milp"):
            return d
        # HiGHS meets rows only to its tolerance: take the region the point is really in
        d2 = self.B.from_patterns(self.net.pattern(u[None, :]))[0]
        if self.check(d2, u, "milp"):
            return d2
        self.unverified += 1
        return None


def with_domain_rows(P: PointMILP, R: np.ndarray) -> PointMILP:
    """The point MILP with a domain's rows ``a . x + c >= margin`` on its input columns (a
    polytope's, unit rows in normalised coordinates: its witness is inside by the margin)."""
    if not R.shape[0]:
        return P
    m = R.shape[0]
    rr, cc = np.nonzero(R[:, :-1])
    index = np.concatenate([P.index, P.x_cols[cc].astype(np.int32)])
    value = np.concatenate([P.value, R[rr, cc]])
    starts = np.concatenate([P.starts, P.index.size + np.searchsorted(rr, np.arange(m))])
    return replace(P, row_lo=np.concatenate([P.row_lo, P.margin - R[:, -1]]),
                   row_hi=np.concatenate([P.row_hi, np.full(m, np.inf)]),
                   starts=starts.astype(np.int32), index=index.astype(np.int32), value=value)


# ---------------------------------------------------------------------------------- the driver


def _plan(xors, n_binaries: int) -> tuple[list[int], bool]:
    """(planned K values, adaptive?)."""
    if xors is None:
        return [], True
    if isinstance(xors, (int, np.integer)) and not isinstance(xors, bool):
        ks = [int(xors)]
    else:
        try:
            ks = [int(k) for k in xors]
        except (TypeError, ValueError):
            raise InputError(f"xors must be an integer or a list of integers, got {xors!r}") from None
        if not ks:
            raise InputError("xors: give at least one number of XOR constraints")
    if any(k < 1 for k in ks):
        raise InputError(f"xors: the numbers of XOR constraints must be >= 1, got {ks}")
    if any(k > MAX_XORS for k in ks):
        raise InputError(f"xors: at most {MAX_XORS} XOR constraints (2^{MAX_XORS} regions), got {ks}")
    return sorted(set(ks)), False


def _draw(rng: np.random.Generator, K: int, N: int, length: int | None) -> tuple[np.ndarray, np.ndarray]:
    if length is None:
        A = rng.random((K, N)) < 0.5
    else:
        A = np.zeros((K, N), dtype=bool)
        k = min(int(length), N)
        for i in range(K):
            A[i, rng.choice(N, size=k, replace=False)] = True
    return A, rng.integers(0, 2, K)


def hash_lower_bound(net_unit: Network, bounds: Bounds, *, xors=None, trials: int | None = None,
                     confidence: float = DEFAULT_CONFIDENCE, seed: int = 0,
                     time_limit: float | None = None, points: int = DEFAULT_POINTS,
                     xor_length: int | None = None, margin: float = DEFAULT_MARGIN,
                     milp_nodes: int = MILP_NODES, milp_margin: float = MARGIN,
                     should_stop: Callable[[], bool] | None = None,
                     progress: Callable[[HashProgress], None] | None = None,
                     domain_rows: np.ndarray | None = None,
                     seed_points: Callable[[np.random.Generator, int], np.ndarray] | None = None,
                     on_region: Callable[[list[np.ndarray]], None] | None = None,
                     ) -> HashResult:
    """MIPBound on ``net_unit`` (normalised to [-1, 1]^n0) with pre-activation ``bounds``.

    ``xors``: None (plan from exploration trials), an int K, or a list of K values.
    ``trials``: T trials (default ``DEFAULT_TRIALS``). ``points``: uniform random points whose
    regions seed the known ones (0: none). ``xor_length``: None for long XORs (each binary
    with probability 1/2), k for XORs of k binaries. ``margin``: a region counts when it holds
    a ball of this radius. ``milp_nodes``: HiGHS's node limit per MILP solve. See the module
    docstring for the statement; ``lower_bound`` holds with probability >= ``confidence``.
    ``domain_rows``: a polytope domain's rows [a, c] (``a . u + c >= 0``, unit a, normalised
    coordinates): the MILP gets them and every region is checked inside them, so the regions
    counted are the network's regions in the polytope; ``seed_points(rng, n)``: the sampled
    points (normalised; default uniform in [-1, 1]^n0). ``on_region(pattern)``: each region
    exhibited (its pattern per layer, as ``Network.pattern``), when it is first checked.
    """
    trials = DEFAULT_TRIALS if trials is None else trials
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise InputError(f"trials must be a positive integer, got {trials!r}")
    trials = int(trials)
    if isinstance(confidence, bool) or not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise InputError(f"confidence must be in (0, 1), got {confidence!r}")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 0:
        raise InputError(f"points must be an integer >= 0, got {points!r}")
    if xor_length is not None and (isinstance(xor_length, bool) or xor_length < 1
                                   or not isinstance(xor_length, (int, np.integer))):
        raise InputError(f"xor_length must be a positive integer or None, got {xor_length!r}")
    if not (isinstance(milp_nodes, (int, np.integer)) and milp_nodes >= 1):
        raise InputError(f"milp_nodes must be a positive integer, got {milp_nodes!r}")
    check_time_limit(time_limit)
    t0 = time.perf_counter()
    gamma = 1.0 - float(confidence)
    rng = np.random.default_rng(seed)
    rng_points = np.random.default_rng([seed, 1])

    def remaining() -> float | None:
        return None if time_limit is None else time_limit - (time.perf_counter() - t0)

    def asked_to_stop() -> bool:
        return should_stop is not None and bool(should_stop())

    def out_of_time() -> bool:
        r = remaining()
        return r is not None and r <= 0

    notes: list[str] = []
    oracle = _Oracle(net_unit, bounds, float(margin), float(milp_margin), int(milp_nodes), remaining,
                     domain_rows, on_region)
    N = oracle.N
    base = dict(confidence=float(confidence), seed=int(seed), xor_length=xor_length)
    if N == 0:
        # every unit is stable: the whole box is one region (as count_milp)
        return HashResult(lower_bound=1, probabilistic_bound=0, regions_seen=1, best_xors=None,
                          feasible={}, trials={}, bounds={}, gamma_per_k=gamma, planned_xors=0,
                          binaries=0, solves=0, timeouts=0, seconds=time.perf_counter() - t0,
                          notes=["no unstable unit: the box is one region (exact)"], **base)
    plan, adaptive = _plan(xors, N)
    stopped: str | None = None
    state = {"bound": 0}

    def report(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(HashProgress(stage, done, total, oracle.known.size, state["bound"],
                                  oracle.solves, time.perf_counter() - t0))

    def check_stop() -> str | None:
        if asked_to_stop():
            return "interrupted"
        if out_of_time():
            return "time-limit"
        return None

    # seeds: the regions of uniform random points
    done_points = 0
    while done_points < points:
        stopped = check_stop()
        if stopped:
            break
        if oracle.known.size >= MAX_SEEDED:
            notes.append(f"sampling stopped after {done_points:,} points: {MAX_SEEDED:,} regions known")
            break
        n = min(POINT_BATCH, points - done_points)
        oracle.seed(rng_points.uniform(-1.0, 1.0, (n, net_unit.input_dim)) if seed_points is None
                    else seed_points(rng_points, n))
        done_points += n
        report("sampling", done_points, points)
    # K = 0: is any region known at all (else one MILP solve without parity rows)
    feasible: dict[int, int] = {}
    ntrials: dict[int, int] = {}
    if stopped is None and oracle.known.size == 0:
        oracle._milp(np.zeros((0, N), dtype=np.uint8), np.zeros(0, dtype=np.uint8), remaining())
        stopped = check_stop()
    if oracle.known.size or stopped is None:
        feasible[0], ntrials[0] = int(oracle.known.size > 0), 1
    if stopped is None and oracle.known.size == 0:
        notes.append("no region found: the MILP is infeasible or hit its node limit")
    explore: list[int] = []
    if stopped is None and oracle.known.size and adaptive:
        for i in range(EXPLORE_TRIALS):
            stopped = check_stop()
            if stopped:
                break
            A, b = _draw(rng, MAX_XORS, N, xor_length)
            explore.append(oracle.level(A, b, 1, MAX_XORS, milp_calls=MILP_CALLS))
            report("exploring", i + 1, EXPLORE_TRIALS)
        if stopped is None:
            plan = plan_from_levels(explore)
    levels: list[int] = []
    kbounds: dict[int, float] = {}
    gamma_k = gamma / len(plan) if plan else gamma

    def tally() -> None:
        for K in plan:
            c = sum(1 for lv in levels if lv >= K)
            feasible[K], ntrials[K] = c, trials
            kbounds[K] = 2.0 ** K * survival_lower_limit(c, trials, gamma_k)
        best = max(kbounds.values(), default=0.0)
        state["bound"] = int(math.ceil(best * (1 - 1e-12))) if best > 0 else 0

    if stopped is None and oracle.known.size and plan:
        kmin, kmax = min(plan), max(plan)
        for t in range(trials):
            stopped = check_stop()
            if stopped:
                break
            A, b = _draw(rng, kmax, N, xor_length)
            levels.append(oracle.level(A, b, kmin, kmax, milp_calls=MILP_CALLS))
            tally()
            report("trials", t + 1, trials)
    if plan and oracle.known.size:
        tally()                                 # unfinished trials: not feasible
    if stopped is not None and plan and len(levels) < trials:
        notes.append(f"{trials - len(levels)} of the {trials} planned trials did not finish; "
                     "they count as not feasible")
    if oracle.milp_off:
        notes.append(f"the MILP found no new region in {MILP_PATIENCE} solves in a row; the "
                     "later trials used the known regions and their neighbours only")
    if oracle.unverified:
        notes.append(f"{oracle.unverified} MILP solutions failed the region check (not counted)")
    best_k, best = None, 0.0
    for K, v in kbounds.items():
        if v > best:
            best_k, best = K, v
    prob = int(math.ceil(best * (1 - 1e-12))) if best > 0 else 0
    seen = oracle.known.size
    found = {s: oracle.known.source.count(s) for s in ("sample", "neighbour", "milp")}
    return HashResult(lower_bound=max(seen, prob), probabilistic_bound=prob, regions_seen=seen,
                      best_xors=best_k, feasible=feasible, trials=ntrials, bounds=kbounds,
                      gamma_per_k=gamma_k, planned_xors=len(plan), binaries=N,
                      solves=oracle.solves, timeouts=oracle.timeouts,
                      seconds=time.perf_counter() - t0, stopped=stopped, notes=notes,
                      plan=list(plan), levels=levels + [-1] * (trials - len(levels)) if plan else [],
                      exploration_levels=explore, found=found, lp_checks=oracle.lp_checks,
                      milp_nodes=int(oracle.mip.nodes) if oracle.mip is not None else 0,
                      milp_seconds=oracle.milp_seconds, points=done_points, **base)


def hash_regions(model, box=None, *, xors=None, trials: int | None = None,
                 confidence: float = DEFAULT_CONFIDENCE, seed: int = 0,
                 time_limit: float | None = None, tighten: bool = True,
                 points: int = DEFAULT_POINTS, xor_length: int | None = None,
                 milp_nodes: int = MILP_NODES,
                 should_stop: Callable[[], bool] | None = None,
                 progress: Callable[[HashProgress], None] | None = None,
                 on_region: Callable[[list[np.ndarray]], None] | None = None) -> HashResult:
    """``hash_lower_bound`` for a prepared Problem (its settings' ``tighten`` and ``margin``
    apply), or for anything ``problem.prepare`` takes on ``box`` (as ``count_regions``).
    ``should_stop()`` (e.g. a signal handler's flag) ends it between steps, like the time
    limit. On a polytope domain the MILP and every check take its rows, and the seeds are
    uniform points inside it (``estimators.body``)."""
    check_time_limit(time_limit)
    t0 = time.perf_counter()
    problem = model if isinstance(model, Problem) else prepare(model, box, Settings(tighten=tighten))
    unit_net, bounds = problem.unit_net, problem.bounds
    rows, seeds = None, None
    if isinstance(problem.domain, L1Ball):
        raise InputError(L1_LIFTED_REFUSED)
    if isinstance(problem.domain, Polytope):
        body = PolytopeBody(problem.domain)
        rows = body.unit_rows()

        def seeds(rng: np.random.Generator, n: int) -> np.ndarray:
            return problem.box.to_unit(body.uniform(rng, n))
    left = None if time_limit is None else max(1e-3, time_limit - (time.perf_counter() - t0))
    res = hash_lower_bound(unit_net, bounds, xors=xors, trials=trials, confidence=confidence,
                           seed=seed, time_limit=left, points=points, xor_length=xor_length,
                           margin=problem.settings.margin, milp_nodes=milp_nodes,
                           should_stop=should_stop, progress=progress, domain_rows=rows,
                           seed_points=seeds, on_region=on_region)
    res.seconds = time.perf_counter() - t0
    return res


def _n(k: int, what: str) -> str:
    return f"{k:,} {what}{'' if k == 1 else 's'}"


def format_hash(res: HashResult) -> list[str]:
    """Human-readable lines for ``milpregions hash``."""
    pct = f"{100 * res.confidence:g}%"
    n = res.lower_bound
    why = {"time-limit": ", stopped by the time limit", "interrupted": ", interrupted"}.get(
        res.stopped, "" if res.stopped is None else f", stopped ({res.stopped})")
    lines = [f"at least {n:,} region{'s' if n != 1 else ''} "
             f"(probabilistic lower bound, confidence {pct}{why})"]
    if res.stopped:
        lines.append("stopped early: the trials that did not finish count as not feasible"
                     if res.plan else "stopped before the trials: the regions seen only")
    lines.append("method: MIPBound (random XOR constraints on the MILP binaries; Serra & "
                 "Ramalingam 2020, MBound of Gomes, Sabharwal & Selman 2006)")
    lines.append(f"binaries: {res.binaries:,}; regions seen (certain): {res.regions_seen:,}; "
                 f"probabilistic bound: {res.probabilistic_bound:,}"
                 + (f" from K = {res.best_xors}" if res.best_xors is not None else ""))
    if res.feasible:
        per = ", ".join(f"K={k}: {res.feasible[k]:,}/{res.trials[k]:,}" for k in sorted(res.feasible))
        lines.append(f"feasible trials: {per}")
    xl = "each binary with probability 1/2" if res.xor_length is None else f"{res.xor_length} binaries each"
    if res.plan:
        how = (f"chosen from {len(res.exploration_levels)} exploration trials (levels "
               f"{', '.join(map(str, res.exploration_levels))})" if res.exploration_levels
               else "as asked")
        lines.append(f"K tested: {', '.join(map(str, res.plan))}, {how}; XORs: {xl}")
    if res.found:
        f = res.found
        lines.append(f"regions seen by: {_n(f.get('sample', 0), 'sampled point')} "
                     f"({res.points:,} drawn), {_n(f.get('neighbour', 0), 'neighbour')}, "
                     f"{_n(f.get('milp', 0), 'MILP solution')}; Chebyshev LPs: {res.lp_checks:,}")
    solves = (f"solves: {res.solves:,} ({res.timeouts:,} at the node limit, {res.milp_seconds:.1f} s); "
              f"seconds: {res.seconds:.3f}; seed {res.seed}")
    if res.planned_xors:
        lines.append(f"error level per K: {res.gamma_per_k:.3g} (Bonferroni over "
                     f"{res.planned_xors} planned K); {solves}")
    else:
        lines.append(solves)
    lines += [f"note: {x}" for x in res.notes]
    return lines
