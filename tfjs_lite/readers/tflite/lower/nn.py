"""Convolutions, pooling, dense layers, normalisation and the activations with parameters."""

from __future__ import annotations

import math

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.ir import TensorRef
from tfjs_lite.readers.tflite.context import FLOAT, INT32, Lowering
from tfjs_lite.readers.tflite.lower import lowering
from tfjs_lite.readers.tflite.model import Operator
from tfjs_lite.readers.tflite.tensors import readonly

_PADDING = {0: "SAME", 1: "VALID"}


def _padding(op: Operator) -> str:
    code = op.options["padding"]
    if code not in _PADDING:
        raise UnsupportedModelError(f"operator {op.index} ({op.opcode}) has padding {code}")
    return _PADDING[code]


def _strides(op: Operator) -> list[int]:
    sh, sw = op.options["stride_h"], op.options["stride_w"]
    if sh < 1 or sw < 1:
        raise UnsupportedModelError(f"operator {op.index} ({op.opcode}) has strides {sh}x{sw}")
    return [1, sh, sw, 1]


def _dilations(op: Operator) -> list[int]:
    dh, dw = op.options.get("dilation_h_factor", 1), op.options.get("dilation_w_factor", 1)
    if dh < 1 or dw < 1:
        raise UnsupportedModelError(f"operator {op.index} ({op.opcode}) has dilations {dh}x{dw}")
    return [1, dh, dw, 1]


def _conv_attrs(op: Operator) -> dict:
    return {"T": FLOAT, "strides": _strides(op), "padding": _padding(op), "data_format": "NHWC",
            "dilations": _dilations(op), "explicit_paddings": [], "use_cudnn_on_gpu": True}


def _weight(ctx: Lowering, op: Operator, k: int, perm: tuple[int, ...], what: str) -> TensorRef:
    """A weight input in TF layout: transposed once at conversion when constant, else by a node."""
    value = ctx.const_of(op, k)
    name = ctx.name_for(op) + "/" + what
    rank = len(ctx.in_tensor(op, k).shape)
    if rank != len(perm):
        raise ModelFormatError(f"not a valid TFLite file: operator {op.index} ({op.opcode}) has a {rank}-D "
                               f"{what}, expected {len(perm)}-D")
    if value is not None:
        return ctx.graph.add_const(readonly(np.ascontiguousarray(value.transpose(perm))),
                                   name=ctx.graph.unique_name(name))
    perm_ref = ctx.const(list(perm), np.int32, name + "/perm")
    return ctx.emit("Transpose", [ctx.need(op, k), perm_ref], {"T": FLOAT, "Tperm": INT32}, base=name)[0]


def _bias_act(ctx: Lowering, op: Operator, ref: TensorRef, bias_index: int) -> None:
    bias = ctx.input(op, bias_index)
    ctx.typed(ref, ctx.out_tensor(op))
    if bias is not None:
        ref = ctx.emit("BiasAdd", [ref, bias], {"T": FLOAT, "data_format": "NHWC"},
                       base=ctx.name_for(op) + "/BiasAdd")[0]
    ctx.finish(op, ref, op.options["fused_activation_function"])


