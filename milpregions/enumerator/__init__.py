"""The exact region counter: branch and bound over activation patterns (``tree``)."""

from .tree import TreeCounter

__all__ = ["TreeCounter"]
