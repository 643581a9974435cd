"""ONNX in (``load_onnx``, ``import_model``) and out (``to_onnx``, in ``export``).

Import turns an ONNX model into a piecewise-linear :class:`~milpregions.ir.network.Network`.

The graph is walked in topological order. Every tensor holds either a constant (a numpy array)
or an :class:`AffineTensor`: a tensor whose value is an affine function of the sources (the
flattened network input, source 0, and the outputs of the layers created so far, sources 1, 2,
...). Ops whose inputs are all constant are folded (Shape/Gather/Concat arithmetic, casts of
weights, ...). Affine ops (Gemm, MatMul, Add, BatchNormalization, Reshape, ...) map affine tensors
to affine tensors, so chains of them fuse into one affine map. An activation op (Relu, LeakyRelu,
PRelu, Abs) on an affine tensor creates a new :class:`~milpregions.ir.network.Layer` whose
pre-activation is that affine map; its output becomes the affine tensor "identity on the new
layer". Clip and HardSigmoid become ReLU layers (``clip(z, a, b) = a + relu(z - a) -
relu(z - b)``, the combination folded into the next affine map). MaxPool, GlobalMaxPool and the
elementwise Max/Min of tensors create a :class:`~milpregions.ir.network.MaxLayer` whose
pre-activation stacks the pieces.

Conv, ConvTranspose, AveragePool, GlobalAveragePool and Pad are exact linear maps on the
flattened tensor, built as ``scipy.sparse`` matrices by index arithmetic. Coefficients of large
tensors are stored sparse (see :class:`AffineTensor`), and so are the weight matrices of the
layers they feed (``Affine.W[s]`` is then a ``scipy.sparse.csr_array``); small ones stay dense.

Shapes keep the ONNX layout. A batch axis (axis 0 of an input of rank >= 2 that is symbolic or
1) is kept as a dimension of size 1: the network describes one sample, and ``Shape`` of an
input-dependent tensor folds to its shape with batch size 1. A rank-1 input is a feature vector.
A fixed axis 0 of N > 1 is imported as declared; if its N samples turn out to be independent
copies of one network, that network is kept (:mod:`milpregions.onnx.batch`).

Handlers live in :data:`HANDLERS` (``op_type -> function``); :func:`register` adds one. A handler
is called only when at least one input is an :class:`AffineTensor` and returns the node's outputs.
An op with no handler is an :class:`~milpregions.errors.InputError` naming the file, node, op and
opset.

Modules, each importing only the ones before it:

* ``affine_tensor``: :class:`AffineTensor` and the dense/sparse storage of its coefficients.
* ``algebra``: the value algebra of the handlers (add, multiply, matmul, transpose, broadcast),
  on constants and affine tensors alike.
* ``context``: what handlers read from a node (attributes, constant arguments) and the helpers
  of error messages.
* ``ops``: the op handlers, one module per op family, registered in ``ops.registry.HANDLERS``.
* ``importer``: reading the file, the graph walk, constant folding, creation of layers.
* ``heads``: where the regions are counted (``--output-tensor``, classifier post-processing dropped).
* ``torch_module``: a ``torch.nn.Module`` exported in memory (``from_torch``).
* ``export``: writing a network as an ONNX model.
"""

from .export import to_onnx
from .importer import import_model, load_onnx
from .torch_module import from_torch

__all__ = ["from_torch", "import_model", "load_onnx", "to_onnx"]
