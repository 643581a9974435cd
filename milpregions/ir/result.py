"""Result records: one Region per counted activation region, one CountResult per run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from .pattern import pattern_record

#: the fields a ``--regions`` record may hold (``--region-fields``; all but the defaults come
#: from ``geometry.RegionAnalysis.record``)
REGION_FIELDS = ("pattern", "witness", "radius", "volume", "facets", "map", "linear_region",
                 "affine_piece", "neighbours")
DEFAULT_FIELDS = ("pattern", "witness", "radius")


@dataclass(frozen=True)
class Region:
    """A full-dimensional activation region, certified by a witness.

    ``witness`` is a point in input space; the ball of radius ``radius`` (in normalised box
    coordinates, each input scaled to [-1, 1]) around it lies inside the region, so every point
    of that ball has ``pattern`` (per layer: bools for units, argmax indices for max groups).
    """

    pattern: list[np.ndarray]
    witness: np.ndarray
    radius: float

    def to_dict(self) -> dict:
        return {"pattern": pattern_record(self.pattern),
                "witness": [float(v) for v in self.witness],
                "radius": float(self.radius)}

    def to_json(self, fields=DEFAULT_FIELDS) -> str:
        d = self.to_dict()
        return json.dumps({k: d[k] for k in fields})


@dataclass
class CountResult:
    """Summary of a count. ``exact`` is False when a limit stopped the run: ``regions`` is then
    a lower bound."""

    regions: int
    exact: bool
    method: str
    seconds: float
    nodes: int = 0
    lps: int = 0
    stopped: str | None = None
    margin: float = 0.0
    near_margin: int = 0
    input_dim: int = 0
    widths: list[int] = field(default_factory=list)
    unstable_units: int = 0
    bound_lps: int = 0
    bounds_seconds: float = 0.0       # the time the bounds took (before the count)
    thin_dropped: int = 0              # cells that hold a ball of radius in (0, margin] only
    thickest_dropped: float = 0.0      # the largest radius among them
    min_radius: float | None = None    # the smallest certified radius of a counted region
    undecided: int = 0                 # regions whose patterns rest on decisions within rounding
    below_resolution: int = 0          # first-layer hyperplanes nearer the centre than the walk resolves
    certified: bool | None = None      # with --certify: True iff exact certificates prove the count
    certify_note: str = ""             # with --certify: what is missing when not certified
    certify_added: int = 0             # with --certify: regions the float search missed
    certify_rejected: int = 0          # with --certify: float regions that are no region
    certify_decisions: int = 0         # with --certify: exact decisions (facets, non-facets)
    bounded: int | None = None         # over all of R^n (``AllSpace``): bounded regions,
    unbounded: int | None = None       # unbounded ones,
    extent_undecided: int | None = None  # and ones the LP's tolerance leaves undecided
    lines: bool | None = None          # over R^n: every region contains a line (input rank < n)
    reach: float | None = None         # over R^n: the largest |u|_inf of a witness or LP point
    beyond_reach: bool | None = None   # over R^n: ``reach`` is beyond what the margin resolves
    linear_regions: int | None = None  # with --linear: connected pieces of one affine map
    affine_pieces: int | None = None   # with --linear: distinct affine maps of the output

    @property
    def lps_per_region(self) -> float:
        return self.lps / self.regions if self.regions else float("nan")

    @property
    def regions_per_second(self) -> float:
        return self.regions / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lower_bound"] = not self.exact
        d["lps_per_region"] = None if not self.regions else self.lps_per_region
        d["regions_per_second"] = None if self.seconds <= 0 else self.regions_per_second
        return d


#: The version of the JSON records every ``--json`` output writes (``run_envelope``).
SCHEMA = "milpregions/1"


def versions() -> dict:
    """Versions of this package and of what a count depends on (for reproducible records)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("milpregions", "numpy", "onnx", "highspy", "pyomo"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def run_envelope(command: str, model: str, domain) -> dict:
    """The fields every JSON record starts with: ``schema``, ``command``, ``model`` (a path),
    ``domain`` (absent for ``info``; ``Domain.to_dict()``: kind, lo, hi, and the kind's own
    fields), ``box`` (the parameter box counted in, ``{"lo", "hi"}``; null over all of R^n) and
    ``versions``. A command's own fields
    follow; where a command states a number of regions it is ``regions``, with ``exact``
    (a flag) and ``lower_bound`` (its negation)."""
    d = {"schema": SCHEMA, "command": command, "model": model}
    if domain is not None:
        box = domain.box
        d["domain"] = domain.to_dict()
        # all of R^n is counted in no box (its ``lo``/``hi`` are only the unit of length)
        d["box"] = None if domain.kind == "all" else {"lo": [float(v) for v in box.lo],
                                                      "hi": [float(v) for v in box.hi]}
    d["versions"] = versions()
    return d
