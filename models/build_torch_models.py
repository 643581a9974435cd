"""Regenerate the torch-exported models of this folder (the ONNX that users actually write).

    pip install torch==2.13.0 scikit-learn      # regeneration-only dependencies
    python models/build_torch_models.py [OUTDIR]  # default: the folder of this script
    python models/build_torch_models.py --test-images [OUTDIR]   # only digits_test_images.npy

Nothing in the package or the tests imports this script: the committed ``.onnx`` files,
``digits_test_image.npy`` and ``digits_test_images.npy`` are what the tests use, so torch and
scikit-learn are needed only to rebuild them. Deterministic: seeded,
``torch.use_deterministic_algorithms(True)``, one thread, full-batch training (the same torch
version on the same CPU writes the same weights).

Data: scikit-learn's bundled 8x8 digits (``load_digits``, no download), raw pixel values
0..16 as float32, so an L-inf radius of 0.5 around an image is a small perturbation. Synthetic
regression data for the small 2- and 4-input models.

Export: ``torch.onnx.export(..., dynamo=False)`` (the legacy TorchScript exporter, which
writes Gemm / Flatten / Identity / BatchNormalization / Clip as users see them), default
opset of the installed torch, dynamic batch axis ``N`` on input and output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

SEED = 0


def _setup() -> None:
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


def digits_data():
    """(X_train, y_train, X_test, y_test): float32 pixels 0..16, shape (N, 64); a fixed split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = d.data.astype(np.float32)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(SEED).permutation(len(X))
    X, y = X[perm], y[perm]
    n_train = 1500
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def write_digits_test_images(outdir, n: int = 100) -> Path:
    """``digits_test_images.npy``: the first ``n`` images of the test split of ``digits_data``,
    float64, shape (n, 64) (row-major 8x8; the data of ``milpregions local``). Its first row is
    ``digits_test_image.npy``."""
    path = Path(outdir) / "digits_test_images.npy"
    np.save(path, digits_data()[2][:n].astype(np.float64))
    return path


def regression_data(n_in: int, n: int = 512):
    """Synthetic smooth targets on [-1, 1]^n_in."""
    rng = np.random.default_rng(SEED + n_in)
    X = rng.uniform(-1, 1, (n, n_in)).astype(np.float32)
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, -1] + 0.5 * np.abs(X).sum(axis=1)
    return X, y.astype(np.float32)[:, None]


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, *, classify: bool, steps: int = 300,
          lr: float = 1e-2) -> float:
    """Full-batch Adam; returns the final training loss."""
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss() if classify else nn.MSELoss()
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(Xt), yt)
        loss.backward()
        opt.step()
    model.eval()
    return float(loss.detach())


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((model(torch.from_numpy(X)).argmax(1).numpy() == y).mean())


# ------------------------------------------------------------------------------------ models

class DigitsCNN(nn.Module):
    """Conv2d(1,4,3,pad 1) - ReLU - MaxPool2d(2) - Flatten - Linear(64,10); input (N,1,8,8)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Flatten(), nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)


def digits_mlp(bn: bool = False, dropout: bool = False) -> nn.Sequential:
    """64-16-16-10 ReLU MLP; optionally BatchNorm1d after the first Linear, Dropout after ReLUs."""
    layers: list[nn.Module] = [nn.Linear(64, 16)]
    if bn:
        layers.append(nn.BatchNorm1d(16))
    layers.append(nn.ReLU())
    if dropout:
        layers.append(nn.Dropout(0.1))
    layers += [nn.Linear(16, 16), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(0.1))
    layers.append(nn.Linear(16, 10))
    return nn.Sequential(*layers)


class ViewFlattenMLP(nn.Module):
    """Input (N,1,8,8), flattened with ``x.view(x.size(0), -1)`` (the dynamic-batch
    Shape/Gather/Unsqueeze/Concat/Reshape pattern), then the digits MLP."""

    def __init__(self, mlp: nn.Module):
        super().__init__()
        self.mlp = mlp

    def forward(self, x):
        return self.mlp(x.view(x.size(0), -1))


class ResidualMLP(nn.Module):
    """x -> h = ReLU(Linear(4,8)(x)); out = Linear(8,1)(h + ReLU(Linear(8,8)(h)))."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 1)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        return self.out(h + torch.relu(self.fc2(h)))


class MaxoutMLP(nn.Module):
    """2 inputs, z = Linear(2,6)(x), maxout max(z[:, :3], z[:, 3:]) (groups (i, i+3); exported
    as Slice, Slice, Max), then Linear(3,1)."""

    def __init__(self):
        super().__init__()
        self.fc, self.out = nn.Linear(2, 6), nn.Linear(3, 1)

    def forward(self, x):
        z = self.fc(x)
        return self.out(torch.maximum(z[:, :3], z[:, 3:]))


def clip_mlp(act: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 6), act, nn.Linear(6, 1))


# ------------------------------------------------------------------------------------ export

def export(model: nn.Module, example: torch.Tensor, path: Path, **kw) -> None:
    model.eval()
    torch.onnx.export(model, (example,), str(path), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, dynamo=False, **kw)


