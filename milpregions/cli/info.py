"""``milpregions info``: what the importer made of a model."""

from __future__ import annotations

import numpy as np

from ..ir.network import MaxLayer
from .common import EXIT_OK, write_json
from .domain_args import add_output_arg, network_from_args


def add_parser(subs) -> None:
    i = subs.add_parser("info", allow_abbrev=False, help="describe an imported model",
                        description="Import MODEL and describe it: input, layers, ops, notices.")
    i.add_argument("model", metavar="MODEL", help="ONNX file")
    i.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_output_arg(i)



def _activation_name(layer) -> str:
    if isinstance(layer, MaxLayer):
        g = layer.groups
        sizes = sorted({int(n) for n in (g >= 0).sum(axis=1)})
        return f"max over groups of {'/'.join(str(n) for n in sizes)} ({layer.affine.size} pieces)"
    s = np.asarray(layer.neg_slope)
    if s.size and np.all(s == 0):
        return "ReLU"
    if s.size and np.all(s == -1):
        return "Abs"
    if s.size and np.all(s == s.flat[0]):
        return f"LeakyReLU(alpha={float(s.flat[0]):g})"
    return "PReLU"


def describe(net) -> dict:
    """The ``info`` record of a network (JSON-friendly)."""
    info = dict(net.info)
    layers = []
    for k, layer in enumerate(net.layers, start=1):
        layers.append({"index": k, "name": layer.name, "width": layer.size,
                       "activation": _activation_name(layer),
                       "reads": sorted(int(s) for s in layer.affine.W)})
    return {
        "source": info.get("source"),
        "producer": info.get("producer", ""),
        "opset": info.get("opset"),
        "input_name": info.get("input_name"),
        "input_shape": info.get("input_shape"),
        "input_dim": net.input_dim,
        "layers": layers,
        "widths": list(net.widths),
        "units": int(sum(net.widths)),
        "output_dim": net.output_dim,
        "output_names": info.get("output_names", []),
        "ops": info.get("ops", {}),
        "notices": info.get("notices", []),
    }


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def format_info(d: dict) -> list[str]:
    lines = [
        f"source:   {d['source']}",
        f"producer: {d['producer'] or '-'}",
        f"opset:    {d['opset']}",
        f"input:    {d['input_name']} {_shape_text(d['input_shape'])}, n0 = {d['input_dim']}",
        f"layers:   {len(d['layers'])} (widths {', '.join(map(str, d['widths'])) or '-'})",
    ]
    for L in d["layers"]:
        src = ", ".join("input" if s == 0 else f"layer {s}" for s in L["reads"])
        name = f" ({L['name']})" if L["name"] else ""
        lines.append(f"  layer {L['index']}{name}: {L['width']} units, {L['activation']}, "
                     f"reads {src}")
    outs = ", ".join(d["output_names"])
    lines += [
        f"units:    {d['units']:,}",
        f"output:   dim {d['output_dim']}" + (f" ({outs})" if outs else ""),
        "ops:      " + (", ".join(f"{op} {n}" for op, n in sorted(d["ops"].items())) or "-"),
    ]
    if d["notices"]:
        lines.append("notices:")
        lines += [f"  {n}" for n in d["notices"]]
    else:
        lines.append("notices:  none")
    return lines


def run(args, out, err) -> int:
    d = describe(network_from_args(args))
    if args.json:
        write_json(out, "info", args, None, d)
    else:
        out.write("\n".join(format_info(d)) + "\n")
    return EXIT_OK
