"""Lowerings of MultiHeadAttention, Attention (dot-product / Luong) and AdditiveAttention (Bahdanau).

All three compute ``softmax(scores(q, k)) · v`` with ``BatchMatMulV2``; a causal mask (call option
``use_causal_mask``) adds −1e9 above the diagonal before the softmax, as Keras's masked softmax.
Dropout on the attention weights is an inference no-op. ``return_attention_scores`` is refused.

Padding masks (Keras's ``[query_mask, value_mask]``: from Embedding(mask_zero)/Masking upstream in
tf.keras 2, an explicit ``mask=`` list in Keras 3) are applied by Attention and AdditiveAttention
as Keras does: one −1e9 for every score whose value step (or causal position) is masked, and the
output of a masked query step multiplied by 0; the output carries the query mask. Masked inputs of
MultiHeadAttention are refused (not lowered yet), never ignored.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

from tfjs_lite.keras.lowering.activations import softmax
from tfjs_lite.keras.lowering.builder import Builder, KTensor
from tfjs_lite.keras.lowering.model import LayerCall
from tfjs_lite.limits import MAX_SHAPE_DERIVED_ELEMENTS

Out = list[KTensor]


def _check_kwargs(call: LayerCall, masks_allowed: tuple[str, ...] = ()) -> None:
    for key in ("attention_mask", "mask", "query_mask", "value_mask", "key_mask"):
        if key not in masks_allowed and call.kwargs.get(key) is not None:
            raise call.refuse(f"the {key} argument (padding masks) is not lowered")
    if call.kwargs.get("return_attention_scores"):
        raise call.refuse("return_attention_scores=True is not lowered")


def _causal_allowed(b: Builder, scores: KTensor, call: LayerCall) -> Optional[KTensor]:
    """The [Tq, Tk] bool constant of the causal mask (True: attended), or None without one."""
    if not call.kwargs.get("use_causal_mask"):
        return None
    tq, tk = scores.shape[-2], scores.shape[-1]
    if tq is None or tk is None:
        raise call.refuse("a causal mask needs static sequence lengths")
    if tq * tk > MAX_SHAPE_DERIVED_ELEMENTS:
        raise call.refuse(f"a {tq} x {tk} causal mask is over the limit of {MAX_SHAPE_DERIVED_ELEMENTS} elements")
    return b.const(np.tril(np.ones((tq, tk), bool)), np.bool_, name="causal_mask")


def _masked_scores(b: Builder, scores: KTensor, call: LayerCall, value_mask: Optional[KTensor]) -> KTensor:
    """``scores - 1e9 * not(allowed)``, allowed = the value mask (per key step) and the causal mask, as
    Keras's ``_apply_scores``: one subtraction however many masks exclude a score."""
    allowed = _causal_allowed(b, scores, call)
    if value_mask is not None:
        steps = b.expand_dims(value_mask, -2)  # [B, 1, Tv]
        allowed = steps if allowed is None else b.op("LogicalAnd", [steps, allowed],
                                                     (steps.shape[0], allowed.shape[0], steps.shape[2]),
                                                     dtype=steps.dtype)
    if allowed is None:
        return scores
    padding = b.cast(b.op("LogicalNot", [allowed], allowed.shape, dtype=allowed.dtype), scores.dtype)
    return b.sub(scores, b.mul(padding, b.scalar(1e9)))


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


def _padding_masks(call: LayerCall) -> tuple[Optional[KTensor], Optional[KTensor]]:
    """(query mask, value mask): Keras 3's explicit ``mask=[q, v]`` or the inputs' own masks."""
    explicit = call.kwargs.get("mask")
    if isinstance(explicit, list):
        masks = [m if isinstance(m, KTensor) else None for m in explicit] + [None, None]
        return masks[0], masks[1]
    if explicit is not None:
        raise call.refuse("the mask argument is not a [query_mask, value_mask] list")
    query = call.inputs[0].mask if call.inputs else None
    value = call.inputs[1].mask if len(call.inputs) > 1 else None
    return query, value


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
    if any(t.mask is not None for t in (query, value, key)):
        raise call.refuse("masked inputs (Embedding mask_zero / Masking upstream) are not lowered")
    if query.rank != 3 or key.rank != 3 or value.rank != 3:
        raise call.refuse("MultiHeadAttention is lowered for [batch, time, features] inputs")
    if call.weight("attention_output/kernel").ndim != 3:
        raise call.refuse("an output_shape of more than one dimension is not lowered")
    q = _project(call, query, "query", "abc,cde->abde")
    k = _project(call, key, "key", "abc,cde->abde")
    v = _project(call, value, "value", "abc,cde->abde")
    q = b.scale(q, 1 / math.sqrt(float(call.weight("query/kernel").shape[-1])))
    scores = _masked_scores(b, b.einsum("aecd,abcd->acbe", k, q), call, None)  # [B, H, Tq, Tk]
    context = b.einsum("acbe,aecd->abcd", softmax(b, scores), v)  # [B, Tq, H, V]
    return [_project(call, context, "attention_output", "abcd,cde->abe")]


def _qvk(call: LayerCall) -> tuple[KTensor, KTensor, KTensor]:
    _check_kwargs(call, masks_allowed=("mask",))
    if len(call.inputs) < 2:
        raise call.refuse("expects [query, value] or [query, value, key]")
    query, value = call.inputs[0], call.inputs[1]
    return query, value, call.inputs[2] if len(call.inputs) > 2 else value


def _attend(call: LayerCall, scores: KTensor, value: KTensor) -> Out:
    """softmax(masked scores) · value, masked query steps zeroed; the output keeps the query mask."""
    b = call.builder
    query_mask, value_mask = _padding_masks(call)
    out = b.batch_matmul(softmax(b, _masked_scores(b, scores, call, value_mask)), value)
    if query_mask is None:
        return [out]
    out = b.mul(out, b.cast(b.expand_dims(query_mask, -1), out.dtype))
    return [dataclasses.replace(out, mask=query_mask)]


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
    return _attend(call, scores, value)


def additive_attention(call: LayerCall) -> Out:
    b = call.builder
    query, value, key = _qvk(call)
    summed = b.unary("Tanh", b.add(b.expand_dims(query, 2), b.expand_dims(key, 1)))  # [B, Tq, Tv, D]
    if call.option("use_scale", True):
        summed = b.mul(summed, b.const(call.weight("scale"), name="scale"))
    scores = b.reduce("Sum", summed, [-1], keepdims=False)
    return _attend(call, scores, value)
