"""Regenerate the committed ONNX models of this folder and its README table.

    python models/build_models.py [OUTDIR]      # default: the folder of this script

Deterministic: the same milpregions/onnx versions write byte-identical files (seeded
numpy default_rng, no torch). Every network comes from milpregions.testing.constructions, whose
parameters are float32-representable, so each .onnx file holds exactly the constructed
network and the analytic counts hold for the file itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

from milpregions.onnx.export import to_onnx
from milpregions.testing import constructions as C


def _box(net) -> str:
    lo, hi = net.info["box_lo"], net.info["box_hi"]
    if len(set(lo)) == 1 and len(set(hi)) == 1:
        return f"[{lo[0]:g}, {hi[0]:g}]^{len(lo)}" if len(lo) > 1 else f"[{lo[0]:g}, {hi[0]:g}]"
    return f"lo={lo}, hi={hi}"


def models() -> list[tuple[str, object, str, str]]:
    """(file name, network, description, expected count with its formula or '-')."""
    out = []

    def add(name, net, what, formula):
        out.append((name, net, what, formula))

    add("montufar_1d_p2_d3.onnx", C.montufar_folding(1, 2, 3),
        "Montufar et al. 2014 folding net, n0=1, p=2, 3 layers of 2",
        f"{C.montufar_count(1, 2, 3)} = p^(n0*L) = 2^3")
    add("montufar_2d_p2_d2.onnx", C.montufar_folding(2, 2, 2),
        "Montufar et al. 2014 folding net, n0=2, p=2, 2 layers of 4",
        f"{C.montufar_count(2, 2, 2)} = p^(n0*L) = 2^4")
    add("zaslavsky_2d_8.onnx", C.general_position_layer(2, 8, seed=0),
        "one ReLU layer of 8 lines in general position, all vertices inside the box",
        f"{C.zaslavsky_count(2, 8)} = C(8,0)+C(8,1)+C(8,2)")
    add("zaslavsky_3d_6.onnx", C.general_position_layer(3, 6, seed=0),
        "one ReLU layer of 6 planes in general position, all vertices inside the box",
        f"{C.zaslavsky_count(3, 6)} = C(6,0)+...+C(6,3)")
    add("serra_1d_3x3.onnx", C.serra_zigzag([3, 3]),
        "Serra et al. 2018 zigzag net, one input, 2 layers of 3",
        f"{C.serra_count([3, 3])} = (3+1)(3+1)")
    for n0, widths in ((2, [8, 8]), (2, [16, 16]), (3, [16, 16]), (4, [8, 8]), (8, [8, 8])):
        tag = "x".join(map(str, widths))
        add(f"he_{n0}d_{tag}.onnx", C.he_mlp(n0, widths, seed=0),
            f"He-initialised ReLU MLP {n0}-{'-'.join(map(str, widths))}-1, seed 0", "-")
    add("concurrent_2d_8x8.onnx", C.concurrent_layer(2, 8, seed=0),
        "degenerate: 8 first-layer lines all through the origin, then 8 random units, seed 0",
        "- (first layer alone: 16 = 2*sum_{j<2} C(7,j))")
    return out


TORCH_README_SECTION = """## Torch-exported models (as users write them)

Trained and exported by `python models/build_torch_models.py` (needs `torch==2.13.0` and
`scikit-learn`, regeneration only; byte-identical on rerun with the same versions). All use
`torch.onnx.export(..., dynamo=False)` (legacy TorchScript exporter), default opset 20,
IR version 9, float32, dynamic batch axis `N`. Digits models read scikit-learn's 8x8 digits
with raw pixel values 0..16. `digits_test_image.npy`: the first test digit of the fixed split,
float64, shape (64,) (row-major 8x8 = the flattened network input; reshape to (1,1,8,8) for
onnxruntime on the CNN), for `--center`. No analytic counts: tests compare the tree count
with `--method milp` on small boxes (`tests/test_torch_models.py`).

| file | what it is | how exported | notable ops |
|---|---|---|---|
| `digits_cnn.onnx` | Conv2d(1,4,3,pad 1)-ReLU-MaxPool2d(2)-Flatten-Linear(64,10), input (N,1,8,8) | legacy, opset 20 | Conv, MaxPool, Flatten, Gemm |
| `digits_mlp.onnx` | 64-16-16-10 ReLU MLP, input (N,64) | legacy, opset 20 | Gemm |
| `digits_mlp_bn.onnx` | 64-16(BatchNorm1d, eval)-16-10 ReLU MLP | legacy, opset 20, `do_constant_folding=False`, `training=EVAL` | BatchNormalization after Gemm |
| `digits_mlp_dynamic.onnx` | `digits_mlp` weights behind `x.view(x.size(0), -1)`, input (N,1,8,8) | legacy, opset 20 | Shape, Gather, Unsqueeze, Concat, Reshape, Constant |
| `digits_mlp_dropout.onnx` | 64-16-16-10 ReLU MLP with Dropout(0.1) (eval) | legacy, opset 20, `training=PRESERVE`, `keep_initializers_as_inputs=True` | the exporter erases eval Dropout (no Dropout/Identity node); initializers listed among graph inputs |
| `residual_mlp.onnx` | h = ReLU(Linear(4,8) x); Linear(8,1)(h + ReLU(Linear(8,8) h)), synthetic regression | legacy, opset 20 | residual Add of two tensors |
| `maxout_mlp.onnx` | 2 inputs, Linear(2,6), max(z[:, :3], z[:, 3:]), Linear(3,1) | legacy, opset 20 | Slice (Constant starts/ends/axes/steps), Max |
| `hardtanh_mlp.onnx` | Linear(2,6)-Hardtanh-Linear(6,1) | legacy, opset 20 | Clip with two Constant inputs (-1, 1) |
| `relu6_mlp.onnx` | Linear(2,6)-ReLU6-Linear(6,1) | legacy, opset 20 | Clip with two Constant inputs (0, 6) |
"""

README_HEAD = """# Committed models

Small ONNX models (opset 17, float32, symbolic batch axis) with known or reference region
counts. Regenerate with `python models/build_models.py` (byte-identical output); the
constructions live in `milpregions/testing/constructions.py`, whose docstrings derive each count.

"Count" is the number of full-dimensional activation regions inside the box (see DESIGN.md);
for the Montufar, Zaslavsky and Serra nets it equals the number of linear regions too
(`count --linear`; `montufar_2d_p2_d2` has 16 linear regions but 12 distinct affine maps).
Parameters are float32-representable, so each count holds for the file exactly as stored.

| file | what it is | box | expected count |
|---|---|---|---|
"""


def build_all(outdir) -> list[Path]:
    """Write every model and README.md into ``outdir``; return the written paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    rows = []
    for name, net, what, formula in models():
        path = outdir / name
        to_onnx(net, path)
        written.append(path)
        rows.append(f"| `{name}` | {what} | {_box(net)} | {formula} |")
    readme = outdir / "README.md"
    readme.write_text(README_HEAD + "\n".join(rows) + "\n\n" + TORCH_README_SECTION)
    written.append(readme)
    return written


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    outdir = Path(argv[0]) if argv else Path(__file__).resolve().parent
    for path in build_all(outdir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
