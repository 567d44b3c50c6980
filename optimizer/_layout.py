"""Layout facts shared by the transpose passes: permutation algebra, rank and size-1 facts.

A ``Transpose(x, p)`` output ``y`` has ``y.shape[i] == x.shape[p[i]]``.  Two transposes compose as
``Transpose(Transpose(x, p1), p2) == Transpose(x, [p1[j] for j in p2])``.

Ranks and "this dimension is 1" facts are proven, never guessed: from Const values, recorded
output types, placeholder shapes, a Transpose's perm length (TF requires ``len(perm) == rank``),
and through element-wise ops and keep-dims reductions.  Unknown means "do not rewrite".
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._util import const_value, static_dtype, static_shape

from tfjs_lite.ir import DType, Graph, TensorRef, TensorType
from tfjs_lite.lazy_tensor import is_lazy

__all__ = [
    "BINARY_ELEMENTWISE",
    "BOOL_RESULT_OPS",
    "RANK_PRESERVING",
    "REDUCTIONS",
    "UNARY_ELEMENTWISE",
    "Perm",
    "add_transpose",
    "compose",
    "const_ints",
    "has_control_edges",
    "inverse",
    "is_identity",
    "known_ones",
    "rank_of",
    "shape_of",
    "transpose_perm",
]

Perm = tuple[int, ...]

# Ops whose output element i depends only on input element i: any transpose commutes with them.
UNARY_ELEMENTWISE = frozenset({
    "Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "Softsign",
    "Exp", "Expm1", "Log", "Log1p", "Neg", "Abs", "Sign", "Square", "Sqrt", "Rsqrt", "Reciprocal",
    "Inv", "Erf", "Erfc", "Floor", "Ceil", "Round", "Rint", "Sin", "Cos", "Tan", "Asin", "Acos",
    "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Cast", "Identity", "IsNan", "IsInf",
    "IsFinite", "LogicalNot",
})

# Broadcasting element-wise binary ops (numpy rules: shapes align on the right).
BINARY_ELEMENTWISE = frozenset({
    "Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "DivNoNan", "TruncateDiv", "FloorDiv",
    "FloorMod", "Mod", "TruncateMod", "Maximum", "Minimum", "Pow", "SquaredDifference", "Atan2",
    "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd", "LogicalOr",
})

BOOL_RESULT_OPS = frozenset({
    "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd", "LogicalOr",
    "LogicalNot", "IsNan", "IsInf", "IsFinite",
})

REDUCTIONS = frozenset({"Sum", "Mean", "Max", "Min", "Prod", "All", "Any", "EuclideanNorm"})

# Ops whose output 0 has the rank of their input 0 (the layout-sensitive ones included).
RANK_PRESERVING = UNARY_ELEMENTWISE | frozenset({
    "Conv2D", "DepthwiseConv2dNative", "_FusedConv2D", "FusedDepthwiseConv2dNative", "MaxPool",
    "MaxPoolV2", "AvgPool", "ResizeBilinear", "ResizeNearestNeighbor", "BiasAdd", "FusedBatchNorm",
    "FusedBatchNormV2", "FusedBatchNormV3", "Softmax", "LogSoftmax", "ConcatV2", "Pad", "PadV2",
    "MirrorPad", "Slice", "Tile", "Cumsum", "Cumprod", "ReverseV2", "LRN", "Prelu",
    "DepthToSpace", "SpaceToDepth", "AddN", "ClipByValue",
})

# How far the rank/size-1 inference walks up the graph (chains of element-wise ops).
_MAX_DEPTH = 64


def inverse(p: Perm) -> Perm:
    """``q`` with ``Transpose(Transpose(x, p), q) == x``."""
    inv = [0] * len(p)
    for i, d in enumerate(p):
        inv[d] = i
    return tuple(inv)


def compose(p1: Perm, p2: Perm) -> Perm:
    """The single perm of ``Transpose(Transpose(x, p1), p2)``."""
    return tuple(p1[j] for j in p2)


def is_identity(p: Perm) -> bool:
    """True for ``(0, 1, ..., n-1)``."""
    return all(i == d for i, d in enumerate(p))


def const_ints(graph: Graph, ref: TensorRef) -> list[int] | None:
    """A small integer Const as a flat list of ints (scalars give one item), else None."""
    value = const_value(graph, ref)
    if value is None or is_lazy(value) or value.dtype.kind not in "iu" or value.ndim > 1:
        return None
    return [int(v) for v in value.reshape(-1)]


def transpose_perm(graph: Graph, node: str) -> Perm | None:
    """The normalized Const perm of a ``Transpose`` node, or None (not Const, not a permutation)."""
    if graph.op(node) != "Transpose" or len(graph.inputs_of(node)) != 2:
        return None
    value = const_value(graph, graph.inputs_of(node)[1])
    if value is None or is_lazy(value) or value.ndim != 1 or value.dtype.kind not in "iu":
        return None
    rank = value.size
    perm = tuple(int(v) for v in value)
    if any(not -rank <= d < rank for d in perm):
        return None
    perm = tuple(d % rank for d in perm)
    return perm if sorted(perm) == list(range(rank)) else None


def has_control_edges(graph: Graph, node: str) -> bool:
    """True if ``node`` has control inputs or control consumers (such nodes are left alone)."""
    return bool(graph.control_inputs_of(node) or graph.control_consumers(node))


def rank_of(graph: Graph, ref: TensorRef, _depth: int = 0) -> int | None:
    """The proven rank of ``ref``, or None."""
    shape = static_shape(graph, ref)
    if shape is not None:
        return len(shape)
    node = ref.node
    op = graph.op(node)
    if op == "Placeholder" and graph.attrs(node).get("shape") is not None:
        return len(graph.attrs(node)["shape"])
    if ref.port != 0 or _depth >= _MAX_DEPTH:
        return None
    if op == "Transpose":
        perm = transpose_perm(graph, node)
        return None if perm is None else len(perm)
    inputs = graph.inputs_of(node)
    if (op in RANK_PRESERVING or op in REDUCTIONS and graph.attrs(node).get("keep_dims")) and inputs:
        return rank_of(graph, inputs[0], _depth + 1)
    if op in BINARY_ELEMENTWISE and len(inputs) == 2:
        ranks = [rank_of(graph, r, _depth + 1) for r in inputs]
        return None if None in ranks else max(ranks)  # type: ignore[type-var]
    return None


def shape_of(graph: Graph, ref: TensorRef, _depth: int = 0) -> tuple[int | None, ...] | None:
    """The static shape of ``ref``, also derived through transposes and element-wise ops."""
    shape = static_shape(graph, ref)
    if shape is not None or ref.port != 0 or _depth >= _MAX_DEPTH:
        return shape
    node = ref.node
    if graph.op(node) == "Placeholder" and graph.attrs(node).get("shape") is not None:
        return tuple(None if d is None or d < 0 else int(d) for d in graph.attrs(node)["shape"])
    inputs = graph.inputs_of(node)
    if graph.op(node) == "Transpose":
        perm = transpose_perm(graph, node)
        if perm is None:
            return None
        inner = shape_of(graph, inputs[0], _depth + 1)
        return None if inner is None or len(inner) != len(perm) else tuple(inner[d] for d in perm)
    if graph.op(node) in UNARY_ELEMENTWISE and inputs:
        return shape_of(graph, inputs[0], _depth + 1)
    return None


def known_ones(graph: Graph, ref: TensorRef, _depth: int = 0) -> tuple[bool, ...] | None:
    """Per dimension of ``ref``: True where the size is proven to be 1; None if the rank is unknown."""
    shape = static_shape(graph, ref)
    if shape is not None:
        return tuple(d == 1 for d in shape)
    node = ref.node
    op = graph.op(node)
    if op == "Placeholder" and graph.attrs(node).get("shape") is not None:
        return tuple(d == 1 for d in graph.attrs(node)["shape"])
    if ref.port != 0 or _depth >= _MAX_DEPTH:
        return None
    inputs = graph.inputs_of(node)
    if op == "Transpose":
        perm = transpose_perm(graph, node)
        if perm is None:
            return None
        ones = known_ones(graph, inputs[0], _depth + 1)
        return None if ones is None or len(ones) != len(perm) else tuple(ones[d] for d in perm)
    if op in UNARY_ELEMENTWISE and inputs:
        return known_ones(graph, inputs[0], _depth + 1)
    if op in REDUCTIONS and graph.attrs(node).get("keep_dims") and len(inputs) == 2:
        axes = const_ints(graph, inputs[1])
        rank = rank_of(graph, inputs[0], _depth + 1)
        if axes is None or rank is None or any(not -rank <= a < rank for a in axes):
            return None
        inner = known_ones(graph, inputs[0], _depth + 1) or (False,) * rank
        reduced = {a % rank for a in axes}
        return tuple(inner[i] or i in reduced for i in range(rank))
    return None


def add_transpose(graph: Graph, ref: TensorRef, perm: Perm, *, name: str,
                  dtype: DType | None = None) -> TensorRef:
    """Add ``Transpose(ref, perm)`` (its own int32 perm Const) named after ``name``; returns its output.

    The output type is recorded when ``ref``'s shape is known, so later passes keep seeing it.
    """
    perm_ref = graph.add_const(np.asarray(perm, np.int32), name=graph.unique_name(f"{name}/perm"))
    dtype = dtype or static_dtype(graph, ref)
    attrs: dict[str, DType] = {"Tperm": DType("DT_INT32")}
    if dtype is not None:
        attrs["T"] = dtype
    node = graph.add_op("Transpose", [ref, perm_ref], attrs, name=graph.unique_name(name))
    shape = static_shape(graph, ref)
    if dtype is not None and shape is not None and len(shape) == len(perm):
        graph.set_out_types(node, [TensorType(dtype, tuple(-1 if shape[d] is None else shape[d]
                                                          for d in perm))])
    return TensorRef(node, 0)
