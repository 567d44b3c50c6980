"""The state shared by the lowering functions while one ONNX graph becomes TF ops.

A lowered ONNX value is a :class:`V`: a TF tensor (``ref``), its static ``shape`` (``None`` dims
unknown, ``None`` = unknown rank), its TF dtype, and its numpy ``value`` when it is a constant.
Constants stay numpy (in their ONNX dtype, int64 included) until an op needs them as a TF tensor,
so shape arithmetic on them is exact and never reaches the graph. :meth:`LoweringContext.emit`
evaluates an op at once with the numpy kernels when every input is a small constant: that is how
``Shape -> Gather -> Concat -> Reshape`` chains of static models fold away during the lowering.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.ir.attrs import DType
from tfjs_lite.ir.graph import Graph, TensorRef, TensorType
from tfjs_lite.kernels import KERNELS, NodeContext
from tfjs_lite.kernels.sizes import predicted_elements
from tfjs_lite.readers.onnx.model import OnnxNode

__all__ = ["FOLD_LIMIT", "LoweringContext", "Shape", "V", "tf_name"]

Shape = tuple[int | None, ...] | None

# Largest constant (elements) the lowering computes itself; bigger results stay graph ops, so a
# hostile ConstantOfShape/Tile/Range cannot make the converter allocate without bound.
FOLD_LIMIT = 1 << 20
_INT32 = np.iinfo(np.int32)
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.\-/]")


def tf_name(onnx_name: str, fallback: str) -> str:
    """A TF node name for an ONNX node/value name (``/model.0/conv/Conv`` -> ``model.0/conv/Conv``)."""
    name = _NAME_BAD.sub("_", onnx_name).strip("/")
    name = re.sub(r"^[^A-Za-z0-9.]+", "", name)
    return name or fallback


class V:
    """One lowered value: TF tensor and/or constant, static shape, TF dtype."""

    __slots__ = ("ref", "shape", "dtype", "value", "known")

    def __init__(self, ref: TensorRef | None, shape: Shape, dtype: str, value: np.ndarray | None = None,
                 known: list[int | None] | None = None):
        self.ref, self.shape, self.dtype, self.value = ref, shape, dtype, value
        # For a computed 0-D/1-D integer tensor derived from Shape (a dynamic batch): its elements
        # where they are static, None where not (``Shape(x)[2:]`` of an NCHW x with a symbolic
        # batch is fully known even though ``Shape(x)`` is not).
        self.known = known

    def elements(self) -> list[int | None] | None:
        """The flat int elements when known (all of a constant, some of a shape vector), else None."""
        if self.value is not None and self.value.ndim <= 1 and self.value.dtype.kind in "iu":
            return [int(v) for v in self.value.reshape(-1)]
        return self.known

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def described_shape(self) -> Shape:
        """The shape this 1-D shape vector (a Reshape/Expand/Fill target) describes: its known
        non-negative elements, None for the rest (-1 and 0 mean "infer"/"copy" to the ops that take
        them); just the rank when only the vector's length is known; None when not even that."""
        elements = self.elements()
        if elements is not None:
            return tuple(None if d is None or d <= 0 else d for d in elements)
        if self.shape is not None and len(self.shape) == 1 and self.shape[0] is not None:
            return (None,) * self.shape[0]
        return None

    def static_shape(self) -> tuple[int, ...] | None:
        """The shape when every dim is known, else None."""
        if self.shape is None or any(d is None for d in self.shape):
            return None
        return tuple(int(d) for d in self.shape)  # type: ignore[arg-type]


