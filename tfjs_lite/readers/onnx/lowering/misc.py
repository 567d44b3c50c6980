"""Matrix products (MatMul, Gemm, Einsum) and NonMaxSuppression."""

from __future__ import annotations

import numpy as np

from tfjs_lite.ir.attrs import DType
from tfjs_lite.readers.onnx.context import LoweringContext, V
from tfjs_lite.readers.onnx.lowering import lowers
from tfjs_lite.readers.onnx.lowering.elementwise import binary, broadcast_shape
from tfjs_lite.readers.onnx.lowering.tensor import concat, strided_slice


def matmul(ctx: LoweringContext, a: V, b: V) -> V:
    """numpy ``a @ b`` for operands of rank >= 2."""
    if a.value is not None and b.value is not None:
        return ctx.const(np.matmul(a.value, b.value))
    ra, rb = ctx.rank_of(a), ctx.rank_of(b)
    batch = broadcast_shape(a.shape[:-2], b.shape[:-2])  # type: ignore[index]
    shape = None if batch is None else (*batch, a.shape[-2], b.shape[-1])  # type: ignore[index]
    if ra == 2 and rb == 2:
        return ctx.emit("MatMul", [a, b], {"T": DType("DT_FLOAT"), "transpose_a": False, "transpose_b": False},
                        shape=shape)
    return ctx.emit("BatchMatMulV2", [a, b], {"T": DType("DT_FLOAT"), "adj_x": False, "adj_y": False}, shape=shape)


def _expand(ctx: LoweringContext, v: V, axis: int) -> V:
    if v.value is not None:
        return ctx.const(np.expand_dims(v.value, axis))
    return ctx.emit("ExpandDims", [v, ctx.int_const(axis)], {"T": DType(v.dtype), "Tdim": DType("DT_INT32")},
                    shape=None if v.shape is None else (*v.shape[:axis % (len(v.shape) + 1)], 1,
                                                        *v.shape[axis % (len(v.shape) + 1):]))


@lowers("MatMul")
def _matmul(ctx: LoweringContext) -> list[V]:
    a, b = ctx.input(0), ctx.input(1)
    assert a is not None and b is not None
    vector_a, vector_b = ctx.rank_of(a) == 1, ctx.rank_of(b) == 1
    if vector_a:
        a = _expand(ctx, a, 0)
    if vector_b:
        b = _expand(ctx, b, -1)
    y = matmul(ctx, a, b)
    squeeze = ([y.rank - 2] if vector_a else []) + ([y.rank - 1] if vector_b else [])  # type: ignore[operator]
    if squeeze:
        shape = None if y.shape is None else tuple(d for i, d in enumerate(y.shape) if i not in squeeze)
        y = ctx.emit("Squeeze", [y], {"T": DType(y.dtype), "squeeze_dims": squeeze}, shape=shape)
    return [y]


@lowers("Gemm")
def _gemm(ctx: LoweringContext) -> list[V]:
    a, b, c = ctx.input(0), ctx.input(1), ctx.input(2)
    assert a is not None and b is not None
    alpha, beta = float(ctx.attr("alpha", 1.0)), float(ctx.attr("beta", 1.0))
    if ctx.attr("transA", 0):
        a = ctx.transpose(a, [1, 0])
    if ctx.attr("transB", 0):
        b = ctx.transpose(b, [1, 0])
    if alpha != 1.0:
        b = binary(ctx, "Mul", b, ctx.const(np.float32(alpha)), np.multiply)
    y = matmul(ctx, a, b)
    if c is not None:
        if beta != 1.0:
            c = binary(ctx, "Mul", c, ctx.const(np.float32(beta)), np.multiply)
        y = binary(ctx, "AddV2", y, c, np.add)
    return [y]


