"""Fold inference batch normalisation (and its Mul/Add form) into contraction weights.

Before => after:

* ``FusedBatchNorm|V2|V3(C(x, W) [+ b0], γ, β, μ, σ²)`` (``is_training=False``)
* ``Add|AddV2|BiasAdd(Mul(C(x, W) [+ b0], s), o)``, ``Mul(C(x, W) [+ b0], s)``

=> ``BiasAdd(C(x, W'), b')`` where ``C`` is ``Conv2D``, ``DepthwiseConv2dNative`` or ``MatMul``
with Const ``W``, ``[+ b0]`` an optional ``BiasAdd/Add/AddV2`` of a Const, and the BiasAdd takes
the name of the last matched node (so ``fuse_conv`` then yields a node named like the BN).

Algebra (per output channel ``o``; computed in float64, stored in ``W``'s dtype)::

    s  = γ / sqrt(σ² + ε)            (Mul form: s given)
    o  = β − μ·s                     (Mul form: o given, 0 if absent)
    W'[..., o] = W[..., o] · s[o]    (depthwise: channel o = in·multiplier + m; MatMul: column o)
    b' = b0·s + o

Reassociating ``(x*W)*s`` as ``x*(W*s)`` changes float32 rounding, so equality holds to ~1e-5
relative, not bit for bit.

Does NOT fire when: ``W`` or any BN parameter is not Const, the BN is in training mode (or has
empty mean/variance), a BN output other than ``y`` is used, the data format is not NHWC, the scale
or offset is not per-channel (``(C,)``, scalar, or ``(1,…,1,C)``), or any matched intermediate
(the contraction, the bias add, the Mul) has another consumer or is a graph output — the weights
are shared with that consumer, so they cannot change.
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._fusion import channels_of, is_nhwc, rewrite_root
from tfjs_lite.optimizer._util import (
    ADD_OPS,
    BATCH_NORM_OPS,
    CONTRACTION_OPS,
    const_value,
    output_refs,
)
from tfjs_lite.optimizer.pass_base import Pass
from tfjs_lite.optimizer.pattern import Match, P, Rule, apply_rules

from tfjs_lite.ir import DType, Graph, TensorRef, numpy_dtype

__all__ = ["FoldBatchNorm"]

BIAS_OPS = ADD_OPS | {"BiasAdd"}


def _contraction_patterns() -> list[P]:
    conv = P(CONTRACTION_OPS, P(name="x"), P(const=True, name="w"), name="conv")
    biased = P(BIAS_OPS, conv, P(const=True, name="b0"), name="bias0")
    biased_c = P(ADD_OPS, P(const=True, name="b0"), conv, name="bias0")
    return [biased, biased_c, conv]


def _patterns() -> list[P]:
    pats = []
    for c in _contraction_patterns():
        consts = [P(const=True, name=k) for k in ("gamma", "beta", "mean", "var")]
        pats.append(P(BATCH_NORM_OPS, c, *consts, name="bn"))
    for c in _contraction_patterns():
        mul = P("Mul", c, P(const=True, name="s"), commute=True, name="mul")
        pats.append(P(BIAS_OPS, mul, P(const=True, name="o"), name="add"))
        pats.append(P(ADD_OPS, P(const=True, name="o"), mul, name="add"))
        pats.append(mul)
    return pats


PATTERNS = _patterns()


class FoldBatchNorm(Pass):
    """Fold batch norm / per-channel scale-and-shift into the preceding contraction."""

    name = "fold_batch_norm"

    def run(self, graph: Graph) -> bool:
        """Fold every eligible pattern; returns True iff any was folded."""
        # Consumers first, so the longest chain (Add(Mul(BiasAdd(conv)))) is matched at its end.
        return apply_rules(graph, self.name, [RULE], consumers_first=True)


def _vector(value: np.ndarray | None, channels: int) -> np.ndarray | None:
    """``value`` as a float64 per-channel vector, or None if it is not per-channel."""
    if value is None or value.dtype.kind != "f":
        return None
    if value.size == 1:
        return np.full(channels, float(value.reshape(-1)[0]))
    if value.shape[-1:] == (channels,) and value.size == channels:
        return value.reshape(-1).astype(np.float64)
    return None


def _bn_reject(graph: Graph, m: Match) -> str | None:
    conv = m.node("conv")
    op = graph.op(conv)
    if op != "MatMul" and not is_nhwc(graph, conv):
        return "contraction is not NHWC"
    channels = channels_of(graph, op, m.refs["w"], graph.attrs(conv))
    if channels is None:
        return "weights are not a Const of the expected rank"
    if "bn" in m.refs:
        bn = m.node("bn")
        attrs = graph.attrs(bn)
        if attrs.get("is_training", False) or not is_nhwc(graph, bn):
            return "batch norm is in training mode or not NHWC"
        if any(r.port != 0 for r in output_refs(graph, bn)):
            return "batch norm statistics outputs are used"
        names: tuple[str, ...] = ("gamma", "beta", "mean", "var")
    else:
        names = ("s", "o") if "o" in m.refs else ("s",)
    for k in names + (("b0",) if "b0" in m.refs else ()):
        if _vector(const_value(graph, m.refs[k]), channels) is None:
            return f"{k} is not a per-channel float Const"
    if "bias0" in m.refs and graph.op(m.node("bias0")) == "BiasAdd" and not is_nhwc(graph, m.node("bias0")):
        return "bias add is not NHWC"
    if "add" in m.refs and graph.op(m.node("add")) == "BiasAdd" and not is_nhwc(graph, m.node("add")):
        return "bias add is not NHWC"
    rank = 2 if op == "MatMul" else 4
    for k in ("s", "o", "b0"):
        v = const_value(graph, m.refs[k]) if k in m.refs else None
        if v is not None and v.ndim > rank:
            return f"{k} has a higher rank than the output"
    return None


def _scale_offset(graph: Graph, m: Match) -> tuple[np.ndarray, np.ndarray]:
    conv = m.node("conv")
    channels = channels_of(graph, graph.op(conv), m.refs["w"], graph.attrs(conv))
    assert channels is not None

    def vec(k: str) -> np.ndarray:
        v = _vector(const_value(graph, m.refs[k]), channels)
        assert v is not None
        return v

    b0 = vec("b0") if "b0" in m.refs else np.zeros(channels)
    if "bn" in m.refs:
        eps = float(graph.attrs(m.node("bn")).get("epsilon", 1e-4))
        scale = vec("gamma") / np.sqrt(vec("var") + eps)
        offset = vec("beta") + (b0 - vec("mean")) * scale
    else:
        scale = vec("s")
        offset = b0 * scale + (vec("o") if "o" in m.refs else 0.0)
    return scale, offset


def _scaled_weights(op: str, w: np.ndarray, scale: np.ndarray, transpose_b: bool) -> np.ndarray:
    if op == "Conv2D":
        factor = scale
    elif op == "DepthwiseConv2dNative":
        factor = scale.reshape(w.shape[2], w.shape[3])
    else:
        factor = scale[:, None] if transpose_b else scale
    # Multiplied in float64 and rounded once to w's dtype, the same bytes as
    # ``(w.astype(float64) * factor).astype(w.dtype)``; numpy converts in small buffered blocks,
    # so no float64 copy of the whole kernel is ever allocated.
    out = np.empty(w.shape, dtype=w.dtype)
    np.multiply(w, factor, out=out, dtype=np.float64)
    out.setflags(write=False)  # ours alone: Graph.add_const keeps it without a defensive copy
    return out


def _rewrite(graph: Graph, m: Match) -> None:
    scale, offset = _scale_offset(graph, m)
    conv = m.node("conv")
    op = graph.op(conv)
    w = const_value(graph, m.refs["w"])
    assert w is not None
    new_w = _scaled_weights(op, w, scale, bool(graph.attrs(conv).get("transpose_b", False)))
    w_ref = graph.add_const(new_w, name=graph.unique_name(f"{conv}_weights"))
    t = DType(graph.attrs(conv).get("T", "DT_FLOAT"))
    b_ref = graph.add_const(offset.astype(numpy_dtype(t)), name=graph.unique_name(f"{conv}_bn_offset"))
    graph.set_input(conv, 1, w_ref)
    # The contraction survives (with new weights); every other matched node goes.
    m.interior = [n for n in m.interior if n != conv]
    rewrite_root(graph, m, "BiasAdd", [TensorRef(conv, 0), b_ref],
                 {"T": t, "data_format": "NHWC"})


RULE = Rule(tuple(PATTERNS), _rewrite, _bn_reject)
