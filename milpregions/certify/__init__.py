"""Exact certificates of a count, in rational arithmetic (``count --certify``).

The network is taken exactly as stored: every float weight, bias, slope and domain bound is a
dyadic rational, and the normalised coordinates u in [-1, 1]^d map to inputs exactly.

- **Region certificate.** Along a region's pattern every pre-activation is an exact affine form
  of u. The region is certified by a witness w when w is strictly inside the box and every unit
  is strictly on its side at w or identically zero on the region (then it is off), and every
  chosen max piece is strictly above the earlier pieces and strictly above or identical to the
  later ones: the open set around w where these strict signs hold has the pattern.
- **Completeness** (``adjacency``): every facet of every certified region leads to a certified
  region; missing ones are found and added with exact witnesses, so the certified count is that
  of the network as stored, with no margin, in any dimension.
"""

from .adjacency import Certification, certify, region_neighbours
from .exact import exact_network, output_form, same_form

__all__ = ["Certification", "certify", "exact_network", "output_form", "region_neighbours",
           "same_form"]
