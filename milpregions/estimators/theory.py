"""Architecture bounds on the number of activation regions, side by side with exact counts.

Notation: n0 inputs, L hidden layers of widths n_1..n_L, N = n_1 + ... + n_L units.

Two kinds of numbers live here, and they answer different questions:

- **Upper bounds** (``serra_upper``, ``product_upper``; ``zaslavsky`` for one hidden layer):
  no network of the architecture, whatever its weights, has more regions in all of R^n0. They
  therefore bound *this* network, in any box (regions in a box are at most those in R^n0).
- **Lower bounds on the maximum** (``montufar_lower``, ``serra_lower``): *some* weights (a
  construction) reach that many regions. They say nothing about the given weights: an exact
  count far below them is normal, and they must never be read as a bound on this network.

Besides these, ``zaslavsky`` for deeper networks (the maximum of a one-hidden-layer network
with the same N units) and ``hanin_rolnick_scale`` (a typical order of magnitude) are for
comparison only; neither bounds this network.

- ``zaslavsky``: Zaslavsky (1975), regions of an arrangement of N hyperplanes in R^n0:
  ``sum_{j<=n0} C(N, j)`` (attained in general position). For one hidden layer of two-piece
  units it is the maximum number of regions, hence an upper bound on this network (and equal
  to ``product_upper``). For deeper networks it is the maximum of a *shallow* network with the
  same number of units, the comparison made by Montufar et al. and Serra et al.; it is not an
  upper bound there (``constructions.serra_zigzag([3, 3])``, n0 = 1, has 16 regions, against
  ``zaslavsky(1, 6) = 7``). For a max layer N counts groups, not pieces: no bound either.
- ``serra_upper``: Serra, Tjandraatmadja & Ramalingam (ICML 2018), "Bounding and counting
  linear regions of deep neural networks", Theorem 1 (ReLU, plain chain of layers): the
  maximum over weights is at most
  ``sum_{(j_1..j_L) in J} prod_l C(n_l, j_l)``,
  ``J = {0 <= j_l <= min(n0, n_1 - j_1, ..., n_{l-1} - j_{l-1}, n_l) for all l}``.
  Tight for L = 1 (it is then Zaslavsky). Example: n0 = 2, widths [8, 8] -> 37^2 = 1369.
- ``product_upper``: Montufar (2017), "Notes on the number of linear regions of deep neural
  networks": ``prod_l sum_{j<=d_l} C(H_l, j)``, ``d_l = min(n0, n_1, ..., n_{l-1})`` for a
  plain chain (``n0`` when a layer reads the input or several layers: residual/dense nets).
  Each region of the first l-1 layers is cut by at most H_l hyperplanes, in an image of
  dimension <= d_l. H_l = n_l for two-piece units (ReLU, LeakyReLU, Abs), and
  ``sum_g C(k_g, 2)`` for a max layer with groups of k_g pieces (for rank-k maxout these are
  the k(k-1)/2 n_l hyperplanes of Serra et al. 2018's maxout bound). Valid for every network
  of this package.
- ``montufar_lower``: Montufar, Pascanu, Cho & Bengio (NeurIPS 2014), "On the number of
  linear regions of deep neural networks", Theorem 4 (Corollary 5 is its asymptotic form):
  for ReLU networks with every n_l >= n0, the *maximum over weights* is at least
  ``(prod_{l<L} floor(n_l / n0)^n0) * sum_{j<=n0} C(n_L, j)`` (the folding construction,
  ``constructions.montufar_folding``).
- ``serra_lower``: Serra et al. (2018), improved lower bound on the *maximum over weights*,
  stated for n_l >= 3 n0: ``(prod_{l<L} (floor(n_l / n0) + 1)^n0) * sum_{j<=n0} C(n_L, j)``
  (with n0 = 1 this is ``prod_l (n_l + 1)``, attained by ``constructions.serra_zigzag``).
  Only the widths that fold (all but the last) are checked here: the last layer only places
  n_L hyperplanes in general position in the folded image, which any n_L can do.
- ``hanin_rolnick_scale``: Hanin & Rolnick (NeurIPS 2019), "Deep ReLU networks have
  surprisingly few activation patterns": for ReLU networks with random weights (at
  initialisation, under conditions on the weight and bias distributions) the *expected*
  number of regions meeting a cube, per unit volume, is at most about ``(C N)^n0 / n0!`` with
  C depending on those distributions; their experiments find the same order after training.
  (Their ICML 2019 paper, "Complexity of linear regions in deep networks", gives the
  companion results along lines and for the distance to the nearest boundary, which
  ``milpregions.estimators.lines`` uses.) ``N^n0 / n0!`` is reported as the order of
  magnitude: neither a bound nor an estimate for given weights or a given box.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from math import comb, factorial

import numpy as np

from ..ir.network import Layer, MaxLayer, Network


def zaslavsky(n0: int, n: int) -> int:
    """Regions of n hyperplanes in general position in R^n0: sum_{j<=n0} C(n, j)."""
    return sum(comb(int(n), j) for j in range(int(n0) + 1))


def serra_upper(n0: int, widths) -> int:
    """Serra, Tjandraatmadja & Ramalingam (2018), Theorem 1 (exact integer)."""
    # Dynamic programme over the running cap c_l = min(n0, n_1 - j_1, ..., n_l - j_l): the
    # constraint on j_{l+1} depends on the chosen j's only through it.
    states = {int(n0): 1}
    for n in map(int, widths):
        nxt: dict[int, int] = {}
        for cap, w in states.items():
            for j in range(min(cap, n) + 1):
                c = min(cap, n - j)
                nxt[c] = nxt.get(c, 0) + w * comb(n, j)
        states = nxt
    return sum(states.values())


def product_upper(n0: int, hyperplanes, dims=None) -> int:
    """prod_l sum_{j<=d_l} C(H_l, j) (Montufar 2017); ``dims`` = d_l (default n0 everywhere)."""
    dims = [int(n0)] * len(hyperplanes) if dims is None else dims
    out = 1
    for H, d in zip(hyperplanes, dims):
        out *= zaslavsky(d, H)
    return out


def montufar_lower(n0: int, widths) -> int | None:
    """Montufar et al. (2014) lower bound on the maximum; None unless every n_l >= n0."""
    widths = [int(n) for n in widths]
    if not widths or min(widths) < n0:
        return None
    out = 1
    for n in widths[:-1]:
        out *= (n // n0) ** n0
    return out * zaslavsky(n0, widths[-1])


def serra_lower(n0: int, widths) -> int | None:
    """Serra et al. (2018) lower bound on the maximum; None unless every hidden n_l >= 3 n0."""
    widths = [int(n) for n in widths]
    if not widths or min(widths[:-1], default=3 * n0) < 3 * n0:
        return None
    out = 1
    for n in widths[:-1]:
        out *= (n // n0 + 1) ** n0
    return out * zaslavsky(n0, widths[-1])


def hanin_rolnick_scale(n0: int, n_units: int) -> float:
    """N^n0 / n0! (an order of magnitude, not a bound)."""
    return float(n_units) ** n0 / factorial(n0)


# What each number of ``ArchitectureBounds`` is about (its ``scope``): only
# ``BOUND_ON_NETWORK`` numbers bound the given network.
BOUND_ON_NETWORK = "bound on this network"          # holds for every weight setting
MAX_OVER_WEIGHTS = "max over weights"               # some weights reach it; not a bound here
SHALLOW_MAXIMUM = "shallow maximum"                 # max of one hidden layer with N units
TYPICAL_SCALE = "typical scale"                     # order of magnitude for random weights

KEYS = ("serra_upper", "product_upper", "zaslavsky", "montufar_lower", "serra_lower",
        "hanin_rolnick_scale")
CITATIONS = {
    "serra_upper": "Serra et al. 2018, Thm 1",
    "product_upper": "Montufar 2017, product bound",
    "zaslavsky": "Zaslavsky 1975",
    "montufar_lower": "Montufar et al. 2014, Thm 4",
    "serra_lower": "Serra et al. 2018",
    "hanin_rolnick_scale": "Hanin & Rolnick 2019",
}


@dataclass
class ArchitectureBounds:
    """Architecture bounds of one network (None where a bound does not apply, with the reason)."""

    input_dim: int
    widths: list[int]
    units: int
    relu: bool
    plain_chain: bool
    zaslavsky: int
    product_upper: int
    serra_upper: int | None
    montufar_lower: int | None
    serra_lower: int | None
    hanin_rolnick_scale: float
    notes: list[str] = field(default_factory=list)
    max_layers: bool = False           # some layer is a max layer (maxout, MaxPool, Max/Min)

    def scope(self) -> dict[str, str]:
        """Per number: ``BOUND_ON_NETWORK`` (holds for any weights, so for this network),
        ``MAX_OVER_WEIGHTS`` (a lower bound on the best weights' count, not a bound on this
        network), ``SHALLOW_MAXIMUM`` (Zaslavsky for a deeper or max network: the maximum of
        one hidden layer with N units) or ``TYPICAL_SCALE`` (Hanin-Rolnick)."""
        shallow = len(self.widths) == 1 and not self.max_layers
        return {"serra_upper": BOUND_ON_NETWORK, "product_upper": BOUND_ON_NETWORK,
                "zaslavsky": BOUND_ON_NETWORK if shallow else SHALLOW_MAXIMUM,
                "montufar_lower": MAX_OVER_WEIGHTS, "serra_lower": MAX_OVER_WEIGHTS,
                "hanin_rolnick_scale": TYPICAL_SCALE}

    def upper_bounds(self) -> list[tuple[str, int]]:
        """(key, value) of every number that bounds this network from above (any weights)."""
        scope = self.scope()
        return [(k, getattr(self, k)) for k in KEYS
                if scope[k] == BOUND_ON_NETWORK and getattr(self, k) is not None]

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():         # huge integers as strings would lose nothing, but JSON
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2 ** 53:
                d[k] = float(v)        # readers choke on them; keep them numbers
        d["scope"] = self.scope()
        return d


def architecture_bounds(net: Network, domain=None) -> ArchitectureBounds:
    """The bounds for ``net``; with a ``domains.Domain`` (slice/line) n0 is the domain's dimension."""
    n0 = domain.dim if domain is not None else net.input_dim
    widths = [int(w) for w in net.widths]
    is_max = [isinstance(l, MaxLayer) for l in net.layers]
    relu = all(isinstance(l, Layer) and np.all(np.asarray(l.neg_slope) == 0) for l in net.layers)
    plain = all(set(l.affine.W) == {k} for k, l in enumerate(net.layers))
    notes = []
    hyper, dims = [], []
    cap = n0
    for layer in net.layers:
        if isinstance(layer, MaxLayer):
            sizes = (np.asarray(layer.groups) >= 0).sum(axis=1)
            hyper.append(int(sum(comb(int(s), 2) for s in sizes)))
        else:
            hyper.append(layer.size)
        dims.append(cap if plain else n0)
        if plain:
            cap = min(cap, layer.size)
    units = sum(widths)
    serra_up = serra_upper(n0, widths) if relu and plain else None
    if serra_up is None:
        notes.append("serra_upper: needs a ReLU network whose layers form a plain chain")
    mont = montufar_lower(n0, widths) if relu else None
    ser_lo = serra_lower(n0, widths) if relu else None
    if mont is None:
        notes.append("montufar_lower: needs ReLU and every width >= n0")
    if ser_lo is None:
        notes.append("serra_lower: needs ReLU and every hidden width but the last >= 3 n0")
    if any(is_max):
        notes.append("max layers: product_upper counts C(k,2) hyperplanes per group of k pieces")
    return ArchitectureBounds(n0, widths, units, relu, plain, zaslavsky(n0, units),
                  product_upper(n0, hyper, dims), serra_up, mont, ser_lo,
                  hanin_rolnick_scale(n0, units), notes, any(is_max))


