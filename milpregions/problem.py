"""A prepared problem: the network restricted to its domain, normalised to [-1, 1]^d, bounded.

``prepare(model, domain, settings)`` does load -> restrict -> normalise once; the bounds are
computed on first use (``Problem.bounds``; estimators that only run the network never pay for
LP tightening). A Problem pickles, bounds included, so it can be shipped to worker processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .bounds import Bounds, compute_bounds, unbounded_bounds
from .errors import InputError
from .inputs import as_domain
from .ir.domain import AllSpace, Ball, Box, Domain, Polytope, normalize
from .ir.network import Network
from .settings import Settings


def load_network(model, *, input_shape=None, output: str | None = None) -> Network:
    """A Network from an ONNX path, an ``onnx.ModelProto``, a ``torch.nn.Module`` (exported in
    memory; ``input_shape``: one sample's shape or an example batch, see
    ``onnx.torch_module``), or the Network itself. ``output``: the tensor to count on (ONNX
    and torch; see ``onnx.import_model``)."""
    if isinstance(model, Network):
        if output is not None:
            raise InputError(f"output {output!r}: a Network has no named tensors (give the "
                             "ONNX model to cut it at a tensor)")
        return model
    if isinstance(model, (str, os.PathLike)):
        from .onnx import load_onnx

        return load_onnx(model, output=output)
    if type(model).__name__ == "ModelProto":
        from .onnx import import_model

        return import_model(model, output=output)
    from .onnx.torch_module import from_torch, is_torch_module

    if is_torch_module(model):
        return from_torch(model, input_shape, output=output)
    raise InputError(f"a model is an ONNX path, an onnx.ModelProto, a torch.nn.Module or a "
                     f"Network, got {type(model).__name__}")


@dataclass(frozen=True)
class Problem:
    """One counting problem. ``network``: as loaded (input space); ``restricted``: the network on
    the domain's parameters; ``unit_net``: ``restricted`` on [-1, 1]^dim, parameter =
    ``box.from_unit(u)``. Witnesses and LPs live in the ``unit_net`` coordinates."""

    network: Network
    domain: Domain
    settings: Settings
    restricted: Network
    unit_net: Network

    @property
    def box(self) -> Box:
        """The parameter box (for a box or ball domain: the input box itself)."""
        return self.domain.box

    @property
    def dim(self) -> int:
        return self.unit_net.input_dim

    @property
    def unbounded(self) -> bool:
        """The domain is all of input space (``AllSpace``): u ranges over R^dim, not [-1, 1]^dim."""
        return isinstance(self.domain, AllSpace)

    @cached_property
    def bounds(self) -> Bounds:
        """Pre-activation bounds of ``unit_net`` on [-1, 1]^dim: interval, symbolic, then every
        unstable unit LP-tightened if the settings ask (the MILP's big-M needs them tight).
        Over all of R^dim: none (``unbounded_bounds``)."""
        if self.unbounded:
            return unbounded_bounds(self.unit_net)
        return compute_bounds(self.unit_net, self._lp_level("bounds"))

    @cached_property
    def tree_bounds(self) -> Bounds:
        """The bounds the tree counts with. The tree only gains from a unit made stable, so:
        on the vertex path (``dim <= vertex_dim``), where vertices decide every unit on every
        node exactly, no LP at all (10 s of LPs against a 1 s count on a 3-layer width-100
        net); on the LP path, LPs only for the units near stability (``NEAR_STABLE``).
        Over all of R^dim: none (``unbounded_bounds``)."""
        if self.unbounded:
            return unbounded_bounds(self.unit_net)
        return compute_bounds(self.unit_net, self._lp_level("tree_bounds"))

    def _lp_level(self, which: str) -> str:
        """The LP tightening of ``bounds`` or ``tree_bounds`` (``compute_bounds``'s ``lp``)."""
        if not self.settings.tighten:
            return "none"
        if which == "bounds":
            return "all"
        return "none" if self.dim <= self.settings.vertex_dim else "near-stable"

    def search_bounds(self, should_stop: Callable[[], bool] | None = None) -> Bounds:
        """``bounds`` for the MILP, else ``tree_bounds``, computed once (as those properties):
        ``should_stop`` is asked between the LPs of the tightening, which raises
        ``errors.Interrupted`` once it says True (there is no partial result to give)."""
        which = "bounds" if self.settings.method == "milp" else "tree_bounds"
        if which not in self.__dict__ and self.unbounded:
            self.__dict__[which] = unbounded_bounds(self.unit_net)
        if which not in self.__dict__:
            self.__dict__[which] = compute_bounds(self.unit_net, self._lp_level(which),
                                                  should_stop=should_stop)
        return self.__dict__[which]

    def to_input(self, U: np.ndarray) -> np.ndarray:
        """Normalised points (..., dim) -> input points (..., n0)."""
        return self.domain.to_input(self.box.from_unit(U))

    @cached_property
    def witness_slack(self) -> float:
        """How far (normalised units) rounding may move a witness on its way to input space:
        a ball certified around u holds around ``to_input(u)`` once shrunk by this much (in a
        box of half-width 1e-6 around 2, the input coordinates resolve u only to ~4e-10)."""
        eps = float(np.finfo(np.float64).eps)
        box = self.box
        d = box.dim
        if isinstance(self.domain, (Box, Ball, Polytope, AllSpace)):
            return 4 * eps * float(np.max((np.abs(box.center) + box.halfwidth) / box.halfwidth)) * d
        D = self.domain.directions * box.halfwidth[None, :]          # input change per unit of u
        reach = np.abs(self.domain.origin) + np.abs(self.domain.directions) @ (
            np.abs(box.center) + box.halfwidth)
        sv = np.linalg.svd(D, compute_uv=False)
        return 4 * eps * float(np.linalg.norm(reach)) / float(sv[-1]) * d


def prepare(model, domain=None, settings: Settings | None = None, *, slice=None, line=None,
            center=None, radius: float | None = None, input_shape=None,
            output: str | None = None, norm: str | float = "inf", polytope=None,
            hull=None) -> Problem:
    """The Problem of ``model`` (path, ModelProto, torch module or Network: ``load_network``,
    with ``input_shape`` and ``output``) on ``domain``.

    ``domain``: any spelling ``inputs.as_domain`` takes (a Domain, (lo, hi), None for
    [-1, 1]^d; with ``slice``/``line`` the parameter box; ``norm=1`` with a centre and radius,
    ``polytope=(A, b)``, ``hull=points``); ``settings`` default to ``Settings()``.
    """
    net = load_network(model, input_shape=input_shape, output=output)
    dom = as_domain(net.input_dim, domain, slice=slice, line=line, center=center, radius=radius,
                    norm=norm, polytope=polytope, hull=hull)
    restricted = dom.restrict(net)
    return Problem(net, dom, settings if settings is not None else Settings(), restricted,
                   normalize(net, dom))
