"""Conv, ConvTranspose and pooling: channels-last TF ops between two transposes.

1-D ops run as 2-D ones on a height-1 image. Padding: ONNX pads equal to TF's SAME become SAME,
zero pads VALID; other pads are TF's EXPLICIT padding for convolutions and an explicit ``Pad`` (zeros,
-inf for max pooling) in front of a VALID pool (TF.js pools know only SAME/VALID; ``ceil_mode`` is
an extra end pad).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.ir.attrs import DType
from tfjs_lite.limits import MAX_SHAPE_DERIVED_ELEMENTS
from tfjs_lite.readers.onnx.context import LoweringContext, V
from tfjs_lite.readers.onnx.lowering import lowers
from tfjs_lite.readers.onnx.lowering.tensor import concat, strided_slice

__all__ = ["pad_channels_last", "spatial_pads"]


def spatial_pads(ctx: LoweringContext, in_dims: Sequence[int | None], kernel: list[int], strides: list[int],
                 dilations: list[int]) -> list[tuple[int, int]]:
    """Per spatial dim (begin, end) padding from ``auto_pad``/``pads``."""
    n = len(kernel)
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s, d in zip(in_dims, kernel, strides, dilations):
            if size is None:
                raise ctx.unsupported(f"auto_pad={auto_pad} needs static spatial sizes")
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small = total // 2
            pads.append((small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small))
        return pads
    if auto_pad == "VALID":
        return [(0, 0)] * n
    flat = [int(p) for p in ctx.attr("pads", [0] * (2 * n))]
    return list(zip(flat[:n], flat[n:]))


def _tf_padding(in_dims: list[int | None], kernel: list[int], strides: list[int], dilations: list[int],
                pads: list[tuple[int, int]]) -> str | None:
    """"VALID"/"SAME" when TF's own padding equals ``pads``; None when explicit pads are needed."""
    if all(p == (0, 0) for p in pads):
        return "VALID"
    for size, k, s, d, pad in zip(in_dims, kernel, strides, dilations, pads):
        if size is None:
            return None
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        if pad != (total // 2, total - total // 2):
            return None
    return "SAME"


def pad_channels_last(ctx: LoweringContext, x: V, pads: list[tuple[int, int]], value: float = 0.0) -> V:
    """Pad the spatial dims of a channels-last tensor."""
    table = np.array([(0, 0), *pads, (0, 0)], dtype=np.int32)
    shape = None if x.shape is None else tuple(
        None if d is None else d + (sum(p) if 0 < i < len(x.shape) - 1 else 0)
        for i, (d, p) in enumerate(zip(x.shape, [(0, 0), *pads, (0, 0)])))
    if value == 0.0:
        return ctx.emit("Pad", [x, ctx.const(table)], {"T": DType(x.dtype), "Tpaddings": DType("DT_INT32")},
                        shape=shape)
    return ctx.emit("PadV2", [x, ctx.const(table), ctx.const(np.float32(value))],
                    {"T": DType(x.dtype), "Tpaddings": DType("DT_INT32")}, shape=shape)


def _out_size(size: int | None, k: int, s: int, d: int, pad: tuple[int, int], ceil: bool = False) -> int | None:
    if size is None:
        return None
    span = size + pad[0] + pad[1] - ((k - 1) * d + 1)
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + pad[0]:  # the last window must start inside the input
        out -= 1
    return out


def _as_2d(ctx: LoweringContext, x: V) -> tuple[V, bool]:
    """Channels-last input; 1-D (N, L, C) gets a height of 1; 3-D (NDHWC) stays 3-D."""
    nhwc = ctx.to_channels_last(x)
    if ctx.rank_of(x) == 5:
        return nhwc, False
    if ctx.rank_of(x) == 3:
        shape = None if nhwc.shape is None else (nhwc.shape[0], 1, *nhwc.shape[1:])
        return ctx.emit("ExpandDims", [nhwc, ctx.int_const(1)], {"T": DType(x.dtype), "Tdim": DType("DT_INT32")},
                        shape=shape), True
    if ctx.rank_of(x) != 4:
        raise ctx.unsupported(f"only 1-D, 2-D and 3-D spatial inputs are supported (rank {x.rank})")
    return nhwc, False


def _back(ctx: LoweringContext, y: V, one_d: bool) -> V:
    if one_d:
        shape = None if y.shape is None else (y.shape[0], *y.shape[2:])
        y = ctx.emit("Squeeze", [y], {"T": DType(y.dtype), "squeeze_dims": [1]}, shape=shape)
    return ctx.to_channels_first(y)


def _window_attrs(ctx: LoweringContext, spatial: int, kernel: list[int] | None = None) -> tuple[list[int], ...]:
    kernel = kernel or [int(k) for k in ctx.attr("kernel_shape")]
    strides = [int(s) for s in ctx.attr("strides", [1] * spatial)]
    dilations = [int(d) for d in ctx.attr("dilations", [1] * spatial)]
    return kernel, strides, dilations


def _dilate_filter(w: np.ndarray, dilations: list[int]) -> np.ndarray:
    """Insert d-1 zeros between the taps of an HW.. filter (TF.js refuses stride and dilation > 1
    together, and its transposed convolution has no dilation at all)."""
    kh, kw = w.shape[:2]
    shape = ((kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1, *w.shape[2:])
    if min(dilations) < 1 or math.prod(shape) > MAX_SHAPE_DERIVED_ELEMENTS:
        raise ModelFormatError(f"dilations {dilations} would make a filter of shape {list(shape)}")
    out = np.zeros(shape, dtype=w.dtype)
    out[::dilations[0], ::dilations[1]] = w
    return out


@lowers("Conv")
def _conv(ctx: LoweringContext) -> list[V]:
    x, w, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    assert x is not None and w is not None
    weights = ctx.const_input(1, "weights")
    assert weights is not None
    spatial = weights.ndim - 2
    if spatial == 3:
        return [_conv3d(ctx, x, weights, bias)]
    kernel, strides, dilations = _window_attrs(ctx, spatial, list(weights.shape[2:]))
    if spatial == 1:
        weights, kernel, strides, dilations = weights[:, :, None, :], [1, *kernel], [1, *strides], [1, *dilations]
    group = int(ctx.attr("group", 1))
    out_channels, in_per_group = weights.shape[:2]
    in_dims: list[int | None] = [None] * 2 if x.shape is None else list(x.shape[2:])
    if spatial == 1:
        in_dims = [1, *in_dims]
    pads = spatial_pads(ctx, in_dims[-spatial:], kernel[-spatial:], strides[-spatial:], dilations[-spatial:])
    pads = [(0, 0), *pads] if spatial == 1 else pads
    nhwc, one_d = _as_2d(ctx, x)
    depthwise = group > 1 and in_per_group == 1 and out_channels % group == 0 and \
        (x.shape is None or x.shape[1] in (None, group))
    if depthwise:
        hwio = weights.reshape(group, out_channels // group, *weights.shape[2:]).transpose(2, 3, 0, 1)
    else:
        hwio = weights.transpose(2, 3, 1, 0)
    if max(strides) > 1 and max(dilations) > 1:
        hwio, dilations = _dilate_filter(hwio, dilations), [1, 1]
        kernel = list(hwio.shape[:2])
    padding = _tf_padding(in_dims, kernel, strides, dilations, pads) or "EXPLICIT"
    out_dims = [(None if d is None else -(-d // s)) if padding == "SAME" else _out_size(d, k, s, dl, p)
                for d, k, s, dl, p in zip(in_dims, kernel, strides, dilations, pads)]
    explicit = [0, 0, *[p for pair in pads for p in pair], 0, 0] if padding == "EXPLICIT" else []
    attrs: dict[str, Any] = {"T": DType("DT_FLOAT"), "strides": [1, *strides, 1], "dilations": [1, *dilations, 1],
                             "padding": padding, "data_format": "NHWC", "explicit_paddings": explicit}
    shape = None if nhwc.shape is None else (nhwc.shape[0], *out_dims, out_channels)
    if depthwise:
        y = ctx.emit("DepthwiseConv2dNative", [nhwc, ctx.const(np.ascontiguousarray(hwio, dtype=np.float32))], attrs, shape=shape)
    else:
        attrs["use_cudnn_on_gpu"] = True
        y = ctx.emit("Conv2D", [nhwc, ctx.const(np.ascontiguousarray(hwio, dtype=np.float32))], attrs, shape=shape)
    if bias is not None:
        y = ctx.emit("BiasAdd", [y, bias], {"T": DType("DT_FLOAT"), "data_format": "NHWC"}, shape=shape)
    return [_back(ctx, y, one_d)]


def _conv3d(ctx: LoweringContext, x: V, weights: np.ndarray, bias: V | None) -> V:
    """A 3-D Conv as TF's ``Conv3D`` (NDHWC). TF.js's Conv3D knows only SAME/VALID padding (other
    pads: an explicit ``Pad`` first), has no groups (the filter is widened block-diagonally) and
    no stride together with dilation."""
    kernel, strides, dilations = _window_attrs(ctx, 3, list(weights.shape[2:]))
    if max(strides) > 1 and max(dilations) > 1:
        raise ctx.unsupported("a 3-D convolution with both stride and dilation > 1 has no TF.js op")
    weights = _block_diagonal(ctx, weights, int(ctx.attr("group", 1)), 1, 0, "Conv")
    in_dims: list[int | None] = [None] * 3 if x.shape is None else list(x.shape[2:])
    pads = spatial_pads(ctx, in_dims, kernel, strides, dilations)
    ndhwc, _ = _as_2d(ctx, x)
    padding = _tf_padding(in_dims, kernel, strides, dilations, pads)
    if padding is None:
        ndhwc = pad_channels_last(ctx, ndhwc, pads)
        in_dims = [None if d is None else d + b + e for d, (b, e) in zip(in_dims, pads)]
        padding, pads = "VALID", [(0, 0)] * 3
    out_dims = [(None if d is None else -(-d // s)) if padding == "SAME" else _out_size(d, k, s, dl, p)
                for d, k, s, dl, p in zip(in_dims, kernel, strides, dilations, pads)]
    out_channels = weights.shape[0]
    shape = None if ndhwc.shape is None else (ndhwc.shape[0], *out_dims, out_channels)
    dhwio = np.ascontiguousarray(weights.transpose(2, 3, 4, 1, 0), dtype=np.float32)
    y = ctx.emit("Conv3D", [ndhwc, ctx.const(dhwio)],
                 {"T": DType("DT_FLOAT"), "strides": [1, *strides, 1], "dilations": [1, *dilations, 1],
                  "padding": padding, "data_format": "NDHWC"}, shape=shape)
    if bias is not None:
        y = ctx.emit("BiasAdd", [y, bias], {"T": DType("DT_FLOAT"), "data_format": "NHWC"}, shape=shape)
    return ctx.to_channels_first(y)


# Largest block-diagonal filter (elements) a grouped filter may be widened to.
DENSE_FILTER_LIMIT = 1 << 24


def _block_diagonal(ctx: LoweringContext, weights: np.ndarray, group: int, grouped_axis: int, full_axis: int,
                    op: str) -> np.ndarray:
    """A grouped filter as the equivalent dense one: ``grouped_axis`` (the per-group channels)
    widened ``group`` times, group g's block placed where ``full_axis``'s g-th slice meets it, zeros
    elsewhere. The zeros cost ``group``× the multiply-adds, so the widened filter is capped."""
    if group == 1:
        return weights
    full = weights.shape[full_axis]
    if group < 1 or full % group:
        raise ctx.unsupported(f"group={group} does not divide the {full} channels")
    if weights.size * group > DENSE_FILTER_LIMIT:
        raise ctx.unsupported(f"grouped {op} with {group} groups would need a "
                              f"{weights.size * group}-element dense filter (limit {DENSE_FILTER_LIMIT})")
    per_group, width = full // group, weights.shape[grouped_axis]
    shape = list(weights.shape)
    shape[grouped_axis] = width * group
    dense = np.zeros(shape, weights.dtype)
    for g in range(group):
        target = [slice(None)] * weights.ndim
        target[full_axis] = slice(g * per_group, (g + 1) * per_group)
        source = tuple(target)
        target[grouped_axis] = slice(g * width, (g + 1) * width)
        dense[tuple(target)] = weights[source]
    return dense


@lowers("ConvTranspose")
def _conv_transpose(ctx: LoweringContext) -> list[V]:
    x, bias = ctx.input(0), ctx.input(2)
    assert x is not None
    weights = ctx.const_input(1, "weights")
    assert weights is not None
    # TF's Conv2DBackpropInput has no groups: [C_in, C_out/group, k...] widened to [C_in, C_out, k...]
    weights = _block_diagonal(ctx, weights, int(ctx.attr("group", 1)), 1, 0, "ConvTranspose")
    spatial = weights.ndim - 2
    kernel, strides, dilations = _window_attrs(ctx, spatial, list(weights.shape[2:]))
    out_pad = [int(p) for p in ctx.attr("output_padding", [0] * spatial)]
    if spatial == 1:
        weights, kernel, strides = weights[:, :, None, :], [1, *kernel], [1, *strides]
        dilations, out_pad = [1, *dilations], [0, *out_pad]
    declared: list[int | None] = [None, None] if x.shape is None else [1, *x.shape[2:]] if spatial == 1 \
        else list(x.shape[2:])
    if any(d is None for d in declared) or x.shape is None:
        raise ctx.unsupported("ConvTranspose needs static spatial input sizes")
    in_dims = [int(d) for d in declared if d is not None]
    hwoi = weights.transpose(2, 3, 1, 0)  # ONNX [C_in, C_out, kH, kW] -> TF [kH, kW, C_out, C_in]
    if max(dilations) > 1:
        hwoi = _dilate_filter(hwoi, dilations)
    span = list(hwoi.shape[:2])
    full = [(d - 1) * s + k for d, s, k in zip(in_dims, strides, span)]
    if ctx.attr("output_shape") is not None:
        wanted = [int(v) for v in ctx.attr("output_shape")][-spatial:]
        wanted = [1, *wanted] if spatial == 1 else wanted
        totals = [f + p - o for f, p, o in zip(full, out_pad, wanted)]
        upper = ctx.attr("auto_pad", "NOTSET") == "SAME_UPPER"
        pads = [(t // 2, t - t // 2) if upper else (t - t // 2, t // 2) for t in totals]
    elif ctx.attr("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        totals = [f + p - d * s for f, p, d, s in zip(full, out_pad, in_dims, strides)]
        upper = ctx.attr("auto_pad") == "SAME_UPPER"
        pads = [(t // 2, t - t // 2) if upper else (t - t // 2, t // 2) for t in totals]
    else:
        pads = spatial_pads(ctx, in_dims[-spatial:], kernel[-spatial:], strides[-spatial:], dilations[-spatial:])
        pads = [(0, 0), *pads] if spatial == 1 else pads
    batch, out_channels = x.shape[0], hwoi.shape[2]
    nhwc, one_d = _as_2d(ctx, x)
    sizes = ctx.int_const([batch, *full, out_channels]) if batch is not None else _with_runtime_batch(
        ctx, nhwc, [*full, out_channels])
    y = ctx.emit("Conv2DBackpropInput", [sizes, ctx.const(np.ascontiguousarray(hwoi, dtype=np.float32)), nhwc],
                 {"T": DType("DT_FLOAT"), "strides": [1, *strides, 1], "dilations": [1, 1, 1, 1],
                  "padding": "VALID", "data_format": "NHWC", "explicit_paddings": [], "use_cudnn_on_gpu": True},
                 shape=(batch, *full, out_channels), dtype="DT_FLOAT")
    if any(out_pad):
        y = pad_channels_last(ctx, y, [(0, p) for p in out_pad])
        full = [f + p for f, p in zip(full, out_pad)]
    out = [f - b - e for f, (b, e) in zip(full, pads)]
    if any(p != (0, 0) for p in pads):
        y = ctx.emit("Slice", [y, ctx.int_const([0, pads[0][0], pads[1][0], 0]),
                               ctx.int_const([-1, out[0], out[1], -1])],
                     {"T": DType("DT_FLOAT"), "Index": DType("DT_INT32")}, shape=(batch, *out, out_channels))
    if bias is not None:
        y = ctx.emit("BiasAdd", [y, bias], {"T": DType("DT_FLOAT"), "data_format": "NHWC"}, shape=y.shape)
    return [_back(ctx, y, one_d)]


def _with_runtime_batch(ctx: LoweringContext, x: V, rest: list[int]) -> V:
    """``[batch of x, *rest]`` as an int32 tensor, the batch read at run time."""
    dims = ctx.emit("Shape", [x], {"T": DType(x.dtype), "out_type": DType("DT_INT32")}, shape=(4,),
                    dtype="DT_INT32")
    return concat(ctx, [strided_slice(ctx, dims, [0], [1], [0], [1]), ctx.int_const(rest)], 0)


def _pool(ctx: LoweringContext, tf_op: str) -> V:
    x = ctx.input(0)
    assert x is not None
    spatial = ctx.rank_of(x) - 2
    kernel, strides, dilations = _window_attrs(ctx, spatial)
    if max(dilations) > 1:
        raise ctx.unsupported("dilated pooling has no TF.js op")
    in_dims = list(x.shape[2:])  # type: ignore[index]
    pads = spatial_pads(ctx, in_dims, kernel, strides, dilations)
    ceil = bool(ctx.attr("ceil_mode", 0))
    if spatial == 1:
        kernel, strides, dilations, in_dims, pads = [1, *kernel], [1, *strides], [1, 1], [1, *in_dims], [(0, 0), *pads]
    out_dims = [_out_size(d, k, s, 1, p, ceil) for d, k, s, p in zip(in_dims, kernel, strides, pads)]
    explicit = pads
    if ceil:  # pad the end so a VALID window covers the ceil-mode overhang
        sizes = [d for d in in_dims if d is not None]
        ends = [o for o in out_dims if o is not None]
        if len(sizes) != len(in_dims) or len(ends) != len(out_dims):
            raise ctx.unsupported("ceil_mode needs static spatial sizes")
        pads = [(b, max((o - 1) * s + k - d - b, e)) for (b, e), o, s, k, d in zip(pads, ends, strides, kernel, sizes)]
    nhwc, one_d = _as_2d(ctx, x)
    padding = "VALID" if ceil else _tf_padding(in_dims, kernel, strides, dilations, pads)
    include_pad = tf_op == "AvgPool" and bool(ctx.attr("count_include_pad", 0))
    divisor = None
    if padding == "SAME" and include_pad or padding is None or (ceil and any(p != (0, 0) for p in pads)):
        if tf_op == "AvgPool":
            if any(d is None for d in in_dims):
                raise ctx.unsupported("padded average pooling needs static spatial sizes")
            divisor = _avg_divisor(in_dims, kernel, strides, pads, explicit, out_dims, include_pad)
        nhwc = pad_channels_last(ctx, nhwc, pads, 0.0 if tf_op == "AvgPool" else -3.4028234663852886e38)
        padding = "VALID"
    shape = None if nhwc.shape is None else (nhwc.shape[0], *out_dims, nhwc.shape[-1])
    tf_op = tf_op + "3D" if spatial == 3 else tf_op
    y = ctx.emit(tf_op, [nhwc], {"T": DType("DT_FLOAT"), "ksize": [1, *kernel, 1], "strides": [1, *strides, 1],
                                 "padding": padding, "data_format": "NDHWC" if spatial == 3 else "NHWC"}, shape=shape)
    if divisor is not None:
        y = ctx.emit("Mul", [y, ctx.const(divisor)], {"T": DType("DT_FLOAT")}, shape=shape)
    return _back(ctx, y, one_d)


def _avg_divisor(in_dims: list[Any], kernel: list[int], strides: list[int], pads: list[tuple[int, int]],
                 explicit: list[tuple[int, int]], out_dims: list[Any], include_pad: bool) -> np.ndarray:
    """Per output position: window area / number of elements ONNX averages over (the input, plus
    the explicit pads with ``count_include_pad``, never the ceil-mode overhang)."""
    counts = []
    for axis, (d, k, s, (b, _end), o) in enumerate(zip(in_dims, kernel, strides, pads, out_dims)):
        lo, hi = (0, d)
        if include_pad:
            lo, hi = -explicit[axis][0], d + explicit[axis][1]
        starts = np.arange(o) * s - b
        counts.append(np.clip(np.minimum(starts + k, hi) - np.maximum(starts, lo), 1, None))
    area = float(np.prod(kernel))
    return (area / functools.reduce(np.multiply.outer, counts)).astype(np.float32)[None, ..., None]


@lowers("MaxPool")
def _max_pool(ctx: LoweringContext) -> list[Any]:
    if len(ctx.node.outputs) > 1 and ctx.node.outputs[1]:  # type: ignore[union-attr]
        return _max_pool_with_indices(ctx)
    return [_pool(ctx, "MaxPool")]


def _max_pool_with_indices(ctx: LoweringContext) -> list[V]:
    """MaxPool with its Indices output (``return_indices=True``, SegNet's unpooling): TF's
    ``MaxPoolWithArgmax`` gives flat NHWC indices ``((b·H + y)·W + x)·C + c``; ONNX wants flat
    NCHW ones ``((b·C + c)·H + y)·W + x``, recomputed from them with integer arithmetic."""
    x = ctx.input(0)
    assert x is not None
    shape = x.static_shape()
    if shape is None or len(shape) != 4:
        raise ctx.unsupported("MaxPool's Indices output needs a static 4-D input")
    if int(ctx.attr("storage_order", 0)) or int(ctx.attr("ceil_mode", 0)):
        raise ctx.unsupported("MaxPool's Indices output with storage_order=1 or ceil_mode is not supported")
    n, c, h, w = shape
    kernel, strides, dilations = _window_attrs(ctx, 2)
    pads = spatial_pads(ctx, [h, w], kernel, strides, dilations)
    padding = _tf_padding([h, w], kernel, strides, dilations, pads)
    if max(dilations) > 1 or padding is None:
        raise ctx.unsupported("MaxPool's Indices output needs SAME or VALID padding and no dilation")
    out_dims = [-(-d // s) if padding == "SAME" else _out_size(d, k, s, 1, (0, 0))
                for d, k, s in zip((h, w), kernel, strides)]
    nhwc_shape = (n, *out_dims, c)
    pooled, argmax = ctx.emit("MaxPoolWithArgmax", [ctx.to_channels_last(x)],
                              {"T": DType("DT_FLOAT"), "Targmax": DType("DT_INT32"), "ksize": [1, *kernel, 1],
                               "strides": [1, *strides, 1], "padding": padding, "include_batch_in_index": True},
                              shape=[nhwc_shape, nhwc_shape], outputs=2)
    argmax.dtype = "DT_INT32"

    def div_mod(v: V, d: int) -> tuple[V, V]:
        const = ctx.int_const(d)
        return (ctx.emit("FloorDiv", [v, const], {"T": DType("DT_INT32")}, shape=v.shape),
                ctx.emit("FloorMod", [v, const], {"T": DType("DT_INT32")}, shape=v.shape))

    rest, channel = div_mod(argmax, c)
    rest, col = div_mod(rest, w)
    batch, row = div_mod(rest, h)

    def affine(v: V, factor: int, add: V) -> V:
        scaled = ctx.emit("Mul", [v, ctx.int_const(factor)], {"T": DType("DT_INT32")}, shape=v.shape)
        return ctx.emit("AddV2", [scaled, add], {"T": DType("DT_INT32")}, shape=v.shape)

    index = affine(affine(affine(batch, c, channel), h, row), w, col)
    return [ctx.to_channels_first(pooled), ctx.to_channels_first(index)]


@lowers("MaxUnpool")
def _max_unpool(ctx: LoweringContext) -> list[V]:
    """Each value written at its flat NCHW index into zeros of the output shape: ``ScatterNd``."""
    x, indices = ctx.input(0), ctx.input(1)
    assert x is not None and indices is not None
    shape = x.static_shape()
    if shape is None or len(shape) != 4:
        raise ctx.unsupported("MaxUnpool needs a static 4-D input")
    wanted = ctx.const_ints(2, "output_shape")
    if wanted is None:
        kernel, strides, _ = _window_attrs(ctx, 2)
        flat = [int(p) for p in ctx.attr("pads", [0] * 4)]
        wanted = [*shape[:2], *[(d - 1) * s - flat[i] - flat[i + 2] + k
                                for i, (d, s, k) in enumerate(zip(shape[2:], strides, kernel))]]
    total = math.prod(wanted)
    if total > MAX_SHAPE_DERIVED_ELEMENTS or min(wanted) < 0:
        raise ctx.unsupported(f"MaxUnpool output shape {wanted} is out of range")
    size = math.prod(shape)
    flat_index = ctx.emit("Reshape", [ctx.cast(indices, "DT_INT32"), ctx.int_const([size, 1])],
                          {"T": DType("DT_INT32"), "Tshape": DType("DT_INT32")}, shape=(size, 1))
    flat_x = ctx.emit("Reshape", [x, ctx.int_const([size])], {"T": DType(x.dtype), "Tshape": DType("DT_INT32")},
                      shape=(size,))
    scattered = ctx.emit("ScatterNd", [flat_index, flat_x, ctx.int_const([total])],
                         {"T": DType(x.dtype), "Tindices": DType("DT_INT32")}, shape=(total,))
    return [ctx.emit("Reshape", [scattered, ctx.int_const(wanted)], {"T": DType(x.dtype), "Tshape": DType("DT_INT32")},
                     shape=tuple(wanted))]


@lowers("AveragePool")
def _average_pool(ctx: LoweringContext) -> list[V]:
    return [_pool(ctx, "AvgPool")]


@lowers("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    axes = list(range(2, rank))
    op = "Mean" if ctx.node.op_type == "GlobalAveragePool" else "Max"  # type: ignore[union-attr]
    shape = None if x.shape is None else (*x.shape[:2], *[1] * len(axes))
    return [ctx.emit(op, [x, ctx.int_const(axes)], {"T": DType("DT_FLOAT"), "Tidx": DType("DT_INT32"),
                                                    "keep_dims": True}, shape=shape)]
