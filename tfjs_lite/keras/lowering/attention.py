"""Lowerings of MultiHeadAttention, Attention (dot-product / Luong) and AdditiveAttention (Bahdanau).

All three compute ``softmax(scores(q, k)) · v`` with ``BatchMatMulV2``; a causal mask (call option
``use_causal_mask``) adds −1e9 above the diagonal before the softmax, as Keras's masked softmax.
Dropout on the attention weights is an inference no-op. Padding masks and
``return_attention_scores`` are refused.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from tfjs_lite.keras.lowering.activations import softmax
from tfjs_lite.keras.lowering.builder import Builder, KTensor
from tfjs_lite.keras.lowering.model import LayerCall
from tfjs_lite.limits import MAX_SHAPE_DERIVED_ELEMENTS

Out = list[KTensor]


def _check_kwargs(call: LayerCall) -> None:
    for key in ("attention_mask", "mask", "query_mask", "value_mask", "key_mask"):
        if call.kwargs.get(key) is not None:
            raise call.refuse(f"the {key} argument (padding masks) is not lowered")
    if call.kwargs.get("return_attention_scores"):
        raise call.refuse("return_attention_scores=True is not lowered")


def _causal(b: Builder, scores: KTensor, call: LayerCall) -> KTensor:
    if not call.kwargs.get("use_causal_mask"):
        return scores
    tq, tk = scores.shape[-2], scores.shape[-1]
    if tq is None or tk is None:
        raise call.refuse("a causal mask needs static sequence lengths")
    if tq * tk > MAX_SHAPE_DERIVED_ELEMENTS:
        raise call.refuse(f"a {tq} x {tk} causal mask is over the limit of {MAX_SHAPE_DERIVED_ELEMENTS} elements")
    allowed = np.tril(np.ones((tq, tk), bool))
    return b.add(scores, b.const(np.where(allowed, 0.0, -1e9).astype(np.float32), name="causal_mask"))


def _argument(call: LayerCall, index: int, key: str) -> Optional[KTensor]:
    if len(call.inputs) > index:
        return call.inputs[index]
    value = call.kwargs.get(key)
    return value if isinstance(value, KTensor) else None


def _project(call: LayerCall, x: KTensor, segment: str, equation: str) -> KTensor:
    """One EinsumDense of the layer (``kernel`` and, with ``use_bias``, ``bias``), as Keras writes it."""
    b = call.builder
    y = b.einsum(equation, x, b.const(call.weight(f"{segment}/kernel"), name=f"{segment}_kernel"))
    if call.option("use_bias", True):
        y = b.add(y, b.const(call.weight(f"{segment}/bias"), name=f"{segment}_bias"))
    return y


def multi_head_attention(call: LayerCall) -> Out:
    """Keras's own einsum formulation for [batch, time, features] inputs: projections
    ``abc,cde->abde`` to [batch, time, heads, size], scores ``aecd,abcd->acbe``, context
    ``acbe,aecd->abcd``, output ``abcd,cde->abe`` — one Einsum each, as the official converter's
    traced graph has them, which TF.js runs directly."""
    _check_kwargs(call)
    axes = call.config.get("attention_axes")
    if axes not in (None, [1], 1, (1,)):
        raise call.refuse(f"attention_axes={axes} is not lowered")
    if call.config.get("use_gate"):
        raise call.refuse("use_gate=True is not lowered")
    b = call.builder
    query = call.inputs[0]
    value = _argument(call, 1, "value")
    key = _argument(call, 2, "key") or value
    if value is None or key is None:
        raise call.refuse("the value input is missing")
    if query.rank != 3 or key.rank != 3 or value.rank != 3:
        raise call.refuse("MultiHeadAttention is lowered for [batch, time, features] inputs")
    if call.weight("attention_output/kernel").ndim != 3:
        raise call.refuse("an output_shape of more than one dimension is not lowered")
    q = _project(call, query, "query", "abc,cde->abde")
    k = _project(call, key, "key", "abc,cde->abde")
    v = _project(call, value, "value", "abc,cde->abde")
    q = b.scale(q, 1 / math.sqrt(float(call.weight("query/kernel").shape[-1])))
    scores = _causal(b, b.einsum("aecd,abcd->acbe", k, q), call)  # [B, H, Tq, Tk]
    context = b.einsum("acbe,aecd->abcd", softmax(b, scores), v)  # [B, Tq, H, V]
    return [_project(call, context, "attention_output", "abcd,cde->abe")]


def _qvk(call: LayerCall) -> tuple[KTensor, KTensor, KTensor]:
    _check_kwargs(call)
    if len(call.inputs) < 2:
        raise call.refuse("expects [query, value] or [query, value, key]")
    query, value = call.inputs[0], call.inputs[1]
    return query, value, call.inputs[2] if len(call.inputs) > 2 else value


def attention(call: LayerCall) -> Out:
    b = call.builder
    query, value, key = _qvk(call)
    if call.config.get("score_mode", "dot") == "concat":
        scores = b.reduce("Sum", b.unary("Tanh", b.add(b.expand_dims(query, 2), b.expand_dims(key, 1))), [-1],
                          keepdims=False)
        scores = b.mul(scores, b.const(call.weight("concat_score_weight"), name="concat_score_weight"))
    else:
        scores = b.batch_matmul(query, key, adj_y=True)
    if call.option("use_scale", False):
        scores = b.mul(scores, b.const(call.weight("scale"), name="scale"))
    return [b.batch_matmul(softmax(b, _causal(b, scores, call)), value)]


def additive_attention(call: LayerCall) -> Out:
    b = call.builder
    query, value, key = _qvk(call)
    summed = b.unary("Tanh", b.add(b.expand_dims(query, 2), b.expand_dims(key, 1)))  # [B, Tq, Tv, D]
    if call.option("use_scale", True):
        summed = b.mul(summed, b.const(call.weight("scale"), name="scale"))
    scores = b.reduce("Sum", summed, [-1], keepdims=False)
    return [b.batch_matmul(softmax(b, _causal(b, scores, call)), value)]
