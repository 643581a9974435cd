"""The op handlers, one module per op family.

Importing this package imports every family module, so that all handlers are in
:data:`~.registry.HANDLERS` whenever the registry is used.
"""

from . import activation, arith, conv, pool, reduce, shape  # noqa: F401  (each registers its handlers)
from .registry import HANDLERS, Handler, register

__all__ = ["HANDLERS", "Handler", "register"]
