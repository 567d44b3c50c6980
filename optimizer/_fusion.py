"""Shared pieces of the contraction fusions (conv, matmul, depthwise, prelu)."""

from __future__ import annotations

from typing import Any

import numpy as np
from tfjs_lite.optimizer._util import const_value, move_control_consumers
from tfjs_lite.optimizer.pattern import Match

from tfjs_lite.ir import DType, Graph, TensorRef

__all__ = [
    "ACTIVATIONS",
    "channels_of",
    "fused_common_attrs",
    "is_nhwc",
    "rewrite_root",
]

# Activations TF.js 4.22 applies inside fused kernels (tfjs-core ops/fused_util.js), minus prelu
# (which needs an extra argument and is handled by fuse_prelu).  Tanh is not among them.
ACTIVATIONS = frozenset({"Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid"})


def is_nhwc(graph: Graph, node: str) -> bool:
    """True if the node's ``data_format`` is NHWC (the default) — TF.js fuses only that."""
    fmt = graph.attrs(node).get("data_format", "NHWC")
    return (fmt.decode() if isinstance(fmt, bytes) else str(fmt)) == "NHWC"


def channels_of(graph: Graph, op: str, weights: TensorRef, attrs: dict[str, Any]) -> int | None:
    """Output channels of a contraction from its Const weights (None if not Const)."""
    w = const_value(graph, weights)
    if w is None:
        return None
    if op in ("Conv2D", "_FusedConv2D") and w.ndim == 4:
        return int(w.shape[3])
    if op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative") and w.ndim == 4:
        return int(w.shape[2] * w.shape[3])
    if op in ("MatMul", "_FusedMatMul") and w.ndim == 2:
        return int(w.shape[0] if attrs.get("transpose_b", False) else w.shape[1])
    return None


def fused_common_attrs(t: DType, fused_ops: list[str], num_args: int, *,
                       leakyrelu_alpha: float = 0.2) -> dict[str, Any]:
    """The attrs TF 2.19's remapper writes on every fused contraction."""
    return {
        "T": t,
        "TArgs": [t] * num_args,
        "num_args": num_args,
        "fused_ops": list(fused_ops),
        "epsilon": 0.0,
        "leakyrelu_alpha": float(leakyrelu_alpha),
        "num_host_args": 0,
    }


def activation_alpha(graph: Graph, act_node: str | None) -> float:
    """``leakyrelu_alpha`` for an activation node (LeakyRelu's ``alpha``, default 0.2)."""
    if act_node is not None and graph.op(act_node) == "LeakyRelu":
        return float(graph.attrs(act_node).get("alpha", 0.2))
    return 0.2


def zero_bias(graph: Graph, like: str, channels: int, t: DType) -> TensorRef:
    """A new zero bias Const of ``channels`` elements named after ``like``."""
    from tfjs_lite.ir import numpy_dtype

    return graph.add_const(np.zeros((channels,), numpy_dtype(t)),
                           name=graph.unique_name(f"{like}/zero_bias"))


def rewrite_root(graph: Graph, m: Match, op: str, inputs: list[TensorRef],
                 attrs: dict[str, Any]) -> None:
    """Turn the match root into ``op(inputs)`` with ``attrs`` and delete the interior nodes.

    The root keeps its name (the fused node takes the pattern's last node's name, as in TF), its
    control inputs gain those of the interior nodes, and ``^interior`` dependencies move to it.
    """
    root = m.root
    graph.set_inputs(root, inputs)
    graph.set_op(root, op)
    old = graph.attrs(root)
    keep = {k: v for k, v in old.items() if k.startswith("_") and k != "_input_shapes"}
    old.clear()
    old.update(attrs)
    old.update(keep)
    graph.set_out_types(root, (graph.out_types(root) or ())[:1] or None)
    for n in m.interior:
        for c in graph.control_inputs_of(n):
            if c != root:
                graph.add_control_input(root, c)
        move_control_consumers(graph, n, root)
    # Interior nodes were checked to be read only inside the match; delete consumers first.
    pending = [n for n in m.interior if n in graph]
    while pending:
        removable = [n for n in pending if not graph.node_consumers(n)]
        if not removable:
            break
        for n in removable:
            graph.remove(n)
        pending = [n for n in pending if n in graph]
