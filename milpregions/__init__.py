"""milpregions: exact counts of the linear regions of piecewise-linear neural networks.

``milpregions.count_regions(model, box)`` mirrors ``milpregions count``; ``prepare`` builds a
reusable ``Problem`` and ``count`` counts it; ``load_onnx`` reads a model; ``Settings`` holds
the options of a count; ``from_torch`` exports a ``torch.nn.Module`` in memory;
``collect_regions`` counts and returns the regions as a queryable ``RegionSet`` (patterns,
witnesses, inequalities, local maps, ``locate``), ``RegionSet.read`` opens a ``.mpr`` file;
``count_decision`` counts a classifier's decision cells (regions per predicted class, decision
regions, pieces of the decision boundary). They are imported on first use, so
``import milpregions`` stays cheap.
"""

__version__ = "0.1.0"

_LAZY = {"count_regions": "api", "count": "api", "prepare": "problem", "Problem": "problem",
         "Settings": "settings", "load_onnx": "onnx", "from_torch": "onnx",
         "collect_regions": "geometry.regionset", "RegionSet": "geometry.regionset",
         "count_decision": "geometry.decision"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
