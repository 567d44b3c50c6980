"""Neural-network kernels: contractions, bias, softmax, PReLU, batch norm, image resize."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.kernels import NodeContext, kernel
from tfjs_lite.kernels._util import attr_dtype, flag, precise, to_str

Array = np.ndarray

__all__ = ["bias_add", "matmul", "prelu"]


def _acc(x: Array) -> Array:
    return x.astype(np.float64) if x.dtype in (np.float16, np.float32) else x


def matmul(a: Array, b: Array, *, transpose_a: bool = False, transpose_b: bool = False) -> Array:
    """Batched matmul over the last two axes with broadcasting of the batch axes."""
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(_acc(a), _acc(b)).astype(np.result_type(a.dtype, b.dtype))


def bias_add(x: Array, bias: Array, data_format: str = "NHWC") -> Array:
    """Add a 1-D bias on the channel axis (last, or axis 1 for ``NC...`` layouts)."""
    if data_format.startswith("NC") and x.ndim > 2:
        bias = bias.reshape((-1,) + (1,) * (x.ndim - 2))
    return (x + bias).astype(x.dtype)


def prelu(x: Array, alpha: Array) -> Array:
    """``x if x > 0 else alpha * x`` with alpha broadcast against x."""
    return np.where(x > 0, x, x * alpha).astype(x.dtype)


@kernel("MatMul")
def _matmul(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [matmul(inputs[0], inputs[1], transpose_a=flag(attrs, "transpose_a"),
                   transpose_b=flag(attrs, "transpose_b"))]


@kernel("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def _batch_matmul(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    a, b = inputs
    # adj_x/adj_y are adjoints: conjugate too (a no-op for real dtypes).
    if flag(attrs, "adj_x"):
        a = np.conj(a)
    if flag(attrs, "adj_y"):
        b = np.conj(b)
    out = matmul(a, b, transpose_a=flag(attrs, "adj_x"), transpose_b=flag(attrs, "adj_y"))
    if "Tout" in attrs:
        out = out.astype(attr_dtype(attrs, "Tout"))
    return [out]


@kernel("Einsum")
def _einsum(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    equation = to_str(attrs.get("equation"), "")
    out = np.einsum(equation, *[_acc(x) for x in inputs])
    return [np.asarray(out).astype(inputs[0].dtype)]


@kernel("BiasAdd", "BiasAddV1")
def _bias_add(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [bias_add(inputs[0], inputs[1], to_str(attrs.get("data_format"), "NHWC"))]


@kernel("Prelu")
def _prelu(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [prelu(inputs[0], inputs[1])]


def _log_softmax(x: Array) -> Array:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@kernel("Softmax")
def _softmax(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [precise(lambda x: np.exp(_log_softmax(x)), inputs[0])]


@kernel("LogSoftmax")
def _log_softmax_kernel(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [precise(_log_softmax, inputs[0])]


@kernel("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def _fused_batch_norm(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    """Outputs ``y, batch_mean, batch_var, reserve_1, reserve_2[, reserve_3]``.

    Inference (``is_training=False``, what frozen models use): normalise with the given moving
    statistics and pass them through.  Training mode normalises with batch statistics and returns
    the Bessel-corrected batch variance, as TF's CPU kernel does.
    """
    x, scale, offset, mean, var = inputs[:5]
    eps = float(attrs.get("epsilon", 1e-4))
    fmt = to_str(attrs.get("data_format"), "NHWC")
    xc = np.moveaxis(_acc(x), 1, -1) if fmt.startswith("NC") else _acc(x)
    if flag(attrs, "is_training", True):  # TF's default for the attr is True
        axes = tuple(range(xc.ndim - 1))
        mean64, var64 = xc.mean(axis=axes), xc.var(axis=axes)
        n = xc.size // xc.shape[-1]
        out_var = var64 * n / max(n - 1, 1)
    else:
        mean64, var64 = _acc(mean), _acc(var)
        out_var = var64
    y = (xc - mean64) / np.sqrt(var64 + eps) * _acc(scale) + _acc(offset)
    y = np.moveaxis(y, -1, 1) if fmt.startswith("NC") else y
    stats_dtype = scale.dtype
    outs = [y.astype(x.dtype), mean64.astype(stats_dtype), out_var.astype(stats_dtype),
            mean64.astype(stats_dtype), var64.astype(stats_dtype)]
    if ctx.op == "FusedBatchNormV3":
        outs.append(np.zeros((0,), stats_dtype))
    return outs


# ---------------------------------------------------------------- image resize
def _resize_scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    # TF computes the scale in float32; matching that keeps nearest-neighbour picks identical.
    if align_corners and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


def _bilinear_axis(in_size: int, out_size: int, align: bool, half: bool) -> tuple[Array, Array, Array]:
    scale = _resize_scale(in_size, out_size, align)
    pos = np.arange(out_size, dtype=np.float32)
    src = (pos + np.float32(0.5)) * scale - np.float32(0.5) if half else pos * scale
    floor = np.floor(src)
    lower = np.maximum(floor.astype(np.int64), 0)
    upper = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    return lower, upper, (src - floor).astype(np.float32)


@kernel("ResizeBilinear")
def _resize_bilinear(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    images, size = inputs
    x = images.astype(np.float32)
    align, half = flag(attrs, "align_corners"), flag(attrs, "half_pixel_centers")
    out_h, out_w = (int(v) for v in size)
    y0, y1, ly = _bilinear_axis(x.shape[1], out_h, align, half)
    x0, x1, lx = _bilinear_axis(x.shape[2], out_w, align, half)
    lx = lx[None, None, :, None]
    top = x[:, y0][:, :, x0] + (x[:, y0][:, :, x1] - x[:, y0][:, :, x0]) * lx
    bottom = x[:, y1][:, :, x0] + (x[:, y1][:, :, x1] - x[:, y1][:, :, x0]) * lx
    return [(top + (bottom - top) * ly[None, :, None, None]).astype(np.float32)]


def _nearest_axis(in_size: int, out_size: int, align: bool, half: bool) -> Array:
    scale = _resize_scale(in_size, out_size, align)
    pos = np.arange(out_size, dtype=np.float32)
    src = (pos + np.float32(0.5)) * scale if half else pos * scale
    # align_corners rounds half away from zero (roundf); otherwise floor.
    idx = np.floor(src + np.float32(0.5)) if align else np.floor(src)
    idx = np.minimum(idx.astype(np.int64), in_size - 1)
    return np.maximum(idx, 0)


@kernel("ResizeNearestNeighbor")
def _resize_nearest(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    images, size = inputs
    align, half = flag(attrs, "align_corners"), flag(attrs, "half_pixel_centers")
    out_h, out_w = (int(v) for v in size)
    ys = _nearest_axis(images.shape[1], out_h, align, half)
    xs = _nearest_axis(images.shape[2], out_w, align, half)
    return [images[:, ys][:, :, xs]]


@kernel("LRN")
def _lrn(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x = inputs[0]
    radius = int(attrs.get("depth_radius", 5))
    bias, alpha, beta = (float(attrs.get(k, d)) for k, d in (("bias", 1.0), ("alpha", 1.0), ("beta", 0.5)))
    sq = np.pad(np.square(_acc(x)), [(0, 0)] * (x.ndim - 1) + [(radius, radius)])
    windows = np.lib.stride_tricks.sliding_window_view(sq, 2 * radius + 1, axis=-1).sum(axis=-1)
    return [(_acc(x) / (bias + alpha * windows) ** beta).astype(x.dtype)]


def fake_quant_nudge(low: float, high: float, num_bits: int,
                     narrow_range: bool) -> tuple[np.float32, np.float32, np.float32, np.float32]:
    """TF's ``Nudge``: (nudged_min, nudged_max, scale, inverse scale) in float32, zero point rounded."""
    quant_min = np.float32(1 if narrow_range else 0)
    quant_max = np.float32((1 << num_bits) - 1)
    low32, high32 = np.float32(low), np.float32(high)
    scale = np.float32((high32 - low32) / (quant_max - quant_min))
    zero_point = np.float32(quant_min - low32 / scale)
    if zero_point < quant_min:
        nudged_zero = quant_min
    elif zero_point > quant_max:
        nudged_zero = quant_max
    else:
        nudged_zero = np.float32(np.floor(zero_point + np.float32(0.5)))  # std::round, zero_point >= 0
    nudged_min = np.float32((quant_min - nudged_zero) * scale)
    nudged_max = np.float32((quant_max - nudged_zero) * scale)
    return nudged_min, nudged_max, scale, np.float32(np.float32(1.0) / scale)


