"""Turn ``Add(contraction, bias)`` into ``BiasAdd`` so the fusions see one form.

Before => after: ``Add|AddV2(C, b)`` or ``Add|AddV2(b, C)`` with ``C`` a ``Conv2D``,
``DepthwiseConv2dNative`` or ``MatMul`` and ``b`` a Const of shape ``(channels,)`` (or
``(1, ..., 1, channels)``, reshaped to 1-D) => ``BiasAdd(C, b)`` with ``data_format NHWC``,
keeping the Add's name.

Algebra: for NHWC, adding a length-C vector broadcasts over the last axis, which is BiasAdd.

Does NOT fire when the contraction has another consumer or is a graph output (the official
pass checks this too), the conv is not NHWC, the bias is not a Const, its shape is anything but
``(C,)`` / ``(1,...,1,C)`` with ``C`` the output channels, or its dtype differs from the Add's.
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._fusion import channels_of, is_nhwc
from tfjs_lite.optimizer._util import ADD_OPS, CONTRACTION_OPS, const_value
from tfjs_lite.optimizer.pass_base import Pass
from tfjs_lite.optimizer.pattern import Match, P, Rule, apply_rules

from tfjs_lite.ir import Graph

__all__ = ["NormalizeBiasAdd"]

PATTERN = P(ADD_OPS, P(CONTRACTION_OPS, P(), P(name="w"), name="conv"),
            P(const=True, name="b"), commute=True, name="add")


class NormalizeBiasAdd(Pass):
    """Add/AddV2(contraction, 1-D const) => BiasAdd."""

    name = "normalize_bias_add"

    def run(self, graph: Graph) -> bool:
        """Rewrite every eligible Add; returns True iff any was rewritten."""
        return apply_rules(graph, self.name, [RULE])


def _rewrite(graph: Graph, m: Match) -> None:
    n = m.root
    bias = const_value(graph, m.refs["b"])
    assert bias is not None
    b_ref = m.refs["b"]
    if bias.ndim != 1:
        b_ref = graph.add_const(bias.reshape(-1), name=graph.unique_name(f"{n}/bias"))
    graph.set_inputs(n, [m.refs["conv"], b_ref])
    graph.set_op(n, "BiasAdd")
    graph.set_attr(n, "data_format", "NHWC")


def _reject_reason(graph: Graph, m: Match) -> str | None:
    conv = m.node("conv")
    op = graph.op(conv)
    if op != "MatMul" and not is_nhwc(graph, conv):
        return "contraction is not NHWC"
    channels = channels_of(graph, op, m.refs["w"], graph.attrs(conv))
    bias = const_value(graph, m.refs["b"])
    assert bias is not None
    if channels is None:
        return "weights are not Const (channel count unknown)"
    if bias.size != channels or bias.shape[-1:] != (channels,) or np.prod(bias.shape[:-1]) != 1:
        return f"bias shape {bias.shape} is not ({channels},)"
    rank = 2 if op == "MatMul" else 4
    if bias.ndim > rank:
        return "bias has higher rank than the contraction output"
    t = graph.attrs(m.root).get("T")
    if t is not None and graph.attrs(m.node("b")).get("dtype") != t:
        return "bias dtype differs"
    return None


RULE = Rule((PATTERN,), _rewrite, _reject_reason)
