"""Lowerings of Keras's core, activation, reshaping, merging and preprocessing layers."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Optional

import numpy as np

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.keras.lowering.activations import activation, softmax
from tfjs_lite.keras.lowering.builder import BOOL, FLOAT, INT32, KTensor
from tfjs_lite.keras.lowering.model import LayerCall
from tfjs_lite.keras.scaled_sum import untranslatable_reason

Out = list[KTensor]


def _act(call: LayerCall, x: KTensor, key: str = "activation") -> KTensor:
    return activation(call.builder, x, call.config.get(key), keras3=call.keras3, where=key)


def _bias(call: LayerCall) -> Any:
    return call.weight("bias") if call.option("use_bias", True) else None


def _static(dims: tuple[Optional[int], ...]) -> Optional[tuple[int, ...]]:
    """``dims`` when every one is known, else None."""
    known = tuple(d for d in dims if d is not None)
    return known if len(known) == len(dims) else None


def _axis(axis: Any, rank: int) -> int:
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    return int(axis) % rank


# --- core -------------------------------------------------------------------------------------


def identity(call: LayerCall) -> Out:
    """Dropout, noise and regularisation layers do nothing at inference; so does Identity."""
    return call.inputs[:1]


def dense(call: LayerCall) -> Out:
    y = call.builder.dense(call.inputs[0], call.weight("kernel"), _bias(call))
    return [_act(call, y)]


def activation_layer(call: LayerCall) -> Out:
    return [_act(call, call.inputs[0])]


def relu(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    max_value = call.config.get("max_value")
    slope = float(call.option("negative_slope", 0.0))
    threshold = float(call.option("threshold", 0.0))
    if slope == 0 and threshold == 0:
        if max_value is None:
            return [b.unary("Relu", x)]
        if float(max_value) == 6:
            return [b.unary("Relu6", x)]
        return [b.binary("Minimum", b.unary("Relu", x), b.scalar(float(max_value)))]
    # x >= threshold: x (clipped at max_value); below: negative_slope * (x - threshold)
    above = x if max_value is None else b.binary("Minimum", x, b.scalar(float(max_value)))
    below = b.scale(b.sub(x, b.scalar(threshold)), slope)
    mask = b.op("GreaterEqual", [x, b.scalar(threshold)], x.shape, dtype=BOOL)
    return [b.select(mask, above, below)]


def leaky_relu(call: LayerCall) -> Out:
    alpha = call.config.get("alpha", call.config.get("negative_slope", 0.3))
    return [call.builder.unary("LeakyRelu", call.inputs[0], alpha=float(0.3 if alpha is None else alpha))]


def prelu(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    alpha = call.weight("alpha")
    return [b.op("Prelu", [x, b.const(alpha, name="alpha")], x.shape)]


def layer_scale(call: LayerCall) -> Out:
    """keras.applications ConvNeXt's ``LayerScale``: ``inputs * gamma`` (gamma along the last axis)."""
    b, x = call.builder, call.inputs[0]
    return [b.mul(x, b.const(call.weight("gamma"), name="gamma"))]


def custom_scale(call: LayerCall) -> Out:
    """keras.applications InceptionResNetV2's ``CustomScaleLayer``: ``inputs[0] + inputs[1] * scale``."""
    b = call.builder
    problem = untranslatable_reason("CustomScaleLayer", call.config)
    if len(call.inputs) != 2:
        problem = f"takes 2 inputs, not {len(call.inputs)}"
    if problem:
        raise ModelFormatError(f"layer {call.name!r} (CustomScaleLayer): {problem}")
    return [b.add(call.inputs[0], b.scale(call.inputs[1], float(call.config["scale"])))]


