"""Resize (and Upsample): TF.js's ResizeBilinear/ResizeNearestNeighbor where they compute exactly
what ONNX asks, otherwise exact constant-index formulations in ONNX's layout:

* nearest, any coordinate mode and rounding: two ``GatherV2`` with precomputed source indices;
* linear and cubic, any coordinate mode: two products with precomputed ``[out, in]`` interpolation
  matrices (cubic: Keys' kernel with ``cubic_coeff_a``, ``exclude_outside`` both ways).

TF's resize samples with ``in / out``; ONNX with ``1 / scale``. They agree when ``sizes`` is given
or ``in * scale`` is a whole number.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tfjs_lite.ir.attrs import DType
from tfjs_lite.limits import MAX_SHAPE_DERIVED_ELEMENTS
from tfjs_lite.readers.onnx.context import LoweringContext, V
from tfjs_lite.readers.onnx.lowering import lowers
from tfjs_lite.readers.onnx.lowering.misc import matmul

__all__ = ["source_coordinates"]

_ROUNDING: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "round_prefer_floor": lambda x: np.ceil(x - 0.5),
    "round_prefer_ceil": lambda x: np.floor(x + 0.5),
    "floor": np.floor,
    "ceil": np.ceil,
}


def source_coordinates(mode: str, size_in: int, size_out: int, scale: float) -> np.ndarray:
    """ONNX's output -> input coordinate transform for one axis (float64)."""
    y = np.arange(size_out, dtype=np.float64)
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (y + 0.5) / scale - 0.5 if size_out > 1 else np.zeros_like(y)
    if mode == "align_corners":
        return y * (size_in - 1) / (size_out - 1) if size_out > 1 else np.zeros_like(y)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_half_pixel_for_nn":
        return (y + 0.5) / scale
    if mode == "half_pixel_symmetric":
        adjustment = size_out / (scale * size_in)
        centre = size_in / 2
        offset = centre * (1 - adjustment)
        return offset + (y + 0.5) / scale - 0.5
    raise ValueError(mode)


def _nearest_indices(mode: str, rounding: str, size_in: int, size_out: int, scale: float) -> np.ndarray:
    x = _ROUNDING[rounding](source_coordinates(mode, size_in, size_out, scale))
    return np.clip(x, 0, size_in - 1).astype(np.int32)


def _linear_matrix(mode: str, size_in: int, size_out: int, scale: float) -> np.ndarray:
    x = np.clip(source_coordinates(mode, size_in, size_out, scale), 0, size_in - 1)
    low = np.floor(x).astype(np.int64)
    high = np.minimum(low + 1, size_in - 1)
    frac = x - low
    matrix = np.zeros((size_out, size_in), dtype=np.float64)
    rows = np.arange(size_out)
    np.add.at(matrix, (rows, low), 1 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix.astype(np.float32)


def _cubic_kernel(a: float) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """Keys' cubic convolution kernel for distances |d| <= 1 and 1 < |d| < 2."""
    def near(d: np.ndarray) -> np.ndarray:
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: np.ndarray) -> np.ndarray:
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return near, far


def _cubic_weights(t: np.ndarray, a: float) -> np.ndarray:
    """The weights of the 4 neighbours (offsets -1, 0, 1, 2) at fraction ``t``."""
    near, far = _cubic_kernel(a)
    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def _cubic_matrix(mode: str, size_in: int, size_out: int, scale: float, a: float, exclude_outside: bool) -> np.ndarray:
    """ONNX cubic interpolation as an ``[out, in]`` matrix: neighbours beyond the edge repeat the
    edge sample, or (``exclude_outside``) get weight 0 and the rest are renormalised."""
    x = source_coordinates(mode, size_in, size_out, scale)
    base = np.floor(x).astype(np.int64)
    weights = _cubic_weights(x - base, a)
    taps = base[:, None] + np.arange(-1, 3)[None, :]
    if exclude_outside:
        weights = np.where((taps >= 0) & (taps < size_in), weights, 0.0)
        weights = weights / weights.sum(axis=1, keepdims=True)
    matrix = np.zeros((size_out, size_in), dtype=np.float64)
    np.add.at(matrix, (np.repeat(np.arange(size_out), 4), np.clip(taps, 0, size_in - 1).reshape(-1)),
              weights.reshape(-1))
    return matrix.astype(np.float32)


