"""A ``.tflite`` file -> plain Python objects (:class:`TfliteModel`), every index checked.

Only what the lowering needs is decoded: subgraphs with their tensors and operators, operator
codes, buffers (inline, or stored after the FlatBuffer for models past 2 GB), quantization
parameters, builtin options and SignatureDefs. Buffer data is not copied: constants are numpy views
into the file's bytes, decoded (and dequantized) only when a lowering asks for them.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.readers.tflite import schema as S
from tfjs_lite.readers.tflite.flatbuf import FlatTable, root_table
from tfjs_lite.safe_io import open_binary

__all__ = ["Operator", "Quantization", "Signature", "SubGraph", "Tensor", "TfliteModel", "load_tflite",
           "read_tflite_bytes"]

IDENTIFIER = b"TFL3"
_MMAP_FROM = 64 * 1024 * 1024  # larger files are mapped rather than read


@dataclass(frozen=True)
class Quantization:
    """``real = scale * (q - zero_point)``, per tensor (one scale) or per slice along ``axis``."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int


@dataclass
class Tensor:
    index: int
    name: str
    type: int
    shape: tuple[int, ...]
    signature: tuple[int, ...]  # shape_signature when present (-1 = dynamic), else shape
    buffer: int
    quantization: Quantization | None
    is_variable: bool
    sparse: bool

    @property
    def type_name(self) -> str:
        return S.TENSOR_TYPES.get(self.type, (f"type {self.type}", None))[0]


@dataclass
class Operator:
    index: int
    opcode: str  # builtin name, or the custom code for CUSTOM ops
    custom: bool
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any]


@dataclass
class SubGraph:
    index: int
    name: str
    tensors: list[Tensor]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    operators: list[Operator]


@dataclass
class Signature:
    key: str
    subgraph: int
    inputs: list[tuple[str, int]]  # (name, tensor index), in file order (sorted by name)
    outputs: list[tuple[str, int]]


@dataclass
class TfliteModel:
    path: Path
    data: Any  # the file's bytes (or a read-only mmap)
    version: int
    description: str
    subgraphs: list[SubGraph]
    buffers: list[tuple[int, int]]  # (absolute start, byte length); (0, 0) = no data
    signatures: list[Signature] = field(default_factory=list)

    def raw(self, tensor: Tensor) -> memoryview | None:
        """The tensor's constant bytes, or None for a tensor without data."""
        start, length = self.buffers[tensor.buffer]
        return memoryview(self.data)[start:start + length] if length else None


def load_tflite(path: Path) -> TfliteModel:
    """Read and check a ``.tflite`` file."""
    path = Path(path)
    try:
        with open_binary(path, what=".tflite file") as f:  # a regular file: never a FIFO or device
            size = os.fstat(f.fileno()).st_size
            if size >= _MMAP_FROM:
                data: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            else:
                data = f.read()
    except OSError as e:
        raise ModelFormatError(f"cannot read the input: {e.strerror}", path=path) from None
    return read_tflite_bytes(data, path)


def read_tflite_bytes(data: Any, path: Path) -> TfliteModel:
    if len(data) < 8 or bytes(data[4:8]) != IDENTIFIER:
        raise ModelFormatError("not a TFLite file (no 'TFL3' identifier at bytes 4-8)", path=path)
    root = root_table(data)
    codes = [_operator_code(t) for t in root.tables(S.MODEL["operator_codes"], "operator_codes")]
    # buffers[0] is the empty sentinel; a file without any buffer gets one, so index 0 stays valid.
    buffers = [_buffer(t, len(data)) for t in root.tables(S.MODEL["buffers"], "buffers")] or [(0, 0)]
    graph_tables = root.tables(S.MODEL["subgraphs"], "subgraphs")
    if not graph_tables:
        raise ModelFormatError("the TFLite file has no subgraphs", path=path)
    subgraphs = [_subgraph(i, t, codes, len(buffers)) for i, t in enumerate(graph_tables)]
    model = TfliteModel(
        path=path, data=data,
        version=root.scalar(S.MODEL["version"], "u32", 0, "version"),
        description=root.string(S.MODEL["description"], "description") or "",
        subgraphs=subgraphs, buffers=buffers,
        signatures=[_signature(t, subgraphs) for t in root.tables(S.MODEL["signature_defs"], "signature_defs")],
    )
    return model


