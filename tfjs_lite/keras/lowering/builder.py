"""Emit TF ops into an IR graph while tracking each tensor's static shape.

Keras layers are lowered one call at a time. A lowering needs the static shape of its inputs
(Flatten's size, Dense on a 3-D input, the time steps of an RNN, attention's head layout), and
the IR has no shape inference, so every helper here computes the shape of what it emits from the
shapes of its inputs. Shapes are tuples with ``None`` for the free batch dimension (and any other
dimension a model leaves open). Nodes are named ``<scope>/<op>``, scope being the Keras layer
name, so ``inspect`` and error messages point back at the layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedLayerError
from tfjs_lite.ir import DType, Graph, TensorRef, TensorType

__all__ = ["BOOL", "FLOAT", "INT32", "Builder", "KTensor", "broadcast_shapes"]

FLOAT = DType("DT_FLOAT")
INT32 = DType("DT_INT32")
BOOL = DType("DT_BOOL")
Shape = tuple[Optional[int], ...]


@dataclass(frozen=True)
class KTensor:
    """A tensor of the lowered graph: where it comes from, its static shape and dtype."""

    ref: TensorRef
    shape: Shape
    dtype: DType = FLOAT
    # Keras's mask of a sequence ([batch, time] bool, True = real step): made by Embedding(mask_zero)
    # and Masking, carried through the layers that support masking, used by RNNs and pooling.
    mask: Optional["KTensor"] = None

    @property
    def rank(self) -> int:
        return len(self.shape)


def broadcast_shapes(a: Shape, b: Shape) -> Shape:
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    out: list[Optional[int]] = []
    for x, y in zip(a, b):
        if x == 1:
            out.append(y)
        elif y == 1 or x == y:
            out.append(x)
        elif x is None or y is None:
            out.append(x if y is None else y)
        else:
            raise UnsupportedLayerError(f"cannot broadcast shapes {list(a)} and {list(b)}")
    return tuple(out)


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


class Builder:
    """Adds ops to ``graph``; ``scope`` (the current layer name) prefixes the node names."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.scope = ""
        self.emitted: dict[str, list[str]] = {}  # layer name -> nodes lowered from it (for inspect)

    # ------------------------------------------------------------------ basics
    def _name(self, op: str) -> str:
        return self.graph.unique_name(f"{self.scope}/{op}" if self.scope else op)

    def op(
        self, op: str, inputs: Sequence[KTensor], shape: Shape, attrs: Optional[dict[str, Any]] = None, *,
        dtype: Optional[DType] = None, name: Optional[str] = None,
    ) -> KTensor:
        """Add ``op`` with the given output shape; ``T`` defaults to the first input's dtype."""
        dtype = dtype or (inputs[0].dtype if inputs else FLOAT)
        attrs = dict(attrs or {})
        if inputs and "T" not in attrs and op not in _NO_T:
            attrs["T"] = inputs[0].dtype
        node = self.graph.add_op(
            op, [t.ref for t in inputs], attrs, name=name or self._name(op),
            out_types=[TensorType(dtype, tuple(shape))],
        )
        self.emitted.setdefault(self.scope, []).append(node)
        return KTensor(TensorRef(node, 0), tuple(shape), dtype)

    def const(self, value: Any, dtype: Any = np.float32, *, name: str = "Const") -> KTensor:
        array = np.asarray(value, dtype=dtype)
        if not array.flags.c_contiguous:  # (np.ascontiguousarray would make a scalar 1-D)
            array = array.copy()
        # The weights were read for this graph alone: hand them over read-only, so the IR keeps
        # them without its defensive copy (100 MB for ResNet-50).
        array.setflags(write=False)
        ref = self.graph.add_const(array, name=self._name(name))
        self.emitted.setdefault(self.scope, []).append(ref.node)
        return KTensor(ref, tuple(array.shape), self.graph.out_types(ref.node)[0].dtype)  # type: ignore[index]

    def ints(self, values: Sequence[int], *, name: str = "shape") -> KTensor:
        # Shapes, multiples and sizes come from the config: a tiny file may ask for 2**40.
        if any(not -(1 << 31) <= int(v) < (1 << 31) for v in values):
            raise ModelFormatError(f"{name} {list(values)} does not fit int32")
        return self.const(np.asarray(values, np.int32), np.int32, name=name)

    def placeholder(self, name: str, shape: Shape, dtype: DType) -> KTensor:
        node = self.graph.add_op(
            "Placeholder", attrs={"dtype": dtype, "shape": tuple(shape)}, name=name,
            out_types=[TensorType(dtype, tuple(shape))],
        )
        return KTensor(TensorRef(node, 0), tuple(shape), dtype)

    # ------------------------------------------------------------------ elementwise
    def unary(self, op: str, x: KTensor, **attrs: Any) -> KTensor:
        return self.op(op, [x], x.shape, attrs)

    def binary(self, op: str, a: KTensor, b: KTensor) -> KTensor:
        return self.op(op, [a, b], broadcast_shapes(a.shape, b.shape))

    def add(self, a: KTensor, b: KTensor) -> KTensor:
        return self.binary("AddV2", a, b)

    def sub(self, a: KTensor, b: KTensor) -> KTensor:
        return self.binary("Sub", a, b)

    def mul(self, a: KTensor, b: KTensor) -> KTensor:
        return self.binary("Mul", a, b)

    def div(self, a: KTensor, b: KTensor) -> KTensor:
        return self.binary("RealDiv", a, b)

    def scalar(self, value: float, like: Optional[KTensor] = None) -> KTensor:
        dtype = np.int32 if like is not None and like.dtype == INT32 else np.float32
        return self.const(np.asarray(value, dtype), dtype, name="scalar")

    def scale(self, x: KTensor, factor: float) -> KTensor:
        return x if factor == 1 else self.mul(x, self.scalar(factor))

    def select(self, condition: KTensor, a: KTensor, b: KTensor) -> KTensor:
        """``SelectV2``: ``a`` where ``condition`` (broadcast), else ``b``."""
        return self.op("SelectV2", [condition, a, b], broadcast_shapes(a.shape, b.shape), {"T": a.dtype},
                       dtype=a.dtype)

    def cast(self, x: KTensor, dtype: DType) -> KTensor:
        if x.dtype == dtype:
            return x
        return self.op("Cast", [x], x.shape, {"SrcT": x.dtype, "DstT": dtype, "Truncate": False}, dtype=dtype)

    # ------------------------------------------------------------------ shapes
    def reshape(self, x: KTensor, shape: Sequence[Optional[int]]) -> KTensor:
        """Reshape to ``shape``; one ``None`` entry (usually the batch) becomes ``-1``."""
        shape = tuple(shape)
        if shape == x.shape and shape.count(None) <= 1:
            return x
        return self.op("Reshape", [x, self.ints([-1 if d is None else d for d in shape])], shape, {"Tshape": INT32})

    def transpose(self, x: KTensor, perm: Sequence[int]) -> KTensor:
        perm = list(perm)
        if perm == list(range(x.rank)):
            return x
        return self.op("Transpose", [x, self.ints(perm, name="perm")], tuple(x.shape[p] for p in perm), {"Tperm": INT32})

    def expand_dims(self, x: KTensor, axis: int) -> KTensor:
        axis = _axis(axis, x.rank + 1)
        shape = x.shape[:axis] + (1,) + x.shape[axis:]
        return self.op("ExpandDims", [x, self.ints([axis], name="axis")], shape, {"Tdim": INT32})

    def squeeze(self, x: KTensor, axes: Sequence[int]) -> KTensor:
        axes = sorted(_axis(a, x.rank) for a in axes)
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return self.op("Squeeze", [x], shape, {"squeeze_dims": axes})

    def concat(self, xs: Sequence[KTensor], axis: int) -> KTensor:
        if len(xs) == 1:
            return xs[0]
        axis = _axis(axis, xs[0].rank)
        sizes = [x.shape[axis] for x in xs]
        total = None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)
        shape = xs[0].shape[:axis] + (total,) + xs[0].shape[axis + 1:]
        axis_t = self.const(np.int32(axis), np.int32, name="axis")
        return self.op("ConcatV2", [*xs, axis_t], shape, {"N": len(xs), "Tidx": INT32})

    def slice(self, x: KTensor, begin: Sequence[int], size: Sequence[int]) -> KTensor:
        """Static ``Slice``; ``size`` -1 keeps the rest of a dimension."""
        shape = tuple(
            (None if d is None else d - b) if s == -1 else s for d, b, s in zip(x.shape, begin, size)
        )
        return self.op("Slice", [x, self.ints(begin, name="begin"), self.ints(size, name="size")], shape,
                       {"Index": INT32})

    def split(self, x: KTensor, count: int, axis: int) -> list[KTensor]:
        """``Split`` into ``count`` equal parts along ``axis``."""
        axis = _axis(axis, x.rank)
        dim = x.shape[axis]
        part = None if dim is None else dim // count
        shape = x.shape[:axis] + (part,) + x.shape[axis + 1:]
        first = self.op("Split", [self.const(np.int32(axis), np.int32, name="axis"), x], shape,
                        {"num_split": count, "T": x.dtype})
        self.graph.set_out_types(first.ref.node, [TensorType(x.dtype, shape)] * count)
        return [KTensor(TensorRef(first.ref.node, i), shape, x.dtype) for i in range(count)]

    def unstack(self, x: KTensor, axis: int) -> list[KTensor]:
        axis = _axis(axis, x.rank)
        count = x.shape[axis]
        assert count is not None
        shape = x.shape[:axis] + x.shape[axis + 1:]
        first = self.op("Unpack", [x], shape, {"num": count, "axis": axis})
        self.graph.set_out_types(first.ref.node, [TensorType(x.dtype, shape)] * count)
        return [KTensor(TensorRef(first.ref.node, i), shape, x.dtype) for i in range(count)]

    def stack(self, xs: Sequence[KTensor], axis: int) -> KTensor:
        axis = _axis(axis, xs[0].rank + 1)
        shape = xs[0].shape[:axis] + (len(xs),) + xs[0].shape[axis:]
        return self.op("Pack", list(xs), shape, {"N": len(xs), "axis": axis})

    def pad(self, x: KTensor, pads: Sequence[tuple[int, int]]) -> KTensor:
        if not any(a or b for a, b in pads):
            return x
        shape = tuple(None if d is None else d + a + b for d, (a, b) in zip(x.shape, pads))
        return self.op("Pad", [x, self.const(np.asarray(pads, np.int32), np.int32, name="paddings")], shape,
                       {"Tpaddings": INT32})

    def tile(self, x: KTensor, multiples: Sequence[int]) -> KTensor:
        shape = tuple(None if d is None else d * m for d, m in zip(x.shape, multiples))
        return self.op("Tile", [x, self.ints(multiples, name="multiples")], shape, {"Tmultiples": INT32})

    def reduce(self, op: str, x: KTensor, axes: Sequence[int], keepdims: bool) -> KTensor:
        axes = sorted(_axis(a, x.rank) for a in axes)
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keepdims or i not in axes)
        return self.op(op, [x, self.ints(axes, name="axes")], shape, {"keep_dims": keepdims, "Tidx": INT32})

    # ------------------------------------------------------------------ contractions
    def matmul(self, a: KTensor, b: KTensor, *, transpose_b: bool = False) -> KTensor:
        """2-D ``MatMul`` of ``a`` with a weight ``b``."""
        n = b.shape[0] if transpose_b else b.shape[1]
        return self.op("MatMul", [a, b], (a.shape[0], n), {"transpose_a": False, "transpose_b": transpose_b})

    def batch_matmul(self, a: KTensor, b: KTensor, *, adj_x: bool = False, adj_y: bool = False) -> KTensor:
        m = a.shape[-1] if adj_x else a.shape[-2]
        n = b.shape[-2] if adj_y else b.shape[-1]
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
        return self.op("BatchMatMulV2", [a, b], batch + (m, n), {"adj_x": adj_x, "adj_y": adj_y})

    def einsum(self, equation: str, a: KTensor, b: KTensor) -> KTensor:
        """Two-operand ``Einsum`` (no ellipsis, as TF.js supports it); the shape follows the equation."""
        inputs, output = equation.split("->")
        sizes: dict[str, Optional[int]] = {}
        for labels, tensor in zip(inputs.split(","), (a, b)):
            for label, dim in zip(labels, tensor.shape):
                sizes[label] = dim if sizes.get(label) is None else sizes[label]
        shape = tuple(sizes[label] for label in output)
        return self.op("Einsum", [a, b], shape, {"equation": equation, "N": 2})

    def dense(self, x: KTensor, kernel: np.ndarray, bias: Optional[np.ndarray]) -> KTensor:
        """``x @ kernel + bias`` over the last axis of ``x`` (any rank >= 2), as Keras's Dense."""
        units = int(kernel.shape[-1])
        flat = x if x.rank == 2 else self.reshape(x, (None, x.shape[-1]))
        y = self.matmul(flat, self.const(kernel, name="kernel"))
        if bias is not None:
            y = self.bias_add(y, bias)
        return y if x.rank == 2 else self.reshape(y, x.shape[:-1] + (units,))

    def bias_add(self, x: KTensor, bias: np.ndarray) -> KTensor:
        return self.op("BiasAdd", [x, self.const(bias, name="bias")], x.shape, {"data_format": "NHWC"})


# Ops whose attrs carry no ``T`` (their dtype attr has another name or there is none).
_NO_T = frozenset({"Cast", "Placeholder", "Const", "GatherV2", "Shape", "Fill", "Any", "LogicalAnd"})
