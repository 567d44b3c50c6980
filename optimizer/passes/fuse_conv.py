"""Fuse ``Conv2D`` with its bias and activation into TF.js's ``_FusedConv2D``.

Before => after (the fused node keeps the name of the pattern's last node, as TF's remapper does):

* ``act(BiasAdd(Conv2D(x, W), b))`` => ``_FusedConv2D(x, W, b)``, ``fused_ops [BiasAdd, act]``
* ``BiasAdd(Conv2D(x, W), b)``      => ``_FusedConv2D(x, W, b)``, ``fused_ops [BiasAdd]``
* ``act(Conv2D(x, W))``             => ``_FusedConv2D(x, W, zeros(C))``, ``fused_ops [BiasAdd, act]``
  (the official converter leaves this pair unfused; one kernel with a zero bias is cheaper than
  two, and ``C`` comes from the Const filter)

with ``act`` in Relu, Relu6, Elu, LeakyRelu (its ``alpha`` becomes ``leakyrelu_alpha``), Sigmoid.
Attrs as TF 2.19 writes them: ``T, TArgs, num_args=1, fused_ops, epsilon=0.0, leakyrelu_alpha,
num_host_args=0, strides, padding, explicit_paddings, data_format, dilations, use_cudnn_on_gpu,
filter_format="HWIO"``.

Algebra: ``act(conv(x, W) + b)`` is exactly what the fused kernel computes.

Does NOT fire when: the conv (or BiasAdd) output has another consumer or is a graph output
(:meth:`Match.removable`), the data format is not NHWC (TF.js fused conv is NHWC only), the
activation is not one TF.js fuses (Tanh, Softplus, ...), the bias is not 1-D, or — for the
activation-only form — the filter is not Const (channel count unknown).  Non-Const filters and
biases are otherwise fine: the fused op takes them as ordinary inputs.
"""

from __future__ import annotations

import logging

from tfjs_lite.optimizer._fusion import (
    ACTIVATIONS,
    activation_alpha,
    channels_of,
    fused_common_attrs,
    is_nhwc,
    rewrite_root,
    zero_bias,
)
from tfjs_lite.optimizer._util import static_shape
from tfjs_lite.optimizer.pass_base import Pass
from tfjs_lite.optimizer.pattern import Match, P, match

from tfjs_lite.ir import DType, Graph

__all__ = ["FuseConv", "fuse_contraction", "set_conv_defaults"]

logger = logging.getLogger(__name__)


def _patterns(contraction: str) -> list[P]:
    conv = P(contraction, P(name="x"), P(name="w"), name="conv")
    bias_add = P("BiasAdd", conv, P(name="b"), name="bias_add")
    return [P(ACTIVATIONS, bias_add, name="act"), bias_add, P(ACTIVATIONS, conv, name="act")]


def fuse_contraction(graph: Graph, contraction: str, fused_op: str, extra_attrs: tuple[str, ...],
                     *, zero_bias_for_act: bool) -> bool:
    """Shared driver for conv/depthwise/matmul fusion; see the pass docstrings.

    Args:
        graph: Graph to rewrite.
        contraction: The bare op (``Conv2D``...).
        fused_op: The fused op to build.
        extra_attrs: Attrs copied from the contraction.
        zero_bias_for_act: Fuse ``act(contraction)`` with a zero bias (else ``[NoOp, act]``).

    Returns:
        True iff something was fused.
    """
    pats = _patterns(contraction)
    roots = ACTIVATIONS | {"BiasAdd"}
    changed = False
    # Consumers first: act(BiasAdd(conv)) must be matched at the activation, not at the BiasAdd.
    for n in reversed(graph.topo_order()):
        if n not in graph or graph.op(n) not in roots:
            continue
        for pat in pats:
            m = match(graph, n, pat)
            if m is None:
                continue
            reason = m.removable(graph) or _reject_reason(graph, m, contraction,
                                                          zero_bias_for_act)
            if reason:
                logger.debug("%s: not fusing at %s: %s", fused_op, n, reason)
                continue
            _rewrite(graph, m, fused_op, extra_attrs, zero_bias_for_act)
            changed = True
            break
    return changed


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


def _rewrite(graph: Graph, m: Match, fused_op: str, extra_attrs: tuple[str, ...],
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


CONV_ATTRS = ("strides", "padding", "explicit_paddings", "data_format", "dilations",
              "use_cudnn_on_gpu")


class FuseConv(Pass):
    """Conv2D + BiasAdd (+ activation) => _FusedConv2D."""

    name = "fuse_conv"

    def run(self, graph: Graph) -> bool:
        """Fuse every eligible Conv2D; returns True iff any was fused."""
        changed = fuse_contraction(graph, "Conv2D", "_FusedConv2D", CONV_ATTRS,
                                   zero_bias_for_act=True)
        if changed:
            set_conv_defaults(graph, "_FusedConv2D", filter_format=True)
        return changed


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