def _operator_code(t: FlatTable) -> tuple[str, bool]:
    # schema_utils: the real code is the larger of the two fields (old files only fill the
    # deprecated int8 one; codes >= 127 exist only in the int32 one, with 127 in the old).
    code = max(t.scalar(S.OPERATOR_CODE["deprecated_builtin_code"], "i8", 0, "deprecated_builtin_code"),
               t.scalar(S.OPERATOR_CODE["builtin_code"], "i32", 0, "builtin_code"))
    name = S.builtin_name(code)
    if name == "CUSTOM":
        custom = t.string(S.OPERATOR_CODE["custom_code"], "custom_code")
        return (f"custom op {custom!r}" if custom is not None else "custom op without a name"), True
    return name, False


def _buffer(t: FlatTable, file_size: int) -> tuple[int, int]:
    start, length = t.byte_range(S.BUFFER["data"], "data")
    if length:
        return start, length
    offset = t.scalar(S.BUFFER["offset"], "u64", 0, "offset")
    size = t.scalar(S.BUFFER["size"], "u64", 0, "size")
    if offset > 1:  # data appended after the FlatBuffer (> 2 GB models); 0/1 mean "none"
        if size > file_size or offset > file_size - size:
            raise ModelFormatError(f"not a valid TFLite file: a buffer ({size} bytes at byte {offset}) "
                                   "lies outside the file")
        return offset, size
    return 0, 0


def _ints(t: FlatTable, slot: int, name: str) -> tuple[int, ...]:
    values = t.numbers(slot, "i32", name)
    return () if values is None else tuple(int(v) for v in values)


def _subgraph(index: int, t: FlatTable, codes: list[tuple[str, bool]], n_buffers: int) -> SubGraph:
    tensors = [_tensor(i, tt, n_buffers) for i, tt in enumerate(t.tables(S.SUBGRAPH["tensors"], "tensors"))]
    n = len(tensors)
    where = f"subgraph {index}"
    inputs, outputs = _ints(t, S.SUBGRAPH["inputs"], "inputs"), _ints(t, S.SUBGRAPH["outputs"], "outputs")
    for i in inputs + outputs:
        if not 0 <= i < n:
            raise ModelFormatError(f"not a valid TFLite file: {where} names tensor {i} of {n}")
    operators = [_operator(i, ot, codes, n, where) for i, ot in enumerate(t.tables(S.SUBGRAPH["operators"], "operators"))]
    name = t.string(S.SUBGRAPH["name"], "name") or ("main" if index == 0 else f"subgraph_{index}")
    return SubGraph(index, name, tensors, inputs, outputs, operators)


def _tensor(index: int, t: FlatTable, n_buffers: int) -> Tensor:
    shape = _ints(t, S.TENSOR["shape"], "shape")
    signature = _ints(t, S.TENSOR["shape_signature"], "shape_signature") or shape
    if any(d < 0 for d in shape) or len(signature) != len(shape) or any(d < -1 for d in signature):
        raise ModelFormatError(f"not a valid TFLite file: tensor {index} has shape {list(shape)} "
                               f"(signature {list(signature)})")
    if t.scalar(S.TENSOR["external_buffer"], "u32", 0, "external_buffer"):
        raise UnsupportedModelError(f"tensor {index} keeps its data in an external file (external_buffer), "
                                    "which is not supported")
    buffer = t.scalar(S.TENSOR["buffer"], "u32", 0, "buffer")
    if buffer >= n_buffers:
        raise ModelFormatError(f"not a valid TFLite file: tensor {index} names buffer {buffer} of {n_buffers}")
    quant = t.table(S.TENSOR["quantization"], "quantization")
    return Tensor(
        index=index, name=t.string(S.TENSOR["name"], "name") or f"tensor_{index}",
        type=t.scalar(S.TENSOR["type"], "i8", 0, "type"), shape=shape, signature=signature,
        buffer=buffer,
        quantization=None if quant is None else _quantization(quant, index),
        is_variable=t.scalar(S.TENSOR["is_variable"], "b", False, "is_variable"),
        sparse=t.table(S.TENSOR["sparsity"], "sparsity") is not None,
    )


