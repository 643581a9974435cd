"""The Python entry point that mirrors ``milpregions count``: load, box, bounds, count."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

from .bounds import Bounds, interval_bounds
from .box import Box, normalize
from .enumerator import DEFAULT_MARGIN, TreeCounter
from .errors import InputError
from .network import Network
from .result import CountResult, Region

METHODS = ("tree", "milp")


def load_network(model: str | os.PathLike | Network) -> Network:
    """A Network from an ONNX path (or the Network itself)."""
    if isinstance(model, Network):
        return model
    from .onnx_import import load_onnx

    return load_onnx(model)


def read_box_file(path: str | os.PathLike, dim: int) -> Box:
    """A box from JSON ``{"lo": [...], "hi": [...]}`` or .npy (2 x d array) / .npz (arrays lo, hi)."""
    p = Path(path)
    try:
        if p.suffix == ".json":
            data = json.loads(p.read_text())
            if not isinstance(data, dict) or "lo" not in data or "hi" not in data:
                raise InputError(f"{p}: box file must hold {{\"lo\": [...], \"hi\": [...]}}")
            lo, hi = data["lo"], data["hi"]
        elif p.suffix == ".npz":
            with np.load(p) as z:
                if "lo" not in z or "hi" not in z:
                    raise InputError(f"{p}: box file must hold arrays 'lo' and 'hi'")
                lo, hi = z["lo"], z["hi"]
        elif p.suffix == ".npy":
            arr = np.load(p)
            if arr.ndim != 2 or arr.shape[0] != 2:
                raise InputError(f"{p}: a .npy box must be a 2 x d array (lo row, hi row), got shape {arr.shape}")
            lo, hi = arr[0], arr[1]
        else:
            raise InputError(f"{p}: box file must be .json, .npy or .npz")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except (OSError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"{p}: cannot read box ({str(e).splitlines()[0]})") from None
    try:
        return Box.make(np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64), dim)
    except InputError as e:
        raise InputError(f"{p}: {e}") from None
    except (TypeError, ValueError):
        raise InputError(f"{p}: box bounds must be numbers") from None


def ball_box(center, radius: float, dim: int) -> Box:
    """The L-inf ball of ``radius`` around ``center`` (an array, or a .npy / JSON file of d numbers)."""
    if isinstance(center, (str, os.PathLike)):
        p = Path(center)
        try:
            c = np.load(p) if p.suffix == ".npy" else np.asarray(json.loads(p.read_text()))
        except FileNotFoundError:
            raise InputError(f"{p}: no such file") from None
        except (OSError, ValueError) as e:
            raise InputError(f"{p}: cannot read the centre ({str(e).splitlines()[0]})") from None
    else:
        c = center
    try:
        c = np.asarray(c, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputError("the centre must be numbers") from None
    if c.size != dim:
        raise InputError(f"the centre has {c.size} numbers but the network has {dim} inputs")
    if not np.all(np.isfinite(c)):
        raise InputError("the centre must be finite numbers")
    if not (np.isfinite(radius) and radius > 0):
        raise InputError(f"the radius must be a positive number, got {radius}")
    return Box.make(c - radius, c + radius, dim)


def make_box(net: Network, box=None) -> Box:
    """Accept a Box, a (lo, hi) pair of scalars or arrays, or None for [-1, 1]^d."""
    if isinstance(box, Box):
        return Box.make(box.lo, box.hi, net.input_dim)
    if box is None:
        box = (-1.0, 1.0)
    lo, hi = box
    return Box.make(lo, hi, net.input_dim)


def compute_bounds(unit_net: Network, tighten: bool = True) -> Bounds:
    """Interval bounds, LP-tightened when asked (and when the tightening module is present)."""
    bounds = interval_bounds(unit_net)
    if tighten and bounds.n_unstable:
        from .bounds import lp_tighten

        bounds = lp_tighten(unit_net, bounds)
    return bounds


def count_regions(model: str | os.PathLike | Network, box=None, *, method: str = "tree",
                  margin: float = DEFAULT_MARGIN, time_limit: float | None = None,
                  max_regions: int | None = None, tighten: bool = True, vertex_dim: int = 6,
                  on_region: Callable[[Region], None] | None = None,
                  progress: Callable[[int, int, int, float], None] | None = None,
                  slice=None, line=None) -> CountResult:
    """Count the full-dimensional activation regions of a network inside a box.

    ``box``: a Box, (lo, hi) with scalars or per-input arrays, or None for [-1, 1]^d; or a
    ``milpregions.domains.Domain`` (a 2-D slice or a segment).
    ``slice=(p0, p1, p2)`` / ``line=(p0, p1)`` (arrays or .npy/JSON paths): count the regions
    of the plane ``P0 + s (P1-P0) + t (P2-P0)`` / segment ``P0 + t (P1-P0)`` instead; ``box`` is
    then the parameter box (default [0, 1]^k). See ``milpregions.domains``.
    ``on_region`` receives every counted Region (witness in input coordinates).
    The result's ``regions`` is exact unless ``exact`` is False (a limit stopped the run).
    """
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not (margin > 0 and np.isfinite(margin)):
        raise InputError(f"margin must be a positive number, got {margin}")
    if time_limit is not None and not time_limit > 0:
        raise InputError(f"time limit must be positive, got {time_limit}")
    if max_regions is not None and max_regions < 1:
        raise InputError(f"max regions must be at least 1, got {max_regions}")
    net = load_network(model)
    from .domains import Domain, make_domain

    dom = box if isinstance(box, Domain) else make_domain(
        net.input_dim, slice=slice, line=line, param_box=box if (slice is not None or line is not None) else None)
    if dom is not None:                 # count on the plane / segment: the restricted network
        net, box = dom.restrict(net), dom.box
    b = make_box(net, box)
    unit_net = normalize(net, b)
    callback = None
    if on_region is not None:
        def callback(pattern, u, r):    # witnesses in input space (also for a slice or line)
            w = b.to_input(u)
            on_region(Region(pattern, w if dom is None else dom.to_input(w), float(r)))
    bounds = compute_bounds(unit_net, tighten)
    if method == "milp":
        from .milp import count_milp

        return count_milp(unit_net, bounds, time_limit=time_limit, max_regions=max_regions,
                          on_region=callback)
    counter = TreeCounter(unit_net, bounds, margin=margin, vertex_dim=vertex_dim,
                          time_limit=time_limit, max_regions=max_regions, on_region=callback,
                          progress=progress)
    return counter.run()
