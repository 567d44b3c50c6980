"""NCHW graphs as an ONNX lowering emits them: every layout-sensitive op wrapped in transposes.

``wrapped(g, x, op)`` is ``Transpose(op(Transpose(x, NCHW->NHWC)), NHWC->NCHW)``; everything else
(batch norm as Mul/Add with ``[C,1,1]`` constants, residual adds, SE gates, concat on axis 1,
global average pooling as ``Mean`` over axes ``[2,3]``, Flatten as Reshape, Gemm as MatMul) works
on NCHW tensors, as the ONNX graph does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from builders import GraphBuilder
from opt_graphs import rand

from tfjs_lite.ir import Graph, TensorRef

TO_NHWC = [0, 2, 3, 1]
TO_NCHW = [0, 3, 1, 2]
CONV = {"strides": [1, 1, 1, 1], "padding": "SAME", "data_format": "NHWC", "T": "DT_FLOAT"}


class NchwBuilder:
    """A GraphBuilder with the NCHW building blocks; ``seed`` advances for every weight."""

    def __init__(self) -> None:
        self.g = GraphBuilder()
        self.seed = 0

    def weights(self, shape: tuple[int, ...], *, positive: bool = False) -> TensorRef:
        self.seed += 1
        return self.g.const(rand(shape, self.seed, positive=positive))

    def transpose(self, x: TensorRef, perm: list[int]) -> TensorRef:
        return self.g.op("Transpose", x, self.g.const(np.array(perm, np.int32)), T="DT_FLOAT")

    def wrapped(self, x: TensorRef, body: Callable[[TensorRef], TensorRef]) -> TensorRef:
        return self.transpose(body(self.transpose(x, TO_NHWC)), TO_NCHW)

    def conv(self, x: TensorRef, cin: int, cout: int, k: int = 3) -> TensorRef:
        w = self.weights((k, k, cin, cout))
        return self.wrapped(x, lambda t: self.g.op("Conv2D", t, w, **CONV))

    def max_pool(self, x: TensorRef) -> TensorRef:
        return self.wrapped(x, lambda t: self.g.op(
            "MaxPool", t, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID", T="DT_FLOAT"))

    def upsample(self, x: TensorRef, size: int) -> TensorRef:
        sizes = self.g.const(np.array([size, size], np.int32))
        return self.wrapped(x, lambda t: self.g.op("ResizeNearestNeighbor", t, sizes, T="DT_FLOAT"))

    def batch_norm(self, x: TensorRef, c: int) -> TensorRef:
        scaled = self.g.op("Mul", x, self.weights((c, 1, 1), positive=True), T="DT_FLOAT")
        return self.g.op("AddV2", scaled, self.weights((c, 1, 1)), T="DT_FLOAT")

    def relu(self, x: TensorRef) -> TensorRef:
        return self.g.op("Relu", x, T="DT_FLOAT")

    def global_pool(self, x: TensorRef) -> TensorRef:
        return self.g.op("Mean", x, self.g.const(np.array([2, 3], np.int32)), keep_dims=True,
                         T="DT_FLOAT")


def resnet_like(*, features_output: bool = True) -> Graph:
    """Stem, residual block, SE block, concat, upsample, global pool, flatten, gemm.

    Input ``x`` ``(1, 3, 8, 8)``; outputs ``logits`` ``(1, 5)`` and (optionally) the NCHW
    feature map ``features`` ``(1, 4, 8, 8)``.
    """
    b = NchwBuilder()
    g = b.g
    x = g.input("x", (1, 3, 8, 8))
    h = b.relu(b.batch_norm(b.conv(x, 3, 4), 4))
    h = b.max_pool(h)                                                    # (1, 4, 4, 4)
    a = b.relu(b.batch_norm(b.conv(h, 4, 4), 4))
    a = b.batch_norm(b.conv(a, 4, 4), 4)
    h = b.relu(g.op("AddV2", a, h, T="DT_FLOAT"))                        # residual
    s = b.global_pool(h)                                                 # SE: (1, 4, 1, 1)
    s = b.relu(b.conv(s, 4, 2, k=1))
    s = g.op("Sigmoid", b.conv(s, 2, 4, k=1), T="DT_FLOAT")
    h = g.op("Mul", h, s, T="DT_FLOAT")
    left, right = b.conv(h, 4, 2), b.conv(h, 4, 2)
    h = g.op("ConcatV2", left, right, g.const(np.int32(1)), N=2, T="DT_FLOAT")
    u = b.conv(b.upsample(h, 8), 4, 4)                                   # (1, 4, 8, 8)
    flat = g.op("Reshape", b.global_pool(u), g.const(np.array([1, 4], np.int32)), T="DT_FLOAT")
    logits = g.op("AddV2", g.op("MatMul", flat, b.weights((4, 5)), T="DT_FLOAT"), b.weights((5,)),
                  T="DT_FLOAT")
    g.output("logits", logits)
    if features_output:
        g.output("features", u)
    return g.build()
