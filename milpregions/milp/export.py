"""The MILP of record written to a file (MPS or CPLEX LP) for other solvers."""

from __future__ import annotations

from pathlib import Path

from ..bounds import Bounds
from ..errors import InputError
from ..ir.network import Network
from .formulation import DELTA, EPS, build_milp


def export_milp(net: Network, bounds: Bounds, path, delta: float = DELTA, eps: float = EPS) -> Path:
    """Write the model of ``build_milp`` to ``path``: ``.mps`` or ``.lp`` (by suffix)."""
    path = Path(path)
    fmt = {".mps": "mps", ".lp": "lp"}.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot export the MILP to '{path.suffix or path.name}': "
                         f"use a .mps or .lp file name")
    m = build_milp(net, bounds, delta, eps)
    m.write(str(path), format=fmt, io_options={"symbolic_solver_labels": True})
    return path
