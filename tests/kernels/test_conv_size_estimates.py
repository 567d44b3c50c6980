"""kernels/sizes.py convolution estimates: an upper bound on the real output, yet tight enough that
ordinary models (a 64x64 YOLO head, ResNet at 224) stay within the reference executor's limit."""

from __future__ import annotations

import numpy as np
import pytest

from tfjs_lite.kernels import KERNELS, NodeContext
from tfjs_lite.kernels.sizes import predicted_elements
from tfjs_lite.limits import MAX_EXECUTOR_ELEMENTS


@pytest.mark.parametrize("op, x, w, attrs", [
    ("Conv2D", (2, 9, 7, 3), (3, 3, 3, 5), {"strides": [1, 1, 1, 1], "padding": "SAME"}),
    ("Conv2D", (1, 8, 8, 4), (3, 3, 4, 6), {"strides": [1, 2, 2, 1], "padding": "VALID"}),
    ("Conv2D", (1, 6, 6, 2), (3, 3, 2, 4), {"strides": [1, 1, 1, 1], "padding": "EXPLICIT",
                                            "explicit_paddings": [0, 0, 3, 2, 1, 4, 0, 0]}),
    ("DepthwiseConv2dNative", (1, 5, 5, 3), (3, 3, 3, 2), {"strides": [1, 1, 1, 1], "padding": "SAME"}),
])
def test_estimate_bounds_the_real_output(op, x, w, attrs):
    attrs = {"dilations": [1, 1, 1, 1], "data_format": "NHWC", **attrs}
    args = [np.ones(x, np.float32), np.ones(w, np.float32)]
    (out,) = KERNELS[op](args, attrs, NodeContext(op=op))
    estimate = predicted_elements(op, args, attrs)
    assert out.size <= estimate <= 4 * out.size + np.prod(w)


def test_real_model_convolutions_fit_the_executor():
    x = np.broadcast_to(np.float32(0), (1, 56, 56, 64))  # ResNet-50 stage 1 at 224x224
    w = np.broadcast_to(np.float32(0), (3, 3, 64, 64))
    attrs = {"strides": [1, 1, 1, 1], "padding": "SAME", "data_format": "NHWC"}
    assert predicted_elements("Conv2D", [x, w], attrs) < MAX_EXECUTOR_ELEMENTS