def _antialias_matrix(mode: str, size_in: int, size_out: int, scale: float, cubic_a: float | None,
                      exclude_outside: bool) -> np.ndarray:
    """Antialiased linear/cubic resize as an ``[out, in]`` matrix: when shrinking, the filter is
    stretched by ``1/scale`` so every input sample contributes. Each row is normalised by its total
    weight; taps beyond the edge repeat the edge sample, or (``exclude_outside``) are left out
    before normalising."""
    x = source_coordinates(mode, size_in, size_out, scale)
    stretch = min(scale, 1.0)
    radius = (2.0 if cubic_a is not None else 1.0) / stretch
    matrix = np.zeros((size_out, size_in), dtype=np.float64)
    for row, centre in enumerate(x):
        taps = np.arange(int(np.floor(centre - radius)), int(np.ceil(centre + radius)) + 1)
        if exclude_outside:
            taps = taps[(taps >= 0) & (taps < size_in)]
        d = np.abs(taps - centre) * stretch
        if cubic_a is None:
            weights = np.maximum(0.0, 1.0 - d)
        else:
            near, far = _cubic_kernel(cubic_a)
            weights = np.where(d <= 1, near(d), np.where(d < 2, far(d), 0.0))
        total = weights.sum()
        np.add.at(matrix[row], np.clip(taps, 0, size_in - 1), weights / total if total else 0.0)
    return matrix.astype(np.float32)


def _tf_resize(mode: str, coord: str, rounding: str, sizes_in: list[int], sizes_out: list[int],
               scales: list[float]) -> tuple[str, bool, bool] | None:
    """(TF op, align_corners, half_pixel_centers) when TF.js computes exactly ONNX's result."""
    exact = all(abs(i * s - o) < 1e-6 * max(o, 1) for i, s, o in zip(sizes_in, scales, sizes_out))
    if not exact:
        return None
    if mode == "linear":
        table = {"half_pixel": (False, True), "align_corners": (True, False), "asymmetric": (False, False)}
        if coord == "pytorch_half_pixel" and min(sizes_out) > 1:
            table["pytorch_half_pixel"] = (False, True)
        flags = table.get(coord)
        return None if flags is None else ("ResizeBilinear", *flags)
    upscale = all(o >= i for i, o in zip(sizes_in, sizes_out))
    if coord == "asymmetric" and rounding == "floor":
        return "ResizeNearestNeighbor", False, False
    if coord == "tf_half_pixel_for_nn" or (coord == "half_pixel" and (rounding == "round_prefer_ceil" or upscale)):
        return "ResizeNearestNeighbor", False, True
    return None


