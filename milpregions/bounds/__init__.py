"""Pre-activation bounds on the normalised box: interval arithmetic (``interval``), then
back-substitution of linear relaxations (``symbolic``, milliseconds), then LP tightening over
the triangle relaxation (``relaxation``) where it is asked for."""

from collections.abc import Callable

from ..ir.network import Network
from .interval import (
    Bounds,
    activation_range,
    csr_rows,
    fixed_argmax_of,
    interval_bounds,
    layer_range,
    max_candidates,
    max_range,
    output_interval,
    unbounded_bounds,
)
from .relaxation import lp_tighten
from .symbolic import symbolic_bounds

#: ``compute_bounds(..., lp="near-stable")`` gives LPs only to units whose zero lies within
#: this fraction of their symbolic bounds' width from an end: on the ladder's nets and the
#: digits models no other unit was ever made stable by its LPs (benchmarks/README.md, "Bounds")
NEAR_STABLE = 0.1


def compute_bounds(unit_net: Network, lp: str = "all",
                   should_stop: Callable[[], bool] | None = None) -> Bounds:
    """Interval, then symbolic bounds; then LP tightening of the units still unstable
    (``lp="all"``: every one, for the MILP's big-M; ``"near-stable"``: the ones an LP might
    make stable, all that the tree gains from; ``"none"``). ``should_stop``: asked during the
    LPs (``lp_tighten``), which raise ``errors.Interrupted`` once it says True."""
    if lp not in ("all", "near-stable", "none"):
        raise ValueError(f"lp must be 'all', 'near-stable' or 'none', not {lp!r}")
    bounds = symbolic_bounds(unit_net, interval_bounds(unit_net))
    if lp != "none" and bounds.n_unstable:
        bounds = lp_tighten(unit_net, bounds, near=NEAR_STABLE if lp == "near-stable" else None,
                            should_stop=should_stop)
    return bounds


__all__ = ["Bounds", "activation_range", "compute_bounds", "csr_rows", "fixed_argmax_of",
           "interval_bounds", "layer_range", "lp_tighten", "max_candidates", "max_range",
           "output_interval", "symbolic_bounds", "unbounded_bounds"]