def _quantization(t: FlatTable, index: int) -> Quantization | None:
    if t.scalar(S.QUANTIZATION["details_type"], "u8", 0, "details_type"):
        raise UnsupportedModelError(f"tensor {index} uses custom or blockwise quantization, which is not supported")
    scale = t.numbers(S.QUANTIZATION["scale"], "f32", "scale")
    zero = t.numbers(S.QUANTIZATION["zero_point"], "i64", "zero_point")
    if scale is None or not len(scale):
        return None  # min/max only: informational
    if zero is None or not len(zero):
        zero = np.zeros(len(scale), np.int64)
    if len(zero) != len(scale):
        raise ModelFormatError(f"not a valid TFLite file: tensor {index} has {len(scale)} scales "
                               f"but {len(zero)} zero points")
    axis = t.scalar(S.QUANTIZATION["quantized_dimension"], "i32", 0, "quantized_dimension")
    return Quantization(scale, zero, axis)


def _operator(index: int, t: FlatTable, codes: list[tuple[str, bool]], n_tensors: int, where: str) -> Operator:
    code_index = t.scalar(S.OPERATOR["opcode_index"], "u32", 0, "opcode_index")
    if code_index >= len(codes):
        raise ModelFormatError(f"not a valid TFLite file: {where} operator {index} names operator code "
                               f"{code_index} of {len(codes)}")
    name, custom = codes[code_index]
    inputs, outputs = _ints(t, S.OPERATOR["inputs"], "inputs"), _ints(t, S.OPERATOR["outputs"], "outputs")
    if any(not -1 <= i < n_tensors for i in inputs) or any(not 0 <= i < n_tensors for i in outputs):
        raise ModelFormatError(f"not a valid TFLite file: {where} operator {index} ({name}) names a tensor "
                               f"outside 0..{n_tensors - 1}")
    return Operator(index, name, custom, inputs, outputs, {} if custom else _options(t, name, f"{where} operator {index}"))


def _options(t: FlatTable, op: str, where: str) -> dict[str, Any]:
    """The operator's builtin options with every absent field at its schema default."""
    table_name = S.OP_OPTIONS.get(op)
    if table_name is None:
        return {}
    union_index, fields = S.OPTIONS_TABLES[table_name]
    kind = t.scalar(S.OPERATOR["builtin_options_type"], "u8", 0, "builtin_options_type")
    table = None
    if kind:  # NONE (0) is allowed: converters omit options that are all defaults
        if kind != union_index:
            raise ModelFormatError(f"not a valid TFLite file: {where} ({op}) carries options of union type "
                                   f"{kind}, expected {table_name} ({union_index})")
        table = t.table(S.OPERATOR["builtin_options"], "builtin_options")
    values: dict[str, Any] = {}
    for name, slot, field_kind, default in fields:
        if table is None:
            values[name] = default
        elif field_kind == "[i32]":
            vector = table.numbers(slot, "i32", name)
            values[name] = default if vector is None else [int(v) for v in vector]
        else:
            values[name] = table.scalar(slot, field_kind, default, name)
    return values


def _signature(t: FlatTable, subgraphs: list[SubGraph]) -> Signature:
    key = t.string(S.SIGNATURE_DEF["signature_key"], "signature_key") or "serving_default"
    index = t.scalar(S.SIGNATURE_DEF["subgraph_index"], "u32", 0, "subgraph_index")
    if index >= len(subgraphs):
        raise ModelFormatError(f"not a valid TFLite file: signature {key!r} names subgraph {index}")
    n = len(subgraphs[index].tensors)

    def maps(slot: int, name: str) -> list[tuple[str, int]]:
        found = []
        for m in t.tables(slot, name):
            tensor = m.scalar(S.TENSOR_MAP["tensor_index"], "u32", 0, "tensor_index")
            if tensor >= n:
                raise ModelFormatError(f"not a valid TFLite file: signature {key!r} names tensor {tensor} of {n}")
            found.append((m.string(S.TENSOR_MAP["name"], "name") or f"{name}_{len(found)}", tensor))
        return found

    return Signature(key, index, maps(S.SIGNATURE_DEF["inputs"], "inputs"), maps(S.SIGNATURE_DEF["outputs"], "outputs"))
