"""Where the regions are counted: the output post-processing of classifiers, and ``--output-tensor``.

Exporters append to a network's last affine map what turns scores into answers: a probability
head (Softmax, LogSoftmax, Sigmoid, with a ``1 - p`` column for binary classifiers), the label
(ArgMax, ``ai.onnx.ml.ArrayFeatureExtractor`` of the class list, Reshape, Cast) and a map of
probabilities (``ai.onnx.ml.ZipMap``). None of it is piecewise-linear, and none of it changes the
activation regions: they are those of the units before it. So the import counts on the tensors
that enter these heads, if the graph outputs depend on the network input only through them.

``find_cut`` decides that on the graph alone, before anything is imported: a *head* is a node
of :data:`HEAD_OPS` whose first input depends on the network input; the *post-processing* is
every node downstream of a head; the *cut* is the set of head inputs not themselves
downstream of a head. The cut is taken if the post-processing is made of :data:`FOLLOWER_OPS`
only (a Gemm or Relu after a Softmax makes it a hidden layer, which is an error) and no
post-processing node reads a tensor of the network other than a cut tensor (else the outputs
are not a function of the cut, and the import goes on, so that the head fails with a message
saying why it was not dropped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import onnx

#: ops (domain-qualified outside the default domain) that only turn the output into answers
HEAD_OPS = frozenset({
    "Softmax", "LogSoftmax", "Sigmoid", "Hardmax", "ArgMax", "ArgMin",
    "ai.onnx.ml.ZipMap", "ai.onnx.ml.ArrayFeatureExtractor", "ai.onnx.ml.LabelEncoder",
})


#: ops that may follow a head on its way to the graph outputs (reshaping, casts, the ``1 - p``
#: column of a binary classifier); any other op after a head makes it a hidden layer
FOLLOWER_OPS = HEAD_OPS | frozenset({
    "Identity", "Dropout", "Cast", "CastLike", "Reshape", "Squeeze", "Unsqueeze", "Flatten",
    "Transpose", "Concat", "Gather", "Slice", "Split", "Sub", "Add", "Neg", "Mul", "Div",
})


def op_key(node: onnx.NodeProto) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"


@dataclass
class OutputCut:
    """``outputs``: the tensors counted on, in order; ``dropped``: the post-processing nodes
    (graph order); ``heads``: those of them that start it; ``refused``: head node name -> why
    the post-processing it starts could not be dropped."""

    outputs: list[str]
    dropped: list[onnx.NodeProto] = field(default_factory=list)
    heads: list[onnx.NodeProto] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def _node_name(node: onnx.NodeProto) -> str:
    return node.name or (node.output[0] if node.output else "?")


def outer_names(node: onnx.NodeProto) -> list[str]:
    """The enclosing graph's tensors that the subgraphs of ``node`` (If, Loop, Scan) read."""
    names: list[str] = []
    for a in node.attribute:
        for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
            inner = {o for n in g.node for o in n.output} | {i.name for i in g.input} \
                | {t.name for t in g.initializer}
            for n in g.node:
                names += [i for i in list(n.input) + outer_names(n) if i and i not in inner]
    return list(dict.fromkeys(names))


def input_dependent(graph: onnx.GraphProto, input_name: str) -> set[str]:
    """The tensors whose value depends on the network input (a fixed point over the nodes, so
    that a graph whose nodes are not in topological order is read right)."""
    dep = {input_name}
    changed = True
    while changed:
        changed = False
        for node in graph.node:
            if any(i in dep for i in list(node.input) + outer_names(node) if i):
                for o in node.output:
                    if o and o not in dep:
                        dep.add(o)
                        changed = True
    return dep


def find_cut(graph: onnx.GraphProto, input_name: str,
             label: Callable[[onnx.NodeProto], str]) -> OutputCut:
    """The outputs to count on once the post-processing is dropped (see the module text)."""
    outputs = [o.name for o in graph.output]
    nodes = list(graph.node)        # one Python object per node (wrappers are made on access)
    dep = input_dependent(graph, input_name)
    heads = [k for k, n in enumerate(nodes)
             if op_key(n) in HEAD_OPS and n.input and n.input[0] in dep]
    if not heads:
        return OutputCut(outputs)
    after: set[str] = {o for k in heads for o in nodes[k].output if o}
    post_ids = set(heads)
    changed = True
    while changed:
        changed = False
        for k, node in enumerate(nodes):
            if k not in post_ids and any(i in after for i in node.input if i):
                post_ids.add(k)
                after.update(o for o in node.output if o)
                changed = True
    post = [nodes[k] for k in sorted(post_ids)]
    if any(op_key(n) not in FOLLOWER_OPS for n in post):
        return OutputCut(outputs)           # a head in a hidden position: not post-processing
    top = [nodes[k] for k in heads if nodes[k].input[0] not in after]
    cut = list(dict.fromkeys(h.input[0] for h in top))
    for node in post:
        for name in node.input:
            if name and name in dep and name not in after and name not in cut:
                why = (f"its output reaches {label(node)}, which also reads the network's "
                       f"tensor '{name}'; --output-tensor NAME counts on a tensor before it")
                return OutputCut(outputs, refused={_node_name(h): why for h in top})
    kept = [o for o in outputs if o not in after]
    return OutputCut(list(dict.fromkeys(kept + cut)), post, top)


def cut_notice(source: str, cut: OutputCut, label: Callable[[onnx.NodeProto], str]) -> str:
    """The notice that says what was dropped and where the regions are counted."""
    heads = ", ".join(label(h) for h in cut.heads)
    rest = [op_key(n) for n in cut.dropped if all(n is not h for h in cut.heads)]
    counts: dict[str, int] = {}
    for op in rest:
        counts[op] = counts.get(op, 0) + 1
    follow = ", ".join(op if k == 1 else f"{op} x{k}" for op, k in counts.items())
    where = ", ".join(f"'{t}'" for t in cut.outputs)
    return (f"{source}: dropped trailing {heads}" + (f" and what follows ({follow})" if follow else "")
            + f": applied to the output, it does not change the regions; counting on {where}")


def check_output_name(graph: onnx.GraphProto, name: str, input_name: str) -> str | None:
    """None if ``name`` is a tensor of the graph that depends on the input, else why not."""
    produced = {o for n in graph.node for o in n.output if o}
    if name == input_name:
        return None
    if name not in produced:
        outs = ", ".join(f"'{o.name}'" for o in graph.output)
        return f"no tensor '{name}' in the graph (its outputs: {outs})"
    if name not in input_dependent(graph, input_name):
        return f"tensor '{name}' is a constant (it does not depend on the input '{input_name}')"
    return None
