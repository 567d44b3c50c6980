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


def _heads(call: LayerCall, x: KTensor, segment: str, heads: int) -> KTensor:
    """EinsumDense ``[B,T,D] × [D,H,K] + [H,K]`` → ``[B,H,T,K]``."""
    b = call.builder
    kernel = call.weight(f"{segment}/kernel")
    size = int(kernel.shape[-1])
    bias = call.weight(f"{segment}/bias").reshape(-1) if call.option("use_bias", True) else None
    y = b.dense(x, kernel.reshape(kernel.shape[0], -1), bias)
    return b.transpose(b.reshape(y, (None, x.shape[1], heads, size)), [0, 2, 1, 3])


def multi_head_attention(call: LayerCall) -> Out:
    _check_kwargs(call)
    b = call.builder
    query = call.inputs[0]
    value = _argument(call, 1, "value")
    key = _argument(call, 2, "key") or value
    if value is None or key is None:
        raise call.refuse("the value input is missing")
    if query.rank != 3 or query.shape[1] is None or key.shape[1] is None:
        raise call.refuse("MultiHeadAttention is lowered for [batch, time, features] inputs with a static time length")
    axes = call.config.get("attention_axes")
    if axes not in (None, [1], 1, (1,)):
        raise call.refuse(f"attention_axes={axes} is not lowered")
    if call.config.get("use_gate"):
        raise call.refuse("use_gate=True is not lowered")
    heads = int(call.config["num_heads"])
    q = _heads(call, query, "query", heads)
    k = _heads(call, key, "key", heads)
    v = _heads(call, value, "value", heads)
    q = b.scale(q, 1 / math.sqrt(float(q.shape[-1])))  # type: ignore[arg-type]
    scores = _causal(b, b.batch_matmul(q, k, adj_y=True), call)
    context = b.batch_matmul(softmax(b, scores), v)  # [B, H, Tq, V]
    merged = b.reshape(b.transpose(context, [0, 2, 1, 3]), (None, query.shape[1], heads * int(v.shape[-1])))
    kernel = call.weight("attention_output/kernel")
    bias = call.weight("attention_output/bias") if call.option("use_bias", True) else None
    return [b.dense(merged, kernel.reshape(-1, kernel.shape[-1]), bias)]


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