def _num(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return f"{v:,}" if v < 10 ** 15 else f"{float(v):.4g}"


def _why_missing(b: ArchitectureBounds, key: str) -> str:
    for n in b.notes:
        if n.startswith(key + ": "):
            return f"n/a ({n[len(key) + 2:]})"
    return "n/a"


def format_bounds(b: ArchitectureBounds, count: int | None = None, *,
                  exact: bool = True, where: str = "this domain") -> list[str]:
    """Human-readable lines, grouped by what the numbers are about: bounds on this network
    (any weights), best known constructions (a maximum over all weights of the architecture,
    not a bound on this network), and numbers for comparison only. With ``count`` the exact
    count (``exact`` False: the lower bound of a stopped count) is printed first (the second
    line); ``where``: the domain it was counted in ("all of R^n" for ``--domain all``)."""
    shallow = b.scope()["zaslavsky"] == BOUND_ON_NETWORK
    groups = [
        (f"bounds on this network (any weights; in all of R^{b.input_dim}, so in any box):", [
            ("regions <=  Serra et al. 2018, Thm 1 (ReLU chain)", "serra_upper"),
            ("regions <=  Montufar 2017, product over layers", "product_upper")]
            + ([("regions <=  Zaslavsky 1975 (one hidden layer)", "zaslavsky")] if shallow
               else [])),
        ("best known constructions, max over all weights of this architecture "
         "(not a bound on this network):", [
            ("max >=  Montufar et al. 2014, Thm 4", "montufar_lower"),
            ("max >=  Serra et al. 2018", "serra_lower")]),
        ("for comparison (not bounds on this network):",
         ([] if shallow else [(f"Zaslavsky 1975: max of one hidden layer of N = {b.units} "
                               "two-piece units", "zaslavsky")])
         + [("Hanin & Rolnick 2019: N^n0/n0!, typical order for random weights",
             "hanin_rolnick_scale")]),
    ]
    exact_name = (f"exact count (this network, {where})" if exact
                  else "at least (a stopped count: a lower bound)")
    width = max([len(name) for _, rows in groups for name, _ in rows] + [len(exact_name)]) + 1
    lines = [f"architecture: n0 = {b.input_dim}, widths {b.widths}, N = {b.units} units"
             + ("" if b.relu else " (not all ReLU)")]
    if count is not None:
        lines.append(f"  {exact_name + ':':<{width}} {count:,}")
    for head, rows in groups:
        lines.append(head)
        for name, key in rows:
            v = getattr(b, key)
            text = _num(v) if v is not None else _why_missing(b, key)
            lines.append(f"  {name + ':':<{width}} {text}")
    return lines
