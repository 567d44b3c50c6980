"""ONNX-level rewrites applied before lowering, for exporter patterns that would otherwise pin
tensors to NCHW.

* ``Reshape(x, [N, G, -1]) -> InstanceNormalization(scale[G], bias[G])`` is how torch's dynamo
  exporter writes ``GroupNorm``; the reshape is layout-breaking, so every conv around it would
  keep its transposes. It becomes one ``GroupNormalization`` with per-group parameters, whose
  lowering needs no reshape. The reshape back that follows it then maps a tensor to its own shape.
"""

from __future__ import annotations

import numpy as np

from tfjs_lite.readers.onnx.model import OnnxGraph, OnnxNode

__all__ = ["fuse_group_norm"]


def _constant(graph: OnnxGraph, producers: dict[str, OnnxNode], name: str) -> np.ndarray | None:
    if name in graph.initializers:
        return graph.initializers[name]
    node = producers.get(name)
    if node is not None and node.op_type == "Constant" and "value" in node.attrs:
        return np.asarray(node.attrs["value"])
    return None


def fuse_group_norm(graph: OnnxGraph) -> int:
    """Rewrite GroupNorm decompositions in place; returns how many were rewritten."""
    producers = {out: n for n in graph.nodes for out in n.outputs}
    readers: dict[str, int] = {}
    for n in graph.nodes:
        for name in n.inputs:
            readers[name] = readers.get(name, 0) + 1
    outputs = {name for name, _ in graph.outputs}
    rewritten = 0
    for node in graph.nodes:
        if node.op_type != "InstanceNormalization" or node.domain or len(node.inputs) < 3:
            continue
        grouped = producers.get(node.inputs[0])
        if grouped is None or grouped.op_type != "Reshape" or readers.get(node.inputs[0]) != 1 or \
                node.inputs[0] in outputs:
            continue
        target = _constant(graph, producers, grouped.inputs[1])
        scale, bias = (_constant(graph, producers, name) for name in node.inputs[1:3])
        if target is None or scale is None or bias is None or target.size != 3 or int(target.reshape(-1)[2]) != -1:
            continue
        groups = int(target.reshape(-1)[1])
        if groups <= 0 or scale.size != groups or bias.size != groups:
            continue
        node.op_type = "GroupNormalization"
        node.inputs = [grouped.inputs[0], node.inputs[1], node.inputs[2]]
        node.attrs = {"num_groups": groups, "epsilon": node.attrs.get("epsilon", 1e-5), "_per_group": 1}
        rewritten += 1
    if rewritten:  # drop the reshapes nothing reads any more
        used = {name for n in graph.nodes for name in n.inputs} | outputs
        graph.nodes = [n for n in graph.nodes
                       if not (n.op_type == "Reshape" and n.outputs and n.outputs[0] not in used)]
    return rewritten
