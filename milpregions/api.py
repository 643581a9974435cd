"""The Python entry point that mirrors ``milpregions count``: prepare a Problem, count it."""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from .enumerator import TreeCounter
from .enumerator.tree import TRIAL_SECONDS
from .errors import InputError
from .ir.domain import AllSpace, L1Ball, Polytope
from .ir.result import CountResult, Region
from .problem import Problem, prepare
from .settings import DEFAULT_MARGIN, Settings

ProgressCallback = Callable[[int, int, int, float], None]


def count(problem: Problem, *, on_region: Callable[[Region], None] | None = None,
          progress: ProgressCallback | None = None,
          should_stop: Callable[[], bool] | None = None, checkpoint=None) -> CountResult:
    """Count the regions of a prepared Problem with its settings' method.

    ``on_region`` receives every counted Region, its witness in input coordinates (also on a
    slice or line); ``progress(regions, nodes, lps, seconds)`` is called now and then (tree).
    ``should_stop()`` is asked now and then; once it says True the count stops where it is
    consistent and is a lower bound (``stopped="interrupted"``): how a signal handler stops it.
    ``checkpoint`` (a ``parallel.Checkpoint``): record finished batches of subtrees there and
    skip the ones it holds (tree method, two layers or more).
    """
    callback = None
    s = problem.settings
    found: list = []
    if on_region is not None or s.certify:
        slack = problem.witness_slack

        # over all of R^d a witness may lie beyond [-1, 1]^d: its rounding grows with |u|
        far = problem.unbounded

        def callback(pattern, u, r):
            if s.certify:
                found.append(([p.copy() for p in pattern], np.array(u)))
            if on_region is not None:
                grow = max(1.0, float(np.abs(u).max(initial=0.0))) if far else 1.0
                on_region(Region(pattern, problem.to_input(u), float(r) - slack * grow))
    start = time.perf_counter()
    result = _search(problem, callback, progress, should_stop, checkpoint)
    if s.certify:
        deadline = None if s.time_limit is None else start + s.time_limit
        _certify(problem, result, found, deadline, on_region)
    return result


def _certify(problem: Problem, result: CountResult, found: list, deadline: float | None,
             on_region: Callable[[Region], None] | None) -> None:
    """Check and complete the count exactly; a certified count replaces the float one, and
    the regions it added go to ``on_region`` too (their radius: the float estimate)."""
    from .certify import certify

    if not result.exact:
        result.certified, result.certify_note = False, "the count was stopped by a limit"
        return
    c = certify(problem, found, deadline)
    result.certified, result.certify_note = c.certified, c.why
    result.certify_added, result.certify_rejected = len(c.added), c.rejected
    result.certify_decisions = c.decisions
    if c.certified:
        result.regions = c.regions
        if c.bounded is not None:           # all of R^n: bounded or not, decided exactly
            result.bounded, result.unbounded = c.bounded, c.regions - c.bounded
            result.extent_undecided = 0
    if on_region is not None:
        for pattern, (Q, D) in c.added:
            u = np.array([float(Fraction(int(q), D)) for q in Q])
            on_region(Region(pattern, problem.to_input(u), 0.0))


def _search(problem: Problem, callback, progress, should_stop, checkpoint) -> CountResult:
    s = problem.settings
    if isinstance(problem.domain, (Polytope, L1Ball)):
        return _count_polytope(problem, callback, progress, should_stop, checkpoint)
    if isinstance(problem.domain, AllSpace):
        return _count_all_space(problem, callback, progress, should_stop, checkpoint)
    t0 = time.perf_counter()
    # the MILP wants LP-tightened bounds; the tree takes what its path needs
    bounds = problem.search_bounds(should_stop)
    seconds = time.perf_counter() - t0
    if s.method == "milp":
        from .milp import count_milp

        result = count_milp(problem.unit_net, bounds, time_limit=s.time_limit,
                            max_regions=s.max_regions, on_region=callback,
                            should_stop=should_stop)
    elif checkpoint is not None or ((s.jobs is not None or s.executor != "local")
                                    and len(problem.unit_net.layers) >= 2):
        from .parallel import count_parallel

        if s.max_regions is not None:
            raise InputError("--max-regions cannot be combined with --checkpoint (the order "
                             "in which batches find regions is not the walk's)")
        if len(problem.unit_net.layers) < 2:
            raise InputError("a checkpoint needs a network of two layers or more (the "
                             "subtrees of the first layer's cells are what it records)")
        result = count_parallel(problem, s.jobs, on_region=callback, progress=progress,
                                should_stop=should_stop, checkpoint=checkpoint,
                                executor=s.executor, address=s.address,
                                task_seconds=s.task_seconds)
    else:
        result = TreeCounter(problem.unit_net, bounds, margin=s.margin,
                             vertex_dim=s.vertex_dim, time_limit=s.time_limit,
                             max_regions=s.max_regions, on_region=callback,
                             progress=progress, should_stop=should_stop).run()
    result.bounds_seconds = seconds
    if s.method != "milp":
        from .enumerator.resolution import hyperplanes_below_resolution

        result.below_resolution = hyperplanes_below_resolution(problem.unit_net)
    return result


