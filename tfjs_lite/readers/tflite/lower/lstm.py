"""UNIDIRECTIONAL_SEQUENCE_LSTM, unrolled over its static number of time steps.

Inputs (the kernel's order): 0 input ``[B,T,I]`` (``[T,B,I]`` when time_major); 1-4 input weights
for the input, forget, cell and output gates ``[n, I]``; 5-8 recurrent weights ``[n, n_out]``;
9-11 peepholes; 12-15 gate biases; 16/17 projection; 18 output state, 19 cell state (variables,
zero at the start); 20-23 layer-norm coefficients. Per step::

    i = sigmoid(W_i x + R_i h + b_i)   f = sigmoid(...)   g = act(W_c x + R_c h + b_c)
    o = sigmoid(W_o x + R_o h + b_o)   c = f * c + i * g (clipped to +-cell_clip if > 0)
    h = o * act(c)

The four input projections of every step are one MatMul over ``[B*T, I]``; each step adds one
MatMul of the previous ``h`` by the stacked recurrent weights and splits the sum into the gates.
"""

from __future__ import annotations

import numpy as np

from tfjs_lite.errors import UnsupportedModelError
from tfjs_lite.ir import TensorRef
from tfjs_lite.limits import MAX_UNROLLED_STEPS
from tfjs_lite.readers.tflite.context import FLOAT, INT32, Lowering
from tfjs_lite.readers.tflite.lower import lowering
from tfjs_lite.readers.tflite.model import Operator

_ACT = {1: "Relu", 3: "Relu6", 4: "Tanh"}
_OPTIONAL_UNSUPPORTED = {1: "CIFG (no input gate)", 9: "peepholes", 10: "peepholes", 11: "peepholes",
                         16: "a projection", 20: "layer normalisation", 21: "layer normalisation",
                         22: "layer normalisation", 23: "layer normalisation"}


@lowering("UNIDIRECTIONAL_SEQUENCE_LSTM")
def unidirectional_sequence_lstm(ctx: Lowering, op: Operator) -> None:
    where = f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM)"
    for k, what in _OPTIONAL_UNSUPPORTED.items():
        present = k < len(op.inputs) and op.inputs[k] >= 0
        if present != (k == 1):  # input 1 must be there, the others must not
            raise UnsupportedModelError(f"{where} uses {what}, which is not supported")
    act = _ACT.get(op.options["fused_activation_function"])
    if act is None:
        raise UnsupportedModelError(f"{where} has activation {op.options['fused_activation_function']}")
    base = ctx.name_for(op)
    w_in = [ctx.const_input(op, k, "input weights") for k in (1, 2, 3, 4)]
    w_rec = [ctx.const_input(op, k, "recurrent weights") for k in (5, 6, 7, 8)]
    biases = [ctx.const_input(op, k, "gate biases") for k in (12, 13, 14, 15)]
    n, n_in = w_in[0].shape
    n_out = w_rec[0].shape[1]
    if n_out != n or any(w.shape != (n, n_in) for w in w_in) or any(w.shape != (n, n_out) for w in w_rec):
        raise UnsupportedModelError(f"{where} has weights of inconsistent shapes")
    shape = ctx.in_tensor(op, 0).shape
    if len(shape) != 3:
        raise UnsupportedModelError(f"{where} needs a 3-D input, got {list(shape)}")
    time_major = op.options["time_major"]
    steps, batch = (shape[0], shape[1]) if time_major else (shape[1], shape[0])
    if steps > MAX_UNROLLED_STEPS:
        raise UnsupportedModelError(f"{where} runs {steps} time steps; up to {MAX_UNROLLED_STEPS} are unrolled")

    def c(value: np.ndarray, name: str) -> TensorRef:
        return ctx.graph.add_const(np.ascontiguousarray(value, np.float32), name=ctx.graph.unique_name(f"{base}/{name}"))

    def node(tf_op: str, inputs: list[TensorRef], name: str, **attrs: object) -> TensorRef:
        return ctx.emit(tf_op, inputs, {"T": FLOAT, **attrs}, base=f"{base}/{name}")[0]

    # All steps' input projections at once: [B*T, I] x [I, 4n] + b -> [T, B, 4n] -> per step.
    x = ctx.need(op, 0)
    if not time_major:
        x = node("Transpose", [x, ctx.const([1, 0, 2], np.int32, base + "/tm_perm")], "time_major", Tperm=INT32)
    flat = node("Reshape", [x, ctx.const([-1, n_in], np.int32, base + "/flat")], "flat_input", Tshape=INT32)
    projected = node("MatMul", [flat, c(np.concatenate(w_in).T, "input_kernel")], "input_proj",
                     transpose_a=False, transpose_b=False)
    projected = node("BiasAdd", [projected, c(np.concatenate(biases), "bias")], "input_bias", data_format="NHWC")
    projected = node("Reshape", [projected, ctx.const([steps, batch, 4 * n], np.int32, base + "/steps_shape")],
                     "per_step", Tshape=INT32)
    per_step = ctx.emit("Unpack", [projected], {"T": FLOAT, "num": steps, "axis": 0}, base=f"{base}/unstack",
                        outputs=steps)
    recurrent = c(np.concatenate(w_rec).T, "recurrent_kernel")
    h, cell = ctx.input(op, 18), ctx.input(op, 19)
    if h is None or cell is None:
        raise UnsupportedModelError(f"{where} has no state tensors")
    clip = float(op.options["cell_clip"])
    one_axis = ctx.const(1, np.int32, base + "/gate_axis")
    outputs = []
    for t in range(steps):
        z = node("AddV2", [per_step[t], node("MatMul", [h, recurrent], f"step{t}/rec", transpose_a=False,
                                                     transpose_b=False)], f"step{t}/z")
        gi, gf, gc, go = ctx.emit("Split", [one_axis, z], {"T": FLOAT, "num_split": 4}, base=f"{base}/step{t}/gates",
                                  outputs=4)
        i, f, o = (node("Sigmoid", [g], f"step{t}/{k}") for g, k in ((gi, "i"), (gf, "f"), (go, "o")))
        g = node(act, [gc], f"step{t}/g")
        cell = node("AddV2", [node("Mul", [f, cell], f"step{t}/keep"), node("Mul", [i, g], f"step{t}/write")],
                    f"step{t}/c")
        if clip > 0:
            cell = node("ClipByValue", [cell, ctx.const(-clip, np.float32, f"{base}/clip_lo"),
                                        ctx.const(clip, np.float32, f"{base}/clip_hi")], f"step{t}/c_clip")
        h = node("Mul", [o, node(act, [cell], f"step{t}/act_c")], f"step{t}/h")
        outputs.append(h)
    y = ctx.emit("Pack", outputs, {"T": FLOAT, "N": steps, "axis": 0 if time_major else 1}, base=base)[0]
    ctx.set_output(op, 0, y)
