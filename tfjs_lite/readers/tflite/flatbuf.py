"""Bounds-checked access to FlatBuffer tables, over the ``flatbuffers`` runtime's ``Table``.

The runtime trusts the buffer: a bad offset reads garbage, slices silently short or raises
``struct.error``. Every accessor here first checks that what it is about to read (the vtable, a
field, an indirect target, a vector's ``4 + count * size`` bytes, a string and its terminator) lies
inside the buffer, and raises :class:`ModelFormatError` naming the field otherwise. Counts are
therefore bounded by the file size, so no read allocates more than the file holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

from tfjs_lite.errors import ModelFormatError

__all__ = ["FlatTable", "root_table"]

_KINDS = {  # kind -> (flatbuffers flags, size, numpy dtype)
    "b": (N.BoolFlags, 1, "?"), "i8": (N.Int8Flags, 1, "i1"), "u8": (N.Uint8Flags, 1, "u1"),
    "i32": (N.Int32Flags, 4, "<i4"), "u32": (N.Uint32Flags, 4, "<u4"), "i64": (N.Int64Flags, 8, "<i8"),
    "u64": (N.Uint64Flags, 8, "<u8"), "f32": (N.Float32Flags, 4, "<f4"),
}


def _bad(what: str, detail: str) -> ModelFormatError:
    return ModelFormatError(f"not a valid TFLite file: {what} {detail}")


class FlatTable:
    """One table at absolute position ``pos`` of ``buf``, its vtable already checked."""

    __slots__ = ("buf", "size", "pos", "what", "_t", "_vt_bytes", "_table_bytes")

    def __init__(self, buf: Any, pos: int, what: str) -> None:
        self.buf, self.size, self.pos, self.what = buf, len(buf), pos, what
        if not 0 <= pos <= self.size - 4:
            raise _bad(what, f"table at byte {pos} lies outside the file")
        self._t = Table(buf, pos)
        vtable = pos - self._t.Get(N.SOffsetTFlags, pos)
        if not 0 <= vtable <= self.size - 4:
            raise _bad(what, f"vtable at byte {vtable} lies outside the file")
        self._vt_bytes = self._t.Get(N.VOffsetTFlags, vtable)
        self._table_bytes = self._t.Get(N.VOffsetTFlags, vtable + 2)
        if self._vt_bytes < 4 or self._vt_bytes % 2 or vtable + self._vt_bytes > self.size:
            raise _bad(what, f"has a damaged vtable ({self._vt_bytes} bytes at byte {vtable})")
        if self._table_bytes < 4 or pos + self._table_bytes > self.size:
            raise _bad(what, f"runs past the end of the file ({self._table_bytes} bytes at byte {pos})")

    def _field(self, slot: int, size: int, name: str) -> int:
        """The field's offset in the table (0 = absent), checked to hold ``size`` bytes."""
        vt = 4 + 2 * slot
        if vt >= self._vt_bytes:
            return 0
        off: int = self._t.Offset(vt)
        if off and off + size > self._table_bytes:
            raise _bad(self.what, f"field {name!r} lies outside its table")
        return off

    def scalar(self, slot: int, kind: str, default: Any, name: str = "") -> Any:
        """A scalar field, or ``default`` when it is absent."""
        flags, size, _ = _KINDS[kind]
        off = self._field(slot, size, name or f"#{slot}")
        return default if not off else self._t.Get(flags, self.pos + off)

    def _target(self, slot: int, name: str) -> int:
        """Absolute position an offset field points at (0 when absent)."""
        off = self._field(slot, 4, name)
        if not off:
            return 0
        target: int = self._t.Indirect(self.pos + off)
        if not 0 < target <= self.size - 4:
            raise _bad(self.what, f"field {name!r} points outside the file")
        return target

    def table(self, slot: int, name: str) -> FlatTable | None:
        """A sub-table field, or None when absent."""
        target = self._target(slot, name)
        return FlatTable(self.buf, target, f"{self.what}.{name}") if target else None

    def _vector(self, slot: int, elem_size: int, name: str) -> tuple[int, int]:
        """(start of the elements, count) of a vector field; (0, 0) when absent."""
        target = self._target(slot, name)
        if not target:
            return 0, 0
        count = self._t.Get(N.Uint32Flags, target)
        start = target + 4
        if count * elem_size > self.size - start:
            raise _bad(self.what, f"vector {name!r} ({count} elements) runs past the end of the file")
        return start, count

    def numbers(self, slot: int, kind: str, name: str) -> np.ndarray | None:
        """A vector of scalars as a read-only numpy view, or None when absent."""
        _, size, dtype = _KINDS[kind]
        start, count = self._vector(slot, size, name)
        if not start:
            return None
        return np.frombuffer(self.buf, dtype=dtype, count=count, offset=start)

    def byte_range(self, slot: int, name: str) -> tuple[int, int]:
        """(start, length) of a ``[ubyte]`` field, (0, 0) when absent."""
        return self._vector(slot, 1, name)

    def tables(self, slot: int, name: str) -> list[FlatTable]:
        """A vector of tables (empty when absent)."""
        start, count = self._vector(slot, 4, name)
        return [FlatTable(self.buf, self._indirect(start + 4 * i, name), f"{self.what}.{name}[{i}]")
                for i in range(count)]

    def _indirect(self, at: int, name: str) -> int:
        target: int = self._t.Indirect(at)
        if not 0 < target <= self.size - 4:
            raise _bad(self.what, f"an element of {name!r} points outside the file")
        return target

    def string(self, slot: int, name: str) -> str | None:
        """A string field (UTF-8; undecodable bytes replaced), or None when absent."""
        start, length = self._vector(slot, 1, name)
        if not start:
            return None
        if length >= self.size - start or self.buf[start + length] != 0:
            raise _bad(self.what, f"string {name!r} is not terminated inside the file")
        return bytes(self.buf[start:start + length]).decode("utf-8", "replace")


def root_table(buf: Any) -> FlatTable:
    """The root table of a size-prefix-free FlatBuffer (its offset is the first 4 bytes)."""
    if len(buf) < 8:
        raise ModelFormatError(f"not a valid TFLite file: only {len(buf)} bytes")
    root = int.from_bytes(bytes(buf[0:4]), "little")
    return FlatTable(buf, root, "Model")
