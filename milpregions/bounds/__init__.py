"""Pre-activation bounds on the normalised box: interval arithmetic (``interval``), then LP
tightening over the triangle relaxation (``relaxation``)."""

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
)
from .relaxation import lp_tighten


def compute_bounds(unit_net: Network, tighten: bool = True) -> Bounds:
    """Interval bounds, LP-tightened when asked (and when some unit is unstable)."""
    bounds = interval_bounds(unit_net)
    if tighten and bounds.n_unstable:
        bounds = lp_tighten(unit_net, bounds)
    return bounds


__all__ = ["Bounds", "activation_range", "compute_bounds", "csr_rows", "fixed_argmax_of",
           "interval_bounds", "layer_range", "lp_tighten", "max_candidates", "max_range",
           "output_interval"]
