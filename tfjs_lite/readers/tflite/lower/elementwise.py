"""Element-wise operators: arithmetic, activations, comparisons, logic, select, cast and the
quantization operators (identities in the float32 graph)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.ir import DType
from tfjs_lite.readers.tflite.context import FLOAT, Lowering, graph_dtype
from tfjs_lite.readers.tflite.lower import lowering
from tfjs_lite.readers.tflite.model import Operator

# Binary operators with a fused activation in their options.
_ARITHMETIC = {"ADD": "AddV2", "SUB": "Sub", "MUL": "Mul", "DIV": "RealDiv"}
_BINARY = {"MAXIMUM": "Maximum", "MINIMUM": "Minimum", "SQUARED_DIFFERENCE": "SquaredDifference",
           "POW": "Pow", "FLOOR_DIV": "FloorDiv", "FLOOR_MOD": "FloorMod"}
_COMPARE = {"EQUAL": "Equal", "NOT_EQUAL": "NotEqual", "LESS": "Less", "LESS_EQUAL": "LessEqual",
            "GREATER": "Greater", "GREATER_EQUAL": "GreaterEqual"}
_LOGIC = {"LOGICAL_AND": "LogicalAnd", "LOGICAL_OR": "LogicalOr"}
_UNARY = {"EXP": "Exp", "LOG": "Log", "SQRT": "Sqrt", "RSQRT": "Rsqrt", "SQUARE": "Square", "ABS": "Abs",
          "NEG": "Neg", "FLOOR": "Floor", "CEIL": "Ceil", "ROUND": "Round", "SIN": "Sin", "COS": "Cos",
          "SIGN": "Sign", "LOGISTIC": "Sigmoid", "TANH": "Tanh", "RELU": "Relu", "RELU6": "Relu6", "ELU": "Elu",
          "ZEROS_LIKE": "ZerosLike"}
_CLIPS = {"RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}


def _t(ctx: Lowering, op: Operator, k: int = 0) -> DType:
    return graph_dtype(ctx.in_tensor(op, k))


@lowering(*_ARITHMETIC)
def arithmetic(ctx: Lowering, op: Operator) -> None:
    tf_op = _ARITHMETIC[op.opcode]
    dtype = _t(ctx, op)
    if tf_op == "RealDiv" and dtype != FLOAT:
        tf_op = "FloorDiv" if _non_negative(ctx, op) else "TruncateDiv"
    y = ctx.emit(tf_op, [ctx.need(op, 0), ctx.need(op, 1)], {"T": dtype}, base=ctx.name_for(op))[0]
    ctx.finish(op, y, op.options["fused_activation_function"])


def _non_negative(ctx: Lowering, op: Operator) -> bool:
    # Integer DIV truncates (C division) where TF.js's integer division floors; the two agree
    # when both operands are non-negative, which only constants can promise. Otherwise the
    # lowering emits TruncateDiv, which the op check reports (TF.js has none).
    values = [ctx.const_of(op, k) for k in (0, 1)]
    return all(v is not None and bool(np.all(v >= 0)) for v in values)


@lowering(*_BINARY, *_COMPARE, *_LOGIC)
def binary(ctx: Lowering, op: Operator) -> None:
    tf_op = {**_BINARY, **_COMPARE, **_LOGIC}[op.opcode]
    attrs: dict[str, Any] = {} if op.opcode in _LOGIC else {"T": _t(ctx, op)}
    if tf_op == "Equal" or tf_op == "NotEqual":
        attrs["incompatible_shape_error"] = True
    ctx.finish(op, ctx.emit(tf_op, [ctx.need(op, 0), ctx.need(op, 1)], attrs, base=ctx.name_for(op))[0])


@lowering("ADD_N")
def add_n(ctx: Lowering, op: Operator) -> None:
    refs = [ctx.need(op, k) for k in range(len(op.inputs))]
    ctx.finish(op, ctx.emit("AddN", refs, {"T": _t(ctx, op), "N": len(refs)}, base=ctx.name_for(op))[0])


@lowering(*_UNARY, "LOGICAL_NOT")
def unary(ctx: Lowering, op: Operator) -> None:
    tf_op = _UNARY.get(op.opcode, "LogicalNot")
    attrs = {} if tf_op == "LogicalNot" else {"T": _t(ctx, op)}
    ctx.finish(op, ctx.emit(tf_op, [ctx.need(op, 0)], attrs, base=ctx.name_for(op))[0])


@lowering(*_CLIPS)
def clip(ctx: Lowering, op: Operator) -> None:
    lo, hi = _CLIPS[op.opcode]
    base = ctx.name_for(op)
    refs = [ctx.need(op, 0), ctx.const(lo, np.float32, base + "/lo"), ctx.const(hi, np.float32, base + "/hi")]
    ctx.finish(op, ctx.emit("ClipByValue", refs, {"T": FLOAT}, base=base)[0])


@lowering("SELECT", "SELECT_V2")
def select(ctx: Lowering, op: Operator) -> None:
    cond, base = ctx.need(op, 0), ctx.name_for(op)
    cond_rank, x_rank = len(ctx.in_tensor(op, 0).shape), len(ctx.in_tensor(op, 1).shape)
    if op.opcode == "SELECT" and cond_rank == 1 and x_rank > 1:
        # TF1 Select: a vector condition picks whole rows; broadcast it as [n, 1, ...].
        shape = ctx.const([-1] + [1] * (x_rank - 1), np.int32, base + "/cond_shape")
        cond = ctx.emit("Reshape", [cond, shape], {"T": DType("DT_BOOL"), "Tshape": DType("DT_INT32")},
                        base=base + "/cond_rows")[0]
    ctx.finish(op, ctx.emit("SelectV2", [cond, ctx.need(op, 1), ctx.need(op, 2)], {"T": _t(ctx, op, 1)},
                            base=base)[0])


@lowering("CAST")
def cast(ctx: Lowering, op: Operator) -> None:
    src, dst = _t(ctx, op), graph_dtype(ctx.out_tensor(op))
    x = ctx.need(op, 0)
    if src == dst:  # e.g. int8 -> int32: both int32 in TF.js
        ctx.set_output(op, 0, x)
        return
    ctx.finish(op, ctx.emit("Cast", [x], {"SrcT": src, "DstT": dst, "Truncate": False}, base=ctx.name_for(op))[0])


@lowering("QUANTIZE", "DEQUANTIZE")
def quantize_identity(ctx: Lowering, op: Operator) -> None:
    value = ctx.const_of(op, 0)
    if value is not None and op.outputs:
        # A float16 or int8 weight: its float32 value becomes the output's constant (folded,
        # so convolutions see constant filters).
        ctx.fold(op, value)
        return
    # Quantized tensors are float32 in the graph, holding the values they stand for, so a
    # (re)quantization or dequantization keeps the value: the output is the input. The rounding
    # to the quantization grid is not reproduced (docs/tflite.md, "Quantized models"), the
    # saturation to the output's integer range is, unless the input's range lies inside it.
    ctx.finish(op, ctx.need(op, 0))