def tf_dtype(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind == "f":
        return "DT_FLOAT"
    if kind in "iu":
        return "DT_INT32"
    if kind == "b":
        return "DT_BOOL"
    if kind in "OSU":
        return "DT_STRING"
    raise UnsupportedModelError(f"constants of numpy type {array.dtype} have no TF.js equivalent")


def to_tf_array(array: np.ndarray) -> np.ndarray:
    """The value as TF.js stores it: float32 / int32 / bool / strings. Integers beyond int32 are the
    exporters' "to the end" sentinels (INT64_MAX/MIN) and clamp to the int32 range."""
    kind = array.dtype.kind
    if kind == "f":
        return array.astype(np.float32, copy=False)
    if kind in "iu":
        if array.dtype.itemsize >= 4 and array.size and (array.max() > _INT32.max or array.min() < _INT32.min):
            array = np.clip(array, _INT32.min, _INT32.max)
        return array.astype(np.int32, copy=False)
    return array


class LoweringContext:
    """Builds the TF graph; one instance per conversion."""

    def __init__(self, graph: Graph, opset: int) -> None:
        self.graph = graph
        self.opset = opset
        self.values: dict[str, V] = {}
        self.node: OnnxNode | None = None
        self.base = "onnx"
        # Set by the reader: lowers an If branch's nodes here and returns its outputs.
        self.lower_branch: Any = None

    # ----------------------------------------------------------------- current node
    def start(self, node: OnnxNode, index: int) -> None:
        self.node = node
        self.base = tf_name(node.name, f"{node.op_type}_{index}")

    def attr(self, name: str, default: Any = None) -> Any:
        assert self.node is not None
        return self.node.attrs.get(name, default)

    def input(self, i: int) -> V | None:
        """Input ``i`` of the current node; None when omitted (absent or named "")."""
        assert self.node is not None
        if i >= len(self.node.inputs) or not self.node.inputs[i]:
            return None
        return self.values[self.node.inputs[i]]

    def inputs(self) -> list[V | None]:
        assert self.node is not None
        return [self.input(i) for i in range(len(self.node.inputs))]

    def const_input(self, i: int, what: str = "") -> np.ndarray | None:
        """The constant value of input ``i`` (None when omitted); a computed one is refused unless
        all its elements are known from static dims."""
        v = self.input(i)
        if v is None:
            return None
        if v.value is None and v.known is not None and None not in v.known:
            elements = np.array(v.known, dtype=np.int64)
            return elements.reshape(()) if v.rank == 0 else elements
        if v.value is None:
            raise self.unsupported(f"input {i}{' (' + what + ')' if what else ''} must be a constant "
                                   "or computable from static shapes")
        return v.value

    def const_ints(self, i: int, what: str = "") -> list[int] | None:
        """Constant input ``i`` as a flat list of Python ints (None when omitted)."""
        value = self.const_input(i, what)
        return None if value is None else [int(v) for v in value.reshape(-1)]

    def axes_input(self, i: int, rank: int, default: list[int] | None) -> list[int] | None:
        """Constant axes input ``i`` normalised against ``rank``; ``default`` when omitted."""
        axes = self.const_ints(i, "axes")
        return default if axes is None else [self.axis(a, rank) for a in axes]

    def unsupported(self, why: str) -> UnsupportedModelError:
        assert self.node is not None
        return UnsupportedModelError(f"ONNX node {self.node.name or self.base!r} ({self.node.op_type}): {why}")

    # ----------------------------------------------------------------- building
    def const(self, array: Any, dtype: Any = None) -> V:
        value = np.asarray(array, dtype=dtype)
        return V(None, tuple(value.shape), tf_dtype(value), value)

    def ref(self, v: V) -> TensorRef:
        """The TF tensor of ``v``, adding its Const node on first use."""
        if v.ref is None:
            assert v.value is not None
            v.ref = self.graph.add_const(to_tf_array(v.value), name=self.graph.unique_name(f"{self.base}/const"))
        return v.ref

    def emit(self, op: str, inputs: Sequence[V], attrs: dict[str, Any] | None = None, *,
             shape: Shape | list[Shape] = None, dtype: str | None = None, outputs: int = 1, name: str | None = None) -> Any:
        """Add TF op ``op`` (or compute it now when every input is a small constant).

        Returns one :class:`V` (``outputs == 1``) or a list. ``shape``/``dtype`` describe output 0
        (dtype defaults to input 0's); pass a list of shapes for several outputs.
        """
        attrs = dict(attrs or {})
        dtype = dtype or (inputs[0].dtype if inputs else "DT_FLOAT")
        folded = self._fold(op, inputs, attrs)
        if folded is not None:
            vs = [self.const(a) for a in folded]
            return vs[0] if outputs == 1 else vs
        node = self.graph.add_op(op, [self.ref(v) for v in inputs], attrs,
                                 name=self.graph.unique_name(name or f"{self.base}/{op}"))
        shapes = shape if isinstance(shape, list) else [shape] * outputs
        result = [V(TensorRef(node, k), shapes[k], dtype) for k in range(outputs)]
        self.graph.set_out_types(node, [TensorType(DType(v.dtype), v.shape) for v in result])
        return result[0] if outputs == 1 else result

    def _fold(self, op: str, inputs: Sequence[V], attrs: dict[str, Any]) -> list[np.ndarray] | None:
        values = [v.value for v in inputs if v.value is not None]
        if not inputs or len(values) != len(inputs) or op not in KERNELS:
            return None
        if any(a.size > FOLD_LIMIT for a in values) or predicted_elements(op, values, attrs) > FOLD_LIMIT:
            return None  # sizes set by input values (Fill, Tile, Range...) are predicted first
        try:
            with np.errstate(all="ignore"):
                out = KERNELS[op]([np.asarray(a) for a in values], attrs, NodeContext(name=self.base, op=op))
        except Exception:  # noqa: BLE001 - leave it to the runtime (and its error message)
            return None
        return [np.asarray(a) for a in out]

    # ----------------------------------------------------------------- helpers used by many lowerings
    def int_const(self, values: Any) -> V:
        # Shapes, pads and multiples come from attributes or initializers: a few bytes may ask for 2**40.
        wide = np.asarray(values, dtype=np.int64)
        if wide.size and (wide.min() < -(1 << 31) or wide.max() >= 1 << 31):
            raise ModelFormatError(f"integer constant {wide.tolist()} does not fit int32")
        return self.const(wide.astype(np.int32))

    def transpose(self, v: V, perm: Sequence[int]) -> V:
        perm = [int(p) for p in perm]
        if perm == list(range(len(perm))):
            return v
        shape = None if v.shape is None else tuple(v.shape[p] for p in perm)
        if v.value is not None:
            return self.const(np.transpose(v.value, perm))
        return self.emit("Transpose", [v, self.int_const(perm)], {"T": DType(v.dtype), "Tperm": DType("DT_INT32")},
                         shape=shape)

    def to_channels_last(self, v: V) -> V:
        """NCHW-style (channels at axis 1) -> channels last, for the TF ops that need NHWC."""
        rank = self.rank_of(v)
        return self.transpose(v, [0, *range(2, rank), 1])

    def to_channels_first(self, v: V) -> V:
        rank = self.rank_of(v)
        return self.transpose(v, [0, rank - 1, *range(1, rank - 1)])

    def rank_of(self, v: V) -> int:
        if v.rank is None:
            raise self.unsupported("the rank of an input is unknown (export with static shapes or value_info)")
        return v.rank

    def axis(self, axis: int, rank: int) -> int:
        """A normalised (non-negative) axis, checked against ``rank``."""
        if not -rank <= axis < max(rank, 1):
            raise self.unsupported(f"axis {axis} is out of range for rank {rank}")
        return axis % rank if rank else 0

    def cast(self, v: V, dtype: str) -> V:
        if v.dtype == dtype:
            return v
        if v.value is not None:
            numpy = {"DT_FLOAT": np.float32, "DT_INT32": np.int64, "DT_BOOL": np.bool_}[dtype]
            return self.const(v.value.astype(numpy))
        return self.emit("Cast", [v], {"SrcT": DType(v.dtype), "DstT": DType(dtype), "Truncate": False},
                         shape=v.shape, dtype=dtype)

    def expand_last(self, v: V) -> V:
        """``v[..., None]``."""
        shape = None if v.shape is None else (*v.shape, 1)
        return self.emit("ExpandDims", [v, self.int_const(-1)], {"T": DType(v.dtype), "Tdim": DType("DT_INT32")},
                         shape=shape)
