"""``count --estimate [S]``: a short sample of the count, extrapolated to the whole domain:
random first-layer cells counted exactly, or (one layer, ``--max-regions``) the start of the
walk scaled by the share of the domain it covered."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    PROG,
    StopOnSignals,
    _duration,
    check_positive,
    write_json,
)


def format_cell_estimate(e) -> list[str]:
    """The lines of a ``CellEstimate``; each says it is one."""
    k = len(e.counted)
    if e.exact:
        n = int(e.counted.sum())
        return [f"{n:,} region{'s' if n != 1 else ''} (exact: every first-layer cell was "
                "counted within the sample)"]
    se = e.standard_error
    spread = "" if not np.isfinite(se) else f" (one standard error {se:,.0f})"
    return [f"estimate (not a count): about {e.predicted_regions:,.0f} regions{spread}, from "
            f"{k:,} of the {e.cells:,} first-layer cells chosen at random and counted exactly "
            f"({int(e.counted.sum()):,} regions)",
            f"estimated time of the whole count: about {_duration(e.predicted_seconds)} on one "
            "process (an estimate too)"]


def format_estimate(e) -> list[str]:
    """The lines of a ``PartialEstimate``; each says it is one."""
    if e.exact:
        return [f"{e.regions:,} region{'s' if e.regions != 1 else ''} (exact: the count "
                f"finished within the sample, {e.seconds:.1f} s)"]
    head = (f"from {e.regions:,} regions counted in {e.seconds:.1f} s, covering "
            f"{100 * e.covered:.1f}% of the domain by volume")
    if e.predicted_regions is None:
        return [f"no estimate: {head}; too little to extrapolate (a longer --estimate)"]
    return [f"estimate (not a count): about {e.predicted_regions:,.0f} regions, "
            "extrapolated " + head,
            f"estimated time of the whole count: about {_duration(e.predicted_seconds)} on one "
            "process (the walk is depth first: where regions are denser or sparser elsewhere, "
            "both estimates are off by that ratio)"]


def run_estimate(args, problem, out, err, progress) -> int:
    """Count for ``args.estimate`` seconds (and ``--max-regions``), print the extrapolation."""
    from ..estimators.partial import cell_estimate, partial_estimate

    check_positive("--estimate", args.estimate)
    if args.method != "tree":
        raise InputError("--estimate needs --method tree")
    for flag, given in (("--jobs", args.jobs is not None), ("--checkpoint", args.checkpoint),
                        ("--regions", args.regions), ("--certify", args.certify)):
        if given:
            raise InputError(f"--estimate cannot be combined with {flag}")
    try:
        with StopOnSignals() as stop:
            c = None if args.max_regions is not None else cell_estimate(
                problem, args.estimate, should_stop=stop, progress=progress)
            e = c if c is not None else partial_estimate(
                problem, args.estimate, args.max_regions, should_stop=stop, progress=progress)
    except KeyboardInterrupt:
        err.write(f"{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    finally:
        if progress is not None:
            progress.clear()
    if args.json:
        write_json(out, "count", args, problem.domain, {"estimate": e.to_dict()})
    else:
        lines = format_estimate(e) if c is None else format_cell_estimate(e)
        out.write("\n".join(lines) + "\n")
    return EXIT_OK
