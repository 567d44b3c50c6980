"""3-D convolution and pooling kernels (NDHWC), for Keras Conv3D / MaxPooling3D / AveragePooling3D.

Same approach as :mod:`tfjs_lite.kernels.conv`: windows from ``sliding_window_view`` over the
padded input, contracted in float64 and rounded once. TF's SAME padding puts the odd pixel after.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.kernels import NodeContext, kernel
from tfjs_lite.kernels._util import to_str

Array = np.ndarray


def _geometry(x: Array, ksize: tuple[int, ...], attrs: dict[str, Any]) -> tuple[Array, list[tuple[int, int]], list[int]]:
    """Pads and output sizes per spatial axis of an NDHWC input."""
    strides = [int(s) for s in (attrs.get("strides") or [1] * 5)[1:4]]
    dilations = [int(d) for d in (attrs.get("dilations") or [1] * 5)[1:4]]
    padding = to_str(attrs.get("padding"), "VALID")
    pads, outs = [], []
    for size, k, s, d in zip(x.shape[1:4], ksize, strides, dilations):
        eff = (k - 1) * d + 1
        if padding == "SAME":
            out = -(-size // s)
            total = max((out - 1) * s + eff - size, 0)
            pads.append((total // 2, total - total // 2))
        else:
            out = (size - eff) // s + 1
            pads.append((0, 0))
        outs.append(out)
    return np.asarray(strides), pads, outs


def _windows(x: Array, ksize: tuple[int, ...], attrs: dict[str, Any], pad_value: float = 0.0) -> Array:
    """``(N, OD, OH, OW, C, KD, KH, KW)`` view of the windows of an NDHWC tensor."""
    if to_str(attrs.get("data_format"), "NDHWC") != "NDHWC":
        raise NotImplementedError("only NDHWC 3-D convolutions and pools are implemented")
    strides, pads, outs = _geometry(x, ksize, attrs)
    dilations = [int(d) for d in (attrs.get("dilations") or [1] * 5)[1:4]]
    xp = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=pad_value)
    span = [(k - 1) * d + 1 for k, d in zip(ksize, dilations)]
    view = np.lib.stride_tricks.sliding_window_view(xp, span, axis=(1, 2, 3))
    view = view[:, :: strides[0], :: strides[1], :: strides[2], :, :: dilations[0], :: dilations[1], :: dilations[2]]
    return view[:, : outs[0], : outs[1], : outs[2]]


def _acc(x: Array) -> Array:
    return x.astype(np.float64) if x.dtype in (np.float16, np.float32) else x


@kernel("Conv3D")
def _conv3d(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, w = inputs
    cols = _windows(_acc(x), tuple(w.shape[:3]), attrs)
    y = np.einsum("ndhwcijk,ijkco->ndhwo", cols, _acc(w))
    return [y.astype(x.dtype)]


def _pool_size(attrs: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(k) for k in attrs["ksize"][1:4])


@kernel("MaxPool3D")
def _max_pool3d(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x = inputs[0]
    cols = _windows(x, _pool_size(attrs), {**attrs, "dilations": None}, pad_value=-np.inf)
    return [cols.max(axis=(5, 6, 7)).astype(x.dtype)]


@kernel("AvgPool3D")
def _avg_pool3d(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x = inputs[0]
    plain = {**attrs, "dilations": None}
    total = _windows(_acc(x), _pool_size(attrs), plain).sum(axis=(5, 6, 7))
    # SAME padding: TF divides by the number of real (unpadded) elements in each window.
    count = _windows(np.ones((1, *x.shape[1:4], 1)), _pool_size(attrs), plain).sum(axis=(5, 6, 7))
    return [(total / count).astype(x.dtype)]
