"""GridSample (``F.grid_sample``): sampling an image at per-pixel coordinates, with plain TF ops.

TF.js has no such op. The grid's normalised coordinates become pixel coordinates, the 2 (nearest)
or 4 (bilinear) neighbours are fetched with one ``GatherNd`` each from the channels-last image, at
``[batch, y, x]`` coordinates, and weighted. Samples outside the image are 0 (``zeros``: a mask
multiplies them away) or the edge pixel (``border``: the coordinates are clamped first).
Everything stays ``[N, H_out, W_out, 1]``-shaped until the weights broadcast over the channels.
"""

from __future__ import annotations

import numpy as np

from tfjs_lite.ir.attrs import DType
from tfjs_lite.readers.onnx.context import LoweringContext, V
from tfjs_lite.readers.onnx.lowering import lowers
from tfjs_lite.readers.onnx.lowering.elementwise import binary, clip, unary
from tfjs_lite.readers.onnx.lowering.tensor import strided_slice

_MODES = {"bilinear": "linear", "linear": "linear", "nearest": "nearest"}


def _pixel(ctx: LoweringContext, g: V, size: int, align_corners: bool) -> V:
    """Normalised [-1, 1] grid coordinate -> pixel coordinate along an axis of ``size`` pixels."""
    if align_corners:  # -1 and 1 are the centres of the edge pixels
        factor, shift = (size - 1) / 2.0, (size - 1) / 2.0
    else:  # -1 and 1 are the outer edges of the edge pixels
        factor, shift = size / 2.0, (size - 1) / 2.0
    return binary(ctx, "AddV2", binary(ctx, "Mul", g, ctx.const(np.float32(factor))), ctx.const(np.float32(shift)))


def _inside(ctx: LoweringContext, c: V, size: int) -> V:
    """1.0 where an (integer-valued, float) coordinate lies inside [0, size - 1], else 0.0."""
    low = binary(ctx, "GreaterEqual", c, ctx.const(np.float32(0.0)), dtype="DT_BOOL")
    high = binary(ctx, "LessEqual", c, ctx.const(np.float32(size - 1)), dtype="DT_BOOL")
    return ctx.cast(binary(ctx, "LogicalAnd", low, high, dtype="DT_BOOL"), "DT_FLOAT")


def _fetch(ctx: LoweringContext, image: V, batch: V, y: V, x: V, height: int, width: int) -> V:
    """``image[n, y, x, :]`` for float coordinates (clamped into the image, then int32)."""
    ys = ctx.cast(clip(ctx, y, 0.0, float(height - 1)), "DT_INT32")
    xs = ctx.cast(clip(ctx, x, 0.0, float(width - 1)), "DT_INT32")
    shape = (*y.shape[:3], 3)  # type: ignore[index]
    coords = ctx.emit("ConcatV2", [batch, ys, xs, ctx.int_const(3)],
                      {"N": 3, "T": DType("DT_INT32"), "Tidx": DType("DT_INT32")}, shape=shape, dtype="DT_INT32")
    return ctx.emit("GatherNd", [image, coords], {"Tparams": DType("DT_FLOAT"), "Tindices": DType("DT_INT32")},
                    shape=(*y.shape[:3], image.shape[3]))  # type: ignore[index]


@lowers("GridSample")
def _grid_sample(ctx: LoweringContext) -> list[V]:
    x, grid = ctx.input(0), ctx.input(1)
    assert x is not None and grid is not None
    mode = _MODES.get(str(ctx.attr("mode", "linear" if ctx.opset >= 20 else "bilinear")))
    padding = str(ctx.attr("padding_mode", "zeros"))
    if mode is None or padding not in ("zeros", "border"):
        raise ctx.unsupported(f"GridSample mode={ctx.attr('mode')!r} padding_mode={padding!r} is not supported "
                              "(only bilinear/nearest with zeros/border padding)")
    x_shape, grid_shape = x.static_shape(), grid.static_shape()
    if x_shape is None or grid_shape is None or len(x_shape) != 4 or len(grid_shape) != 4:
        raise ctx.unsupported("GridSample needs a static 4-D image and grid")
    n, _, height, width = x_shape
    align = bool(ctx.attr("align_corners", 0))
    image = ctx.to_channels_last(x)
    gx = _pixel(ctx, strided_slice(ctx, grid, [0], [1], [3], [1]), width, align)   # [N, Ho, Wo, 1]
    gy = _pixel(ctx, strided_slice(ctx, grid, [1], [2], [3], [1]), height, align)
    if padding == "border":
        gx, gy = clip(ctx, gx, 0.0, float(width - 1)), clip(ctx, gy, 0.0, float(height - 1))
    batch = ctx.const(np.broadcast_to(np.arange(n, dtype=np.int32)[:, None, None, None], (*grid_shape[:3], 1)).copy())
    if mode == "nearest":  # round half to even, like PyTorch and onnxruntime
        ys, xs = unary(ctx, "Round", gy), unary(ctx, "Round", gx)
        picked = _fetch(ctx, image, batch, ys, xs, height, width)
        if padding == "zeros":
            picked = binary(ctx, "Mul", picked, binary(ctx, "Mul", _inside(ctx, ys, height), _inside(ctx, xs, width)))
        return [ctx.to_channels_first(picked)]
    x0, y0 = unary(ctx, "Floor", gx), unary(ctx, "Floor", gy)
    one = ctx.const(np.float32(1.0))
    x1, y1 = binary(ctx, "AddV2", x0, one), binary(ctx, "AddV2", y0, one)
    wx1, wy1 = binary(ctx, "Sub", gx, x0), binary(ctx, "Sub", gy, y0)
    wx0, wy0 = binary(ctx, "Sub", one, wx1), binary(ctx, "Sub", one, wy1)
    out: V | None = None
    for yc, wy in ((y0, wy0), (y1, wy1)):
        for xc, wx in ((x0, wx0), (x1, wx1)):
            weight = binary(ctx, "Mul", wy, wx)
            if padding == "zeros":
                weight = binary(ctx, "Mul", weight, binary(ctx, "Mul", _inside(ctx, yc, height), _inside(ctx, xc, width)))
            term = binary(ctx, "Mul", _fetch(ctx, image, batch, yc, xc, height, width), weight)
            out = term if out is None else binary(ctx, "AddV2", out, term)
    assert out is not None
    return [ctx.to_channels_first(out)]
