"""Lowerings of BatchNormalization, LayerNormalization and GroupNormalization.

Batch normalisation at inference is an affine map per channel, emitted as ``Mul`` + ``AddV2`` with
folded constants (``s = γ/√(σ²+ε)``, ``o = β − μ·s``, computed in float64): the optimizer's
``fold_batch_norm`` then folds it into the preceding convolution or matmul, as the official
converter's Grappler run does.
"""

from __future__ import annotations

import numpy as np

from tfjs_lite.keras.lowering.builder import KTensor
from tfjs_lite.keras.lowering.model import LayerCall

Out = list[KTensor]


def _axes(call: LayerCall, rank: int) -> list[int]:
    axis = call.option("axis", -1)
    return sorted(int(a) % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis]))


def _param(call: LayerCall, leaf: str, flag: str, default: float, size: int) -> np.ndarray:
    if call.option(flag, True):
        return call.weight(leaf).astype(np.float64)
    return np.full(size, default, np.float64)


def _broadcastable(values: np.ndarray, x: KTensor, axes: list[int]) -> np.ndarray:
    shape = [1] * x.rank
    for axis, size in zip(axes, values.shape if values.ndim == len(axes) else [values.size]):
        shape[axis] = size
    if len(axes) == 1 and axes[0] == x.rank - 1:
        return values.reshape(-1).astype(np.float32)
    return values.reshape(shape).astype(np.float32)


def batch_normalization(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    axes = _axes(call, x.rank)
    mean = call.weight("moving_mean").astype(np.float64)
    variance = call.weight("moving_variance").astype(np.float64)
    gamma = _param(call, "gamma", "scale", 1.0, mean.size)
    beta = _param(call, "beta", "center", 0.0, mean.size)
    scale = gamma / np.sqrt(variance + float(call.option("epsilon", 1e-3)))
    offset = beta - mean * scale
    y = b.mul(x, b.const(_broadcastable(scale, x, axes), name="scale"))
    return [b.add(y, b.const(_broadcastable(offset, x, axes), name="offset"))]


def _normalize(call: LayerCall, x: KTensor, axes: list[int], epsilon: float) -> KTensor:
    """``(x − mean) / √(var + ε)`` over ``axes`` (population variance, as Keras)."""
    b = call.builder
    mean = b.reduce("Mean", x, axes, keepdims=True)
    variance = b.reduce("Mean", b.binary("SquaredDifference", x, mean), axes, keepdims=True)
    return b.mul(b.sub(x, mean), b.unary("Rsqrt", b.add(variance, b.scalar(epsilon))))


def _affine(call: LayerCall, y: KTensor, axes: list[int], x: KTensor) -> KTensor:
    b = call.builder
    if call.option("scale", True):
        y = b.mul(y, b.const(_broadcastable(call.weight("gamma"), x, axes), name="gamma"))
    if call.option("center", True):
        y = b.add(y, b.const(_broadcastable(call.weight("beta"), x, axes), name="beta"))
    return y


def layer_normalization(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    axes = _axes(call, x.rank)
    epsilon = float(call.option("epsilon", 1e-3))
    if call.config.get("rms_scaling"):  # Keras 3: x / √(mean(x²) + ε) · γ, no centring
        ms = b.reduce("Mean", b.mul(x, x), axes, keepdims=True)
        y = b.mul(x, b.unary("Rsqrt", b.add(ms, b.scalar(epsilon))))
        return [b.mul(y, b.const(_broadcastable(call.weight("gamma"), x, axes), name="gamma"))]
    return [_affine(call, _normalize(call, x, axes, epsilon), axes, x)]


def group_normalization(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    axis = _axes(call, x.rank)[0]
    if axis != x.rank - 1:
        raise call.refuse("GroupNormalization is lowered for axis=-1 only")
    channels = x.shape[-1]
    groups = int(call.option("groups", 32))
    if channels is None or any(d is None for d in x.shape[1:]):
        raise call.refuse("GroupNormalization needs the static shape of its input")
    grouped = b.reshape(x, (None, *x.shape[1:-1], groups, channels // groups))
    y = _normalize(call, grouped, [i for i in range(1, grouped.rank) if i != grouped.rank - 2],
                   float(call.option("epsilon", 1e-3)))
    return [_affine(call, b.reshape(y, x.shape), [x.rank - 1], x)]
