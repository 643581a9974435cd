"""The settings of a count: one dataclass, validated once, with messages in library terms."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import InputError

#: A region counts when a ball of this radius (normalised coordinates, the box scaled to
#: [-1, 1]^d) fits strictly inside it. Chosen on evidence: 1e-7 dropped real cells of
#: He-initialised nets (he_mlp(3, [32, 32], 0): 40,139 regions at 1e-7, 40,141 at 1e-9, 1e-10
#: and 1e-11, on both paths); 1e-10 is the vertex tolerance, so nothing thicker is lost.
DEFAULT_MARGIN = 1e-10
METHODS = ("tree", "milp")
EXECUTORS = ("local", "ray", "dask")
#: seconds a cluster at ``--address`` has to answer (its TCP port, then its client handshake)
CONNECT_TIMEOUT = 30.0


def check_time_limit(time_limit: float | None, what: str = "time limit") -> float | None:
    """None, or a positive finite number of seconds (``what`` names it in the error)."""
    if time_limit is None:
        return None
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) \
            or not (time_limit > 0 and math.isfinite(time_limit)):
        raise InputError(f"{what} must be positive, got {time_limit}")
    return float(time_limit)


@dataclass(frozen=True)
class Settings:
    """How to count: ``method`` tree (branch and bound) or milp (no-good cuts, a cross-check);
    ``margin`` (tree); limits ``time_limit`` (seconds) and ``max_regions``, which make the
    count a lower bound when they stop it; ``tighten`` the interval bounds by LPs;
    ``vertex_dim``: inputs up to this dimension take the vertex path, higher ones the LP path;
    ``certify``: check every region and (1-D/2-D) completeness in exact rational arithmetic;
    ``jobs``: count the tree on this many worker processes (0: one per core; None: in this
    process), the subtrees of layer 1's cells as tasks (``milpregions.parallel``);
    ``executor`` "ray" or "dask": those tasks on a cluster at ``address`` (None: a local one
    of ``jobs`` CPUs); ``connect_timeout``: the seconds a cluster at ``address`` has to answer
    before the count is refused."""

    method: str = "tree"
    margin: float = DEFAULT_MARGIN
    time_limit: float | None = None
    max_regions: int | None = None
    tighten: bool = True
    vertex_dim: int = 6
    certify: bool = False          # check the count exactly (``milpregions.certify``)
    jobs: int | None = None
    executor: str = "local"        # or "ray", "dask": batches of subtrees as cluster tasks
    address: str | None = None     # of a running Ray / Dask cluster (else a local one)
    task_seconds: float | None = 20.0   # a task's budget before it hands back its rest
    connect_timeout: float = CONNECT_TIMEOUT   # for a cluster at ``address`` to answer

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if isinstance(self.margin, bool) or not isinstance(self.margin, (int, float)) \
                or not (self.margin > 0 and math.isfinite(self.margin)):
            raise InputError(f"margin must be a positive number, got {self.margin}")
        check_time_limit(self.time_limit)
        if self.max_regions is not None and (isinstance(self.max_regions, bool)
                                             or not isinstance(self.max_regions, int)
                                             or self.max_regions < 1):
            raise InputError(f"max regions must be at least 1, got {self.max_regions}")
        if self.jobs is not None:
            if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 0:
                raise InputError(f"jobs must be an integer >= 0, got {self.jobs}")
            if self.max_regions is not None:
                raise InputError("--max-regions cannot be combined with --jobs (the order in "
                                 "which workers find regions is not defined)")
            if self.method != "tree":
                raise InputError("--jobs needs --method tree")
        if self.task_seconds is not None:
            check_time_limit(self.task_seconds, "task seconds")
        if self.connect_timeout is None:
            raise InputError("connect timeout must be positive, got None")
        check_time_limit(self.connect_timeout, "connect timeout")
        if self.executor not in EXECUTORS:
            raise InputError(f"unknown executor {self.executor!r}; choose one of "
                             f"{', '.join(EXECUTORS)}")
        if self.executor != "local":
            if self.max_regions is not None:
                raise InputError(f"--max-regions cannot be combined with --executor "
                                 f"{self.executor} (the order in which workers find regions "
                                 f"is not defined)")
            if self.method != "tree":
                raise InputError(f"--executor {self.executor} needs --method tree")
        elif self.address is not None:
            raise InputError("--address needs --executor ray or dask")
        if isinstance(self.vertex_dim, bool) or not isinstance(self.vertex_dim, int) \
                or self.vertex_dim < 0:
            raise InputError(f"vertex_dim must be an integer >= 0, got {self.vertex_dim}")