@lowers("Einsum")
def _einsum(ctx: LoweringContext) -> list[V]:
    values = [v for v in ctx.inputs() if v is not None]
    equation = str(ctx.attr("equation")).replace(" ", "")
    constants = [v.value for v in values if v.value is not None]
    if len(constants) == len(values):
        return [ctx.const(np.einsum(equation, *constants))]
    if "..." in equation or len(values) > 2:
        raise ctx.unsupported("Einsum with '...' or more than two operands has no TF.js form")
    return [ctx.emit("Einsum", values, {"T": DType("DT_FLOAT"), "N": len(values), "equation": equation},
                     shape=_einsum_shape(equation, values))]


def _einsum_shape(equation: str, values: list[V]) -> tuple[int | None, ...] | None:
    """The output shape of an explicit or implicit equation without '...': each output letter's size
    from an operand that has it (None where no operand knows it); the rank is all later ops need."""
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if not arrow:  # implicit output: the letters used once, alphabetically
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    sizes: dict[str, int | None] = {}
    for term, v in zip(terms, values):
        for i, letter in enumerate(term):
            dim = None if v.shape is None or len(v.shape) != len(term) else v.shape[i]
            if sizes.get(letter) is None:
                sizes[letter] = dim
    return tuple(sizes.get(c) for c in output)


@lowers("NonMaxSuppression")
def _nms(ctx: LoweringContext) -> list[V]:
    boxes, scores = ctx.input(0), ctx.input(1)
    assert boxes is not None and scores is not None
    max_out = ctx.const_input(2, "max_output_boxes_per_class")
    iou = ctx.const_input(3, "iou_threshold")
    score = ctx.const_input(4, "score_threshold")
    if boxes.static_shape() is None or scores.static_shape() is None:
        raise ctx.unsupported("NonMaxSuppression needs static box and score shapes (it is unrolled per class)")
    batches, classes, count = scores.static_shape()  # type: ignore[misc]
    limit = 0 if max_out is None else int(max_out.reshape(-1)[0])
    limit = min(max(limit, 0), count)
    iou_value = np.float32(0.0 if iou is None else iou.reshape(-1)[0])
    score_value = np.float32(-np.inf if score is None else score.reshape(-1)[0])
    if ctx.attr("center_point_box", 0):  # [xc, yc, w, h] -> corners (TF takes any corner order)
        centre = strided_slice(ctx, boxes, [0], [2], [2], [1])
        half = binary(ctx, "Mul", strided_slice(ctx, boxes, [2], [4], [2], [1]), ctx.const(np.float32(0.5)))
        boxes = concat(ctx, [binary(ctx, "Sub", centre, half), binary(ctx, "AddV2", centre, half)], 2)
    rows = []
    for b in range(batches):
        box = ctx.emit("Squeeze", [strided_slice(ctx, boxes, [b], [b + 1], [0], [1])],
                       {"T": DType("DT_FLOAT"), "squeeze_dims": [0]}, shape=(count, 4))
        for c in range(classes):
            sc = ctx.emit("Reshape", [strided_slice(ctx, scores, [b, c], [b + 1, c + 1], [0, 1], [1, 1]),
                                      ctx.int_const([count])],
                          {"T": DType("DT_FLOAT"), "Tshape": DType("DT_INT32")}, shape=(count,))
            picked = ctx.emit("NonMaxSuppressionV3", [box, sc, ctx.int_const(limit), ctx.const(iou_value),
                                                      ctx.const(score_value)],
                              {"T": DType("DT_FLOAT"), "T_threshold": DType("DT_FLOAT")}, shape=(None,),
                              dtype="DT_INT32")
            ids = ctx.emit("ZerosLike", [picked], {"T": DType("DT_INT32")}, shape=(None,))
            rows.append(ctx.emit("Pack", [binary(ctx, "AddV2", ids, ctx.int_const(b)),
                                          binary(ctx, "AddV2", ids, ctx.int_const(c)), picked],
                                 {"T": DType("DT_INT32"), "N": 3, "axis": 1}, shape=(None, 3)))
    return [rows[0] if len(rows) == 1 else concat(ctx, rows, 0)]