def elu(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    alpha = float(call.option("alpha", 1.0))
    if alpha == 1.0:
        return [b.unary("Elu", x)]
    negative = b.unary("Elu", b.binary("Minimum", x, b.scalar(0.0)))
    return [b.add(b.unary("Relu", x), b.scale(negative, alpha))]


def thresholded_relu(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    theta = float(call.option("theta", 1.0))
    mask = b.cast(b.op("Greater", [x, b.scalar(theta)], x.shape, dtype=BOOL), x.dtype)
    return [b.mul(x, mask)]


def softmax_layer(call: LayerCall) -> Out:
    x = call.inputs[0]
    return [softmax(call.builder, x, _axis(call.option("axis", -1), x.rank))]


# --- reshaping ----------------------------------------------------------------------------------


def flatten(call: LayerCall) -> Out:
    x = call.inputs[0]
    rest = _static(x.shape[1:])
    size = None if rest is None else int(np.prod(rest, dtype=np.int64))
    if size is None:
        raise call.refuse("Flatten needs the static shape of its input")
    return [call.builder.reshape(x, (None, size))]


def reshape(call: LayerCall) -> Out:
    x = call.inputs[0]
    target = [int(d) for d in call.config.get("target_shape") or []]
    # Python ints: products of config values must not wrap around as int64 would.
    known = math.prod(d for d in target if d != -1)
    rest = _static(x.shape[1:])
    total = None if rest is None else math.prod(rest)
    if target.count(-1) > 1 or any(d < 1 and d != -1 for d in target):
        raise ModelFormatError(f"layer {call.name!r} (Reshape): target_shape {target} needs positive sizes "
                               "and at most one -1")
    if total is not None and (total % known if -1 in target else total != known):
        raise ModelFormatError(f"layer {call.name!r} (Reshape): cannot reshape {total} values per example "
                               f"to target_shape {target}")
    if -1 in target:
        if total is None:
            raise call.refuse("a -1 in target_shape needs the static shape of the input")
        target = [total // known if d == -1 else d for d in target]
    return [call.builder.reshape(x, (None, *target))]


def permute(call: LayerCall) -> Out:
    dims = [int(d) for d in call.config.get("dims") or []]
    return [call.builder.transpose(call.inputs[0], [0, *dims])]


def repeat_vector(call: LayerCall) -> Out:
    b = call.builder
    n = int(call.config["n"])
    return [b.tile(b.expand_dims(call.inputs[0], 1), [1, n, 1])]


def embedding(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    table = call.weight("embeddings")
    ids = b.cast(x, INT32)
    axis = b.const(np.int32(0), np.int32, name="axis")
    y = b.op("GatherV2", [b.const(table, name="embeddings"), ids, axis], x.shape + (table.shape[1],),
             {"Tparams": FLOAT, "Tindices": INT32, "Taxis": INT32, "batch_dims": 0}, dtype=FLOAT)
    if call.config.get("mask_zero"):  # id 0 is padding: the steps where it appears are masked
        mask = b.op("NotEqual", [ids, b.scalar(0, like=ids)], ids.shape, {"incompatible_shape_error": True},
                    dtype=BOOL)
        y = dataclasses.replace(y, mask=mask)
    return [y]


def masking(call: LayerCall) -> Out:
    """Steps whose features all equal ``mask_value`` are masked, and zeroed, as Keras's Masking."""
    b, x = call.builder, call.inputs[0]
    differs = b.op("NotEqual", [x, b.scalar(float(call.option("mask_value", 0.0)))], x.shape,
                   {"incompatible_shape_error": True}, dtype=BOOL)
    mask = b.op("Any", [differs, b.ints([x.rank - 1], name="axis")], x.shape[:-1], {"keep_dims": False, "Tidx": INT32},
                dtype=BOOL)
    return [dataclasses.replace(b.mul(x, b.cast(b.expand_dims(mask, -1), x.dtype)), mask=mask)]


# --- merging ------------------------------------------------------------------------------------


def _fold(call: LayerCall, op: str) -> KTensor:
    b = call.builder
    out = call.inputs[0]
    for x in call.inputs[1:]:
        out = b.binary(op, out, x)
    return out


def add(call: LayerCall) -> Out:
    return [_fold(call, "AddV2")]


def subtract(call: LayerCall) -> Out:
    return [call.builder.sub(call.inputs[0], call.inputs[1])]


def multiply(call: LayerCall) -> Out:
    return [_fold(call, "Mul")]


def average(call: LayerCall) -> Out:
    return [call.builder.scale(_fold(call, "AddV2"), 1 / len(call.inputs))]


def maximum(call: LayerCall) -> Out:
    return [_fold(call, "Maximum")]


def minimum(call: LayerCall) -> Out:
    return [_fold(call, "Minimum")]


def concatenate(call: LayerCall) -> Out:
    x = call.inputs[0]
    return [call.builder.concat(call.inputs, _axis(call.option("axis", -1), x.rank))]


def dot(call: LayerCall) -> Out:
    b = call.builder
    a, c = call.inputs[0], call.inputs[1]
    axes = call.config.get("axes", -1)
    axes = [axes, axes] if isinstance(axes, int) else list(axes)
    ax_a, ax_c = axes[0] % a.rank, axes[1] % c.rank
    if call.config.get("normalize"):
        a, c = _l2_normalize(b, a, ax_a), _l2_normalize(b, c, ax_c)
    if a.rank == 2 and c.rank == 2:
        return [b.reduce("Sum", b.mul(a, c), [1], keepdims=True)]
    if a.rank != 3 or c.rank != 3:
        raise call.refuse("Dot is lowered for 2-D and 3-D inputs only")
    # batched matmul contracting ax_a of a with ax_c of c
    y = b.batch_matmul(a, c, adj_x=(ax_a == 1), adj_y=(ax_c == 2))
    return [y]


def _l2_normalize(b: Any, x: KTensor, axis: int) -> KTensor:
    norm = b.reduce("Sum", b.mul(x, x), [axis], keepdims=True)
    return b.mul(x, b.unary("Rsqrt", b.binary("Maximum", norm, b.scalar(1e-12))))


def unit_normalization(call: LayerCall) -> Out:
    x = call.inputs[0]
    axes = call.option("axis", -1)
    axes = axes if isinstance(axes, list) else [axes]
    b = call.builder
    norm = b.reduce("Sum", b.mul(x, x), [a % x.rank for a in axes], keepdims=True)
    return [b.mul(x, b.unary("Rsqrt", b.binary("Maximum", norm, b.scalar(1e-12))))]


# --- preprocessing ------------------------------------------------------------------------------


def rescaling(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    scale = np.asarray(call.option("scale", 1.0), np.float32)
    offset = np.asarray(call.option("offset", 0.0), np.float32)
    x = b.cast(x, FLOAT)
    y = x if scale.size == 1 and float(scale) == 1 else b.mul(x, b.const(scale, name="scale"))
    return [y if offset.size == 1 and float(offset) == 0 else b.add(y, b.const(offset, name="offset"))]


def normalization(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    mean, variance = call.config.get("mean"), call.config.get("variance")
    if mean is None or variance is None:
        mean, variance = call.weight("mean"), call.weight("variance")
    mean = np.asarray(mean, np.float32)
    variance = np.asarray(variance, np.float32)
    axes = call.option("axis", -1)
    axes = [a % x.rank for a in (axes if isinstance(axes, (list, tuple)) else [axes])]
    shape = [1 if d is None or i not in axes else d for i, d in enumerate(x.shape)]
    mean = np.broadcast_to(mean, shape) if mean.size > 1 else mean.reshape(())
    std = np.maximum(np.sqrt(np.asarray(variance, np.float64)), 1e-7 if call.keras3 else np.finfo(np.float32).eps)
    inv = (1 / np.broadcast_to(std, shape) if std.size > 1 else 1 / std.reshape(())).astype(np.float32)
    if call.config.get("invert"):
        return [b.add(b.mul(x, b.const(1 / inv, name="std")), b.const(mean, name="mean"))]
    return [b.mul(b.sub(x, b.const(mean, name="mean")), b.const(inv, name="inv_std"))]
