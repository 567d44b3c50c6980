"""The state one subgraph's lowering works on: the IR graph being built, the TFLite tensor ->
IR tensor map, and helpers every lowering function uses (inputs, constants, emitting nodes,
fused activations)."""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Sequence

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.ir import DType, Graph, TensorRef, TensorType
from tfjs_lite.readers.tflite.model import Operator, SubGraph, Tensor, TfliteModel
from tfjs_lite.readers.tflite.tensors import float_value, is_quantized, representable_range

__all__ = ["Lowering", "graph_dtype", "node_name"]

FLOAT = DType("DT_FLOAT")
INT32 = DType("DT_INT32")
_DTYPES = {"FLOAT32": FLOAT, "FLOAT16": FLOAT, "FLOAT64": FLOAT, "BFLOAT16": FLOAT, "BOOL": DType("DT_BOOL"),
           "STRING": DType("DT_STRING"), "COMPLEX64": DType("DT_COMPLEX64")}
MAX_STATE_ELEMENTS = 1 << 26  # zero-initialised variable tensors (RNN states) are made in memory
_UNSAFE = re.compile(r"[^A-Za-z0-9_./-]+")


def graph_dtype(tensor: Tensor) -> DType:
    """The TF dtype a TFLite tensor has in the float32 graph (quantized integers are float32)."""
    if is_quantized(tensor):
        return FLOAT
    name = tensor.type_name
    if name in _DTYPES:
        return _DTYPES[name]
    if name in ("INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64", "INT4"):
        return INT32
    raise UnsupportedModelError(f"tensor {tensor.index} ({tensor.name!r}) has type {name}, which TF.js cannot hold")


def node_name(text: str) -> str:
    """A TF node name from a TFLite tensor name: the first of its ``;``-joined names, with
    characters TF.js reads specially (``:``, ``^``, spaces) replaced."""
    first = re.sub(r":\d+$", "", text.split(";")[0].strip())  # a TF tensor name's ":0"
    cleaned = _UNSAFE.sub("_", first).strip("/") or "tensor"
    return cleaned if cleaned[0].isalnum() else "t" + cleaned


