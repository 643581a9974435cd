"""Probabilistic lower bounds on the number of regions by random parity (XOR) constraints.

This is MIPBound (Serra & Ramalingam, "Empirical Bounds on Linear Regions of Deep Rectifier
Networks", AAAI 2020, arXiv:1810.03370): MBound, the XOR-streamlining model counter of Gomes,
Sabharwal & Selman ("Model Counting: A New Strategy for Obtaining Good Bounds", AAAI 2006),
applied to the binaries of the counting MILP instead of the variables of a CNF formula.

What is bounded
---------------
``M`` = the number of solutions, projected on the binaries, of the MILP of record
(``milp.build_milp``: unstable ReLU/LeakyReLU units and unfixed max groups). Each such binary
vector is exactly one full-dimensional activation region that holds a witness simplex, so
``M`` is what ``count_milp`` counts and never exceeds the exact count. Binaries are collected
from the model (every binary variable of ``build_milp``'s model, in declaration order), so a
renamed or added binary family is picked up without changes here.

One trial with K XORs
---------------------
Draw, independently, for each of the K constraints a subset S of the N binaries (each binary in
S with probability 1/2) and a parity bit b (1 with probability 1/2), and add

    sum_{i in S} d_i = 2 y + b,      y integer, 0 <= y <= floor((|S| - b) / 2),

(an empty S with b = 1 makes the trial infeasible without a solve; with b = 0 it is no
constraint). Ask HiGHS (through Pyomo's appsi interface, on the model of record, objective 0)
whether the model is still feasible. For every fixed binary vector d the vector A d + b over
GF(2) is uniform because b is, so d survives all K XORs with probability exactly 2^-K; by the
union bound a trial is feasible with probability

    p_K <= M / 2^K.                                                           (1)

(The random subsets, not just the random parities, make the family pairwise independent; that
is what makes p_K close to M / 2^K when M >> 2^K, i.e. what makes the bound *good*. The
lower bound needs only (1).)

From T trials to a bound (the statement implemented)
----------------------------------------------------
Trials use fresh randomness, so the number c of feasible trials among T is Binomial(T, p_K).
MBound's rule (Gomes et al. 2006, Theorem 1 and algorithm MBound, parameters s = K XORs,
t = T trials, slack alpha >= 1, deviation delta): if at least (1/2 + delta) T trials are
feasible, report M >= 2^(K - alpha); this is wrong with probability at most
2^(-alpha T) when delta = 1/2 (all T trials feasible), and in general at most the Chernoff
bound (e^beta / (1 + beta)^(1 + beta))^(T / 2^alpha) with beta = 2^alpha (1/2 + delta) - 1 of
the tail P[Binomial(T, 2^-alpha) >= (1/2 + delta) T]. (Proof: if M < 2^(K - alpha) then
p_K < 2^-alpha by (1).) Serra & Ramalingam use the same statement for MIPBound.

We evaluate that binomial tail exactly instead of through Chernoff (never weaker, identical
to 2^(-alpha T) when all trials are feasible) and choose the slack from the data: with c of T
trials feasible, let

    p_lo = the largest p in [0, 1] with P[Binomial(T, p) >= c] <= gamma'
         = the (1 - gamma') one-sided Clopper-Pearson lower limit = BetaInv(gamma'; c, T - c + 1),

and report M >= 2^K p_lo, i.e. alpha = -log2(p_lo) (``mbound_slack``). If the true M is smaller
then p_K <= M / 2^K < p_lo, and observing c or more successes has probability at most gamma'.
For c = T this is p_lo = gamma'^(1/T): exactly MBound with all trials feasible,
2^(-alpha T) = gamma'. Since M is an integer, the bound is rounded up: ceil(2^K p_lo). c = 0
gives no bound.

Several K (multiple testing)
----------------------------
The final bound is the best over the tested K, so the confidence is split (Bonferroni):
gamma' = gamma / |planned K values|, gamma = 1 - confidence. The planned set is fixed before any
solve: ``xors=K`` (one value: gamma' = gamma), ``xors=[K1, K2, ...]`` (gamma / len), or the
default adaptive schedule K = 1, 2, ..., N (N = number of binaries; gamma / N), which stops at
the first K at which at most half of the T trials are feasible ("most trials infeasible"), or
at K = N. K values of the plan that are never run make no claim, so stopping early is safe.
K = 0 (the model itself) is solved once first: it carries no probability statement.

Certified part: every feasible solve exhibits a region (its binary vector); the number of
distinct vectors seen over all solves (``regions_seen``) is a lower bound with certainty. The
reported ``lower_bound`` is max(regions_seen, probabilistic bound): it holds with probability at
least ``confidence`` (over the random XORs; the network and box are fixed).

A solve stopped by the time limit counts as infeasible (conservative). When the overall time
limit runs out in the middle of a K, that K's partial trials are dropped (``stopped`` is set);
the bound uses the completed K values only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import InputError
from ..milp.formulation import DELTA, EPS, build_milp
from ..problem import Problem, prepare
from ..settings import Settings, check_time_limit
from ..solver.pyomo_highs import Status, make_solver, solve_status

DEFAULT_TRIALS = 7
DEFAULT_CONFIDENCE = 0.95


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
    from scipy.stats import beta

    p = float(beta.ppf(gamma, feasible, trials - feasible + 1))
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
    """P[Binomial(trials, p) >= feasible]."""
    from scipy.stats import binom

    return float(binom.sf(feasible - 1, trials, p))


# ---------------------------------------------------------------------------------- the result


@dataclass
class HashResult:
    """A MIPBound probabilistic lower bound.

    ``lower_bound`` holds with probability at least ``confidence`` (over the random XORs):
    max(``regions_seen``, ``probabilistic_bound``). ``feasible[K]`` of ``trials[K]`` trials with
    K XORs were feasible; ``bounds[K]`` is the (real) bound 2^K p_lo that K alone gives at
    the split error level ``gamma_per_k``; ``best_xors`` is the K of ``probabilistic_bound``.
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

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("feasible", "trials", "bounds"):
            d[key] = {str(k): v for k, v in d[key].items()}
        d["probabilistic"] = True
        d["regions"] = self.lower_bound        # the shared names: a count that is a lower bound
        d["exact"] = False
        d["lower_bound"] = True
        return d


