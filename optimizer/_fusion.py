"""Shared pieces of the contraction fusions (conv, matmul, depthwise, prelu, batch norm), and the
one driver of the conv/matmul/depthwise fusions, :func:`fuse_contraction`."""

from __future__ import annotations

from typing import Any

import numpy as np
from tfjs_lite.optimizer._util import const_value, move_control_consumers, static_shape
from tfjs_lite.optimizer.pattern import Match, P, Rule, apply_rules

from tfjs_lite.ir import DType, Graph, TensorRef

__all__ = [
    "ACTIVATIONS",
    "CONV_ATTRS",
    "DEPTHWISE_ATTRS",
    "MATMUL_ATTRS",
    "channels_of",
    "fuse_contraction",
    "fused_common_attrs",
    "is_nhwc",
    "rewrite_root",
    "set_conv_defaults",
]

# Activations TF.js 4.22 applies inside fused kernels (tfjs-core ops/fused_util.js), minus prelu
# (which needs an extra argument and is handled by fuse_prelu).  Tanh is not among them.
ACTIVATIONS = frozenset({"Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid"})

# Attrs each fused op copies from its bare contraction.
CONV_ATTRS = ("strides", "padding", "explicit_paddings", "data_format", "dilations",
              "use_cudnn_on_gpu")
DEPTHWISE_ATTRS = ("strides", "padding", "explicit_paddings", "data_format", "dilations")
MATMUL_ATTRS = ("transpose_a", "transpose_b")


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


# ------------------------------------------------------------------ the contraction fusion driver


def _contraction_patterns(contraction: str) -> tuple[P, ...]:
    conv = P(contraction, P(name="x"), P(name="w"), name="conv")
    bias_add = P("BiasAdd", conv, P(name="b"), name="bias_add")
    return (P(ACTIVATIONS, bias_add, name="act"), bias_add, P(ACTIVATIONS, conv, name="act"))


def fuse_contraction(graph: Graph, name: str, contraction: str, fused_op: str,
                     extra_attrs: tuple[str, ...], *, zero_bias_for_act: bool) -> bool:
    """Shared driver for conv/depthwise/matmul fusion; see the pass docstrings.

    Args:
        graph: Graph to rewrite.
        name: The pass name (log lines).
        contraction: The bare op (``Conv2D``...).
        fused_op: The fused op to build.
        extra_attrs: Attrs copied from the contraction.
        zero_bias_for_act: Fuse ``act(contraction)`` with a zero bias (else ``[NoOp, act]``).

    Returns:
        True iff something was fused.
    """
    def reject(g: Graph, m: Match) -> str | None:
        return _reject_reason(g, m, contraction, zero_bias_for_act)

    def rewrite(g: Graph, m: Match) -> None:
        _rewrite_contraction(g, m, fused_op, extra_attrs, zero_bias_for_act)

    rule = Rule(_contraction_patterns(contraction), rewrite, reject)
    return apply_rules(graph, name, [rule], consumers_first=True)


def _reject_reason(graph: Graph, m: Match, contraction: str, zero_bias_for_act: bool) -> str | None:
    conv = m.node("conv")
    if contraction != "MatMul" and not is_nhwc(graph, conv):
        return "data_format is not NHWC"
    if "bias_add" in m.refs:
        if not is_nhwc(graph, m.node("bias_add")):
            return "BiasAdd data_format is not NHWC"
        shape = static_shape(graph, m.refs["b"])
        if shape is not None and len(shape) != 1:
            return "bias is not 1-D"
    elif zero_bias_for_act and channels_of(graph, contraction, m.refs["w"], graph.attrs(conv)) is None:
        return "filter is not Const, so the zero bias size is unknown"
    return None


def _rewrite_contraction(graph: Graph, m: Match, fused_op: str, extra_attrs: tuple[str, ...],
                         zero_bias_for_act: bool) -> None:
    conv = m.node("conv")
    conv_attrs = graph.attrs(conv)
    t = DType(conv_attrs.get("T", "DT_FLOAT"))
    act = m.node("act") if "act" in m.refs else None
    inputs = [m.refs["x"], m.refs["w"]]
    if "bias_add" in m.refs:
        inputs.append(m.refs["b"])
        fused_ops = ["BiasAdd"] + ([graph.op(act)] if act else [])
    elif zero_bias_for_act:
        channels = channels_of(graph, graph.op(conv), m.refs["w"], conv_attrs)
        assert channels is not None and act is not None
        inputs.append(zero_bias(graph, conv, channels, t))
        fused_ops = ["BiasAdd", graph.op(act)]
    else:
        assert act is not None
        fused_ops = ["NoOp", graph.op(act)]
    attrs = fused_common_attrs(t, fused_ops, len(inputs) - 2, leakyrelu_alpha=activation_alpha(graph, act))
    attrs.update({k: conv_attrs[k] for k in extra_attrs if k in conv_attrs})
    rewrite_root(graph, m, fused_op, inputs, attrs)


def set_conv_defaults(graph: Graph, op: str, *, filter_format: bool) -> None:
    """Write the TF defaults of attrs the source graph left implicit (TF 2.19 writes them all)."""
    for n in graph.nodes_by_op(op):
        attrs = graph.attrs(n)
        attrs.setdefault("data_format", "NHWC")
        attrs.setdefault("explicit_paddings", [])
        attrs.setdefault("dilations", [1, 1, 1, 1])
        if filter_format:
            attrs.setdefault("filter_format", "HWIO")
            attrs.setdefault("use_cudnn_on_gpu", True)
