"""Convolution and pooling kernels (NHWC reference; NCHW handled by transposing).

All windows are built with ``sliding_window_view`` over a padded input ("im2col" without the
copy), then contracted with ``tensordot``/``einsum`` in float64 and rounded once.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tfjs_lite.kernels import NodeContext, kernel
from tfjs_lite.kernels._util import to_str

Array = np.ndarray

__all__ = ["conv2d", "depthwise_conv2d", "Window"]


class Window(NamedTuple):
    """Spatial window geometry in NHWC order: kernel size, strides, dilations, padding."""

    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    out: tuple[int, int]


def _spatial(values: Any, data_format: str, default: int = 1) -> tuple[int, int]:
    vals = list(values) if values is not None else [default] * 4
    if len(vals) == 2:
        return int(vals[0]), int(vals[1])
    return (int(vals[2]), int(vals[3])) if data_format == "NCHW" else (int(vals[1]), int(vals[2]))


def _pad_1d(size: int, k: int, s: int, d: int, padding: str, explicit: tuple[int, int]) -> tuple[int, int, int]:
    eff = (k - 1) * d + 1
    if padding == "SAME":
        out = -(-size // s)
        total = max((out - 1) * s + eff - size, 0)
        return total // 2, total - total // 2, out
    lo, hi = explicit if padding == "EXPLICIT" else (0, 0)
    return lo, hi, (size + lo + hi - eff) // s + 1


def window(in_hw: tuple[int, int], kernel_hw: tuple[int, int], attrs: dict[str, Any]) -> Window:
    """Compute the NHWC window geometry for a conv/pool node from its attrs."""
    fmt = to_str(attrs.get("data_format"), "NHWC")
    strides = _spatial(attrs.get("strides"), fmt)
    dilations = _spatial(attrs.get("dilations"), fmt)
    padding = to_str(attrs.get("padding"), "VALID")
    explicit = [int(v) for v in attrs.get("explicit_paddings", [])] or [0] * 8
    h_idx, w_idx = (2, 3) if fmt == "NCHW" else (1, 2)
    pads, outs = [], []
    for axis, idx in enumerate((h_idx, w_idx)):
        lo, hi, out = _pad_1d(in_hw[axis], kernel_hw[axis], strides[axis], dilations[axis], padding,
                              (explicit[2 * idx], explicit[2 * idx + 1]))
        pads.append((lo, hi))
        outs.append(out)
    return Window(kernel_hw, strides, dilations, (pads[0], pads[1]), (outs[0], outs[1]))


def patches(x: Array, win: Window, *, pad_value: float = 0.0) -> Array:
    """``(N, OH, OW, KH, KW, C)`` view of the windows of an NHWC tensor."""
    (pt, pb), (pl, pr) = win.pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    kh, kw = win.kernel
    dh, dw = win.dilations
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    view = np.lib.stride_tricks.sliding_window_view(xp, span, axis=(1, 2))  # N,H',W',C,sh,sw
    view = view[:, :: win.strides[0], :: win.strides[1], :, ::dh, ::dw]
    view = view[:, : win.out[0], : win.out[1]]
    return np.moveaxis(view, 3, -1)


def _acc(x: Array) -> Array:
    return x.astype(np.float64) if x.dtype in (np.float16, np.float32) else x


def to_nhwc(x: Array, attrs: dict[str, Any]) -> Array:
    """Transpose an NCHW tensor to NHWC when the node says so."""
    return x.transpose(0, 2, 3, 1) if to_str(attrs.get("data_format"), "NHWC") == "NCHW" else x


def from_nhwc(y: Array, attrs: dict[str, Any]) -> Array:
    """Inverse of :func:`to_nhwc`."""
    return y.transpose(0, 3, 1, 2) if to_str(attrs.get("data_format"), "NHWC") == "NCHW" else y


def conv2d(x: Array, w: Array, attrs: dict[str, Any]) -> Array:
    """``Conv2D``: x NHWC/NCHW, filter HWIO; returns x's layout and dtype."""
    xn = to_nhwc(x, attrs)
    win = window(xn.shape[1:3], w.shape[:2], attrs)
    cols = patches(_acc(xn), win)
    groups = xn.shape[3] // w.shape[2]
    if groups == 1:
        y = np.tensordot(cols, _acc(w), axes=([3, 4, 5], [0, 1, 2]))
    else:  # grouped convolution: input channels split evenly across output-channel groups
        cin, cout = w.shape[2], w.shape[3] // groups
        parts = [np.tensordot(cols[..., g * cin:(g + 1) * cin], _acc(w[..., g * cout:(g + 1) * cout]),
                              axes=([3, 4, 5], [0, 1, 2])) for g in range(groups)]
        y = np.concatenate(parts, axis=-1)
    return from_nhwc(y.astype(x.dtype), attrs)