def _ops(path: Path) -> str:
    import onnx

    m = onnx.load(str(path))
    ops = sorted({n.op_type for n in m.graph.node})
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    return f"opset {opset}: {', '.join(ops)}"


def build_all(outdir) -> list[tuple[str, str]]:
    """Train and export every model into ``outdir``; return (file, summary) pairs."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    _setup()
    Xtr, ytr, Xte, yte = digits_data()
    out = []

    def done(name, note):
        out.append((name, f"{note}; {_ops(outdir / name)}"))

    # the test image: first test digit, float64, shape (64,) (row-major 8x8, as the flattened
    # network input; reshape to (1,1,8,8) for the CNN)
    np.save(outdir / "digits_test_image.npy", Xte[0].astype(np.float64))
    write_digits_test_images(outdir)

    torch.manual_seed(SEED)
    cnn = DigitsCNN()
    train(cnn, Xtr.reshape(-1, 1, 8, 8), ytr, classify=True, steps=200)
    export(cnn, torch.zeros(1, 1, 8, 8), outdir / "digits_cnn.onnx")
    done("digits_cnn.onnx", f"test acc {accuracy(cnn, Xte.reshape(-1, 1, 8, 8), yte):.3f}")

    torch.manual_seed(SEED)
    mlp = digits_mlp()
    train(mlp, Xtr, ytr, classify=True)
    export(mlp, torch.zeros(1, 64), outdir / "digits_mlp.onnx")
    done("digits_mlp.onnx", f"test acc {accuracy(mlp, Xte, yte):.3f}")

    torch.manual_seed(SEED)
    mlp_bn = digits_mlp(bn=True)
    train(mlp_bn, Xtr, ytr, classify=True)
    export(mlp_bn, torch.zeros(2, 64), outdir / "digits_mlp_bn.onnx", do_constant_folding=False,
           training=torch.onnx.TrainingMode.EVAL)
    done("digits_mlp_bn.onnx", f"test acc {accuracy(mlp_bn, Xte, yte):.3f}")

    # same weights as digits_mlp, read from an (N,1,8,8) input via x.view(x.size(0), -1)
    export(ViewFlattenMLP(mlp), torch.zeros(1, 1, 8, 8), outdir / "digits_mlp_dynamic.onnx")
    done("digits_mlp_dynamic.onnx", "digits_mlp weights")

    torch.manual_seed(SEED)
    mlp_do = digits_mlp(dropout=True)
    train(mlp_do, Xtr, ytr, classify=True)
    # PRESERVE exports the module in its current (eval) mode. torch 2.13's legacy exporter
    # erases eval-mode Dropout (no Dropout or Identity node survives; TRAINING mode would keep
    # Dropout with training_mode=True, i.e. a random graph, not an inference model), so this
    # variant carries the other old-exporter spelling: initializers listed among the inputs.
    export(mlp_do, torch.zeros(1, 64), outdir / "digits_mlp_dropout.onnx",
           training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
           keep_initializers_as_inputs=True)
    done("digits_mlp_dropout.onnx", f"test acc {accuracy(mlp_do, Xte, yte):.3f}")

    X4, y4 = regression_data(4)
    torch.manual_seed(SEED)
    res = ResidualMLP()
    loss = train(res, X4, y4, classify=False, steps=400)
    export(res, torch.zeros(1, 4), outdir / "residual_mlp.onnx")
    done("residual_mlp.onnx", f"train mse {loss:.4f}")

    X2, y2 = regression_data(2)
    torch.manual_seed(SEED)
    mo = MaxoutMLP()
    loss = train(mo, X2, y2, classify=False, steps=400)
    export(mo, torch.zeros(1, 2), outdir / "maxout_mlp.onnx")
    done("maxout_mlp.onnx", f"train mse {loss:.4f}")

    for name, act in (("hardtanh_mlp.onnx", nn.Hardtanh()), ("relu6_mlp.onnx", nn.ReLU6())):
        torch.manual_seed(SEED)
        m = clip_mlp(act)
        # scale the targets so the clip bounds are reached inside the data
        scale = 1.0 if isinstance(act, nn.Hardtanh) else 4.0
        loss = train(m, X2 * scale, y2 * scale, classify=False, steps=400)
        export(m, torch.zeros(1, 2), outdir / name)
        done(name, f"train mse {loss:.4f}")
    return out


# The models/README.md section for these files. models/README.md is written by
# build_models.py (and checked byte for byte by tests/test_constructions.py), so this text
# belongs in build_models.py's README_HEAD; ``--readme`` prints it.
from build_models import TORCH_README_SECTION as README_SECTION  # noqa: E402 (one copy of the text)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--readme"]:
        print(README_SECTION, end="")
        return 0
    if argv[:1] == ["--test-images"]:         # only digits_test_images.npy (no training)
        outdir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
        print(write_digits_test_images(outdir))
        return 0
    outdir = Path(argv[0]) if argv else Path(__file__).resolve().parent
    for name, summary in build_all(outdir):
        print(f"{name}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
