"""Counts that outgrow one process: the subtrees of layer 1's cells as tasks (``local``:
worker processes on this machine; ``checkpoint``: the finished ones in SQLite)."""

from .checkpoint import Checkpoint
from .local import count_parallel

__all__ = ["Checkpoint", "count_parallel"]