class Lowering:
    """Lowers the operators of one subgraph into ``graph``.

    Attributes:
        values: TFLite tensor index -> the IR tensor holding its (float32 meaning of the) value.
        function: Callback giving the library function name for a subgraph index (WHILE/IF).
    """

    def __init__(self, model: TfliteModel, sub: SubGraph, graph: Graph, function: Callable[[int], str]) -> None:
        self.model, self.sub, self.graph, self.function = model, sub, graph, function
        self.values: dict[int, TensorRef] = {}
        self._consts: dict[int, np.ndarray | None] = {}

    # ------------------------------------------------------------------ reading operands
    def tensor(self, index: int) -> Tensor:
        return self.sub.tensors[index]

    def constant(self, index: int) -> np.ndarray | None:
        """The float32-graph value of a constant tensor (dequantized), None if not constant."""
        if index not in self._consts:
            self._consts[index] = float_value(self.model, self.sub.tensors[index])
        return self._consts[index]

    def input(self, op: Operator, k: int) -> TensorRef | None:
        """Input ``k`` of ``op`` as an IR tensor (constants become Const nodes once); None when the
        optional input is omitted (-1 or past the end)."""
        if k >= len(op.inputs) or op.inputs[k] < 0:
            return None
        return self.ref(op.inputs[k], f"operator {op.index} ({op.opcode})")

    def ref(self, index: int, reader: str) -> TensorRef:
        """The IR tensor of TFLite tensor ``index``, making a Const for constant data."""
        if index in self.values:
            return self.values[index]
        value = self.constant(index)
        if value is None:
            tensor = self.sub.tensors[index]
            if tensor.is_variable:  # LSTM states: zero-initialised and never read back by TF.js
                if math.prod(tensor.shape) > MAX_STATE_ELEMENTS:
                    raise UnsupportedModelError(f"variable tensor {index} ({tensor.name!r}) of shape "
                                                f"{list(tensor.shape)} is too large")
                value = np.zeros(tensor.shape, np.float32 if graph_dtype(tensor) == FLOAT else np.int32)
            else:
                raise ModelFormatError(f"not a valid TFLite file: {reader} of subgraph {self.sub.index} reads "
                                       f"tensor {index} ({tensor.name!r}) before anything produces it")
        ref = self.graph.add_const(value, name=self.graph.unique_name(node_name(self.sub.tensors[index].name)))
        self.values[index] = ref
        return ref

    def need(self, op: Operator, k: int) -> TensorRef:
        """Input ``k``, which the op cannot do without."""
        ref = self.input(op, k)
        if ref is None:
            raise ModelFormatError(f"not a valid TFLite file: operator {op.index} ({op.opcode}) lacks input {k}")
        return ref

    def const_input(self, op: Operator, k: int, what: str) -> np.ndarray:
        """Input ``k`` as a constant value (axes, permutations, block sizes...)."""
        if k >= len(op.inputs) or op.inputs[k] < 0 or self.constant(op.inputs[k]) is None:
            raise UnsupportedModelError(f"operator {op.index} ({op.opcode}): its {what} must be a constant")
        value = self.constant(op.inputs[k])
        assert value is not None
        return value

    def const_of(self, op: Operator, k: int) -> np.ndarray | None:
        """Input ``k``'s constant value, or None when it is computed."""
        if k >= len(op.inputs) or op.inputs[k] < 0:
            return None
        return self.constant(op.inputs[k])

    def fold(self, op: Operator, value: np.ndarray) -> None:
        """Make output 0 of ``op`` a constant known at conversion (a Const node once it is read)."""
        index = op.outputs[0]
        if index in self.values or self._consts.get(index) is not None:
            raise ModelFormatError(f"not a valid TFLite file: tensor {index} is written twice "
                                   f"(again by operator {op.index}, {op.opcode})")
        self._consts[index] = value

    def in_tensor(self, op: Operator, k: int) -> Tensor:
        """The TFLite tensor of input ``k``, which must be present."""
        if k >= len(op.inputs) or op.inputs[k] < 0:
            raise ModelFormatError(f"not a valid TFLite file: operator {op.index} ({op.opcode}) lacks input {k}")
        return self.sub.tensors[op.inputs[k]]

    def out_tensor(self, op: Operator, port: int = 0) -> Tensor:
        if port >= len(op.outputs):
            raise ModelFormatError(f"not a valid TFLite file: operator {op.index} ({op.opcode}) lacks output {port}")
        return self.sub.tensors[op.outputs[port]]

    # ------------------------------------------------------------------ emitting
    def emit(self, op_type: str, inputs: Sequence[TensorRef], attrs: dict[str, Any] | None = None, *,
             base: str, outputs: int = 1) -> list[TensorRef]:
        """Add one node named after ``base``; returns its output refs."""
        node = self.graph.add_op(op_type, list(inputs), attrs or {}, name=self.graph.unique_name(base))
        return [TensorRef(node, i) for i in range(outputs)]

    def const(self, value: Any, dtype: Any, base: str) -> TensorRef:
        return self.graph.add_const(np.asarray(value, dtype=dtype), name=self.graph.unique_name(base))

    def name_for(self, op: Operator, port: int = 0) -> str:
        return node_name(self.out_tensor(op, port).name)

    def set_output(self, op: Operator, port: int, ref: TensorRef, *, saturated: bool = False) -> None:
        """Record that TFLite output ``port`` of ``op`` is ``ref``, with its type when known.
        A quantized output is saturated (``saturate``) unless ``saturated`` says it already is."""
        index = self.out_tensor(op, port).index
        if index in self.values:
            raise ModelFormatError(f"not a valid TFLite file: tensor {index} is written twice "
                                   f"(again by operator {op.index}, {op.opcode})")
        if not saturated:
            ref = self.saturate(ref, 0, op, port)
        self.typed(ref, self.sub.tensors[index])
        self.values[index] = ref

    def typed(self, ref: TensorRef, tensor: Tensor) -> TensorRef:
        """Give ``ref``'s node the type and shape of ``tensor`` when it has none. Lowerings call it
        for the nodes before a bias or activation too (same shape as the output): a pass that
        later bypasses the bias (a zero bias) must still find the shape, e.g. to lower a grouped
        convolution reading that node."""
        if self.graph.out_types(ref.node) is None and ref.port == 0 and self.graph.op(ref.node) not in _MULTI:
            shape = tuple(None if d < 0 else d for d in tensor.signature)
            self.graph.set_out_types(ref.node, [TensorType(graph_dtype(tensor), shape)])
        return ref

    def activation(self, ref: TensorRef, code: int, op: Operator) -> TensorRef:
        """Apply a fused activation (ActivationFunctionType) to ``ref``."""
        base = self.name_for(op)
        if code == 0:
            return ref
        if code == 1:
            return self.emit("Relu", [ref], {"T": FLOAT}, base=base + "/Relu")[0]
        if code == 2:
            lo, hi = self.const(-1.0, np.float32, base + "/lo"), self.const(1.0, np.float32, base + "/hi")
            return self.emit("ClipByValue", [ref, lo, hi], {"T": FLOAT}, base=base + "/Clip")[0]
        if code == 3:
            return self.emit("Relu6", [ref], {"T": FLOAT}, base=base + "/Relu6")[0]
        if code == 4:
            return self.emit("Tanh", [ref], {"T": FLOAT}, base=base + "/Tanh")[0]
        if code == 5:
            # SIGN_BIT: 1 where the sign bit is set (x < 0, or -0.0), else 0.
            zero = self.const(0.0, np.float32, base + "/zero")
            less = self.emit("Less", [ref, zero], {"T": FLOAT}, base=base + "/SignBit")[0]
            return self.emit("Cast", [less], {"SrcT": DType("DT_BOOL"), "DstT": FLOAT}, base=base + "/SignBitCast")[0]
        raise ModelFormatError(f"not a valid TFLite file: operator {op.index} ({op.opcode}) has fused "
                               f"activation {code}")

    def finish(self, op: Operator, ref: TensorRef, act_code: int = 0) -> None:
        """Apply the fused activation (and the saturation of a quantized output) and bind output 0."""
        ref = self.typed(ref, self.out_tensor(op))  # the result before its activation: same shape
        self.set_output(op, 0, self.saturate(ref, act_code, op), saturated=True)

    def saturate(self, ref: TensorRef, act_code: int, op: Operator, port: int = 0) -> TensorRef:
        """The fused activation of ``op`` applied to its result ``ref``, then its saturation.

        A quantized output saturates: the integer kernels clamp their result to the integers the
        output tensor holds, intersected with the activation's range. Where that cuts more than
        one quantization step off the values the op can produce (its result range, narrowed by
        the activation), the result is clipped (a clamping activation becomes that one
        ClipByValue); otherwise the activation alone is emitted: a cut of up to one step is
        rounding-sized, and e.g. RELU6 into a tensor calibrated to [0, 6] needs no clip."""
        out = self.out_tensor(op, port)
        bounds = representable_range(out)
        if bounds is None or out.quantization is None:
            return self.activation(ref, act_code, op)
        lo, hi = self._result_range(op)
        act_lo, act_hi = _ACTIVATION_RANGES.get(act_code, (-math.inf, math.inf))
        lo, hi = max(lo, act_lo), min(hi, act_hi)
        step = float(np.max(out.quantization.scale))
        if bounds[0] <= lo + step and hi - step <= bounds[1]:
            return self.activation(ref, act_code, op)
        if act_code not in _CLAMPS:  # TANH, SIGN_BIT: the activation, then the saturation
            ref = self.activation(ref, act_code, op)
        base = node_name(out.name)
        lo_ref = self.const(max(lo, bounds[0]), np.float32, base + "/saturate_lo")
        hi_ref = self.const(min(hi, bounds[1]), np.float32, base + "/saturate_hi")
        return self.emit("ClipByValue", [ref, lo_ref, hi_ref], {"T": FLOAT}, base=base + "/saturate")[0]

    def _result_range(self, op: Operator) -> tuple[float, float]:
        """The values ``op`` can produce before its fused activation (unbounded if unknown)."""
        if op.opcode in _RESULT_RANGES:
            return _RESULT_RANGES[op.opcode]
        if op.opcode not in _WITHIN_INPUT_RANGE:
            return -math.inf, math.inf
        ranges = []
        for index in op.inputs:  # the value inputs; shapes, indices and conditions do not count
            tensor = self.sub.tensors[index] if index >= 0 else None
            if tensor is None or graph_dtype(tensor) != FLOAT:
                continue
            value_range = representable_range(tensor)
            if value_range is None:  # a float (or per-channel) input: anything
                return -math.inf, math.inf
            ranges.append(value_range)
        if not ranges:
            return -math.inf, math.inf
        return min(r[0] for r in ranges), max(r[1] for r in ranges)