@lowers("LRN")
def _lrn(ctx: LoweringContext) -> list[V]:
    """Across channels: TF's window is ``2r+1`` centred channels, so only odd ONNX sizes map; ONNX
    divides alpha by the size."""
    x = ctx.input(0)
    assert x is not None
    size = int(ctx.attr("size"))
    if size % 2 == 0 or ctx.rank_of(x) != 4:
        raise ctx.unsupported("LRN needs an odd size and a 4-D input")
    y = ctx.emit("LRN", [ctx.to_channels_last(x)],
                 {"T": DType("DT_FLOAT"), "depth_radius": (size - 1) // 2, "bias": float(ctx.attr("bias", 1.0)),
                  "alpha": float(ctx.attr("alpha", 1e-4)) / size, "beta": float(ctx.attr("beta", 0.75))},
                 shape=None if x.shape is None else (x.shape[0], *x.shape[2:], x.shape[1]))
    return [ctx.to_channels_first(y)]


@lowers("OneHot")
def _one_hot(ctx: LoweringContext) -> list[V]:
    indices = ctx.input(0)
    assert indices is not None
    depth = int(ctx.const_input(1, "depth").reshape(-1)[0])  # type: ignore[union-attr]
    off, on = (float(v) for v in ctx.const_input(2, "values").reshape(-1)[:2])  # type: ignore[union-attr]
    rank = ctx.rank_of(indices) + 1
    axis = ctx.axis(int(ctx.attr("axis", -1)), rank)
    # ONNX counts negative indices from the end; TF.js ignores OneHot's axis (moved with a transpose)
    wrapped = ctx.emit("FloorMod", [ctx.cast(indices, "DT_INT32"), ctx.int_const(depth)], {"T": DType("DT_INT32")},
                       shape=indices.shape)
    shape = None if indices.shape is None else (*indices.shape, depth)
    y = ctx.emit("OneHot", [wrapped, ctx.int_const(depth), ctx.const(np.float32(on)), ctx.const(np.float32(off))],
                 {"T": DType("DT_FLOAT"), "TI": DType("DT_INT32"), "axis": -1}, shape=shape)
    perm = [*range(axis), rank - 1, *range(axis, rank - 1)]
    return [ctx.transpose(y, perm)]


@lowers("Trilu")
def _trilu(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    k_value = ctx.const_input(1, "k")
    k = 0 if k_value is None else int(k_value.reshape(-1)[0])
    shape = x.static_shape()
    if shape is None or len(shape) < 2:
        raise ctx.unsupported("Trilu needs a static shape of rank >= 2")
    rows, cols = np.indices(shape[-2:])
    keep = (cols - rows >= k) if ctx.attr("upper", 1) else (cols - rows <= k)
    return [ctx.emit("SelectV2", [ctx.const(keep), x, ctx.emit("ZerosLike", [x], {"T": DType(x.dtype)}, shape=shape)],
                     {"T": DType(x.dtype)}, shape=shape)]


@lowers("NonZero")
def _non_zero(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    if x.value is not None:
        return [ctx.const(np.array(np.nonzero(x.value), dtype=np.int64))]
    rank = ctx.rank_of(x)
    found = ctx.emit("Where", [x], {"T": DType(x.dtype)}, shape=(None, rank), dtype="DT_INT32")
    return [ctx.transpose(found, [1, 0])]


@lowers("If")
def _if(ctx: LoweringContext) -> list[V]:
    """An If whose condition is known while converting (TorchScript's ``squeeze(dim)`` on a static
    dim, shape checks): the branch taken is lowered in place, the other dropped. A condition that
    depends on the input is control flow TF.js graph models cannot hold here: refused."""
    cond = ctx.input(0)
    if cond is None or cond.value is None or cond.value.size != 1:
        raise ctx.unsupported("If with a condition computed at run time (control flow) is not supported")
    branch = ctx.attr("then_branch" if bool(cond.value.reshape(-1)[0]) else "else_branch")
    if branch is None:
        raise ctx.unsupported("If without the branch its condition selects")
    return ctx.lower_branch(branch)
