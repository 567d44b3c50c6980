"""Small graph factories shared by the optimizer tests."""

from __future__ import annotations

import numpy as np
from builders import GraphBuilder

from tfjs_lite.ir import Graph, TensorRef

CONV = {"strides": [1, 1, 1, 1], "padding": "SAME", "data_format": "NHWC", "T": "DT_FLOAT"}


def rand(shape: tuple[int, ...], seed: int = 0, *, positive: bool = False) -> np.ndarray:
    """Deterministic float32 weights (positive ones for variances)."""
    v = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return (np.abs(v) + 0.5).astype(np.float32) if positive else v * np.float32(0.5)


def conv(g: GraphBuilder, x: TensorRef, cin: int = 3, cout: int = 4, *, name: str = "conv",
         seed: int = 1) -> TensorRef:
    """``Conv2D(x, W)`` with a Const 3x3 filter."""
    w = g.const(rand((3, 3, cin, cout), seed), name=f"{name}/w")
    return g.op("Conv2D", x, w, name=name, **CONV)


def depthwise(g: GraphBuilder, x: TensorRef, cin: int = 3, mult: int = 2, *,
              name: str = "dw") -> TensorRef:
    """``DepthwiseConv2dNative(x, W)`` with a Const filter."""
    w = g.const(rand((3, 3, cin, mult), 7), name=f"{name}/w")
    return g.op("DepthwiseConv2dNative", x, w, name=name, **CONV)


def matmul(g: GraphBuilder, x: TensorRef, k: int = 5, n: int = 3, *, name: str = "mm",
           transpose_b: bool = False) -> TensorRef:
    """``MatMul(x, W)`` with a Const weight."""
    w = g.const(rand((n, k) if transpose_b else (k, n), 3), name=f"{name}/w")
    return g.op("MatMul", x, w, name=name, transpose_a=False, transpose_b=transpose_b, T="DT_FLOAT")


def bias_add(g: GraphBuilder, x: TensorRef, c: int, *, name: str = "bias_add") -> TensorRef:
    """``BiasAdd(x, b)`` with a Const bias."""
    return g.op("BiasAdd", x, g.const(rand((c,), 5), name=f"{name}/b"), name=name,
                data_format="NHWC", T="DT_FLOAT")


def image_input(g: GraphBuilder, c: int = 3) -> TensorRef:
    """A ``(1, 5, 5, c)`` float input named ``x``."""
    return g.input("x", (1, 5, 5, c))


def single_output(g: GraphBuilder, ref: TensorRef) -> Graph:
    """Register ``ref`` as output ``y`` and build."""
    g.output("y", ref)
    return g.build()