# Fused activations whose whole effect is a clamp (NONE, RELU, RELU_N1_TO_1, RELU6), and the
# value range of every activation (those two plus TANH and SIGN_BIT).
_CLAMPS = frozenset({0, 1, 2, 3})
_ACTIVATION_RANGES = {1: (0.0, math.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0), 4: (-1.0, 1.0), 5: (0.0, 1.0)}
# Operators whose results lie in a fixed range, and those whose results lie within the range of
# their (quantized) inputs: neither needs saturating to an output that holds that range.
_RESULT_RANGES = {"LOGISTIC": (0.0, 1.0), "TANH": (-1.0, 1.0), "SOFTMAX": (0.0, 1.0)}
_WITHIN_INPUT_RANGE = frozenset({
    "AVERAGE_POOL_2D", "BROADCAST_TO", "CONCATENATION", "DEPTH_TO_SPACE", "DEQUANTIZE", "EXPAND_DIMS", "GATHER",
    "GATHER_ND", "MAX_POOL_2D", "MEAN", "MIRROR_PAD", "PACK", "PAD", "PADV2", "QUANTIZE", "REDUCE_MAX",
    "REDUCE_MIN", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2", "SELECT", "SELECT_V2",
    "SLICE", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQUEEZE", "STRIDED_SLICE", "TILE", "TRANSPOSE", "UNPACK",
})
_MULTI = frozenset({"Const", "Split", "SplitV", "Unpack", "TopKV2", "While", "StatelessWhile", "If", "StatelessIf"})
