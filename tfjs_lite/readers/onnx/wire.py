"""Read a ModelProto from a file without holding the whole message in memory.

Parsing the file in one ``ParseFromString`` keeps the file's bytes and the parsed message (whose
initializers hold every weight) alive together, and the weights are then copied once more into
numpy: three copies at the peak. Instead this module walks the protobuf wire format of the two
outer messages itself: the ``ModelProto`` fields and, inside its ``graph`` (field 7), every
``initializer`` (field 5) is parsed on its own and handed to a callback right away; everything
else (nodes, inputs, value_info...) is small and is parsed normally from the collected bytes.

Wire format: each field is a varint key ``(number << 3) | wire type``; wire type 0 is a varint,
1 a fixed 8 bytes, 2 a varint length then that many bytes, 5 a fixed 4 bytes. Groups (3/4) are
not used by ONNX and are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from tfjs_lite.errors import ModelFormatError

__all__ = ["read_model"]

_GRAPH_FIELD = 7
_INITIALIZER_FIELD = 5
_RAW_DATA_FIELD = 9
_MAX_VARINT_BYTES = 10


def _varint(f: IO[bytes], what: str) -> tuple[int, bytes]:
    """(value, the bytes it was encoded in) of the varint at the file position."""
    raw = bytearray()
    value = shift = 0
    while True:
        byte = f.read(1)
        if not byte:
            raise ModelFormatError(f"truncated protobuf ({what})")
        raw += byte
        value |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            return value, bytes(raw)
        if len(raw) >= _MAX_VARINT_BYTES:
            raise ModelFormatError(f"malformed varint in the protobuf ({what})")


def _fields(f: IO[bytes], end: int, what: str):
    """Yield (field number, wire type, encoded key and length prefix, payload start, payload end)."""
    while f.tell() < end:
        key, key_raw = _varint(f, what)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ModelFormatError(f"malformed protobuf: field number 0 ({what})")
        if wire == 0:
            _, raw = _varint(f, what)
            yield number, wire, key_raw + raw, f.tell(), f.tell()
            continue
        if wire == 2:
            length, length_raw = _varint(f, what)
            start = f.tell()
            if start + length > end:
                raise ModelFormatError(f"truncated protobuf: a field runs past its message ({what})")
            yield number, wire, key_raw + length_raw, start, start + length
            f.seek(start + length)
            continue
        size = {1: 8, 5: 4}.get(wire)
        if size is None:
            raise ModelFormatError(f"malformed protobuf: wire type {wire} ({what})")
        start = f.tell()
        if start + size > end:
            raise ModelFormatError(f"truncated protobuf ({what})")
        yield number, wire, key_raw, start, start + size
        f.seek(start + size)


def _read(f: IO[bytes], start: int, end: int) -> bytes:
    f.seek(start)
    data = f.read(end - start)
    if len(data) != end - start:
        raise ModelFormatError("truncated protobuf (file shorter than a field)")
    return data


def _split_raw_data(f: IO[bytes], start: int, end: int) -> tuple[bytes, Callable[[], Any] | None]:
    """An initializer's TensorProto bytes without ``raw_data`` (field 9), and a function reading
    that payload straight from the file into a fresh buffer (None when there is none)."""
    rest = bytearray()
    raw_span = None
    f.seek(start)
    for number, wire, head, s, e in list(_fields(f, end, "TensorProto")):
        if number == _RAW_DATA_FIELD and wire == 2:
            raw_span = (s, e)
        else:
            rest += head + _read(f, s, e)
    if raw_span is None:
        return bytes(rest), None

    def read_raw(span: tuple[int, int] = raw_span) -> Any:
        import numpy as np

        buffer = np.empty(span[1] - span[0], dtype=np.uint8)
        f.seek(span[0])
        if f.readinto(buffer.data) != buffer.size:  # type: ignore[attr-defined]
            raise ModelFormatError("truncated protobuf (file shorter than a tensor)")
        return buffer

    return bytes(rest), read_raw


def read_model(f: IO[bytes], size: int, on_initializer: Callable[[bytes, Callable[[], Any] | None], None]) -> Any:
    """The ModelProto in ``f`` (``size`` bytes) with ``graph.initializer`` left empty: each
    initializer goes to ``on_initializer`` instead, in file order, as its serialized TensorProto
    without ``raw_data`` plus a reader of that payload (so the weight bytes are copied once, from
    the file into the buffer numpy uses)."""
    from tfjs_lite._proto.onnx_pb2 import GraphProto, ModelProto

    model_rest = bytearray()
    graph_rest = bytearray()
    saw_graph = False
    for number, wire, head, start, end in list(_fields(f, size, "ModelProto")):
        if number == _GRAPH_FIELD and wire == 2:
            saw_graph = True
            f.seek(start)
            for g_number, g_wire, g_head, g_start, g_end in _fields(f, end, "GraphProto"):
                position = f.tell()
                if g_number == _INITIALIZER_FIELD and g_wire == 2:
                    on_initializer(*_split_raw_data(f, g_start, g_end))
                else:
                    graph_rest += g_head + _read(f, g_start, g_end)
                f.seek(position)
        else:
            model_rest += head + _read(f, start, end)
    model = ModelProto()
    try:
        model.ParseFromString(bytes(model_rest))
        if saw_graph:
            graph = GraphProto()
            graph.ParseFromString(bytes(graph_rest))
            model.graph.CopyFrom(graph)
    except Exception as e:  # protobuf's DecodeError
        raise ModelFormatError(f"not an ONNX model (protobuf: {e})") from None
    return model