def _count_polytope(problem: Problem, callback, progress, should_stop,
                    checkpoint) -> CountResult:
    """The tree on the network gated by the polytope's rows (``Polytope.gate``, folded into
    [-1, 1]^d exactly like the network): the walk enters only the cell where every gate is on,
    one gate layer at a time (so a polytope of m rows costs m nodes to reach, not the cells of
    its rows' arrangement), and counts that cell's subtree. Regions are reported without the
    gates' bits. A lifted L1 ball (``L1Ball``) is the simplex of its parameters, one gate."""
    from .bounds import compute_bounds
    from .enumerator.budget import Stop

    s, dom = problem.settings, problem.domain
    if s.method != "tree" or s.jobs is not None or s.executor != "local" \
            or checkpoint is not None:
        raise InputError("a polytope domain is counted by the tree in one process: not with "
                         "--method milp, --jobs, --executor or --checkpoint yet")
    if not problem.unit_net.layers:
        raise InputError("a polytope domain needs a network with an activation layer")
    m = dom.gates
    t0 = time.perf_counter()
    gated = dom.gated_unit_net(problem.network)
    lp = "none" if problem.dim <= s.vertex_dim or not s.tighten else "near-stable"
    bounds = compute_bounds(gated, lp, should_stop=should_stop)
    seconds = time.perf_counter() - t0
    start = time.perf_counter()

    def attempt(compiled: bool | None, on_region, node_limit: int | None = None):
        left = None if s.time_limit is None else max(0.0, s.time_limit - (
            time.perf_counter() - start))
        counter = TreeCounter(gated, bounds, margin=s.margin, vertex_dim=s.vertex_dim,
                              time_limit=left, max_regions=s.max_regions, on_region=on_region,
                              progress=progress, should_stop=should_stop, compiled=compiled)
        counter.budget.node_limit = node_limit
        if node_limit is not None:
            counter.budget.trial_until = time.perf_counter() + TRIAL_SECONDS
        stopped = None
        try:
            for cell in counter.cells(m, np.ones(m, dtype=np.int16)):
                counter.count_cell(cell)
        except Stop as stop:
            stopped = stop.why
        return counter, stopped

    def strip(pattern, u, r):
        callback(pattern[m:], u, r)

    sink = None if callback is None else strip
    probe = TreeCounter(gated, bounds, margin=s.margin, vertex_dim=s.vertex_dim)
    counter, stopped = probe, "trial"
    if probe.trial_nodes is not None:
        # the compiled walk is not loaded (~1 s): the Python walk first, with a node limit,
        # its regions held back; a count that outgrows it starts over compiled
        held: list = []
        counter, stopped = attempt(False, None if callback is None else
                                   (lambda *r: held.append(r)), probe.trial_nodes)
        if stopped != "trial":
            for region in held:
                strip(*region)
    if stopped == "trial":
        counter, stopped = attempt(True if probe.trial_nodes is not None else None, sink)
    result = counter.finish(stopped)
    result.seconds = time.perf_counter() - start
    result.widths = problem.unit_net.widths
    result.bounds_seconds = seconds
    return result


def check_all_space(settings: Settings, checkpoint=None) -> None:
    """What a count over all of R^n is not counted with (an ``InputError`` naming it): the
    walk is the Python LP path in one process (``certify`` proves its count exactly)."""
    refused = [name for name, on in (
        ("--method milp", settings.method != "tree"), ("--jobs", settings.jobs is not None),
        ("--executor", settings.executor != "local"),
        ("--checkpoint", checkpoint is not None)) if on]
    if refused:
        raise InputError(f"--domain all is counted by the tree's LP path in one process: not "
                         f"with {', '.join(refused)}")