# ---------------------------------------------------------------------------------- the model


def model_binaries(m) -> list:
    """Every binary variable of a Pyomo model, in declaration order."""
    import pyomo.environ as pe

    return [v for v in m.component_data_objects(pe.Var, descend_into=True) if v.is_binary()]


def add_parity(block, binaries, subset, parity: int):
    """Add ``sum_{i in subset} binaries[i] = 2 y + parity`` to ``block`` (y integer >= 0,
    y <= floor((|subset| - parity) / 2)); returns the new constraint, or None when the subset is
    empty (then the caller must treat parity 1 as infeasible and parity 0 as no constraint)."""
    import pyomo.environ as pe

    subset = [int(i) for i in subset]
    parity = int(parity)
    if not subset:
        return None
    if not hasattr(block, "xor_y"):
        block.xor_y = pe.VarList(domain=pe.NonNegativeIntegers)
        block.xor = pe.ConstraintList()
    y = block.xor_y.add()
    y.setlb(0)
    y.setub((len(subset) - parity) // 2)
    return block.xor.add(pe.quicksum(binaries[i] for i in subset) == 2 * y + parity)


class _Feasibility:
    """Feasibility of the MILP of record under added parity constraints (one persistent solver)."""

    def __init__(self, m):
        self.m = m
        self.binaries = model_binaries(m)
        self.solver = make_solver(new_vars=True)
        self.solves = 0
        self.timeouts = 0
        self.seen: set[bytes] = set()

    def solve(self, xors: list[tuple[np.ndarray, int]], time_limit: float | None) -> bool | None:
        """True (feasible), False (infeasible), None (stopped by the time limit: not feasible)."""
        import pyomo.environ as pe

        for subset, parity in xors:
            if len(subset) == 0 and parity:
                return False  # 0 = 1: no binary vector survives
        m = self.m
        if hasattr(m, "_hash_xors"):
            m.del_component(m._hash_xors)
        m._hash_xors = pe.Block()
        for subset, parity in xors:
            add_parity(m._hash_xors, self.binaries, subset, parity)
        try:
            status, res = solve_status(self.solver, m, time_limit, "the hashed MILP")
            self.solves += 1
            if status is Status.INFEASIBLE:
                return False
            if status is Status.TIMEOUT:
                self.timeouts += 1
                return None
            res.solution_loader.load_vars(self.binaries)
            bits = np.array([round(pe.value(v)) for v in self.binaries], dtype=np.uint8)
            self.seen.add(np.packbits(bits).tobytes() + len(bits).to_bytes(4, "little"))
            return True
        finally:
            m.del_component(m._hash_xors)


def _plan(xors, n_binaries: int) -> tuple[list[int], bool]:
    """(planned K values, adaptive?)."""
    if xors is None:
        return list(range(1, max(1, n_binaries) + 1)), True
    if isinstance(xors, (int, np.integer)):
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
    return sorted(set(ks)), False


def hash_lower_bound(net_unit, bounds, *, xors=None, trials: int = DEFAULT_TRIALS,
                     confidence: float = DEFAULT_CONFIDENCE, seed: int = 0,
                     time_limit: float | None = None, delta: float | None = None,
                     eps: float | None = None,
                     should_stop: Callable[[], bool] | None = None) -> HashResult:
    """MIPBound on ``net_unit`` (normalised to [-1, 1]^n0) with pre-activation ``bounds``.

    ``xors``: None (adaptive K = 1, 2, ... until at most half of the trials are feasible),
    an int K, or a list of K values. ``trials``: T trials per K. See the module docstring for
    the exact statement; the result's ``lower_bound`` holds with probability >= ``confidence``.
    """
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise InputError(f"trials must be a positive integer, got {trials!r}")
    trials = int(trials)
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise InputError(f"confidence must be in (0, 1), got {confidence!r}")
    check_time_limit(time_limit)
    t0 = time.perf_counter()
    gamma = 1.0 - float(confidence)
    delta = DELTA if delta is None else delta
    eps = EPS if eps is None else eps
    rng = np.random.default_rng(seed)

    def result(**kw) -> HashResult:
        base = dict(confidence=float(confidence), seed=int(seed), seconds=time.perf_counter() - t0)
        base.update(kw)
        return HashResult(**base)

    m = build_milp(net_unit, bounds, delta, eps)
    feas = _Feasibility(m)
    N = len(feas.binaries)
    if N == 0:
        # every unit is stable: the whole box is one region (as count_milp)
        return result(lower_bound=1, probabilistic_bound=0, regions_seen=1, best_xors=None,
                      feasible={}, trials={}, bounds={}, gamma_per_k=gamma, planned_xors=0,
                      binaries=0, solves=0, timeouts=0,
                      notes=["no unstable unit: the box is one region (exact)"])
    plan, adaptive = _plan(xors, N)
    gamma_k = gamma / len(plan)
    feasible: dict[int, int] = {}
    ntrials: dict[int, int] = {}
    kbounds: dict[int, float] = {}
    stopped = None
    notes: list[str] = []

    def remaining() -> float | None:
        if time_limit is None:
            return None
        return time_limit - (time.perf_counter() - t0)

    def asked_to_stop() -> bool:
        return should_stop is not None and should_stop()

    # K = 0: the model itself (one solve; no probability statement)
    r = remaining()
    ok = feas.solve([], r) if r is None or r > 0 else None
    if ok is None:
        stopped = "time-limit"
    else:
        feasible[0], ntrials[0] = int(ok), 1
        if not ok:
            notes.append("the MILP is infeasible: no region holds a witness simplex")
    if stopped is None and ok:
        for K in plan:
            c = done = 0
            for _ in range(trials):
                masks = rng.random((K, N)) < 0.5
                parities = rng.integers(0, 2, K)
                r = remaining()
                if r is not None and r <= 0:
                    stopped = "time-limit"
                    break
                if asked_to_stop():         # between solves: the finished K's stand
                    stopped = "interrupted"
                    break
                got = feas.solve([(np.flatnonzero(masks[i]), int(parities[i])) for i in range(K)], r)
                if got is None and r is not None and remaining() <= 0:
                    stopped = "time-limit"
                    break
                if asked_to_stop():         # a solve that an interrupt cut short is dropped
                    stopped = "interrupted"
                    break
                c += bool(got)
                done += 1
            if stopped is not None:
                break  # partial trials of this K are dropped (see the module docstring)
            feasible[K], ntrials[K] = c, done
            kbounds[K] = 2.0 ** K * survival_lower_limit(c, done, gamma_k)
            if adaptive and 2 * c <= trials:
                break

    best_k, best = None, 0.0
    for K, b in kbounds.items():
        if b > best:
            best_k, best = K, b
    prob = int(math.ceil(best * (1 - 1e-12))) if best > 0 else 0
    seen = len(feas.seen)
    return result(lower_bound=max(seen, prob), probabilistic_bound=prob, regions_seen=seen,
                  best_xors=best_k, feasible=feasible, trials=ntrials, bounds=kbounds,
                  gamma_per_k=gamma_k, planned_xors=len(plan), binaries=N, solves=feas.solves,
                  timeouts=feas.timeouts, stopped=stopped, notes=notes)


def hash_regions(model, box=None, *, xors=None, trials: int = DEFAULT_TRIALS,
                 confidence: float = DEFAULT_CONFIDENCE, seed: int = 0,
                 time_limit: float | None = None, tighten: bool = True,
                 should_stop: Callable[[], bool] | None = None) -> HashResult:
    """``hash_lower_bound`` for a prepared Problem (its settings' ``tighten`` applies), or for
    anything ``problem.prepare`` takes on ``box`` (as ``count_regions``). ``should_stop()``
    (e.g. a signal handler's flag) ends it between solves, like the time limit."""
    check_time_limit(time_limit)
    t0 = time.perf_counter()
    problem = model if isinstance(model, Problem) else prepare(model, box, Settings(tighten=tighten))
    unit_net, bounds = problem.unit_net, problem.bounds
    left = None if time_limit is None else max(1e-3, time_limit - (time.perf_counter() - t0))
    res = hash_lower_bound(unit_net, bounds, xors=xors, trials=trials, confidence=confidence,
                           seed=seed, time_limit=left, should_stop=should_stop)
    res.seconds = time.perf_counter() - t0
    return res


def format_hash(res: HashResult) -> list[str]:
    """Human-readable lines for ``milpregions hash``."""
    pct = f"{100 * res.confidence:g}%"
    n = res.lower_bound
    head = (f"at least {n} region{'s' if n != 1 else ''} "
            f"(probabilistic lower bound, confidence {pct})")
    lines = [head]
    if res.stopped:
        why = "interrupted" if res.stopped == "interrupted" else f"stopped by the time limit ({res.stopped})"
        lines.append(f"{why}; the bound uses the completed XOR counts only")
    lines.append("method: MIPBound (random XOR constraints on the MILP binaries; Serra & "
                 "Ramalingam 2020, MBound of Gomes, Sabharwal & Selman 2006)")
    lines.append(f"binaries: {res.binaries}; regions seen (certain): {res.regions_seen}; "
                 f"probabilistic bound: {res.probabilistic_bound}"
                 + (f" from K = {res.best_xors}" if res.best_xors is not None else ""))
    if res.feasible:
        per = ", ".join(f"K={k}: {res.feasible[k]}/{res.trials[k]}" for k in sorted(res.feasible))
        lines.append(f"feasible trials: {per}")
    lines.append(f"error level per K: {res.gamma_per_k:.3g} (Bonferroni over "
                 f"{res.planned_xors} planned K); solves: {res.solves}; seconds: {res.seconds:.3f}")
    lines += [f"note: {x}" for x in res.notes]
    return lines
