"""Beyond the count: region cells, the region graph, linear regions, pictures.

``analyze(problem, regions)`` works on the regions a count delivered; ``count_linear_regions``
counts and analyses in one call; ``collect_regions`` counts and returns a queryable
``RegionSet``; ``count_decision`` counts a classifier's decision cells and ``decide`` reads
the decision counts off them (``decision``); ``plot`` draws the regions of a 2-D domain.
"""

from .analysis import RegionAnalysis, analyze, count_linear_regions
from .decision import Decision, count_decision, decide, prepare_decision
from .graph import RegionGraph
from .maps import LinearRegions
from .regionset import RegionSet, collect_regions

__all__ = ["Decision", "LinearRegions", "RegionAnalysis", "RegionGraph", "RegionSet", "analyze",
           "collect_regions", "count_decision", "count_linear_regions", "decide",
           "prepare_decision"]
