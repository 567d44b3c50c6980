"""Lowerings of convolution, pooling, padding, cropping and resizing layers (channels_last).

1-D layers run as their 2-D op on an inserted height of 1 (``ExpandDims`` → op → ``Squeeze``), as
TF's own 1-D convolution does. Keras kernels are already in TF's layouts (``HWIO`` for
convolutions, ``HW C M`` for depthwise, ``HW O I`` for transposed convolutions).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from tfjs_lite.keras.lowering.activations import activation
from tfjs_lite.keras.lowering.builder import INT32, Builder, KTensor
from tfjs_lite.keras.lowering.model import LayerCall

Out = list[KTensor]
_RANK = {"1D": 1, "2D": 2, "3D": 3}


def _rank(class_name: str) -> int:
    """Spatial rank from the class name (``Conv1DTranspose`` → 1)."""
    return next((rank for tag, rank in _RANK.items() if tag in class_name), 2)


def as_tuple(value: Any, rank: int, default: int = 1) -> tuple[int, ...]:
    if value is None:
        return (default,) * rank
    if isinstance(value, int):
        return (value,) * rank
    return tuple(int(v) for v in value)


def _out_len(size: Optional[int], k: int, s: int, d: int, padding: str) -> Optional[int]:
    if size is None:
        return None
    if padding == "same":
        return -(-size // s)
    return (size - d * (k - 1) - 1) // s + 1


def _check_channels_last(call: LayerCall) -> None:
    if call.config.get("data_format") == "channels_first":
        raise call.refuse("data_format='channels_first' is not lowered (channels_last only)")


def _padding(call: LayerCall) -> str:
    padding = str(call.option("padding", "valid")).lower()
    if padding not in ("same", "valid", "causal"):
        raise call.refuse(f"padding={padding!r} is not supported")
    return padding


def _finish(call: LayerCall, y: KTensor) -> KTensor:
    if call.option("use_bias", True):
        y = call.builder.bias_add(y, call.weight("bias"))
    return activation(call.builder, y, call.config.get("activation"), keras3=call.keras3)


def _as_2d(b: Builder, x: KTensor, rank: int) -> KTensor:
    return b.expand_dims(x, 1) if rank == 1 else x


def _from_2d(b: Builder, y: KTensor, rank: int) -> KTensor:
    return b.squeeze(y, [1]) if rank == 1 else y


def conv_nd(b: Builder, x: KTensor, kernel: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
             padding: str, *, depthwise: bool = False) -> KTensor:
    """Conv2D / Conv3D / DepthwiseConv2dNative on a channels_last ``x`` (rank 4 or 5)."""
    spatial = x.rank - 2
    ks = kernel.shape[:spatial]
    out = [_out_len(x.shape[1 + i], int(ks[i]), strides[i], dilations[i], padding) for i in range(spatial)]
    channels = int(kernel.shape[-2] * kernel.shape[-1]) if depthwise else int(kernel.shape[-1])
    attrs: dict[str, Any] = {"strides": [1, *strides, 1], "padding": padding.upper(), "dilations": [1, *dilations, 1],
                             "data_format": "NHWC" if spatial == 2 else "NDHWC"}
    if spatial == 2:
        attrs["explicit_paddings"] = []
    if spatial == 2 and not depthwise:
        attrs["use_cudnn_on_gpu"] = True
    op = "DepthwiseConv2dNative" if depthwise else ("Conv2D" if spatial == 2 else "Conv3D")
    return b.op(op, [x, b.const(kernel, name="kernel")], (x.shape[0], *out, channels), attrs)


def _geometry(call: LayerCall, *kernels: np.ndarray) -> tuple[list[np.ndarray], tuple[int, ...], tuple[int, ...]]:
    """The kernels, strides and dilations of a convolution, 1-D ones lifted to 2-D (height 1)."""
    _check_channels_last(call)
    rank = _rank(call.class_name)
    strides = as_tuple(call.config.get("strides"), rank)
    dilations = as_tuple(call.config.get("dilation_rate"), rank)
    if rank == 1:
        return [k[np.newaxis] for k in kernels], (1, *strides), (1, *dilations)
    return list(kernels), strides, dilations


def conv(call: LayerCall) -> Out:
    """Conv1D/2D/3D (``groups`` > 1 stays one TF-style grouped Conv2D; the optimizer splits it)."""
    b, x = call.builder, call.inputs[0]
    rank = _rank(call.class_name)
    padding = _padding(call)
    (kernel,), strides, dilations = _geometry(call, call.weight("kernel"))
    if padding == "causal":
        x = b.pad(x, [(0, 0), (dilations[-1] * (kernel.shape[-3] - 1), 0), (0, 0)])
        padding = "valid"
    y = conv_nd(b, _as_2d(b, x, rank), kernel, strides, dilations, padding)
    return [_finish(call, _from_2d(b, y, rank))]


def depthwise_conv(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    rank = _rank(call.class_name)
    (kernel,), strides, dilations = _geometry(call, call.weight("depthwise_kernel"))
    y = conv_nd(b, _as_2d(b, x, rank), kernel, strides, dilations, _padding(call), depthwise=True)
    return [_finish(call, _from_2d(b, y, rank))]


def separable_conv(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    rank = _rank(call.class_name)
    (depthwise, pointwise), strides, dilations = _geometry(
        call, call.weight("depthwise_kernel"), call.weight("pointwise_kernel"))
    y = conv_nd(b, _as_2d(b, x, rank), depthwise, strides, dilations, _padding(call), depthwise=True)
    y = conv_nd(b, y, pointwise, (1, 1), (1, 1), "valid")
    return [_finish(call, _from_2d(b, y, rank))]


def _transposed_len(size: Optional[int], k: int, s: int, d: int, padding: str, out_pad: Optional[int]) -> int:
    if size is None:
        raise ValueError("static size needed")
    k = k + (k - 1) * (d - 1)
    if out_pad is None:
        return size * s + max(k - s, 0) if padding == "valid" else size * s
    pad = k // 2 if padding == "same" else 0
    return (size - 1) * s + k - 2 * pad + out_pad


def conv_transpose(call: LayerCall) -> Out:
    _check_channels_last(call)
    b, x = call.builder, call.inputs[0]
    rank = _rank(call.class_name)
    padding = _padding(call)
    strides = as_tuple(call.config.get("strides"), rank)
    dilations = as_tuple(call.config.get("dilation_rate"), rank)
    out_pad = call.config.get("output_padding")
    out_pads = [None] * rank if out_pad is None else list(as_tuple(out_pad, rank))
    kernel = call.weight("kernel")
    if any(d != 1 for d in dilations):
        raise call.refuse("dilated transposed convolutions are not lowered")
    try:
        sizes = [_transposed_len(x.shape[1 + i], int(kernel.shape[i]), strides[i], 1, padding, out_pads[i])
                 for i in range(rank)]
    except ValueError:
        raise call.refuse("a transposed convolution needs the static spatial shape of its input") from None
    if rank == 1:
        kernel, strides, sizes = kernel[np.newaxis], (1, *strides), [1, *sizes]
    x2 = _as_2d(b, x, rank)
    filters = int(kernel.shape[-2])
    batch = b.op("StridedSlice", [b.op("Shape", [x2], (x2.rank,), {"out_type": INT32}, dtype=INT32),
                                  b.ints([0], name="begin"), b.ints([1], name="end"), b.ints([1], name="strides")],
                 (1,), {"Index": INT32, "begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0,
                        "shrink_axis_mask": 0})
    output_shape = b.concat([batch, b.ints([*sizes, filters], name="output_shape")], 0)
    spatial = len(sizes)
    op = "Conv2DBackpropInput" if spatial == 2 else "Conv3DBackpropInputV2"
    attrs: dict[str, Any] = {"strides": [1, *strides, 1], "padding": padding.upper(),
                             "dilations": [1] * (spatial + 2), "data_format": "NHWC" if spatial == 2 else "NDHWC"}
    if spatial == 2:
        attrs.update(explicit_paddings=[], use_cudnn_on_gpu=True)
    else:
        attrs["Tshape"] = INT32
    y = b.op(op, [output_shape, b.const(kernel, name="kernel"), x2], (x.shape[0], *sizes, filters), attrs,
             dtype=x.dtype)
    b.graph.set_attr(y.ref.node, "T", x.dtype)
    return [_finish(call, _from_2d(b, y, rank))]


# --- pooling ------------------------------------------------------------------------------------


def pooling(call: LayerCall) -> Out:
    _check_channels_last(call)
    b, x = call.builder, call.inputs[0]
    rank = _rank(call.class_name)
    pool = as_tuple(call.config.get("pool_size"), rank, 2)
    strides = call.config.get("strides")
    strides = pool if strides is None else as_tuple(strides, rank)
    padding = _padding(call)
    if rank == 1:
        pool, strides = (1, *pool), (1, *strides)
    x2 = _as_2d(b, x, rank)
    spatial = len(pool)
    out = [_out_len(x2.shape[1 + i], pool[i], strides[i], 1, padding) for i in range(spatial)]
    kind = "MaxPool" if call.class_name.startswith("Max") else "AvgPool"
    op = kind if spatial == 2 else kind + "3D"
    attrs = {"ksize": [1, *pool, 1], "strides": [1, *strides, 1], "padding": padding.upper(),
             "data_format": "NHWC" if spatial == 2 else "NDHWC"}
    if op == "MaxPool":
        attrs["explicit_paddings"] = []
    y = b.op(op, [x2], (x2.shape[0], *out, x2.shape[-1]), attrs)
    return [_from_2d(b, y, rank)]


def global_pooling(call: LayerCall) -> Out:
    _check_channels_last(call)
    b, x = call.builder, call.inputs[0]
    op = "Max" if call.class_name.startswith("GlobalMax") else "Mean"
    keepdims = bool(call.option("keepdims", False))
    if x.mask is not None and op == "Mean" and x.rank == 3:  # Keras averages the real steps only
        weights = b.cast(b.expand_dims(x.mask, -1), x.dtype)
        total = b.reduce("Sum", b.mul(x, weights), [1], keepdims)
        return [b.div(total, b.reduce("Sum", weights, [1], keepdims))]
    return [b.reduce(op, x, list(range(1, x.rank - 1)), keepdims)]


# --- padding, cropping, resizing ----------------------------------------------------------------


def _pairs(value: Any, rank: int) -> list[tuple[int, int]]:
    if isinstance(value, int):
        return [(value, value)] * rank
    items = list(value)
    if rank == 1 and len(items) == 2 and all(isinstance(v, int) for v in items):
        return [(int(items[0]), int(items[1]))]
    return [(v, v) if isinstance(v, int) else (int(v[0]), int(v[1])) for v in items]


def zero_padding(call: LayerCall) -> Out:
    _check_channels_last(call)
    rank = _rank(call.class_name)
    pads = _pairs(call.option("padding", 1), rank)
    return [call.builder.pad(call.inputs[0], [(0, 0), *pads, (0, 0)])]


def cropping(call: LayerCall) -> Out:
    _check_channels_last(call)
    x = call.inputs[0]
    rank = _rank(call.class_name)
    crops = _pairs(call.option("cropping", 1), rank)
    if any(x.shape[1 + i] is None for i in range(rank)):
        raise call.refuse("cropping needs the static spatial shape of its input")
    sizes = [x.shape[1 + i] - a - c for i, (a, c) in enumerate(crops)]  # type: ignore[operator]
    return [call.builder.slice(x, [0, *(a for a, _ in crops), 0], [-1, *sizes, -1])]


def _repeat(b: Builder, x: KTensor, axis: int, times: int) -> KTensor:
    """Repeat every element ``times`` times along ``axis`` (nearest-neighbour upsampling)."""
    if times == 1:
        return x
    y = b.tile(b.expand_dims(x, axis + 1), [times if i == axis + 1 else 1 for i in range(x.rank + 1)])
    dim = x.shape[axis]
    size = None if dim is None else dim * times
    return b.reshape(y, x.shape[:axis] + (size,) + x.shape[axis + 1:])


def _resize(b: Builder, x: KTensor, height: int, width: int, method: str) -> KTensor:
    op = {"nearest": "ResizeNearestNeighbor", "bilinear": "ResizeBilinear"}[method]
    return b.op(op, [x, b.ints([height, width], name="size")], (x.shape[0], height, width, x.shape[3]),
                {"align_corners": False, "half_pixel_centers": True})


def upsampling(call: LayerCall) -> Out:
    _check_channels_last(call)
    b, x = call.builder, call.inputs[0]
    rank = _rank(call.class_name)
    size = as_tuple(call.config.get("size", 2), rank, 2)
    method = str(call.option("interpolation", "nearest"))
    if rank == 2 and method == "bilinear":
        if x.shape[1] is None or x.shape[2] is None:
            raise call.refuse("bilinear upsampling needs the static spatial shape of its input")
        return [_resize(b, x, x.shape[1] * size[0], x.shape[2] * size[1], "bilinear")]
    if method != "nearest":
        raise call.refuse(f"interpolation={method!r} is not lowered")
    for i, times in enumerate(size):
        x = _repeat(b, x, 1 + i, times)
    return [x]


def resizing(call: LayerCall) -> Out:
    b, x = call.builder, call.inputs[0]
    if call.config.get("crop_to_aspect_ratio") or call.config.get("pad_to_aspect_ratio"):
        raise call.refuse("crop_to_aspect_ratio / pad_to_aspect_ratio are not lowered")
    method = str(call.option("interpolation", "bilinear"))
    if method not in ("nearest", "bilinear"):
        raise call.refuse(f"interpolation={method!r} is not lowered")
    return [_resize(b, b.cast(x, x.dtype), int(call.config["height"]), int(call.config["width"]), method)]


def center_crop(call: LayerCall) -> Out:
    x = call.inputs[0]
    height, width = int(call.config["height"]), int(call.config["width"])
    if x.shape[1] is None or x.shape[2] is None or x.shape[1] < height or x.shape[2] < width:
        raise call.refuse("CenterCrop is lowered for inputs at least as large as the crop, with a static shape")
    top, left = (x.shape[1] - height) // 2, (x.shape[2] - width) // 2
    return [call.builder.slice(x, [0, top, left, 0], [-1, height, width, -1])]
