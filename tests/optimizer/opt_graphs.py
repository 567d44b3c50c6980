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


def tf1_dense_loop(*, anchored: bool = True, carry_identity: bool = True) -> Graph:
    """A frozen ``tf.compat.v1.while_loop`` like ``fixtures/graph/tf1_control_flow``.

    ``i, acc = 0, x;  while i < n: i, acc = i + 1, relu(acc @ W + b) + 0.5 * x``, then
    ``y = Exit(acc)``.  Inputs ``x (2, 3)`` float, ``n ()`` int32 (the trip count).

    * ``pivot = Identity(i_switch:1)`` anchors the frame constants (``^pivot``);
    * ``acc_id = Identity(acc_switch:1)`` when ``carry_identity`` (else the MatMul reads the Switch);
    * the weights are the frozen ``ReadVariableOp`` form ``w_read = Identity(Enter(Const w,
      is_constant=true))``, with ``^pivot`` when ``anchored`` (TF1's form) and without otherwise.
    """
    g = GraphBuilder()
    x, n = g.input("x", (2, 3)), g.input("n", (), "DT_INT32")
    frame = {"frame_name": "while/while_context", "parallel_iterations": 10}
    i_enter = g.op("Enter", g.const(0, name="zero"), name="i_enter", is_constant=False, **frame)
    acc_enter = g.op("Enter", x, name="acc_enter", is_constant=False, **frame)
    n_enter = g.op("Enter", n, name="n_enter", is_constant=True, **frame)
    x_enter = g.op("Enter", x, name="x_enter", is_constant=True, **frame)
    w_enter = g.op("Enter", g.const(rand((3, 3), 11), name="w"), name="w_enter",
                   is_constant=True, **frame)
    b_enter = g.op("Enter", g.const(rand((3,), 12), name="b"), name="b_enter",
                   is_constant=True, **frame)
    i_next = g.op("NextIteration", name="i_next")
    acc_next = g.op("NextIteration", name="acc_next")
    i_merge = g.op("Merge", i_enter, i_next, name="i_merge", outputs=2)[0]
    acc_merge = g.op("Merge", acc_enter, acc_next, name="acc_merge", outputs=2)[0]
    cond = g.op("LoopCond", g.op("Less", i_merge, n_enter, name="less"), name="cond")
    i_f, i_t = g.op("Switch", i_merge, cond, name="i_switch", outputs=2)
    acc_f, acc_t = g.op("Switch", acc_merge, cond, name="acc_switch", outputs=2)
    pivot = g.op("Identity", i_t, name="pivot")
    one = g.op("Const", name="one", control=[pivot], dtype="DT_INT32")
    g.graph.set_value("one", np.array(1, np.int32))
    half = g.op("Const", name="half", control=[pivot], dtype="DT_FLOAT")
    g.graph.set_value("half", np.array(0.5, np.float32))
    anchor = [pivot] if anchored else []
    w_read = g.op("Identity", w_enter, name="w_read", control=anchor)
    b_read = g.op("Identity", b_enter, name="b_read", control=anchor)
    acc = g.op("Identity", acc_t, name="acc_id") if carry_identity else acc_t
    mm = g.op("MatMul", acc, w_read, name="mm", transpose_a=False, transpose_b=False, T="DT_FLOAT")
    relu = g.op("Relu", g.op("AddV2", mm, b_read, name="add_b"), name="relu")
    g.graph.set_input("acc_next", 0, g.op("AddV2", relu, g.op("Mul", half, x_enter, name="mul"),
                                          name="acc_new"))
    g.graph.set_input("i_next", 0, g.op("AddV2", pivot, one, name="i_new"))
    g.op("Exit", i_f, name="i_exit")
    g.output("y", g.op("Exit", acc_f, name="acc_exit"))
    return g.build()


def tf1_loop_feeds(n: int) -> dict[str, np.ndarray]:
    """Feeds for :func:`tf1_dense_loop` with trip count ``n``."""
    return {"x": rand((2, 3), 13) * np.float32(2), "n": np.array(n, np.int32)}
