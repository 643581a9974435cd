"""The network IR: plain float64 numpy, independent of ONNX, Pyomo and HiGHS.

A network F: R^n0 -> R^m is a list of layers. Layer k (1-based) computes a pre-activation
``z_k = sum_s W[s] @ v_s + b`` from the network input ``v_0 = x`` and any earlier layer output
``v_s`` (s < k), so residual and dense connections need no fake units. Its output applies a
two-piece linear activation per unit: ``h = z if z > 0 else neg_slope * z`` (ReLU: 0,
LeakyReLU/PReLU: alpha, Abs: -1). The network output is an affine map of the same form.

A ``MaxLayer`` instead outputs, per group, the maximum of some of its pre-activations
(maxout, MaxPool, the elementwise Max of tensors): ``h_g = max_{i in groups[g]} z_i``.

The activation pattern of x is, per unit of a ``Layer``, the bit ``z_j(x) > 0``, and per group
of a ``MaxLayer`` the position of the maximum within the group (the first one on ties).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Affine:
    """``z = sum_s W[s] @ v_s + b``; source 0 is the network input, source k the output of layer k.

    A weight may be a dense array or a ``scipy.sparse`` matrix (convolutions on images).
    """

    W: dict[int, np.ndarray]
    b: np.ndarray

    @property
    def size(self) -> int:
        return int(self.b.shape[0])

    def apply(self, values: list[np.ndarray]) -> np.ndarray:
        """Evaluate on a batch: ``values[s]`` is (N, n_s); returns (N, size)."""
        out = np.broadcast_to(self.b, (values[0].shape[0], self.size)).copy()
        for s, W in self.W.items():
            out += values[s] @ W.T
        return out


@dataclass(frozen=True)
class Layer:
    """Affine pre-activation followed by a unit-wise two-piece linear activation."""

    affine: Affine
    neg_slope: np.ndarray
    name: str = ""

    @property
    def size(self) -> int:
        return self.affine.size

    def activate(self, z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, z, self.neg_slope * z)


@dataclass(frozen=True)
class MaxLayer:
    """Affine pre-activation, then one maximum per group: ``h_g = max_{i in groups[g]} z_i``.

    ``groups`` is an (n_groups, k) int array of indices into z; -1 pads groups smaller than k
    (e.g. MaxPool windows clipped by padding). Every group has at least one piece.
    """

    affine: Affine
    groups: np.ndarray
    name: str = ""

    @property
    def size(self) -> int:
        return int(self.groups.shape[0])

    def _pieces(self, z: np.ndarray) -> np.ndarray:
        """(N, n_groups, k) piece values, padding as -inf."""
        g = self.groups
        vals = z[:, np.maximum(g, 0)]
        return np.where(g >= 0, vals, -np.inf)

    def activate(self, z: np.ndarray) -> np.ndarray:
        return self._pieces(z).max(axis=2)

    def argmax(self, z: np.ndarray) -> np.ndarray:
        return self._pieces(z).argmax(axis=2)


AnyLayer = Layer | MaxLayer


@dataclass(frozen=True)
class Network:
    """A piecewise-linear network; ``info`` holds import metadata (names, ops, opset)."""

    input_dim: int
    layers: tuple[AnyLayer, ...]
    output: Affine
    info: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _check_network(self)

    @property
    def widths(self) -> list[int]:
        return [layer.size for layer in self.layers]

    @property
    def output_dim(self) -> int:
        return self.output.size

    def _run(self, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        values = [X]
        pre = []
        for layer in self.layers:
            z = layer.affine.apply(values)
            pre.append(z)
            values.append(layer.activate(z))
        return pre, self.output.apply(values)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Network output for a batch of inputs (N, n0) -> (N, m)."""
        return self._run(X)[1]

    def preactivations(self, X: np.ndarray) -> list[np.ndarray]:
        """Per layer, the (N, n_k) pre-activations."""
        return self._run(X)[0]

    def pattern(self, X: np.ndarray) -> list[np.ndarray]:
        """Per layer, the (N, n_k) activation bits ``z > 0`` (MaxLayer: the argmax per group)."""
        return [layer.argmax(z) if isinstance(layer, MaxLayer) else z > 0
                for layer, z in zip(self.layers, self.preactivations(X))]

    def map_input(self, A: np.ndarray, c: np.ndarray) -> Network:
        """The network ``u -> F(A u + c)``: the affine map folded into every map reading the input."""
        A = np.asarray(A, dtype=np.float64)
        c = np.asarray(c, dtype=np.float64)

        def fold(aff: Affine) -> Affine:
            if 0 not in aff.W:
                return aff
            W = dict(aff.W)
            W0 = W.pop(0)
            b = aff.b + W0 @ c
            if not isinstance(W0, np.ndarray):      # keep sparse weights sparse
                W0A = W0 @ type(W0)(A)
            else:
                W0A = W0 @ A
            W = {0: W0A, **W}
            return Affine(W, b)

        layers = tuple(MaxLayer(fold(l.affine), l.groups, l.name) if isinstance(l, MaxLayer)
                       else Layer(fold(l.affine), l.neg_slope, l.name) for l in self.layers)
        return Network(A.shape[1], layers, fold(self.output), dict(self.info))


