"""Models from memory: ``torch.nn.Module`` exported by torch 2.13 at the call (both exporters).

Every module is checked three ways: the imported network against torch's own forward pass and
against onnxruntime on the exported model, and its count against the same weights written by
hand (``mlp`` / a ``MaxLayer``), which shares no code with the import.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import milpregions  # noqa: E402
from milpregions.api import count_regions  # noqa: E402
from milpregions.errors import InputError  # noqa: E402
from milpregions.ir.network import Affine, MaxLayer, Network, mlp  # noqa: E402
from milpregions.onnx.torch_module import module_to_onnx  # noqa: E402

# one worker runs the exports: the first dynamo export of a process costs ~2 s of CPU, the
# next ones ~0.4 s
pytestmark = pytest.mark.xdist_group("torch")


def _points(n0: int, n: int = 200, seed: int = 0, shape=None) -> np.ndarray:
    X = np.random.default_rng(seed).uniform(-1, 1, (n, n0))
    return X if shape is None else X.reshape((n, *shape))


def _torch_forward(module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(X.astype(np.float32))).numpy().reshape(len(X), -1)


def _ort_forward(proto, X: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: X[i:i + 1].astype(np.float32)})[0].reshape(1, -1)
                           for i in range(len(X))])


def _mlp_module(widths, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    mods: list = []
    for a, b in zip(widths[:-1], widths[1:]):
        mods += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*mods[:-1])


def _by_hand(module: nn.Sequential) -> Network:
    lin = [m for m in module if isinstance(m, nn.Linear)]
    return mlp([m.weight.detach().double().numpy() for m in lin],
               [m.bias.detach().double().numpy() for m in lin])


def test_module_counts_like_its_weights_by_hand():
    module = _mlp_module([2, 10, 6, 1])
    net = milpregions.from_torch(module)
    assert net.info["source"] == "torch module Sequential"
    X = _points(2)
    np.testing.assert_allclose(net.forward(X), _torch_forward(module, X), rtol=1e-5, atol=1e-5)
    want = count_regions(_by_hand(module), (-1, 1)).regions
    assert want > 10
    assert count_regions(module, (-1, 1)).regions == want       # input shape from the Linear
    assert milpregions.count_regions(module, (-1, 1), input_shape=(2,)).regions == want


class _Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.conv = nn.Conv2d(1, 2, 3)
        self.pool = nn.MaxPool2d(2)
        self.bn = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8, 1)

    def forward(self, x):
        h = self.pool(torch.relu(self.conv(x))).flatten(1)
        return self.fc(self.drop(self.bn(h)))


def test_cnn_needs_its_input_shape_and_is_exported_in_eval_mode():
    module = _Cnn()
    module.bn.running_mean.uniform_(-0.5, 0.5)
    module.bn.running_var.uniform_(0.5, 2.0)
    module.train()
    with pytest.raises(InputError) as e:
        count_regions(module, (-1, 1))
    assert str(e.value) == ("torch module _Cnn: give the shape of one input sample "
                            "(input_shape=(...)): its first layer is a Conv2d, not a Linear, so "
                            "the input size cannot be read from it")
    net = milpregions.from_torch(module, (1, 6, 6))
    assert module.training                                      # the flag is restored
    X = _points(36, shape=(1, 6, 6))
    module.eval()
    np.testing.assert_allclose(net.forward(X.reshape(len(X), -1)), _torch_forward(module, X),
                               rtol=1e-4, atol=1e-5)
    # an example batch instead of a shape gives the same network
    other = milpregions.from_torch(module, torch.zeros(1, 1, 6, 6))
    np.testing.assert_array_equal(other.forward(X.reshape(len(X), -1)), net.forward(X.reshape(len(X), -1)))


def test_bad_input_shape_is_one_line():
    with pytest.raises(InputError) as e:
        count_regions(_mlp_module([2, 3, 1]), (-1, 1), input_shape=(0,))
    assert str(e.value) == "torch module Sequential: input_shape (0,): expected positive sizes"
    with pytest.raises(InputError) as e:
        count_regions(_mlp_module([2, 3, 1]), (-1, 1), input_shape=(5,))
    assert str(e.value).startswith("torch module Sequential: torch.onnx.export (torchscript) "
                                   "failed on an input of shape [1, 5]: ")


# ------------------------------------------------------------------ maxout as users write it

GROUPS, PIECES = 4, 3


class _Maxout(nn.Module):
    """Maxout of 4 units with 3 pieces on 2 inputs, in one of torch's spellings."""

    def __init__(self, spelling: str):
        super().__init__()
        torch.manual_seed(3)
        self.spelling = spelling
        self.lin = nn.Linear(2, GROUPS * PIECES)
        self.out = nn.Linear(GROUPS, 1)

    def forward(self, x):
        z = self.lin(x).view(-1, GROUPS, PIECES)
        if self.spelling == "max":
            m = z.max(-1).values
        elif self.spelling == "amax":
            m = torch.amax(z, dim=-1)
        elif self.spelling == "max_dim":
            m, _ = torch.max(z, dim=2)
        else:  # topk
            m = torch.topk(z, 1, dim=-1).values.squeeze(-1)
        return self.out(m)


def _maxout_by_hand(module: _Maxout) -> Network:
    W, b = module.lin.weight.detach().double().numpy(), module.lin.bias.detach().double().numpy()
    V, c = module.out.weight.detach().double().numpy(), module.out.bias.detach().double().numpy()
    layer = MaxLayer(Affine({0: W}, b), np.arange(GROUPS * PIECES).reshape(GROUPS, PIECES))
    return Network(2, (layer,), Affine({1: V}, c))


# the dynamo exporter takes seconds per export: it writes max, amax and max(dim) alike
@pytest.mark.parametrize("spelling,exporter", [
    ("max", "torchscript"), ("amax", "torchscript"), ("max_dim", "torchscript"),
    ("topk", "torchscript"), ("max", "dynamo"), ("topk", "dynamo")])
def test_torch_maxout_is_a_max_layer(spelling, exporter):
    module = _Maxout(spelling).eval()
    proto = module_to_onnx(module, exporter=exporter)
    ops = {n.op_type for n in proto.graph.node}
    assert ops & {"ReduceMax", "TopK"}, ops
    net = milpregions.from_torch(module, exporter=exporter)
    assert [type(layer) for layer in net.layers] == [MaxLayer]
    assert net.layers[0].groups.shape == (GROUPS, PIECES)
    X = _points(2, n=64, seed=5)
    np.testing.assert_allclose(net.forward(X), _ort_forward(proto, X), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(net.forward(X), _torch_forward(module, X), rtol=1e-5, atol=1e-5)
    want = count_regions(_maxout_by_hand(module), (-1, 1)).regions
    assert want > GROUPS
    assert count_regions(net, (-1, 1)).regions == want
