"""Beyond the count: region cells, the region graph, linear regions, pictures.

``analyze(problem, regions)`` works on the regions a count delivered; ``count_linear_regions``
counts and analyses in one call; ``collect_regions`` counts and returns a queryable
``RegionSet``; ``plot`` draws the regions of a 2-D domain.
"""

from .analysis import RegionAnalysis, analyze, count_linear_regions
from .graph import RegionGraph
from .maps import LinearRegions
from .regionset import RegionSet, collect_regions

__all__ = ["LinearRegions", "RegionAnalysis", "RegionGraph", "RegionSet", "analyze",
           "collect_regions", "count_linear_regions"]
