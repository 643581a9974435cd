"""The command line (``milpregions``): nothing in the library imports it."""

from .main import main

__all__ = ["main"]
