"""Text dump of a Graph for logs and test failures: one line per node in topological order."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.ir.attrs import DType, FuncRef
from tfjs_lite.ir.graph import Graph

__all__ = ["format_graph"]

_MAX_LIST = 8


def format_graph(graph: Graph, *, title: str = "graph") -> str:
    """Render ``graph`` as readable text.

    Example line: ``conv = Conv2D[T=DT_FLOAT, padding='SAME'](x:0, w:0) ^init``.
    """
    lines = [f"{title} ({len(graph)} nodes)"]
    for key, ref in graph.inputs.items():
        lines.append(f"  input {key} <- {ref}")
    for name in graph.topo_order():
        lines.append("  " + format_node(graph, name))
    for key, ref in graph.outputs.items():
        lines.append(f"  output {key} <- {ref}")
    for fname in sorted(graph.functions):
        body = format_graph(graph.functions[fname], title=f"function {fname}")
        lines.extend("  " + line for line in body.splitlines())
    return "\n".join(lines)


def format_node(graph: Graph, name: str) -> str:
    """One node as ``name = Op[attrs](inputs) ^controls``."""
    attrs = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(graph.attrs(name).items()))
    args = ", ".join(str(r) for r in graph.inputs_of(name))
    text = f"{name} = {graph.op(name)}[{attrs}]({args})"
    value = graph.value(name)
    if value is not None:
        text += f" value={_fmt(value)}"
    controls = graph.control_inputs_of(name)
    if controls:
        text += " " + " ".join("^" + c for c in controls)
    return text


def _fmt(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 4:
            return f"array({value.tolist()}, {value.dtype})"
        return f"array(shape={value.shape}, {value.dtype})"
    if isinstance(value, DType):
        return str(value)
    if isinstance(value, FuncRef):
        return f"@{value.name}"
    if isinstance(value, list) and len(value) > _MAX_LIST:
        return "[" + ", ".join(_fmt(v) for v in value[:_MAX_LIST]) + ", ...]"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return repr(value)
