"""Hypothesis strategies: small random DAGs of element-wise, matmul and conv ops, and arrays.

``random_graphs()`` draws a graph whose single input is either ``(2, F)`` (an MLP-like chain of
MatMul/BiasAdd/element-wise ops) or ``(1, H, W, C)`` (a CNN-like chain with Conv2D).  Every step
reads one or two earlier tensors of the same shape, so graphs have real fan-out and fan-in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from builders import GraphBuilder
from harness import record_shapes
from tfjs_lite.ir import Graph, TensorRef

__all__ = ["float_arrays", "random_graphs", "random_nchw_graphs"]

UNARY = ("Relu", "Relu6", "Tanh", "Sigmoid", "Neg", "Abs", "Square", "Elu", "Identity", "Softsign")
BINARY = ("AddV2", "Sub", "Mul", "Maximum", "Minimum")
ACTS = ("Relu", "Relu6", "Elu", "Sigmoid", "Tanh", "LeakyRelu")


@dataclass
class _State:
    b: GraphBuilder
    rng: np.random.Generator
    tensors: list[tuple[TensorRef, tuple[int, ...]]] = field(default_factory=list)

    def weights(self, shape: tuple[int, ...]) -> TensorRef:
        # Small-magnitude weights keep activations O(1), so float32 comparisons stay meaningful.
        return self.b.const((self.rng.standard_normal(shape) * 0.5).astype(np.float32))


def _same_shape(state: _State, data: st.DataObject, shape: tuple[int, ...]) -> TensorRef:
    pool = [r for r, s in state.tensors if s == shape]
    return pool[data.draw(st.integers(0, len(pool) - 1))]


def _new_state(draw: st.DrawFn) -> tuple[st.DataObject, _State]:
    data = draw(st.data())
    seed = draw(st.integers(0, 2**16))
    return data, _State(GraphBuilder(), np.random.default_rng(seed))


def _step(state: _State, data: st.DataObject) -> None:
    ref, shape = state.tensors[data.draw(st.integers(0, len(state.tensors) - 1))]
    kind = data.draw(st.sampled_from(("unary", "binary", "const", "contract", "bias_act")))
    b = state.b
    if kind == "unary":
        out, new_shape = b.op(data.draw(st.sampled_from(UNARY)), ref), shape
    elif kind == "binary":
        out, new_shape = b.op(data.draw(st.sampled_from(BINARY)), ref, _same_shape(state, data, shape)), shape
    elif kind == "const":
        out, new_shape = b.op(data.draw(st.sampled_from(BINARY)), ref, state.weights(shape[-1:])), shape
    elif kind == "contract" and len(shape) == 2:
        units = data.draw(st.integers(1, 5))
        out, new_shape = b.op("MatMul", ref, state.weights((shape[1], units))), (shape[0], units)
    elif kind == "contract":
        k, units = data.draw(st.sampled_from((1, 3))), data.draw(st.integers(1, 4))
        w = state.weights((k, k, shape[3], units))
        out = b.op("Conv2D", ref, w, strides=[1, 1, 1, 1], padding="SAME", data_format="NHWC")
        new_shape = shape[:3] + (units,)
    else:
        biased = b.op("BiasAdd", ref, state.weights(shape[-1:]), data_format="NHWC")
        out, new_shape = b.op(data.draw(st.sampled_from(ACTS)), biased), shape
    state.tensors.append((out, new_shape))


@st.composite
def random_graphs(draw: st.DrawFn, max_steps: int = 8) -> Graph:
    """A small random DAG with one float32 input ``x`` and one or two outputs."""
    data, state = _new_state(draw)
    if draw(st.booleans()):
        shape: tuple[int, ...] = (2, draw(st.integers(1, 5)))
    else:
        shape = (1, draw(st.integers(2, 5)), draw(st.integers(2, 5)), draw(st.integers(1, 3)))
    return _grow(draw, state, data, shape, _step, max_steps)


def _grow(draw: st.DrawFn, state: _State, data: st.DataObject, shape: tuple[int, ...],
          step: Any, max_steps: int, *, final: str | None = None) -> Graph:
    """Input ``x`` of ``shape``, up to ``max_steps`` steps, output ``y`` (through ``final`` if
    given) and maybe a second output ``z`` from the middle."""
    state.tensors.append((state.b.input("x", shape), shape))
    for _ in range(draw(st.integers(1, max_steps))):
        step(state, data)
    last = state.tensors[-1][0]
    state.b.output("y", state.b.op(final, last) if final else last)
    if len(state.tensors) > 2 and draw(st.booleans()):
        state.b.output("z", state.tensors[draw(st.integers(1, len(state.tensors) - 2))][0])
    return state.b.build()


def float_arrays(shape: tuple[int, ...], *, scale: float = 1.0) -> st.SearchStrategy[np.ndarray]:
    """float32 arrays of ``shape`` with finite values in [-scale, scale]."""
    size = int(np.prod(shape)) if shape else 1
    elems = st.floats(-scale, scale, allow_nan=False, width=32)
    return st.lists(elems, min_size=size, max_size=size).map(
        lambda v: np.asarray(v, np.float32).reshape(shape))


# ---------------------------------------------------------------- NCHW graphs (transpose sinking)

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)


def _nchw_step(state: _State, data: st.DataObject) -> None:
    ref, shape = state.tensors[data.draw(st.integers(0, len(state.tensors) - 1))]
    kind = data.draw(st.sampled_from(("unary", "binary", "const", "conv", "concat", "pool", "gate",
                                      "shuffle", "group_norm")))
    b = state.b
    n, c, h, w = shape

    def perm(p: tuple[int, ...]) -> TensorRef:
        return b.const(np.array(p, np.int32))

    if kind == "unary":
        out, new_shape = b.op(data.draw(st.sampled_from(UNARY)), ref), shape
    elif kind == "binary":
        out, new_shape = b.op(data.draw(st.sampled_from(BINARY)), ref, _same_shape(state, data, shape)), shape
    elif kind == "const":
        const_shape = data.draw(st.sampled_from(((c, 1, 1), (1, c, 1, 1), (w,), (h, w), ())))
        out, new_shape = b.op(data.draw(st.sampled_from(BINARY)), ref, state.weights(const_shape)), shape
    elif kind == "conv":
        units = data.draw(st.integers(1, 4))
        nhwc = b.op("Transpose", ref, perm(NCHW_TO_NHWC))
        conv = b.op("Conv2D", nhwc, state.weights((1, 1, c, units)), strides=[1, 1, 1, 1], padding="SAME",
                    data_format="NHWC")
        out, new_shape = b.op("Transpose", conv, perm(NHWC_TO_NCHW)), (n, units, h, w)
    elif kind == "concat":
        other, other_shape = state.tensors[data.draw(st.integers(0, len(state.tensors) - 1))]
        if other_shape[2:] != shape[2:]:
            return
        out = b.op("ConcatV2", ref, other, b.const(np.int32(data.draw(st.sampled_from((1, -3))))), N=2)
        new_shape = (n, c + other_shape[1], h, w)
    elif kind == "pool":
        out = b.op("Mean", ref, b.const(np.array([2, 3], np.int32)), keep_dims=True)
        new_shape = (n, c, 1, 1)
    elif kind == "gate":  # squeeze-excite style gate: x * sigmoid(mean(x))
        gate = b.op("Sigmoid", b.op("Mean", ref, b.const(np.array([2, 3], np.int32)), keep_dims=True))
        out, new_shape = b.op("Mul", ref, gate), shape
    elif c % 2:
        return
    elif kind == "shuffle":  # ShuffleNet's channel shuffle with 2 groups
        split = b.op("Reshape", ref, b.const(np.array([n, 2, c // 2, h, w], np.int32)))
        swapped = b.op("Transpose", split, perm((0, 2, 1, 3, 4)))
        out, new_shape = b.op("Reshape", swapped, b.const(np.array(shape, np.int32))), shape
    else:  # GroupNorm(2 groups) as torch exports it
        grouped = b.op("Reshape", ref, b.const(np.array([n, 2, -1], np.int32)))
        axis = b.const(np.array([2], np.int32))
        centered = b.op("Sub", grouped, b.op("Mean", grouped, axis, keep_dims=True))
        variance = b.op("Mean", b.op("Square", centered), axis, keep_dims=True)
        normed = b.op("Mul", centered, b.op("Rsqrt", b.op("AddV2", variance, b.const(np.float32(1e-3)))))
        out, new_shape = b.op("Reshape", normed, b.const(np.array(shape, np.int32))), shape
    state.tensors.append((out, new_shape))


@st.composite
def random_nchw_graphs(draw: st.DrawFn, max_steps: int = 10) -> Graph:
    """A small random NCHW DAG as an ONNX lowering emits it (convs wrapped in transposes)."""
    data, state = _new_state(draw)
    shape = (1, draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    graph = _grow(draw, state, data, shape, _nchw_step, max_steps, final="Identity")
    # The ONNX reader records every output shape; the Reshape rules need them.
    return record_shapes(graph) if draw(st.booleans()) else graph
