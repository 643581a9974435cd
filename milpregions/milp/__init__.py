"""The MILP of record: the big-M formulation (``formulation``), the no-good count (``count``)
and the file export (``export``)."""

from .count import count_milp
from .export import export_milp
from .formulation import DELTA, EPS, build_milp, max_groups, simplex_inradius, simplex_vertices

__all__ = ["DELTA", "EPS", "build_milp", "count_milp", "export_milp", "max_groups",
           "simplex_inradius", "simplex_vertices"]