def _count_all_space(problem: Problem, callback, progress, should_stop,
                     checkpoint) -> CountResult:
    """The regions of all of R^n: the tree's Python LP path without the box (``box=False``:
    free u, radii capped at 1, no bounds), each counted region told bounded or unbounded
    (``enumerator.recession``)."""
    s = problem.settings
    check_all_space(s, checkpoint)
    t0 = time.perf_counter()
    bounds = problem.search_bounds(should_stop)
    seconds = time.perf_counter() - t0
    result = TreeCounter(problem.unit_net, bounds, margin=s.margin, time_limit=s.time_limit,
                         max_regions=s.max_regions, on_region=callback, progress=progress,
                         should_stop=should_stop, box=False).run()
    result.bounds_seconds = seconds
    from .enumerator.resolution import hyperplanes_below_resolution

    result.below_resolution = hyperplanes_below_resolution(problem.unit_net)
    return result


def count_regions(model, box=None, *, method: str = "tree", margin: float = DEFAULT_MARGIN,
                  time_limit: float | None = None, max_regions: int | None = None,
                  tighten: bool = True, vertex_dim: int = 6,
                  on_region: Callable[[Region], None] | None = None,
                  progress: ProgressCallback | None = None,
                  slice=None, line=None, center=None, radius: float | None = None,
                  certify: bool = False, jobs: int | None = None, executor: str = "local",
                  address: str | None = None,
                  task_seconds: float | None = Settings.task_seconds,
                  connect_timeout: float = Settings.connect_timeout, input_shape=None,
                  output: str | None = None, norm: str | float = "inf", polytope=None,
                  hull=None, domain: str | None = None) -> CountResult:
    """Count the full-dimensional activation regions of a network inside a domain.

    ``model``: an ONNX path, an ``onnx.ModelProto``, a ``torch.nn.Module`` (exported in
    memory; ``input_shape``: the shape of one sample, or an example batch; None reads it from
    a first ``Linear`` layer), a ``Network``, or a prepared ``Problem`` (its domain and
    settings are then used as they are; only the callbacks apply). ``output``: the name of the
    tensor whose regions are counted (default: the graph outputs, less classifier heads).
    ``box``: a Box, (lo, hi) with scalars or per-input arrays, None for [-1, 1]^d, or any
    ``milpregions.ir.domain`` Domain. ``center``/``radius``: the L-inf ball instead
    (``norm=1``: the L1 ball, up to 12 inputs). ``polytope=(A, b)`` (or a JSON / .npz file):
    the polytope ``A x <= b``; ``hull=points`` (or a .npy / JSON file): the convex hull of the
    points (Qhull's facets).
    ``slice=(p0, p1, p2)`` / ``line=(p0, p1)`` (arrays or .npy/JSON paths): count the regions
    of the plane ``P0 + s (P1-P0) + t (P2-P0)`` / segment ``P0 + t (P1-P0)`` instead; ``box`` is
    then the parameter box (default [0, 1]^k).
    The result's ``regions`` is exact unless ``exact`` is False (a limit stopped the run).
    ``certify``: also check the count in exact rational arithmetic (``result.certified``).
    ``jobs``: count on that many worker processes (0: one per core); the count is the same.
    ``executor="ray"`` / ``"dask"``: count on that engine's cluster at ``address`` (None: a
    local cluster of ``jobs`` CPUs, all cores when None); the count is the same.
    ``task_seconds``: with those, a task that counts longer hands the rest back as new tasks.
    ``connect_timeout``: the seconds a running cluster at ``address`` has to answer before the
    count is refused (``InputError``).
    ``domain="all"``: count over all of R^n instead (``box``, if given, is then only the unit
    of length, ``AllSpace``; the margin is relative to it); the result also holds
    ``bounded`` / ``unbounded`` regions. Equivalently ``box="all"``.
    """
    if isinstance(model, Problem):
        return count(model, on_region=on_region, progress=progress)
    settings = Settings(method=method, margin=margin, time_limit=time_limit,
                        max_regions=max_regions, tighten=tighten, vertex_dim=vertex_dim,
                        certify=certify, jobs=jobs, executor=executor, address=address,
                        task_seconds=task_seconds, connect_timeout=connect_timeout)
    if domain is not None:
        if domain != "all":
            raise InputError(f"domain {domain!r}: the only named domain is 'all' (R^n)")
        box = ("all", box)
    problem = prepare(model, box, settings, slice=slice, line=line, center=center, radius=radius,
                      input_shape=input_shape, output=output, norm=norm, polytope=polytope,
                      hull=hull)
    return count(problem, on_region=on_region, progress=progress)
