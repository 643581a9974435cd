"""Input domains, and the change of variables that maps every domain onto [-1, 1]^d.

All geometry (bounds, LPs, vertices, margins) works in the normalised coordinates u in
[-1, 1]^d, where x = center + halfwidth * u. Distances and the counting margin are therefore
relative to the box: huge and tiny boxes are handled alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .network import Network


@dataclass(frozen=True)
class Box:
    """An axis-aligned box lo <= x <= hi in input space."""

    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def make(cls, lo, hi, dim: int) -> "Box":
        """Validate and broadcast bounds to ``dim`` inputs (scalars apply to every input)."""
        lo = np.asarray(lo, dtype=np.float64).reshape(-1)
        hi = np.asarray(hi, dtype=np.float64).reshape(-1)
        for name, v in (("lo", lo), ("hi", hi)):
            if v.size == 1:
                continue
            if v.size != dim:
                raise InputError(f"box {name} has {v.size} entries but the network has {dim} inputs")
        lo = np.broadcast_to(lo, (dim,)).copy()
        hi = np.broadcast_to(hi, (dim,)).copy()
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise InputError("box bounds must be finite numbers")
        bad = np.flatnonzero(lo >= hi)
        if bad.size:
            i = int(bad[0])
            raise InputError(f"box is empty in input {i}: lo={lo[i]:g} >= hi={hi[i]:g}")
        return cls(lo, hi)

    @property
    def center(self) -> np.ndarray:
        return (self.lo + self.hi) / 2

    @property
    def halfwidth(self) -> np.ndarray:
        return (self.hi - self.lo) / 2

    def to_input(self, U: np.ndarray) -> np.ndarray:
        """Map normalised points u in [-1,1]^d back to input space."""
        return self.center + self.halfwidth * np.asarray(U)

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X) - self.center) / self.halfwidth


def normalize(net: Network, box: Box) -> Network:
    """The network in normalised coordinates: ``u -> F(center + halfwidth * u)`` on [-1,1]^d."""
    return net.map_input(np.diag(box.halfwidth), box.center)
