"""Counts that outgrow one process: the subtrees of layer 1's cells as tasks (``local``:
worker processes on this machine)."""

from .local import count_parallel

__all__ = ["count_parallel"]
