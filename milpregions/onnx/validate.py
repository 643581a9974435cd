"""What a model must be before it is imported: valid ONNX that this onnx understands, and of a
size that a count can hold.

onnx's checker with full checks (schemas: input counts and attributes; strict shape and type
inference) runs on every model, so a model that onnxruntime would refuse (a MatMul with a
third input, int8 weights fed to a Gemm, an IR version or opset from the future) is refused
here with the checker's first line, instead of being counted as something it is not. Limits on
declared sizes keep an absurd declaration from taking the machine's memory or time.
"""

from __future__ import annotations

import onnx

from ..errors import InputError
from .context import _one_line

#: inputs of one model (elements of its input tensor, batch excluded); far above any count
MAX_INPUT_ELEMENTS = 1 << 20
#: iterations of a Loop that constant folding may run
MAX_LOOP_ITERATIONS = 1 << 20


def check_versions(model: onnx.ModelProto, source: str) -> None:
    """Refuse an IR version or an opset of the standard domain newer than this onnx knows."""
    if model.ir_version > onnx.IR_VERSION:
        raise InputError(f"{source}: IR version {model.ir_version} is newer than this onnx "
                         f"({onnx.__version__}) reads (up to {onnx.IR_VERSION})")
    newest = onnx.defs.onnx_opset_version()
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx") and o.version > newest:
            raise InputError(f"{source}: opset {o.version} is newer than this onnx "
                             f"({onnx.__version__}) knows (up to {newest})")


def check_model(model: onnx.ModelProto, source: str) -> None:
    """onnx's checker (schemas: input counts, attributes, opsets) and its type inference; the
    first line of what they find names what is wrong.

    Shape inference errors alone are not held against a model: inference gives up on shapes
    that real exporters write (the branches of torch's ``If``) while the importer, which
    computes every shape, reads them; a type error (int8 weights fed to a Gemm, an output
    declared float that is int64) is one onnxruntime refuses too.
    """
    check_versions(model, source)
    try:
        _check(model, source)
    except InputError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as e:  # malformed beyond the checks
        raise InputError(f"{source}: not a valid ONNX model ({_first_line(str(e))})") from None


def _check(model: onnx.ModelProto, source: str) -> None:
    ordered = _sorted(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(ordered, check_type=True,
                                                     strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError as e:
        types = [line for line in str(e).splitlines() if "TypeInferenceError" in line]
        if types:
            raise InputError(f"{source}: not a valid ONNX model ({_first_line(types[0])})") \
                from None
        inferred = onnx.shape_inference.infer_shapes(ordered, check_type=False,
                                                     strict_mode=False)
    except ValueError as e:                 # e.g. a tensor of data type 0
        raise InputError(f"{source}: not a valid ONNX model ({_first_line(str(e))})") from None
    _forget_unknown_shapes(inferred.graph)
    _check_type_constraints(inferred, source)
    try:
        onnx.checker.check_model(inferred)
    except onnx.checker.ValidationError as e:
        raise InputError(f"{source}: not a valid ONNX model ({_first_line(str(e))})") from None
    except ValueError as e:                 # e.g. a model over 2 GB held in memory
        raise InputError(f"{source}: cannot be checked ({_one_line(e)})") from None


def _check_type_constraints(model: onnx.ModelProto, source: str) -> None:
    """Per node of a standard domain, the inputs that its schema binds to one type variable
    have one element type, of the types the variable allows (onnx's inference takes the
    first input's type and does not look at the others; onnxruntime refuses such a model)."""
    g = model.graph
    types: dict[str, int] = {t.name: t.data_type for t in g.initializer}
    for v in list(g.input) + list(g.value_info) + list(g.output):
        if v.type.HasField("tensor_type") and v.type.tensor_type.elem_type:
            types.setdefault(v.name, v.type.tensor_type.elem_type)
    opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}
    for node in g.node:
        domain = "" if node.domain == "ai.onnx" else node.domain
        if domain not in ("", "ai.onnx.ml") or domain not in opsets:
            continue
        try:
            schema = onnx.defs.get_schema(node.op_type, opsets[domain], domain)
        except onnx.defs.SchemaError:
            continue                    # the checker names an unknown op
        allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
        formal = list(schema.inputs)
        bound: dict[str, tuple[str, int]] = {}
        for i, name in enumerate(node.input):
            if not name or name not in types or not formal:
                continue
            param = formal[min(i, len(formal) - 1)]
            if i >= len(formal) and param.option != param.option.Variadic:
                continue
            var = param.type_str
            elem = types[name]
            text = f"tensor({onnx.helper.tensor_dtype_to_string(elem)[len('TensorProto.'):].lower()})"
            label = f"node '{node.name or node.output[0]}' ({node.op_type})"
            if var in allowed and allowed[var] and text not in allowed[var]:
                raise InputError(f"{source}: not a valid ONNX model ({label}: input '{name}' is "
                                 f"{text}, not one of the types of {var})")
            if var in allowed and var in bound and bound[var][1] != elem:
                other = bound[var][0]
                raise InputError(f"{source}: not a valid ONNX model ({label}: inputs '{other}' "
                                 f"and '{name}' must have one type ({var}))")
            bound.setdefault(var, (name, elem))


def _sorted(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy with the nodes in topological order (the importer walks them in that order
    whatever the file's; the checker insists on it)."""
    g = model.graph
    producer = {o: i for i, n in enumerate(g.node) for o in n.output if o}
    if all(producer.get(name, -1) < i for i, n in enumerate(g.node) for name in n.input):
        return model                    # in order already, as exporters write it
    # networkx costs 0.2-0.3 s of imports: only when the graph must be sorted
    import networkx as nx

    deps = nx.DiGraph()
    deps.add_nodes_from(range(len(g.node)))
    for i, n in enumerate(g.node):
        for name in n.input:
            if name in producer and producer[name] != i:
                deps.add_edge(producer[name], i)
    try:
        order = list(nx.lexicographical_topological_sort(deps))
    except nx.NetworkXUnfeasible:
        return model                    # a cycle: the checker says so
    if order == list(range(len(g.node))):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    del copy.graph.node[:]
    copy.graph.node.extend(g.node[i] for i in order)
    return copy


def _forget_unknown_shapes(graph: onnx.GraphProto) -> None:
    """Outputs and value infos whose shape even inference could not tell (e.g. of an op in a
    custom domain) are declared without one; the checker wants a shape there, the format and
    onnxruntime do not."""
    for v in list(graph.output) + list(graph.value_info):
        t = v.type.tensor_type if v.type.HasField("tensor_type") else None
        if t is not None and not t.HasField("shape"):
            t.shape.SetInParent()


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else "no detail"
    return line if len(line) <= 300 else line[:297] + "..."


def check_input_size(name: str, shape_text: str, elements: int, source: str) -> None:
    if elements > MAX_INPUT_ELEMENTS:
        raise InputError(f"{source}: input '{name}' has shape {shape_text}, {elements:,} "
                         f"elements; at most {MAX_INPUT_ELEMENTS:,} are supported")


def check_loop(trip_count: int | None, label: str, source: str) -> None:
    """A Loop folded as a constant runs at most ``MAX_LOOP_ITERATIONS`` iterations."""
    if trip_count is None or trip_count > MAX_LOOP_ITERATIONS:
        what = "no trip count" if trip_count is None else f"{trip_count:,} iterations"
        raise InputError(f"{source}: {label} is a Loop of {what}; constant folding runs at most "
                         f"{MAX_LOOP_ITERATIONS:,}")
