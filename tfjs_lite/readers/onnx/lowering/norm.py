"""Normalisations. All are written with broadcasting arithmetic and reductions in ONNX's own
axis order (per-channel constants shaped ``[C, 1, ..., 1]``), so they need no transposes at all:
the layout pass moves the constants along with the data.
"""

from __future__ import annotations

import numpy as np

from tfjs_lite.ir.attrs import DType
from tfjs_lite.readers.onnx.context import LoweringContext, V
from tfjs_lite.readers.onnx.lowering import lowers
from tfjs_lite.readers.onnx.lowering.elementwise import binary, unary

__all__ = ["mean_over", "normalize"]


def mean_over(ctx: LoweringContext, x: V, axes: list[int]) -> V:
    shape = None if x.shape is None else tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    return ctx.emit("Mean", [x, ctx.int_const(axes)], {"T": DType(x.dtype), "Tidx": DType("DT_INT32"),
                                                       "keep_dims": True}, shape=shape)


def normalize(ctx: LoweringContext, x: V, axes: list[int], epsilon: float) -> V:
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` (population variance, as ONNX)."""
    centred = binary(ctx, "Sub", x, mean_over(ctx, x, axes))
    variance = mean_over(ctx, unary(ctx, "Square", centred), axes)
    inv_std = unary(ctx, "Rsqrt", binary(ctx, "AddV2", variance, ctx.const(np.float32(epsilon))))
    return binary(ctx, "Mul", centred, inv_std)


def _per_channel(ctx: LoweringContext, v: V | None, rank: int) -> V | None:
    """A ``[C]`` parameter reshaped to broadcast over axis 1 of a rank-``rank`` tensor."""
    if v is None:
        return None
    if v.value is not None:
        return ctx.const(v.value.reshape(-1, *[1] * (rank - 2)).astype(np.float32))
    return ctx.emit("Reshape", [v, ctx.int_const([-1, *[1] * (rank - 2)])],
                    {"T": DType(v.dtype), "Tshape": DType("DT_INT32")}, shape=None)


def _affine(ctx: LoweringContext, y: V, scale: V | None, bias: V | None) -> V:
    if scale is not None:
        y = binary(ctx, "Mul", y, scale, np.multiply)
    if bias is not None:
        y = binary(ctx, "AddV2", y, bias, np.add)
    return y


@lowers("BatchNormalization")
def _batch_norm(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    if ctx.attr("training_mode", 0):
        raise ctx.unsupported("training-mode BatchNormalization is not supported")
    rank = ctx.rank_of(x)
    epsilon = float(ctx.attr("epsilon", 1e-5))
    params = [ctx.const_input(i, name) for i, name in enumerate(("", "scale", "bias", "mean", "var")) if i]
    scale, bias, mean, var = (np.asarray(p, dtype=np.float64) for p in params)
    multiplier = scale / np.sqrt(var + np.float64(np.float32(epsilon)))
    shift = bias - mean * multiplier
    shape = (-1, *[1] * (rank - 2))
    y = binary(ctx, "Mul", x, ctx.const(multiplier.astype(np.float32).reshape(shape)), np.multiply)
    return [binary(ctx, "AddV2", y, ctx.const(shift.astype(np.float32).reshape(shape)), np.add)]


@lowers("InstanceNormalization")
def _instance_norm(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    y = normalize(ctx, x, list(range(2, rank)), float(ctx.attr("epsilon", 1e-5)))
    return [_affine(ctx, y, _per_channel(ctx, ctx.input(1), rank), _per_channel(ctx, ctx.input(2), rank))]


@lowers("LayerNormalization")
def _layer_norm(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    if len([o for o in ctx.node.outputs[1:] if o]):  # type: ignore[union-attr]
        raise ctx.unsupported("LayerNormalization's Mean/InvStdDev outputs are not supported")
    axis = ctx.axis(int(ctx.attr("axis", -1)), rank)
    y = normalize(ctx, x, list(range(axis, rank)), float(ctx.attr("epsilon", 1e-5)))
    return [_affine(ctx, y, ctx.input(1), ctx.input(2))]


@lowers("GroupNormalization")
def _group_norm(ctx: LoweringContext) -> list[V]:
    """Group statistics without a reshape (which would pin the tensor to NCHW): per-channel means
    over the spatial axes, averaged within each group by a 1x1 convolution with a constant
    block matrix (every channel of a group covers the same number of positions)."""
    x = ctx.input(0)
    assert x is not None
    groups = int(ctx.attr("num_groups"))
    rank = ctx.rank_of(x)
    channels = x.shape[1] if x.shape is not None else None
    if channels is None or channels % groups or rank < 3:
        raise ctx.unsupported("GroupNormalization needs a known channel count divisible by num_groups")
    group_of = np.arange(channels) // (channels // groups)
    averaging = (group_of[:, None] == group_of[None, :]).astype(np.float32) / (channels // groups)
    spatial = list(range(2, rank))
    group_mean = pointwise(ctx, mean_over(ctx, x, spatial), averaging)
    centred = binary(ctx, "Sub", x, group_mean)
    variance = pointwise(ctx, mean_over(ctx, unary(ctx, "Square", centred), spatial), averaging)
    inv_std = unary(ctx, "Rsqrt", binary(ctx, "AddV2", variance,
                                         ctx.const(np.float32(ctx.attr("epsilon", 1e-5)))))
    y = binary(ctx, "Mul", centred, inv_std)
    scale, bias = ctx.const_input(1, "scale"), ctx.const_input(2, "bias")
    if scale is None or bias is None:
        raise ctx.unsupported("GroupNormalization needs its scale and bias")
    per_group = ctx.attr("_per_group", 0) or ctx.opset < 21  # opset 18 (and our rewrite): one value per group
    if per_group and scale is not None and scale.size == groups and groups != channels:
        scale, bias = np.repeat(scale, channels // groups), np.repeat(bias, channels // groups)
    return [_affine(ctx, y, _per_channel(ctx, ctx.const(scale), rank), _per_channel(ctx, ctx.const(bias), rank))]


def pointwise(ctx: LoweringContext, x: V, matrix: np.ndarray) -> V:
    """``y[:, o] = sum_i matrix[o, i] * x[:, i]`` on a ``[N, C, 1, ...]`` tensor, as a 1x1 Conv2D."""
    rank = ctx.rank_of(x)
    nhwc = ctx.to_channels_last(x)
    if rank != 4:
        nhwc = ctx.emit("Reshape", [nhwc, ctx.int_const([-1, 1, 1, matrix.shape[1]])],
                        {"T": DType("DT_FLOAT"), "Tshape": DType("DT_INT32")}, shape=None)
    y = ctx.emit("Conv2D", [nhwc, ctx.const(matrix.T[None, None].copy())],
                 {"T": DType("DT_FLOAT"), "strides": [1, 1, 1, 1], "dilations": [1, 1, 1, 1], "padding": "VALID",
                  "data_format": "NHWC", "explicit_paddings": [], "use_cudnn_on_gpu": True},
                 shape=None if nhwc.shape is None else (*nhwc.shape[:-1], matrix.shape[0]))
    if rank != 4:
        y = ctx.emit("Reshape", [y, ctx.int_const([-1, *[1] * (rank - 2), matrix.shape[0]])],
                     {"T": DType("DT_FLOAT"), "Tshape": DType("DT_INT32")},
                     shape=None if x.shape is None else (x.shape[0], *[1] * (rank - 2), matrix.shape[0]))
    return ctx.to_channels_first(y)
