"""Kernels for the rearrangement and box-selection ops ONNX models lower to: DepthToSpace and
NonMaxSuppressionV3 (tested against onnxruntime through the ONNX op fixtures,
tests/onnx/test_onnx_ops.py). TensorScatterUpdate lives with the other scatters in
:mod:`tfjs_lite.kernels.segment`."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.kernels import NodeContext, kernel
from tfjs_lite.kernels._util import to_str

Array = np.ndarray


def _nhwc(attrs: dict[str, Any]) -> None:
    if to_str(attrs.get("data_format"), "NHWC") != "NHWC":
        raise ValueError("only NHWC is supported")


@kernel("DepthToSpace")
def _depth_to_space(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    """TF's order: output[b, h*s+i, w*s+j, c] = input[b, h, w, (i*s + j)*C_out + c]."""
    _nhwc(attrs)
    x, s = inputs[0], int(attrs["block_size"])
    n, h, w, c = x.shape
    y = x.reshape(n, h, w, s, s, c // (s * s)).transpose(0, 1, 3, 2, 4, 5)
    return [y.reshape(n, h * s, w * s, c // (s * s))]


def _iou(a: Array, b: Array) -> float:
    ya0, ya1 = sorted((a[0], a[2]))
    xa0, xa1 = sorted((a[1], a[3]))
    yb0, yb1 = sorted((b[0], b[2]))
    xb0, xb1 = sorted((b[1], b[3]))
    inter = max(min(ya1, yb1) - max(ya0, yb0), 0.0) * max(min(xa1, xb1) - max(xa0, xb0), 0.0)
    union = (ya1 - ya0) * (xa1 - xa0) + (yb1 - yb0) * (xb1 - xb0) - inter
    return float(inter / union) if union > 0 else 0.0


def non_max_suppression(boxes: Array, scores: Array, limit: int, iou_threshold: float,
                        score_threshold: float) -> Array:
    """Greedy NMS: by descending score (lower index first on ties), keep a box unless its IoU with
    a kept one exceeds the threshold; only scores above ``score_threshold``."""
    order = sorted((i for i in range(len(scores)) if scores[i] > score_threshold), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    for i in order:
        if len(kept) >= limit:
            break
        if all(_iou(boxes[i], boxes[j]) <= iou_threshold for j in kept):
            kept.append(i)
    return np.array(kept, dtype=np.int32)


@kernel("NonMaxSuppressionV3")
def _nms(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    boxes, scores, limit, iou, threshold = inputs
    return [non_max_suppression(boxes.astype(np.float64), scores.astype(np.float64), int(limit), float(iou),
                                float(threshold))]
