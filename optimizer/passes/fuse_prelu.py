"""Recognise decomposed PReLU and fold ``Prelu`` into fused contractions.

Before => after:

1. ``Add|AddV2(Relu(x), Mul(c, Relu(Neg(x))))`` (either operand order; ``c`` a Const, which is
   ``-alpha``: tf.keras writes ``-alpha * relu(-x)`` and grappler/``fold_constants`` folds
   ``Neg(alpha)``) => ``Prelu(x, -c)``.
2. ``Sub(Relu(x), Mul(alpha, Relu(Neg(x))))`` => ``Prelu(x, alpha)``.
3. ``Prelu(F(x, W, b), alpha)`` with ``F`` a ``_FusedConv2D``/``_FusedMatMul``/
   ``FusedDepthwiseConv2dNative`` whose ``fused_ops`` is ``[BiasAdd]`` =>
   ``F(x, W, b, alpha)``, ``fused_ops [BiasAdd, Prelu]``, ``num_args 2`` (tfjs_format.md §6.7);
   ``Prelu(C(x, W), alpha)`` with a bare ``Conv2D``/``MatMul``/``DepthwiseConv2dNative`` and
   Const ``W`` => the same with a zero bias.

Rewritten nodes keep the name of the pattern's last node (the Add/Sub, or the Prelu).

Algebra: ``relu(x) - a·relu(-x) = x if x > 0 else a·x = prelu(x, a)``.

Does NOT fire when an intermediate (Relu, Neg, Mul, the contraction) has another consumer or is
a graph output, the two ``x`` are different tensors, alpha is not Const, the fused op already has
an activation, or the contraction is not NHWC.
"""

from __future__ import annotations

import logging

import numpy as np
from tfjs_lite.optimizer._fusion import (
    channels_of,
    fused_common_attrs,
    is_nhwc,
    rewrite_root,
    zero_bias,
)
from tfjs_lite.optimizer._util import const_value
from tfjs_lite.optimizer.pass_base import Pass
from tfjs_lite.optimizer.pattern import P, match

from tfjs_lite.ir import DType, Graph

__all__ = ["FusePrelu"]

logger = logging.getLogger(__name__)


def _neg_branch() -> P:
    return P("Mul", P(const=True, name="alpha"), P("Relu", P("Neg", P(name="x"))), commute=True)


ADD_PATTERN = P({"Add", "AddV2"}, P("Relu", P(name="x")), _neg_branch(), commute=True, name="add")
SUB_PATTERN = P("Sub", P("Relu", P(name="x")), _neg_branch(), name="sub")

FUSED = frozenset({"_FusedConv2D", "_FusedMatMul", "FusedDepthwiseConv2dNative"})
BARE = {"Conv2D": "_FusedConv2D", "MatMul": "_FusedMatMul",
        "DepthwiseConv2dNative": "FusedDepthwiseConv2dNative"}
INTO_FUSED = P("Prelu", P(FUSED, name="conv"), P(const=True, name="alpha"), name="prelu")
INTO_BARE = P("Prelu", P(frozenset(BARE), P(name="x"), P(const=True, name="w"), name="conv"),
              P(const=True, name="alpha"), name="prelu")
BARE_ATTRS = ("strides", "padding", "explicit_paddings", "data_format", "dilations",
              "use_cudnn_on_gpu", "transpose_a", "transpose_b")


class FusePrelu(Pass):
    """Decomposed PReLU => Prelu; Prelu into fused conv/matmul/depthwise."""

    name = "fuse_prelu"

    def run(self, graph: Graph) -> bool:
        """Rewrite in place; returns True iff anything changed."""
        changed = False
        for n in graph.topo_order():
            if n in graph and graph.op(n) in ("Add", "AddV2", "Sub"):
                changed |= _to_prelu(graph, n)
        for n in graph.nodes_by_op("Prelu"):
            changed |= _into_fused(graph, n) or _into_bare(graph, n)
        return changed


def _to_prelu(graph: Graph, n: str) -> bool:
    negate = graph.op(n) != "Sub"
    m = match(graph, n, ADD_PATTERN if negate else SUB_PATTERN)
    if m is None:
        return False
    reason = m.removable(graph)
    if reason:
        logger.debug("fuse_prelu: not at %s: %s", n, reason)
        return False
    alpha = const_value(graph, m.refs["alpha"])
    assert alpha is not None
    a_ref = m.refs["alpha"]
    if negate:
        a_ref = graph.add_const(np.negative(alpha), name=graph.unique_name(f"{n}/alpha"))
    t = graph.attrs(n).get("T", DType("DT_FLOAT"))
    rewrite_root(graph, m, "Prelu", [m.refs["x"], a_ref], {"T": t})
    return True


def _into_fused(graph: Graph, n: str) -> bool:
    m = match(graph, n, INTO_FUSED)
    if m is None or m.removable(graph):
        return False
    conv = m.node("conv")
    attrs = graph.attrs(conv)
    ops = [o.decode() if isinstance(o, bytes) else str(o) for o in attrs.get("fused_ops", [])]
    if [o.lower() for o in ops] != ["biasadd"] or int(attrs.get("num_args", 0)) != 1:
        return False
    if graph.op(conv) != "_FusedMatMul" and not is_nhwc(graph, conv):
        return False
    inputs = graph.inputs_of(conv)[:3] + [m.refs["alpha"]]
    new = dict(attrs)
    new.update(fused_common_attrs(DType(attrs.get("T", "DT_FLOAT")), ["BiasAdd", "Prelu"], 2,
                                  leakyrelu_alpha=float(attrs.get("leakyrelu_alpha", 0.2))))
    op = graph.op(conv)
    rewrite_root(graph, m, op, inputs, new)
    return True


def _into_bare(graph: Graph, n: str) -> bool:
    m = match(graph, n, INTO_BARE)
    if m is None or m.removable(graph):
        return False
    conv = m.node("conv")
    op = graph.op(conv)
    attrs = graph.attrs(conv)
    if op != "MatMul" and not is_nhwc(graph, conv):
        return False
    channels = channels_of(graph, op, m.refs["w"], attrs)
    if channels is None:
        return False
    t = DType(attrs.get("T", "DT_FLOAT"))
    bias = zero_bias(graph, conv, channels, t)
    new = fused_common_attrs(t, ["BiasAdd", "Prelu"], 2)
    new.update({k: attrs[k] for k in BARE_ATTRS if k in attrs})
    if op == "Conv2D":
        new.setdefault("filter_format", "HWIO")
    rewrite_root(graph, m, BARE[op], [m.refs["x"], m.refs["w"], bias, m.refs["alpha"]], new)
    return True