def _check_network(net: Network) -> None:
    sizes = [net.input_dim]
    for k, layer in enumerate(list(net.layers) + [net.output], start=1):
        aff = layer if isinstance(layer, Affine) else layer.affine
        for s, W in aff.W.items():
            if not 0 <= s < k:
                raise ValueError(f"layer {k} reads layer {s}, which is not earlier")
            if W.shape != (aff.size, sizes[s]):
                raise ValueError(f"layer {k}: weight from source {s} has shape {W.shape}, "
                                 f"expected {(aff.size, sizes[s])}")
            if not np.all(np.isfinite(W if isinstance(W, np.ndarray) else W.data)):
                raise ValueError(f"layer {k}: non-finite weight")
        if not np.all(np.isfinite(aff.b)):
            raise ValueError(f"layer {k}: non-finite bias")
        if isinstance(layer, Layer):
            if layer.neg_slope.shape != (layer.size,):
                raise ValueError(f"layer {k}: neg_slope has shape {layer.neg_slope.shape}")
            sizes.append(layer.size)
        elif isinstance(layer, MaxLayer):
            g = layer.groups
            if g.ndim != 2 or g.shape[1] < 1 or g.max(initial=-1) >= aff.size or g.min(initial=0) < -1:
                raise ValueError(f"layer {k}: bad max groups of shape {g.shape}")
            if not (g[:, 0] >= 0).all() or not np.all(np.diff((g >= 0).astype(int), axis=1) <= 0):
                raise ValueError(f"layer {k}: every max group needs its pieces first, padding (-1) last")
            sizes.append(layer.size)


def mlp(weights: list[np.ndarray], biases: list[np.ndarray], neg_slope: float = 0.0,
        info: dict | None = None) -> Network:
    """A plain feed-forward network: hidden layers with the given activation, last map affine."""
    if len(weights) != len(biases) or not weights:
        raise ValueError("need as many biases as weights, at least one")
    layers = []
    for k, (W, b) in enumerate(zip(weights[:-1], biases[:-1]), start=1):
        W = np.asarray(W, dtype=np.float64)
        layers.append(Layer(Affine({k - 1: W}, np.asarray(b, dtype=np.float64)),
                            np.full(W.shape[0], float(neg_slope))))
    W, b = np.asarray(weights[-1], dtype=np.float64), np.asarray(biases[-1], dtype=np.float64)
    out = Affine({len(layers): W}, b)
    n0 = np.asarray(weights[0]).shape[1]
    return Network(n0, tuple(layers), out, dict(info or {}))
