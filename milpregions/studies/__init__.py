"""Studies over many counts: each of many prepared problems counted whole (``many``), on this
process or on spawned worker processes; the local complexity of a network around data points
(``local``: the exact count in a ball around each point)."""

from .local import LocalComplexity, RadiusSummary, local_complexity
from .many import WorkerError, count_each

__all__ = ["LocalComplexity", "RadiusSummary", "WorkerError", "count_each", "local_complexity"]
