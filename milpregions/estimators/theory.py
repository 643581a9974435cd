"""Architecture bounds on the number of activation regions, side by side with exact counts.

Notation: n0 inputs, L hidden layers of widths n_1..n_L, N = n_1 + ... + n_L units.
Every upper bound below holds for the number of regions in all of R^n0, hence in any box.

- ``zaslavsky``: Zaslavsky (1975), regions of an arrangement of N hyperplanes in R^n0:
  ``sum_{j<=n0} C(N, j)`` (attained in general position). For one hidden layer this is the
  maximum number of regions; for deeper networks it is the count of a *shallow* network
  with the same number of units, the comparison made by Montufar et al. and Serra et al.
- ``serra_upper``: Serra, Tjandraatmadja & Ramalingam (ICML 2018), "Bounding and counting
  linear regions of deep neural networks", Theorem 1 (ReLU, plain chain of layers):
  ``sum_{(j_1..j_L) in J} prod_l C(n_l, j_l)``,
  ``J = {0 <= j_l <= min(n0, n_1 - j_1, ..., n_{l-1} - j_{l-1}, n_l) for all l}``.
  Tight for L = 1 (it is then Zaslavsky). Example: n0 = 2, widths [8, 8] -> 37^2 = 1369.
- ``product_upper``: Montufar (2017), "Notes on the number of linear regions of deep neural
  networks": ``prod_l sum_{j<=d_l} C(H_l, j)``, ``d_l = min(n0, n_1, ..., n_{l-1})`` for a
  plain chain (``n0`` when a layer reads the input or several layers: residual/dense nets).
  Each region of the first l-1 layers is cut by at most H_l hyperplanes, in an image of
  dimension <= d_l. H_l = n_l for two-piece units (ReLU, LeakyReLU, Abs), and
  ``sum_g C(k_g, 2)`` for a max layer with groups of k_g pieces (for rank-k maxout this is
  Serra et al. 2018's maxout bound, with k(k-1)/2 n_l hyperplanes). Valid for every network
  of this package.
- ``montufar_lower``: Montufar, Pascanu, Cho & Bengio (NeurIPS 2014), "On the number of
  linear regions of deep neural networks", Theorem 4 / Corollary 5: for ReLU networks with
  n_l >= n0, the *maximum over weights* is at least
  ``(prod_{l<L} floor(n_l / n0)^n0) * sum_{j<=n0} C(n_L, j)``.
- ``serra_lower``: Serra et al. (2018), improved lower bound on the maximum, for
  n_l >= 3 n0: ``(prod_{l<L} (floor(n_l / n0) + 1)^n0) * sum_{j<=n0} C(n_L, j)``
  (with n0 = 1 this is ``prod_l (n_l + 1)``, attained by ``constructions.serra_zigzag``).
- ``hanin_rolnick_scale``: Hanin & Rolnick (ICML 2019), "Complexity of linear regions in
  deep networks": for typical (random, or trained) ReLU networks the number of regions per
  unit volume scales like ``(C N)^n0 / n0!`` with constants depending on the weight
  distribution; ``N^n0 / n0!`` is reported as the order of magnitude, not a bound.

The lower bounds are about the best network of the architecture, not the given one: an exact
count below them is normal.
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

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():         # huge integers as strings would lose nothing, but JSON
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2 ** 53:
                d[k] = float(v)        # readers choke on them; keep them numbers
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
                  hanin_rolnick_scale(n0, units), notes)


def _num(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return f"{v:,}" if v < 10 ** 15 else f"{float(v):.4g}"


def format_bounds(b: ArchitectureBounds, count: int | None = None) -> list[str]:
    """Human-readable lines; with ``count`` the exact count is printed first."""
    lines = [f"architecture: n0 = {b.input_dim}, widths {b.widths}, N = {b.units} units"
             + ("" if b.relu else " (not all ReLU)")]
    if count is not None:
        lines.append(f"  exact count (this network, this domain):           {count:,}")
    rows = [
        ("upper  Serra et al. 2018, Thm 1 (ReLU chain)", b.serra_upper),
        ("upper  Montufar 2017 product of Zaslavsky", b.product_upper),
        ("shallow Zaslavsky, N units in one layer", b.zaslavsky),
        ("lower  Montufar et al. 2014 (max over weights)", b.montufar_lower),
        ("lower  Serra et al. 2018 (max over weights)", b.serra_lower),
        ("scale  Hanin-Rolnick 2019 N^n0/n0!", b.hanin_rolnick_scale),
    ]
    for name, v in rows:
        lines.append(f"  {name + ':':<52} {_num(v)}")
    return lines
