"""Shape, slicing, gathering, padding, resizing, reductions and index operators."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tfjs_lite.errors import UnsupportedModelError
from tfjs_lite.ir import DType, TensorRef
from tfjs_lite.readers.tflite.context import INT32, Lowering, graph_dtype
from tfjs_lite.readers.tflite.lower import lowering
from tfjs_lite.readers.tflite.model import Operator

_REDUCE = {"MEAN": "Mean", "SUM": "Sum", "REDUCE_PROD": "Prod", "REDUCE_MAX": "Max", "REDUCE_MIN": "Min",
           "REDUCE_ANY": "Any", "REDUCE_ALL": "All"}


def _t(ctx: Lowering, op: Operator, k: int = 0) -> DType:
    return graph_dtype(ctx.in_tensor(op, k))


def _simple(ctx: Lowering, op: Operator, tf_op: str, inputs: list[int], attrs: dict[str, Any]) -> None:
    """One TF op on the listed TFLite inputs, bound to output 0."""
    ctx.set_output(op, 0, ctx.emit(tf_op, [ctx.need(op, k) for k in inputs], attrs, base=ctx.name_for(op))[0])


def _reshape(ctx: Lowering, x: TensorRef, shape: list[int], dtype: DType, base: str) -> TensorRef:
    return ctx.emit("Reshape", [x, ctx.const(shape, np.int32, base + "/shape")], {"T": dtype, "Tshape": INT32},
                    base=base)[0]


@lowering("RESHAPE")
def reshape(ctx: Lowering, op: Operator) -> None:
    shape = ctx.input(op, 1)
    if shape is None:  # the shape is in the options, or only in the output tensor
        dims = op.options["new_shape"]
        if dims is None:
            dims = [-1 if d < 0 else d for d in ctx.out_tensor(op).signature]
        shape = ctx.const(dims, np.int32, ctx.name_for(op) + "/shape")
    ctx.set_output(op, 0, ctx.emit("Reshape", [ctx.need(op, 0), shape], {"T": _t(ctx, op), "Tshape": INT32},
                                   base=ctx.name_for(op))[0])


@lowering("SQUEEZE")
def squeeze(ctx: Lowering, op: Operator) -> None:
    _simple(ctx, op, "Squeeze", [0], {"T": _t(ctx, op), "squeeze_dims": list(op.options["squeeze_dims"] or [])})


@lowering("EXPAND_DIMS")
def expand_dims(ctx: Lowering, op: Operator) -> None:
    _simple(ctx, op, "ExpandDims", [0, 1], {"T": _t(ctx, op), "Tdim": INT32})


@lowering("TRANSPOSE")
def transpose(ctx: Lowering, op: Operator) -> None:
    _simple(ctx, op, "Transpose", [0, 1], {"T": _t(ctx, op), "Tperm": INT32})


@lowering("CONCATENATION")
def concatenation(ctx: Lowering, op: Operator) -> None:
    refs = [ctx.need(op, k) for k in range(len(op.inputs))]
    axis = ctx.const(op.options["axis"], np.int32, ctx.name_for(op) + "/axis")
    y = ctx.emit("ConcatV2", refs + [axis], {"T": _t(ctx, op), "N": len(refs), "Tidx": INT32}, base=ctx.name_for(op))[0]
    ctx.finish(op, y, op.options["fused_activation_function"])


def _bind_all(ctx: Lowering, op: Operator, refs: list[TensorRef]) -> None:
    for port, ref in enumerate(refs[:len(op.outputs)]):
        ctx.set_output(op, port, ref)


@lowering("SPLIT")
def split(ctx: Lowering, op: Operator) -> None:
    n = len(op.outputs)
    refs = ctx.emit("Split", [ctx.need(op, 0), ctx.need(op, 1)], {"T": _t(ctx, op, 1), "num_split": n},
                    base=ctx.name_for(op), outputs=n)
    _bind_all(ctx, op, refs)


@lowering("SPLIT_V")
def split_v(ctx: Lowering, op: Operator) -> None:
    n = len(op.outputs)
    refs = ctx.emit("SplitV", [ctx.need(op, 0), ctx.need(op, 1), ctx.need(op, 2)],
                    {"T": _t(ctx, op), "num_split": n, "Tlen": INT32}, base=ctx.name_for(op), outputs=n)
    _bind_all(ctx, op, refs)


@lowering("UNPACK")
def unpack(ctx: Lowering, op: Operator) -> None:
    n = len(op.outputs)
    refs = ctx.emit("Unpack", [ctx.need(op, 0)], {"T": _t(ctx, op), "num": n, "axis": op.options["axis"]},
                    base=ctx.name_for(op), outputs=n)
    _bind_all(ctx, op, refs)


@lowering("PACK")
def pack(ctx: Lowering, op: Operator) -> None:
    refs = [ctx.need(op, k) for k in range(len(op.inputs))]
    ctx.set_output(op, 0, ctx.emit("Pack", refs, {"T": _t(ctx, op), "N": len(refs), "axis": op.options["axis"]},
                                   base=ctx.name_for(op))[0])


@lowering("STRIDED_SLICE")
def strided_slice(ctx: Lowering, op: Operator) -> None:
    o = op.options
    end = ctx.need(op, 2)
    if o["offset"]:  # `end` holds sizes relative to `begin`
        end = ctx.emit("AddV2", [ctx.need(op, 1), end], {"T": INT32}, base=ctx.name_for(op) + "/end")[0]
    attrs = {"T": _t(ctx, op), "Index": INT32, **{k: o[k] for k in ("begin_mask", "end_mask", "ellipsis_mask",
                                                                  "new_axis_mask", "shrink_axis_mask")}}
    ctx.set_output(op, 0, ctx.emit("StridedSlice", [ctx.need(op, 0), ctx.need(op, 1), end, ctx.need(op, 3)],
                                   attrs, base=ctx.name_for(op))[0])


@lowering("SLICE")
def slice_(ctx: Lowering, op: Operator) -> None:
    _simple(ctx, op, "Slice", [0, 1, 2], {"T": _t(ctx, op), "Index": INT32})


@lowering("GATHER")
def gather(ctx: Lowering, op: Operator) -> None:
    axis = ctx.const(op.options["axis"], np.int32, ctx.name_for(op) + "/axis")
    attrs = {"Tparams": _t(ctx, op), "Tindices": INT32, "Taxis": INT32, "batch_dims": op.options["batch_dims"]}
    ctx.set_output(op, 0, ctx.emit("GatherV2", [ctx.need(op, 0), ctx.need(op, 1), axis], attrs,
                                   base=ctx.name_for(op))[0])


@lowering("EMBEDDING_LOOKUP")
def embedding_lookup(ctx: Lowering, op: Operator) -> None:
    # Inputs are (ids, table): rows of the table, i.e. a gather along axis 0.
    axis = ctx.const(0, np.int32, ctx.name_for(op) + "/axis")
    attrs = {"Tparams": _t(ctx, op, 1), "Tindices": INT32, "Taxis": INT32, "batch_dims": 0}
    ctx.set_output(op, 0, ctx.emit("GatherV2", [ctx.need(op, 1), ctx.need(op, 0), axis], attrs,
                                   base=ctx.name_for(op))[0])


@lowering("GATHER_ND")
def gather_nd(ctx: Lowering, op: Operator) -> None:
    _simple(ctx, op, "GatherNd", [0, 1], {"Tparams": _t(ctx, op), "Tindices": INT32})


@lowering("PAD", "PADV2")
def pad(ctx: Lowering, op: Operator) -> None:
    if op.opcode == "PADV2" and ctx.input(op, 2) is not None:
        _simple(ctx, op, "PadV2", [0, 1, 2], {"T": _t(ctx, op), "Tpaddings": INT32})
    else:
        _simple(ctx, op, "Pad", [0, 1], {"T": _t(ctx, op), "Tpaddings": INT32})


@lowering("MIRROR_PAD")
def mirror_pad(ctx: Lowering, op: Operator) -> None:
    mode = {0: "REFLECT", 1: "SYMMETRIC"}.get(op.options["mode"])
    if mode is None:
        raise UnsupportedModelError(f"operator {op.index} (MIRROR_PAD) has mode {op.options['mode']}")
    _simple(ctx, op, "MirrorPad", [0, 1], {"T": _t(ctx, op), "Tpaddings": INT32, "mode": mode})


@lowering("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
def resize(ctx: Lowering, op: Operator) -> None:
    tf_op = "ResizeBilinear" if op.opcode == "RESIZE_BILINEAR" else "ResizeNearestNeighbor"
    _simple(ctx, op, tf_op, [0, 1], {"T": _t(ctx, op), "align_corners": op.options["align_corners"],
                                     "half_pixel_centers": op.options["half_pixel_centers"]})


# A FILL/TILE/BROADCAST_TO of constants is folded at conversion; converters fold such ops
# themselves, so a big one is a hostile file, not a model: refuse it before numpy allocates it.
MAX_FOLDED_ELEMENTS = 1 << 24


def _check_folded_size(ctx: Lowering, op: Operator, shape_input: int, data_input: int) -> None:
    dims, data = ctx.const_of(op, shape_input), ctx.const_of(op, data_input)
    if dims is None or data is None:
        return
    count = math.prod(int(d) for d in np.asarray(dims).reshape(-1))
    if op.opcode == "TILE":
        count *= max(1, data.size)
    if count > MAX_FOLDED_ELEMENTS or (dims.size and int(np.min(dims)) < 0):
        raise UnsupportedModelError(f"operator {op.index} ({op.opcode}) would make a constant of {count} "
                                    f"elements (dims {np.asarray(dims).tolist()})")


@lowering("TILE")
def tile(ctx: Lowering, op: Operator) -> None:
    _check_folded_size(ctx, op, 1, 0)
    _simple(ctx, op, "Tile", [0, 1], {"T": _t(ctx, op), "Tmultiples": INT32})


@lowering("BROADCAST_TO")
def broadcast_to(ctx: Lowering, op: Operator) -> None:
    _check_folded_size(ctx, op, 1, 0)
    _simple(ctx, op, "BroadcastTo", [0, 1], {"T": _t(ctx, op), "Tidx": INT32})


@lowering("SHAPE")
def shape(ctx: Lowering, op: Operator) -> None:
    _simple(ctx, op, "Shape", [0], {"T": _t(ctx, op), "out_type": INT32})


@lowering("FILL")
def fill(ctx: Lowering, op: Operator) -> None:
    _check_folded_size(ctx, op, 0, 1)
    _simple(ctx, op, "Fill", [0, 1], {"T": _t(ctx, op, 1), "index_type": INT32})


@lowering("REVERSE_V2")
def reverse_v2(ctx: Lowering, op: Operator) -> None:
    _simple(ctx, op, "ReverseV2", [0, 1], {"T": _t(ctx, op), "Tidx": INT32})


def _block_size(op: Operator) -> int:
    b = op.options["block_size"]
    if b < 1:
        raise UnsupportedModelError(f"operator {op.index} ({op.opcode}) has block size {b}")
    return b


@lowering("SPACE_TO_DEPTH", "DEPTH_TO_SPACE")
def space_depth(ctx: Lowering, op: Operator) -> None:
    # TF.js lacks SpaceToDepth and its DepthToSpace is slow: both are a reshape, a transpose and
    # a reshape (NHWC, batch kept dynamic as -1).
    b, base = _block_size(op), ctx.name_for(op)
    shape_in = ctx.in_tensor(op, 0).shape
    if len(shape_in) != 4:
        raise UnsupportedModelError(f"operator {op.index} ({op.opcode}) needs a 4-D input")
    _, h, w, c = shape_in
    dtype = _t(ctx, op)
    if op.opcode == "SPACE_TO_DEPTH":
        split, perm, merged = [-1, h // b, b, w // b, b, c], [0, 1, 3, 2, 4, 5], [-1, h // b, w // b, b * b * c]
    else:
        split, perm, merged = [-1, h, w, b, b, c // (b * b)], [0, 1, 3, 2, 4, 5], [-1, h * b, w * b, c // (b * b)]
    x = _reshape(ctx, ctx.need(op, 0), split, dtype, base + "/blocks")
    x = ctx.emit("Transpose", [x, ctx.const(perm, np.int32, base + "/perm")], {"T": dtype, "Tperm": INT32},
                 base=base + "/transpose")[0]
    ctx.set_output(op, 0, _reshape(ctx, x, merged, dtype, base))


@lowering(*_REDUCE)
def reduce(ctx: Lowering, op: Operator) -> None:
    attrs = {"T": _t(ctx, op), "Tidx": INT32, "keep_dims": op.options["keep_dims"]}
    if op.opcode in ("REDUCE_ANY", "REDUCE_ALL"):
        del attrs["T"]
    _simple(ctx, op, _REDUCE[op.opcode], [0, 1], attrs)


@lowering("ARG_MAX", "ARG_MIN")
def arg_max_min(ctx: Lowering, op: Operator) -> None:
    tf_op = "ArgMax" if op.opcode == "ARG_MAX" else "ArgMin"
    _simple(ctx, op, tf_op, [0, 1], {"T": _t(ctx, op), "Tidx": INT32, "output_type": INT32})


@lowering("TOPK_V2")
def topk_v2(ctx: Lowering, op: Operator) -> None:
    refs = ctx.emit("TopKV2", [ctx.need(op, 0), ctx.need(op, 1)], {"T": _t(ctx, op), "sorted": True},
                    base=ctx.name_for(op), outputs=2)
    _bind_all(ctx, op, refs)


@lowering("CUMSUM")
def cumsum(ctx: Lowering, op: Operator) -> None:
    _simple(ctx, op, "Cumsum", [0, 1], {"T": _t(ctx, op), "Tidx": INT32, "exclusive": op.options["exclusive"],
                                        "reverse": op.options["reverse"]})
