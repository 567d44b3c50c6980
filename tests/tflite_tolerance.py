"""How close a TFLite model converted to a graph model must come to ``tf.lite.Interpreter``.

Shared by tests/tflite (the committed fixtures) and benchmarks/tflite_zoo.py (the TFLite zoo).
A case folder holds ``model.tflite`` and ``case.json`` (its ``kind``: float32, float16,
dynamic_range or int8, as written by fixtures/generate_tflite.py). Tolerances are normalised
errors (tests/tfjs_node.py ``compare``):

* float32 and float16-weight models: 1e-4. The float16 weights are decoded exactly, so both
  sides compute the same float32 arithmetic.
* full-integer int8/uint8 models: the interpreter rounds every activation to its quantization
  grid, the converted model computes the same arithmetic without rounding. The tolerance is one
  quantization step of the integer tensor the output is read from (``step / max|expected|``):
  the interpreter's own last rounding alone may take half a step.
* dynamic-range models: the hybrid kernels quantize each layer's float input to int8 on the fly
  (255 levels over its range), a relative error of up to 1/254 per layer; the tolerance is that
  times the number of hybrid layers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tfjs_lite.readers.tflite import load_tflite

FLOAT_TOLERANCE = 1e-4
FLOAT_OPERATOR_TOLERANCE = 1e-5
HYBRID_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "UNIDIRECTIONAL_SEQUENCE_LSTM"}


def case_kind(case_dir: Path) -> str:
    return json.loads((Path(case_dir) / "case.json").read_text())["kind"]


def output_step(case_dir: Path) -> float:
    """The quantization step of the integer tensor each output is read from (the largest)."""
    model = load_tflite(Path(case_dir) / "model.tflite")
    sub = model.subgraphs[0]
    producers = {t: op for op in sub.operators for t in op.outputs}
    steps = []
    for index in sub.outputs:
        tensor = sub.tensors[index]
        op = producers.get(index)
        if tensor.quantization is None and op is not None and op.opcode == "DEQUANTIZE":
            tensor = sub.tensors[op.inputs[0]]
        assert tensor.quantization is not None, f"{case_dir}: output {tensor.name} is not quantized"
        steps.append(float(np.max(tensor.quantization.scale)))
    return max(steps)


def hybrid_layers(case_dir: Path) -> int:
    """The layers with int8 weights and float inputs (each a hybrid kernel), in every subgraph
    (a loop body's layers count once: a GRU's recurrence damps, not compounds, their rounding)."""
    model = load_tflite(Path(case_dir) / "model.tflite")
    return sum(_hybrid_ops(sub) for sub in model.subgraphs)


def _hybrid_ops(sub) -> int:
    return sum(1 for op in sub.operators if op.opcode in HYBRID_OPS
               and any(sub.tensors[i].type_name == "INT8" for i in op.inputs if i >= 0))


def tolerance(case_dir: Path, expected: dict) -> float:
    """The normalised error the conversion of ``case_dir`` may show against ``expected``."""
    kind = case_kind(case_dir)
    if kind in ("float32", "float16"):
        return FLOAT_TOLERANCE
    if kind == "dynamic_range":  # (a model too small for int8 weights stays float)
        return max(hybrid_layers(case_dir) / 254, FLOAT_TOLERANCE)
    assert kind == "int8", kind
    scale = max(float(np.max(np.abs(v))) for v in expected.values())
    return output_step(case_dir) / scale


def operator_errors(case_dir: Path, intermediates: dict) -> list[dict]:
    """Each operator's lowering run alone on the interpreter's own values of its inputs.

    ``intermediates`` maps a tensor index (as a string) to the interpreter's content of that
    tensor (integers for quantized tensors; fixtures/generate_tflite_zoo.py records them). For every
    operator whose outputs are recorded, the lowered graph (numpy reference executor) is fed the
    recorded inputs and its outputs are compared with the recorded outputs, so a lowering is
    judged free of the rounding noise that the layers before it add (which a random-weight model
    can amplify past any end-to-end tolerance). One row per output: ``{"operator", "opcode",
    "tensor", "error", "allowed"}``, both in the same unit:

    * a quantized output: quantization steps of the output; allowed one step (the interpreter
      rounds to half a step), two for the fixed-point approximations of ``APPROXIMATING_OPS``
      (LOGISTIC measured 0.98 step, MEAN 0.88);
      twice those for an int16 output (16x8 models: the kernels' fixed-point requantization is
      coarser than a step 256 times finer than int8's; measured 1.14 steps at a convolution);
      a sequence operator (an integer LSTM) rounds its state at every time step, each rounding
      carried into the next: allowed one step per time step;
    * a hybrid operator (int8 weights, float input): normalised by the largest magnitude of its
      float input and output; allowed the worst case of quantizing the input to 255 levels,
      ``max|x| / 254 * max_c sum|W_c|`` (W the weights of output channel c);
    * a WHILE / IF with a float output: normalised as below; allowed 1/254 per hybrid layer of
      the subgraphs it runs;
    * any other float output: normalised by the largest magnitude of its float inputs and
      output (a mean near 0 of large values is judged against the values); allowed 1e-5.
    """
    from tfjs_lite import executor
    from tfjs_lite.readers.tflite import load_tflite_graph
    from tfjs_lite.readers.tflite.tensors import dequantize, float_value, is_quantized

    model = load_tflite(Path(case_dir) / "model.tflite")
    sub = model.subgraphs[0]
    graph = load_tflite_graph(Path(case_dir) / "model.tflite")
    refs = graph.meta["tflite_tensors"]

    def value(index: int) -> np.ndarray:
        tensor = sub.tensors[index]
        raw = np.asarray(intermediates[str(index)])
        return dequantize(raw, tensor.quantization, tensor.name) if is_quantized(tensor) else raw

    rows = []
    for op in sub.operators:
        outs = [t for t in op.outputs if str(t) in intermediates and t in refs]
        if not outs:
            continue
        fed = {t: value(t) for t in op.inputs if t >= 0 and str(t) in intermediates and model.raw(sub.tensors[t]) is None}
        got = executor.run(graph, {refs[t]: v for t, v in fed.items()}, outputs=[refs[t] for t in outs])
        in_scale = max([float(np.max(np.abs(v))) for v in fed.values() if v.size and v.dtype.kind == "f"] or [0.0])
        for t in outs:
            expected, tensor = value(t), sub.tensors[t]
            diff = float(np.max(np.abs(got[refs[t]].astype(np.float64) - expected))) if expected.size else 0.0
            if is_quantized(tensor):
                error, allowed = diff / float(np.max(tensor.quantization.scale)), _steps(op, sub)
                if tensor.type_name == "INT16":  # 16x8 kernels' fixed point is coarser than a step
                    allowed *= 2
            else:
                scale = max(in_scale, float(np.max(np.abs(expected))) if expected.size else 0.0, 1e-30)
                error, allowed = diff / scale, FLOAT_OPERATOR_TOLERANCE
                called = [v for k, v in op.options.items() if k.endswith("_subgraph_index")] if op.options else []
                if called:  # WHILE / IF: the hybrid layers of the subgraphs it runs
                    allowed = max(allowed, sum(_hybrid_ops(model.subgraphs[i]) for i in called) / 254)
                weights = float_value(model, sub.tensors[op.inputs[1]]) if len(op.inputs) > 1 else None
                if op.opcode in HYBRID_OPS and weights is not None and sub.tensors[op.inputs[1]].type_name == "INT8":
                    channel = 3 if op.opcode == "DEPTHWISE_CONV_2D" else 0
                    per_channel = np.abs(np.moveaxis(weights, channel, 0)).reshape(weights.shape[channel], -1).sum(1)
                    allowed = max(allowed, in_scale / 254 * float(per_channel.max()) / scale)
            rows.append({"operator": op.index, "opcode": op.opcode, "tensor": t, "error": error, "allowed": allowed})
    return rows


SEQUENCE_OPS = {"UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN"}


# Integer kernels that approximate in fixed point before the final rounding (transcendental
# functions, divisions by a count or a sum): two roundings.
APPROXIMATING_OPS = {"LOGISTIC", "TANH", "HARD_SWISH", "GELU", "EXP", "LOG", "RSQRT", "SQRT", "SOFTMAX",
                     "LOG_SOFTMAX", "MEAN", "SUM", "L2_NORMALIZATION", "DIV"}


def _steps(op, sub) -> float:
    """The roundings an operator's quantized output went through: 1, 2 for fixed-point
    approximations, or its time steps for a sequence operator."""
    if op.opcode in APPROXIMATING_OPS:
        return 2.0
    if op.opcode not in SEQUENCE_OPS:
        return 1.0
    shape = sub.tensors[op.inputs[0]].shape
    return float(shape[0] if op.options.get("time_major") else shape[1])
