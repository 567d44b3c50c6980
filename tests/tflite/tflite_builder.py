"""A small writer of ``.tflite`` FlatBuffers for tests (``flatbuffers.Builder``, no generated code).

    b = TfliteBuilder()
    x = b.tensor("x", [1, 4])
    y = b.tensor("y", [1, 4])
    b.op("RELU", [x], [y])
    data = b.finish(inputs=[x], outputs=[y])

Several subgraphs: ``b.subgraph(...)`` closes the current one and starts the next. Options are
given as ``{"field": value}`` and written with the slots of ``tfjs_lite.readers.tflite.schema``
(the real-TF fixtures check those slots; these models check the lowering rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np

from tfjs_lite.readers.tflite import schema as S

TYPES = {"float32": 0, "float16": 1, "int32": 2, "uint8": 3, "int64": 4, "bool": 6, "int8": 9}


@dataclass
class _Sub:
    tensors: list[dict] = field(default_factory=list)
    ops: list[dict] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    name: str = ""


class TfliteBuilder:
    def __init__(self) -> None:
        self.buffers: list[dict] = [{}]  # buffers[0]: the empty sentinel
        self.codes: list[tuple[int, int, str | None]] = []  # (deprecated, builtin, custom)
        self.subs: list[_Sub] = [_Sub()]
        self.signatures: list[dict] = []

    @property
    def sub(self) -> _Sub:
        return self.subs[-1]

    def tensor(self, name: str, shape: list[int], dtype: str = "float32", data: Any = None, *,
               quant: tuple | None = None, variable: bool = False, signature: list[int] | None = None,
               buffer: int | None = None) -> int:
        """Add a tensor; ``data`` (array-like) makes it constant; ``quant = (scales, zero_points, axis)``."""
        if buffer is None:
            buffer = 0
            if data is not None:
                raw = np.ascontiguousarray(np.asarray(data)).tobytes() if not isinstance(data, bytes) else data
                self.buffers.append({"data": raw})
                buffer = len(self.buffers) - 1
        self.sub.tensors.append({"name": name, "shape": list(shape), "type": TYPES.get(dtype, dtype),
                                 "buffer": buffer, "quant": quant, "variable": variable, "signature": signature})
        return len(self.sub.tensors) - 1

    def const(self, name: str, value: Any, dtype: str | None = None) -> int:
        array = np.asarray(value)
        dtype = dtype or {"f": "float32", "i": "int32", "b": "bool"}[array.dtype.kind]
        np_type = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "float16": np.float16,
                   "int8": np.int8, "uint8": np.uint8, "int64": np.int64}[dtype]
        return self.tensor(name, list(array.shape), dtype, array.astype(np_type))

    def external_buffer(self, offset: int, size: int) -> int:
        """A buffer whose data lies outside the FlatBuffer (``offset``/``size``, > 2 GB models)."""
        self.buffers.append({"offset": offset, "size": size})
        return len(self.buffers) - 1

    def code(self, name: str, custom: str | None = None, *, deprecated: int | None = None,
             builtin: int | None = None) -> int:
        value = S.BUILTIN_CODES.get(name, 32)
        entry = (min(value, 127) if deprecated is None else deprecated, value if builtin is None else builtin, custom)
        if entry not in self.codes:
            self.codes.append(entry)
        return self.codes.index(entry)

    def op(self, name: str, inputs: list[int], outputs: list[int], options: dict | None = None, *,
           custom: str | None = None, code: int | None = None, options_table: str | None = None) -> None:
        self.sub.ops.append({"code": self.code(name, custom) if code is None else code, "inputs": inputs,
                             "outputs": outputs, "options": options,
                             "table": options_table or S.OP_OPTIONS.get(name)})

    def subgraph(self, inputs: list[int], outputs: list[int], name: str = "") -> int:
        """Close the current subgraph (with these inputs/outputs) and start a new one; returns the
        closed subgraph's index."""
        self.sub.inputs, self.sub.outputs, self.sub.name = inputs, outputs, name
        self.subs.append(_Sub())
        return len(self.subs) - 2

    def signature(self, key: str, inputs: list[tuple[str, int]], outputs: list[tuple[str, int]], subgraph: int = 0) -> None:
        self.signatures.append({"key": key, "inputs": inputs, "outputs": outputs, "subgraph": subgraph})

    # ------------------------------------------------------------------ serialisation
    def finish(self, inputs: list[int] | None = None, outputs: list[int] | None = None, name: str = "main") -> bytes:
        if inputs is not None:
            self.sub.inputs, self.sub.outputs, self.sub.name = inputs, outputs or [], name
        elif not self.sub.tensors and len(self.subs) > 1:
            self.subs.pop()
        b = flatbuffers.Builder(1024)
        subs = [self._subgraph(b, s) for s in self.subs]
        codes = []
        for deprecated, builtin, custom in self.codes:
            custom_off = b.CreateString(custom) if custom is not None else None
            b.StartObject(4)
            b.PrependInt8Slot(0, deprecated, 0)
            if custom_off is not None:
                b.PrependUOffsetTRelativeSlot(1, custom_off, 0)
            b.PrependInt32Slot(2, 1, 1)
            b.PrependInt32Slot(3, builtin, 0)
            codes.append(b.EndObject())
        buffers = []
        for buf in self.buffers:
            data = b.CreateByteVector(buf["data"]) if buf.get("data") else None
            b.StartObject(3)
            if data is not None:
                b.PrependUOffsetTRelativeSlot(0, data, 0)
            b.PrependUint64Slot(1, buf.get("offset", 0), 0)
            b.PrependUint64Slot(2, buf.get("size", 0), 0)
            buffers.append(b.EndObject())
        sigs = [self._signature(b, s) for s in self.signatures]
        desc = b.CreateString("tfjs-lite test model")
        vectors = [self._tables(b, codes), self._tables(b, subs), self._tables(b, buffers), self._tables(b, sigs)]
        b.StartObject(8)
        b.PrependUint32Slot(0, 3, 0)
        b.PrependUOffsetTRelativeSlot(1, vectors[0], 0)
        b.PrependUOffsetTRelativeSlot(2, vectors[1], 0)
        b.PrependUOffsetTRelativeSlot(3, desc, 0)
        b.PrependUOffsetTRelativeSlot(4, vectors[2], 0)
        b.PrependUOffsetTRelativeSlot(7, vectors[3], 0)
        b.Finish(b.EndObject(), file_identifier=b"TFL3")
        return bytes(b.Output())

    @staticmethod
    def _tables(b: flatbuffers.Builder, offsets: list[int]) -> int:
        b.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    @staticmethod
    def _ints(b: flatbuffers.Builder, values: list[int], size: int = 4) -> int:
        b.StartVector(size, len(values), size)
        for v in reversed(values):
            (b.PrependInt32 if size == 4 else b.PrependInt64)(int(v))
        return b.EndVector()

    @staticmethod
    def _floats(b: flatbuffers.Builder, values: list[float]) -> int:
        b.StartVector(4, len(values), 4)
        for v in reversed(values):
            b.PrependFloat32(float(v))
        return b.EndVector()

    def _tensor(self, b: flatbuffers.Builder, t: dict) -> int:
        shape = self._ints(b, t["shape"])
        sig = self._ints(b, t["signature"]) if t["signature"] is not None else None
        name = b.CreateString(t["name"])
        quant = None
        if t["quant"] is not None:
            scales, zeros, axis = t["quant"]
            s_off, z_off = self._floats(b, list(scales)), self._ints(b, list(zeros), 8)
            b.StartObject(7)
            b.PrependUOffsetTRelativeSlot(2, s_off, 0)
            b.PrependUOffsetTRelativeSlot(3, z_off, 0)
            b.PrependInt32Slot(6, axis, 0)
            quant = b.EndObject()
        b.StartObject(8)
        b.PrependUOffsetTRelativeSlot(0, shape, 0)
        b.PrependInt8Slot(1, t["type"], 0)
        b.PrependUint32Slot(2, t["buffer"], 0)
        b.PrependUOffsetTRelativeSlot(3, name, 0)
        if quant is not None:
            b.PrependUOffsetTRelativeSlot(4, quant, 0)
        b.PrependBoolSlot(5, t["variable"], False)
        if sig is not None:
            b.PrependUOffsetTRelativeSlot(7, sig, 0)
        return b.EndObject()

    def _options(self, b: flatbuffers.Builder, table: str, values: dict) -> tuple[int, int]:
        union, fields = S.OPTIONS_TABLES[table]
        vectors = {name: self._ints(b, values[name]) for name, _, kind, _ in fields
                   if kind == "[i32]" and values.get(name) is not None}
        b.StartObject(max(slot for _, slot, _, _ in fields) + 1)
        for name, slot, kind, default in fields:
            if name not in values:
                continue
            v = values[name]
            if kind == "[i32]":
                if name in vectors:
                    b.PrependUOffsetTRelativeSlot(slot, vectors[name], 0)
            elif kind == "b":
                b.PrependBoolSlot(slot, bool(v), not v)
            elif kind == "i8":
                b.PrependInt8Slot(slot, int(v), int(v) + 1)
            elif kind == "f32":
                b.PrependFloat32Slot(slot, float(v), float(v) + 1)
            else:
                b.PrependInt32Slot(slot, int(v), int(v) + 1)
        return union, b.EndObject()

    def _op(self, b: flatbuffers.Builder, op: dict) -> int:
        ins, outs = self._ints(b, op["inputs"]), self._ints(b, op["outputs"])
        options = None
        if op["options"] is not None and op["table"] is not None:
            options = self._options(b, op["table"], op["options"])
        b.StartObject(6)
        b.PrependUint32Slot(0, op["code"], 0)
        b.PrependUOffsetTRelativeSlot(1, ins, 0)
        b.PrependUOffsetTRelativeSlot(2, outs, 0)
        if options is not None:
            b.PrependUint8Slot(3, options[0], 0)
            b.PrependUOffsetTRelativeSlot(4, options[1], 0)
        return b.EndObject()

    def _subgraph(self, b: flatbuffers.Builder, s: _Sub) -> int:
        tensors = self._tables(b, [self._tensor(b, t) for t in s.tensors])
        ops = self._tables(b, [self._op(b, o) for o in s.ops])
        ins, outs, name = self._ints(b, s.inputs), self._ints(b, s.outputs), b.CreateString(s.name or "sub")
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, tensors, 0)
        b.PrependUOffsetTRelativeSlot(1, ins, 0)
        b.PrependUOffsetTRelativeSlot(2, outs, 0)
        b.PrependUOffsetTRelativeSlot(3, ops, 0)
        b.PrependUOffsetTRelativeSlot(4, name, 0)
        return b.EndObject()

    def _signature(self, b: flatbuffers.Builder, sig: dict) -> int:
        def maps(entries: list[tuple[str, int]]) -> int:
            offs = []
            for name, index in entries:
                n = b.CreateString(name)
                b.StartObject(2)
                b.PrependUOffsetTRelativeSlot(0, n, 0)
                b.PrependUint32Slot(1, index, 0)
                offs.append(b.EndObject())
            return self._tables(b, offs)

        ins, outs, key = maps(sig["inputs"]), maps(sig["outputs"]), b.CreateString(sig["key"])
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, ins, 0)
        b.PrependUOffsetTRelativeSlot(1, outs, 0)
        b.PrependUOffsetTRelativeSlot(2, key, 0)
        b.PrependUint32Slot(4, sig["subgraph"], 0)
        return b.EndObject()