def depthwise_conv2d(x: Array, w: Array, attrs: dict[str, Any]) -> Array:
    """``DepthwiseConv2dNative``: filter ``(KH, KW, C, M)``, output channel ``c * M + m``."""
    xn = to_nhwc(x, attrs)
    win = window(xn.shape[1:3], w.shape[:2], attrs)
    cols = patches(_acc(xn), win)
    y = np.einsum("nhwijc,ijcm->nhwcm", cols, _acc(w))
    y = y.reshape(y.shape[:3] + (-1,))
    return from_nhwc(y.astype(x.dtype), attrs)


@kernel("Conv2D")
def _conv2d(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [conv2d(inputs[0], inputs[1], attrs)]


@kernel("DepthwiseConv2dNative")
def _depthwise(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [depthwise_conv2d(inputs[0], inputs[1], attrs)]


@kernel("Conv2DBackpropInput")
def _conv2d_transpose(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    """Gradient of Conv2D w.r.t. its input: scatter each output pixel back through the filter."""
    sizes, w, dy = inputs
    fmt = to_str(attrs.get("data_format"), "NHWC")
    shape = [int(v) for v in sizes]
    n, h, wd, cin = (shape[0], shape[2], shape[3], shape[1]) if fmt == "NCHW" else shape
    dyn = to_nhwc(dy, attrs)
    win = window((h, wd), w.shape[:2], attrs)
    (pt, pb), (pl, pr) = win.pads
    (kh, kw), (sh, sw), (dh, dw) = win.kernel, win.strides, win.dilations
    oh, ow = dyn.shape[1:3]
    hp = max(h + pt + pb, (oh - 1) * sh + (kh - 1) * dh + 1)
    wp = max(wd + pl + pr, (ow - 1) * sw + (kw - 1) * dw + 1)
    xp = np.zeros((n, hp, wp, cin), np.float64 if dy.dtype != np.float64 else dy.dtype)
    contrib = np.einsum("nhwo,ijco->nhwijc", _acc(dyn), _acc(w))
    for i in range(kh):
        for j in range(kw):
            xp[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw] += contrib[:, :, :, i, j]
    x = xp[:, pt: pt + h, pl: pl + wd]
    return [from_nhwc(x.astype(dy.dtype), attrs)]


def _pool_window(x: Array, attrs: dict[str, Any]) -> Window:
    fmt = to_str(attrs.get("data_format"), "NHWC")
    ksize = _spatial(attrs.get("ksize"), fmt)
    return window(x.shape[1:3], ksize, {**attrs, "dilations": [1, 1, 1, 1]})


@kernel("MaxPool", "MaxPoolV2")
def _max_pool(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    if ctx.op == "MaxPoolV2":  # ksize and strides arrive as tensors
        attrs = {**attrs, "ksize": inputs[1].tolist(), "strides": inputs[2].tolist()}
    xn = to_nhwc(inputs[0], attrs)
    win = _pool_window(xn, attrs)
    low = -np.inf if xn.dtype.kind == "f" else np.iinfo(xn.dtype).min
    cols = patches(xn, win, pad_value=low)
    return [from_nhwc(cols.max(axis=(3, 4)).astype(xn.dtype), attrs)]


@kernel("MaxPoolWithArgmax")
def _max_pool_with_argmax(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    """Max and the flat NHWC index of the first maximum of each window (row-major window order):
    ``(y * W + x) * C + c``, plus ``b * H * W * C`` with ``include_batch_in_index``."""
    x = inputs[0]
    win = _pool_window(x, attrs)
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    cols = patches(x, win, pad_value=low)  # N, OH, OW, KH, KW, C
    n, oh, ow, kh, kw, c = cols.shape
    flat = cols.reshape(n, oh, ow, kh * kw, c)
    pick = flat.argmax(axis=3)  # N, OH, OW, C
    (pt, _), (pl, _) = win.pads
    ys = np.arange(oh)[None, :, None, None] * win.strides[0] - pt + pick // kw
    xs = np.arange(ow)[None, None, :, None] * win.strides[1] - pl + pick % kw
    h, w = x.shape[1:3]
    index = (ys * w + xs) * c + np.arange(c)
    if attrs.get("include_batch_in_index"):
        index = index + np.arange(n)[:, None, None, None] * (h * w * c)
    dtype = np.int64 if str(attrs.get("Targmax", "")).endswith("INT64") else np.int32
    return [flat.max(axis=3).astype(x.dtype), index.astype(dtype)]


@kernel("AvgPool")
def _avg_pool(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    xn = to_nhwc(inputs[0], attrs)
    win = _pool_window(xn, attrs)
    total = patches(_acc(xn), win).sum(axis=(3, 4))
    # SAME padding: TF divides by the number of real (unpadded) elements in each window.
    ones = np.ones((1,) + xn.shape[1:3] + (1,), np.float64)
    count = patches(ones, win).sum(axis=(3, 4))
    return [from_nhwc((total / count).astype(xn.dtype), attrs)]