def fake_quant(x: Array, low: float, high: float, num_bits: int, narrow_range: bool) -> Array:
    """``FakeQuantWithMinMax*`` in TF's float32 operation order."""
    nudged_min, nudged_max, scale, inv_scale = fake_quant_nudge(low, high, num_bits, narrow_range)
    clamped = np.maximum(np.minimum(x.astype(np.float32), nudged_max), nudged_min)
    steps = np.floor((clamped - nudged_min) * inv_scale + np.float32(0.5))
    return (steps * scale + nudged_min).astype(np.float32)


@kernel("FakeQuantWithMinMaxArgs")
def _fake_quant_args(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [fake_quant(inputs[0], float(attrs.get("min", -6.0)), float(attrs.get("max", 6.0)),
                       int(attrs.get("num_bits", 8)), bool(attrs.get("narrow_range", False)))]


@kernel("FakeQuantWithMinMaxVars")
def _fake_quant_vars(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, low, high = inputs
    return [fake_quant(x, float(low), float(high), int(attrs.get("num_bits", 8)),
                       bool(attrs.get("narrow_range", False)))]


@kernel("FakeQuantWithMinMaxVarsPerChannel")
def _fake_quant_per_channel(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, low, high = inputs
    bits, narrow = int(attrs.get("num_bits", 8)), bool(attrs.get("narrow_range", False))
    channels = [fake_quant(x[..., i], float(low[i]), float(high[i]), bits, narrow) for i in range(x.shape[-1])]
    return [np.stack(channels, axis=-1)]
