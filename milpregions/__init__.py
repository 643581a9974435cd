"""milpregions: exact counts of the linear regions of piecewise-linear neural networks."""

__version__ = "0.1.0"
