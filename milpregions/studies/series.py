"""A series of models counted on one domain: the checkpoints of a training run (Serra et al.
2018 count the regions during training; Hanin & Rolnick 2019 before and after).

``count_series`` prepares every model first (so that a bad file fails before hours of
counting, and a model with another number of inputs is named), then counts each whole with
``many.count_each``, in this process or on worker processes. The order is the order given;
``expand_models`` turns glob patterns into files in natural order (``epoch_2`` before
``epoch_10``), and ``checkpoint_step`` reads the step of a checkpoint from its file name (the
last integer in it), which is the x axis of the series' plot.
"""

from __future__ import annotations

import glob
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import InputError
from ..ir.domain import Domain
from ..ir.result import CountResult
from ..problem import Problem, load_network, prepare
from ..settings import Settings
from .many import count_each

_GLOB = re.compile(r"[*?\[]")
_NUMBER = re.compile(r"\d+")


def natural_key(text: str) -> list:
    """Sort key that orders the numbers in a name by value: ``e2`` < ``e10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def is_pattern(spec: str) -> bool:
    return bool(_GLOB.search(spec)) and not os.path.exists(spec)


def expand_models(specs: Sequence[str]) -> list[str]:
    """Paths and glob patterns -> paths: a pattern's matches in natural order, each path once
    (first place kept). A pattern that matches nothing is an error naming it."""
    out: list[str] = []
    for spec in specs:
        if is_pattern(spec):
            found = sorted(glob.glob(spec), key=natural_key)
            if not found:
                raise InputError(f"{spec}: no file matches this pattern")
            out.extend(found)
        else:
            out.append(spec)
    return list(dict.fromkeys(out))


def checkpoint_step(name: str) -> int | None:
    """The last integer in the file name without its extension (``run/epoch_010.onnx`` -> 10),
    None if there is none."""
    stem = os.path.splitext(os.path.basename(name))[0]
    numbers = _NUMBER.findall(stem)
    return int(numbers[-1]) if numbers else None


@dataclass
class SeriesEntry:
    """One model of a series: ``name`` (its path, or ``model i``), ``step`` (from the name,
    or None), ``result`` (None when the series stopped before this model started)."""

    name: str
    step: int | None
    result: CountResult | None

    def to_dict(self) -> dict:
        d = {"model": self.name, "step": self.step, "counted": self.result is not None}
        if self.result is not None:
            d.update(self.result.to_dict())
        else:
            d.update({"regions": None, "exact": False, "lower_bound": None})
        return d


@dataclass
class CountSeries:
    """The counts of a series of models on one domain, in the order given."""

    entries: list[SeriesEntry]
    domain: Domain
    seconds: float

    @property
    def lower_bounds(self) -> int:
        """How many counts a limit stopped (their numbers are lower bounds)."""
        return sum(1 for e in self.entries if e.result is not None and not e.result.exact)

    @property
    def not_counted(self) -> int:
        return sum(1 for e in self.entries if e.result is None)

    @property
    def exact(self) -> bool:
        return self.lower_bounds == 0 and self.not_counted == 0

    @property
    def steps(self) -> list[int]:
        """The x values of the plot: the steps in the names when every name has a distinct
        one, else the positions 0, 1, 2, ..."""
        s = [e.step for e in self.entries]
        if all(v is not None for v in s) and len(set(s)) == len(s):
            return s  # type: ignore[return-value]
        return list(range(len(self.entries)))


def _name(model, i: int) -> str:
    return os.fspath(model) if isinstance(model, (str, os.PathLike)) else f"model {i}"


def prepare_series(models: Sequence, domain=None, settings: Settings | None = None, *,
                   domain_for: Callable[[int], Domain] | None = None,
                   output: str | None = None) -> tuple[list[Problem], list[str]]:
    """The Problems of every model on the same domain, and their names. ``domain_for(d)``
    (the CLI's options) builds the domain for d inputs instead of ``domain``; ``output``: the
    tensor counted on in every model (``load_network``)."""
    if not models:
        raise InputError("a series needs at least one model")
    problems, names = [], []
    dim = None
    for i, model in enumerate(models):
        name = _name(model, i)
        net = load_network(model, output=output)
        if dim is None:
            dim = net.input_dim
        elif net.input_dim != dim:
            raise InputError(f"{name}: {net.input_dim} inputs, but {names[0]} has {dim}; a "
                             "series counts every model on the same domain")
        dom = domain_for(net.input_dim) if domain_for is not None else domain
        problems.append(prepare(net, dom, settings))
        names.append(name)
    return problems, names


def count_series(models: Sequence, domain=None, settings: Settings | None = None, *,
                 jobs: int | None = None, should_stop: Callable[[], bool] | None = None,
                 on_result: Callable[[int, CountResult], None] | None = None,
                 domain_for: Callable[[int], Domain] | None = None,
                 output: str | None = None) -> CountSeries:
    """Count each model (paths, ModelProtos, torch modules with a first Linear, Networks) on
    ``domain`` with ``settings`` (its ``time_limit`` per model); ``jobs`` as in
    ``count_each`` (models in parallel, each counted whole). ``should_stop``: the models not
    started are not counted (``result`` None), the running ones give lower bounds."""
    start = time.perf_counter()
    problems, names = prepare_series(models, domain, settings, domain_for=domain_for,
                                     output=output)
    steps = [checkpoint_step(n) if isinstance(m, (str, os.PathLike)) else None
             for m, n in zip(models, names)]
    return count_prepared(problems, names, steps, jobs=jobs, should_stop=should_stop,
                          on_result=on_result, start=start)


def count_prepared(problems: Sequence[Problem], names: Sequence[str], steps: Sequence[int | None],
                   *, jobs: int | None = None, should_stop: Callable[[], bool] | None = None,
                   on_result: Callable[[int, CountResult], None] | None = None,
                   start: float | None = None) -> CountSeries:
    """The counting half of ``count_series``, on problems ``prepare_series`` made."""
    start = time.perf_counter() if start is None else start
    results = count_each(problems, jobs, should_stop=should_stop, on_result=on_result,
                         name=lambda i: names[i])
    entries = [SeriesEntry(n, s, r) for n, s, r in zip(names, steps, results)]
    return CountSeries(entries, problems[0].domain, time.perf_counter() - start)
