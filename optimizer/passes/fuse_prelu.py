"""Recognise decomposed PReLU and fold ``Prelu`` into fused contractions.

Before => after:

1. ``Add|AddV2(Relu(x), Mul(c, Relu(Neg(x))))`` (either operand order; ``c`` a Const, which is
   ``-alpha``: tf.keras writes ``-alpha * relu(-x)`` and grappler/``fold_constants`` folds
   ``Neg(alpha)``) => ``Prelu(x, -c)``.
2. ``Sub(Relu(x), Mul(alpha, Relu(Neg(x))))`` => ``Prelu(x, alpha)``.
3. ``Prelu(F(x, W, b), alpha)`` with ``F`` a ``_FusedConv2D``/``_FusedMatMul``/
   ``FusedDepthwiseConv2dNative`` whose ``fused_ops`` is ``[BiasAdd]`` =>
   ``F(x, W, b, alpha)``, ``fused_ops [BiasAdd, Prelu]``, ``num_args 2`` (docs/formats.md §1.5);
   ``Prelu(C(x, W), alpha)`` with a bare ``Conv2D``/``MatMul``/``DepthwiseConv2dNative`` and
   Const ``W`` => the same with a zero bias.

Rewritten nodes keep the name of the pattern's last node (the Add/Sub, or the Prelu).

Algebra: ``relu(x) - a·relu(-x) = x if x > 0 else a·x = prelu(x, a)``.

Does NOT fire when an intermediate (Relu, Neg, Mul, the contraction) has another consumer or is
a graph output, the two ``x`` are different tensors, alpha is not Const, the fused op already has
an activation, or the contraction is not NHWC.
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._fusion import (
    CONV_ATTRS,
    MATMUL_ATTRS,
    channels_of,
    fused_common_attrs,
    is_nhwc,
    rewrite_root,
    zero_bias,
)
from tfjs_lite.optimizer._util import ADD_OPS, FUSED_OF, const_value
from tfjs_lite.optimizer.pass_base import Pass
from tfjs_lite.optimizer.pattern import Match, P, Rule, apply_rules

from tfjs_lite.ir import DType, Graph

__all__ = ["FusePrelu"]


def _neg_branch() -> P:
    return P("Mul", P(const=True, name="alpha"), P("Relu", P("Neg", P(name="x"))), commute=True)


ADD_PATTERN = P(ADD_OPS, P("Relu", P(name="x")), _neg_branch(), commute=True, name="add")
SUB_PATTERN = P("Sub", P("Relu", P(name="x")), _neg_branch(), name="sub")

INTO_FUSED = P("Prelu", P(frozenset(FUSED_OF.values()), name="conv"), P(const=True, name="alpha"),
               name="prelu")
INTO_BARE = P("Prelu", P(frozenset(FUSED_OF), P(name="x"), P(const=True, name="w"), name="conv"),
              P(const=True, name="alpha"), name="prelu")
BARE_ATTRS = tuple(dict.fromkeys(CONV_ATTRS + MATMUL_ATTRS))


class FusePrelu(Pass):
    """Decomposed PReLU => Prelu; Prelu into fused conv/matmul/depthwise."""

    name = "fuse_prelu"

    def run(self, graph: Graph) -> bool:
        """Rewrite in place; returns True iff anything changed."""
        changed = apply_rules(graph, self.name, [TO_PRELU])
        return apply_rules(graph, self.name, [INTO_FUSED_RULE, INTO_BARE_RULE]) or changed


def _to_prelu(graph: Graph, m: Match) -> None:
    n = m.root
    negate = graph.op(n) != "Sub"
    alpha = const_value(graph, m.refs["alpha"])
    assert alpha is not None
    a_ref = m.refs["alpha"]
    if negate:
        a_ref = graph.add_const(np.negative(alpha), name=graph.unique_name(f"{n}/alpha"))
    t = graph.attrs(n).get("T", DType("DT_FLOAT"))
    rewrite_root(graph, m, "Prelu", [m.refs["x"], a_ref], {"T": t})


def _fused_ops(attrs: dict) -> list[str]:
    return [o.decode() if isinstance(o, bytes) else str(o) for o in attrs.get("fused_ops", [])]


def _into_fused_reject(graph: Graph, m: Match) -> str | None:
    conv = m.node("conv")
    attrs = graph.attrs(conv)
    if [o.lower() for o in _fused_ops(attrs)] != ["biasadd"] or int(attrs.get("num_args", 0)) != 1:
        return f"{conv!r} already fuses {_fused_ops(attrs)}"
    if graph.op(conv) != "_FusedMatMul" and not is_nhwc(graph, conv):
        return f"{conv!r} is not NHWC"
    return None


def _into_fused(graph: Graph, m: Match) -> None:
    conv = m.node("conv")
    attrs = graph.attrs(conv)
    inputs = graph.inputs_of(conv)[:3] + [m.refs["alpha"]]
    new = dict(attrs)
    new.update(fused_common_attrs(DType(attrs.get("T", "DT_FLOAT")), ["BiasAdd", "Prelu"], 2,
                                  leakyrelu_alpha=float(attrs.get("leakyrelu_alpha", 0.2))))
    rewrite_root(graph, m, graph.op(conv), inputs, new)


def _into_bare_reject(graph: Graph, m: Match) -> str | None:
    conv = m.node("conv")
    op = graph.op(conv)
    if op != "MatMul" and not is_nhwc(graph, conv):
        return f"{conv!r} is not NHWC"
    if channels_of(graph, op, m.refs["w"], graph.attrs(conv)) is None:
        return f"the channel count of {conv!r} is unknown"
    return None


def _into_bare(graph: Graph, m: Match) -> None:
    conv = m.node("conv")
    op = graph.op(conv)
    attrs = graph.attrs(conv)
    channels = channels_of(graph, op, m.refs["w"], attrs)
    assert channels is not None
    t = DType(attrs.get("T", "DT_FLOAT"))
    bias = zero_bias(graph, conv, channels, t)
    new = fused_common_attrs(t, ["BiasAdd", "Prelu"], 2)
    new.update({k: attrs[k] for k in BARE_ATTRS if k in attrs})
    if op == "Conv2D":
        new.setdefault("filter_format", "HWIO")
    rewrite_root(graph, m, FUSED_OF[op], [m.refs["x"], m.refs["w"], bias, m.refs["alpha"]], new)


TO_PRELU = Rule((ADD_PATTERN, SUB_PATTERN), _to_prelu)
INTO_FUSED_RULE = Rule((INTO_FUSED,), _into_fused, _into_fused_reject)
INTO_BARE_RULE = Rule((INTO_BARE,), _into_bare, _into_bare_reject)