@lowering("CONV_2D")
def conv_2d(ctx: Lowering, op: Operator) -> None:
    """A grouped convolution (input channels = groups x filter channels, as Keras 3 writes a
    depthwise or group convolution) is TF's Conv2D with the same filter: the optimizer's
    lower_grouped_conv pass makes it a DepthwiseConv2dNative (one channel per group) or a
    split/convolve/concat, the one place that lowering lives."""
    x = ctx.need(op, 0)
    channels_in = (ctx.in_tensor(op, 0).shape or (0,))[-1]
    filter_shape = ctx.in_tensor(op, 1).shape or (0,)
    filter_in, out = filter_shape[-1], filter_shape[0]
    if channels_in and filter_in and (channels_in % filter_in or out % (channels_in // filter_in)):
        raise UnsupportedModelError(f"operator {op.index} (CONV_2D): a filter of shape {list(filter_shape)} "
                                    f"does not fit {channels_in} input channels")
    w = _weight(ctx, op, 1, (1, 2, 3, 0), "filter")  # OHWI -> HWIO
    y = ctx.emit("Conv2D", [x, w], _conv_attrs(op), base=ctx.name_for(op) + "/Conv2D")[0]
    _bias_act(ctx, op, y, 2)


@lowering("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(ctx: Lowering, op: Operator) -> None:
    x = ctx.need(op, 0)
    value = ctx.const_input(op, 1, "filter")
    channels = ctx.in_tensor(op, 0).shape[-1] if ctx.in_tensor(op, 0).shape else 0
    if value.ndim != 4 or value.shape[0] != 1 or channels < 1 or value.shape[3] % channels:
        raise UnsupportedModelError(f"operator {op.index} (DEPTHWISE_CONV_2D): filter {list(value.shape)} "
                                    f"does not fit {channels} input channels")
    # [1, kh, kw, C*M] -> [kh, kw, C, M]; the multiplier comes from the shapes, as in the kernel.
    multiplier = value.shape[3] // channels
    w = ctx.graph.add_const(value.reshape(value.shape[1], value.shape[2], channels, multiplier),
                            name=ctx.graph.unique_name(ctx.name_for(op) + "/filter"))
    attrs = _conv_attrs(op)
    del attrs["use_cudnn_on_gpu"]
    y = ctx.emit("DepthwiseConv2dNative", [x, w], attrs, base=ctx.name_for(op) + "/depthwise")[0]
    _bias_act(ctx, op, y, 2)


@lowering("TRANSPOSE_CONV")
def transpose_conv(ctx: Lowering, op: Operator) -> None:
    sizes, x = ctx.need(op, 0), ctx.need(op, 2)
    w = _weight(ctx, op, 1, (1, 2, 0, 3), "filter")  # [O,kh,kw,I] -> [kh,kw,O,I]
    attrs = {"T": FLOAT, "strides": _strides(op), "padding": _padding(op), "data_format": "NHWC",
             "dilations": [1, 1, 1, 1], "explicit_paddings": [], "use_cudnn_on_gpu": True}
    y = ctx.emit("Conv2DBackpropInput", [sizes, w, x], attrs, base=ctx.name_for(op) + "/conv_transpose")[0]
    _bias_act(ctx, op, y, 3)


@lowering("FULLY_CONNECTED")
def fully_connected(ctx: Lowering, op: Operator) -> None:
    if op.options["weights_format"] != 0:
        raise UnsupportedModelError(f"operator {op.index} (FULLY_CONNECTED) uses shuffled int8 weights")
    x = ctx.need(op, 0)
    base = ctx.name_for(op)
    in_shape, w_shape = ctx.in_tensor(op, 0).signature, ctx.in_tensor(op, 1).shape
    if len(w_shape) != 2:
        raise UnsupportedModelError(f"operator {op.index} (FULLY_CONNECTED) has weights of shape {list(w_shape)}")
    if len(in_shape) != 2:  # the kernel reads the input as [numel / in, in]
        x = ctx.emit("Reshape", [x, ctx.const([-1, w_shape[1]], np.int32, base + "/flat_shape")],
                     {"T": FLOAT, "Tshape": INT32}, base=base + "/flatten")[0]
    w = _weight(ctx, op, 1, (1, 0), "weights")  # [out, in] -> [in, out]
    y = ctx.emit("MatMul", [x, w], {"T": FLOAT, "transpose_a": False, "transpose_b": False},
                 base=base + "/MatMul")[0]
    bias = ctx.input(op, 2)
    if bias is not None:
        y = ctx.emit("BiasAdd", [y, bias], {"T": FLOAT, "data_format": "NHWC"}, base=base + "/BiasAdd")[0]
    y = ctx.saturate(y, op.options["fused_activation_function"], op)
    out_shape = ctx.out_tensor(op).signature
    if len(out_shape) != 2:  # keep_num_dims: back to the input's leading dimensions
        target = [-1 if d < 0 else d for d in out_shape]
        y = ctx.emit("Reshape", [y, ctx.const(target, np.int32, base + "/shape")], {"T": FLOAT, "Tshape": INT32},
                     base=base + "/unflatten")[0]
    ctx.set_output(op, 0, y, saturated=True)


def _pool(ctx: Lowering, op: Operator, tf_op: str, x: TensorRef) -> TensorRef:
    fh, fw = op.options["filter_height"], op.options["filter_width"]
    if fh < 1 or fw < 1:
        raise UnsupportedModelError(f"operator {op.index} ({op.opcode}) has a {fh}x{fw} window")
    attrs = {"T": FLOAT, "ksize": [1, fh, fw, 1], "strides": _strides(op), "padding": _padding(op),
             "data_format": "NHWC", "explicit_paddings": []}
    return ctx.emit(tf_op, [x], attrs, base=ctx.name_for(op) + "/" + tf_op)[0]


@lowering("AVERAGE_POOL_2D", "MAX_POOL_2D")
def pool_2d(ctx: Lowering, op: Operator) -> None:
    y = _pool(ctx, op, "AvgPool" if op.opcode == "AVERAGE_POOL_2D" else "MaxPool", ctx.need(op, 0))
    ctx.finish(op, y, op.options["fused_activation_function"])


@lowering("L2_POOL_2D")
def l2_pool_2d(ctx: Lowering, op: Operator) -> None:
    base = ctx.name_for(op)
    squared = ctx.emit("Square", [ctx.need(op, 0)], {"T": FLOAT}, base=base + "/Square")[0]
    y = ctx.emit("Sqrt", [_pool(ctx, op, "AvgPool", squared)], {"T": FLOAT}, base=base + "/Sqrt")[0]
    ctx.finish(op, y, op.options["fused_activation_function"])


@lowering("BATCH_MATMUL")
def batch_matmul(ctx: Lowering, op: Operator) -> None:
    attrs = {"T": FLOAT, "adj_x": op.options["adj_x"], "adj_y": op.options["adj_y"]}
    ctx.finish(op, ctx.emit("BatchMatMulV2", [ctx.need(op, 0), ctx.need(op, 1)], attrs,
                            base=ctx.name_for(op))[0])


@lowering("L2_NORMALIZATION")
def l2_normalization(ctx: Lowering, op: Operator) -> None:
    # The kernel divides by max(sqrt(sum x^2), 1e-6) along the last axis.
    base, x = ctx.name_for(op), ctx.need(op, 0)
    sq = ctx.emit("Square", [x], {"T": FLOAT}, base=base + "/Square")[0]
    total = ctx.emit("Sum", [sq, ctx.const(-1, np.int32, base + "/axis")], {"T": FLOAT, "Tidx": INT32,
                     "keep_dims": True}, base=base + "/Sum")[0]
    floor = ctx.emit("Maximum", [total, ctx.const(1e-12, np.float32, base + "/epsilon")], {"T": FLOAT},
                     base=base + "/Maximum")[0]
    inv = ctx.emit("Rsqrt", [floor], {"T": FLOAT}, base=base + "/Rsqrt")[0]
    ctx.finish(op, ctx.emit("Mul", [x, inv], {"T": FLOAT}, base=base)[0], op.options["fused_activation_function"])


@lowering("SOFTMAX")
def softmax(ctx: Lowering, op: Operator) -> None:
    x, base = ctx.need(op, 0), ctx.name_for(op)
    beta = op.options["beta"]
    if beta != 1.0:
        x = ctx.emit("Mul", [x, ctx.const(beta, np.float32, base + "/beta")], {"T": FLOAT}, base=base + "/scaled")[0]
    ctx.finish(op, ctx.emit("Softmax", [x], {"T": FLOAT}, base=base)[0])


@lowering("LOG_SOFTMAX")
def log_softmax(ctx: Lowering, op: Operator) -> None:
    ctx.finish(op, ctx.emit("LogSoftmax", [ctx.need(op, 0)], {"T": FLOAT}, base=ctx.name_for(op))[0])


@lowering("PRELU")
def prelu(ctx: Lowering, op: Operator) -> None:
    ctx.finish(op, ctx.emit("Prelu", [ctx.need(op, 0), ctx.need(op, 1)], {"T": FLOAT}, base=ctx.name_for(op))[0])


@lowering("LEAKY_RELU")
def leaky_relu(ctx: Lowering, op: Operator) -> None:
    ctx.finish(op, ctx.emit("LeakyRelu", [ctx.need(op, 0)], {"T": FLOAT, "alpha": float(op.options["alpha"])},
                            base=ctx.name_for(op))[0])


@lowering("HARD_SWISH")
def hard_swish(ctx: Lowering, op: Operator) -> None:
    # x * relu6(x + 3) / 6
    x, base = ctx.need(op, 0), ctx.name_for(op)
    shifted = ctx.emit("AddV2", [x, ctx.const(3.0, np.float32, base + "/three")], {"T": FLOAT}, base=base + "/add")[0]
    gate = ctx.emit("Relu6", [shifted], {"T": FLOAT}, base=base + "/Relu6")[0]
    scaled = ctx.emit("Mul", [gate, ctx.const(1.0 / 6.0, np.float32, base + "/sixth")], {"T": FLOAT},
                      base=base + "/scale")[0]
    ctx.finish(op, ctx.emit("Mul", [x, scaled], {"T": FLOAT}, base=base)[0])


@lowering("GELU")
def gelu(ctx: Lowering, op: Operator) -> None:
    x, base = ctx.need(op, 0), ctx.name_for(op)

    def c(value: float, name: str) -> TensorRef:
        return ctx.const(value, np.float32, f"{base}/{name}")

    def node(tf_op: str, *args: TensorRef, name: str) -> TensorRef:
        return ctx.emit(tf_op, list(args), {"T": FLOAT}, base=f"{base}/{name}")[0]

    if op.options["approximate"]:  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = node("Mul", node("Square", x, name="sq"), x, name="cube")
        inner = node("AddV2", x, node("Mul", cube, c(0.044715, "k"), name="kcube"), name="inner")
        t = node("Tanh", node("Mul", inner, c(math.sqrt(2.0 / math.pi), "s"), name="scaled"), name="tanh")
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = node("Erf", node("Mul", x, c(1.0 / math.sqrt(2.0), "s"), name="scaled"), name="erf")
    half = node("Mul", x, c(0.5, "half"), name="half_x")
    ctx.finish(op, node("Mul", half, node("AddV2", t, c(1.0, "one"), name="one_plus"), name="out"))


@lowering("LOCAL_RESPONSE_NORMALIZATION")
def local_response_normalization(ctx: Lowering, op: Operator) -> None:
    o = op.options
    attrs = {"T": FLOAT, "depth_radius": o["radius"], "bias": float(o["bias"]), "alpha": float(o["alpha"]),
             "beta": float(o["beta"])}
    ctx.finish(op, ctx.emit("LRN", [ctx.need(op, 0)], attrs, base=ctx.name_for(op))[0])