@lowers("Resize")
def _resize(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    mode = ctx.attr("mode", "nearest")
    coord = ctx.attr("coordinate_transformation_mode", "half_pixel")
    rounding = ctx.attr("nearest_mode", "round_prefer_floor")
    antialias = bool(ctx.attr("antialias", 0)) and mode != "nearest"  # nearest ignores it
    if mode not in ("nearest", "linear", "cubic") or coord == "tf_crop_and_resize":
        raise ctx.unsupported(f"Resize mode={mode!r} coordinate_transformation_mode={coord!r} "
                              f"antialias={ctx.attr('antialias', 0)} is not supported")
    if ctx.attr("axes") is not None or ctx.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise ctx.unsupported("Resize axes / keep_aspect_ratio_policy are not supported")
    if x.shape is None or len(x.shape) not in (4, 5) or None in x.shape[2:]:
        raise ctx.unsupported("Resize needs a 4-D (NCHW) or 5-D (NCDHW) input with static spatial sizes")
    shape = x.shape
    rank = len(shape)
    spatial = list(range(2, rank))
    dims_in = [int(shape[a]) for a in spatial]  # type: ignore[arg-type]
    scales_value = ctx.const_input(2, "scales")
    sizes_v = ctx.input(3)
    sizes_known = None if sizes_v is None else sizes_v.elements()
    if sizes_known is not None and len(sizes_known) == rank and None not in sizes_known[2:]:
        # N and C may be symbolic (read from Shape at run time): only the spatial sizes matter
        sizes = [shape[i] if d is None else int(d) for i, d in enumerate(sizes_known)]
        scales = [o / i if i and o else 1.0 for o, i in zip(sizes, shape)]
    elif scales_value is not None and scales_value.size:
        scales = [float(s) for s in scales_value.reshape(-1)]
        sizes = [int(math.floor(i * s + 1e-9)) if i else i for i, s in zip(shape, scales)]
    else:
        raise ctx.unsupported("Resize needs constant scales or sizes")
    if scales[:2] != [1.0, 1.0] or any(i is not None and o != i for i, o in zip(shape[:2], sizes[:2])):
        raise ctx.unsupported("Resize may only change the spatial dimensions")
    sizes_out = [0, 0, *[int(sizes[a]) for a in spatial]]  # type: ignore[arg-type]
    if any(o < 0 or o * max(i, 1) > MAX_SHAPE_DERIVED_ELEMENTS for o, i in zip(sizes_out[2:], dims_in)):
        raise ctx.unsupported(f"Resize to {sizes_out[2:]} from {dims_in}: the index or interpolation tables "
                              f"would pass {MAX_SHAPE_DERIVED_ELEMENTS} elements")
    chosen = None if mode == "cubic" or antialias or rank == 5 else _tf_resize(
        mode, coord, rounding, dims_in, sizes_out[2:], scales[2:])
    if chosen is not None:
        op, align, half = chosen
        y = ctx.emit(op, [ctx.to_channels_last(x), ctx.int_const(sizes_out[2:])],
                     {"T": DType("DT_FLOAT"), "align_corners": align, "half_pixel_centers": half},
                     shape=(shape[0], *sizes_out[2:], shape[1]))
        return [ctx.to_channels_first(y)]
    y = x
    a, exclude = float(ctx.attr("cubic_coeff_a", -0.75)), bool(ctx.attr("exclude_outside", 0))
    for axis, size_in in zip(spatial, dims_in):
        size_out = sizes_out[axis]
        new_shape = tuple(size_out if i == axis else d for i, d in enumerate(y.shape))  # type: ignore[arg-type]
        if mode == "nearest":
            index = _nearest_indices(coord, rounding, size_in, size_out, scales[axis])
            if size_in == size_out and (index == np.arange(size_in)).all():
                continue
            y = ctx.emit("GatherV2", [y, ctx.int_const(index), ctx.int_const(axis)],
                         {"Tparams": DType(y.dtype), "Tindices": DType("DT_INT32"), "Taxis": DType("DT_INT32"),
                          "batch_dims": 0}, shape=new_shape)
            continue
        if antialias:
            matrix = _antialias_matrix(coord, size_in, size_out, scales[axis], a if mode == "cubic" else None, exclude)
        elif mode == "cubic":
            matrix = _cubic_matrix(coord, size_in, size_out, scales[axis], a, exclude)
        else:
            matrix = _linear_matrix(coord, size_in, size_out, scales[axis])
        y = _along_axis(ctx, y, matrix, axis)
        y.shape = new_shape
    return [y]


def _along_axis(ctx: LoweringContext, y: V, matrix: np.ndarray, axis: int) -> V:
    """Apply an ``[out, in]`` interpolation matrix along ``axis``: a product from the right for the
    last axis, from the left for the one before; an earlier axis (the depth of NCDHW) is swapped
    with the next-to-last around the product."""
    rank = ctx.rank_of(y)
    if axis == rank - 1:
        return matmul(ctx, y, ctx.const(matrix.T.copy()))
    if axis == rank - 2:
        return matmul(ctx, ctx.const(matrix.reshape((1,) * (rank - 2) + matrix.shape)), y)
    swap = list(range(rank))
    swap[axis], swap[rank - 2] = rank - 2, axis
    return ctx.transpose(_along_axis(ctx, ctx.transpose(y, swap), matrix, rank - 2), swap)
