"""The checkpoint ``.index`` file: a LevelDB-style SSTable (no compression in practice, masked
crc32c per block) mapping tensor keys to serialized protos (docs/formats.md §7)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.limits import PROTOBUF_LIMIT
from tfjs_lite.readers.tensor_bundle.checksums import crc32c, mask_crc
from tfjs_lite.safe_io import read_bytes

if TYPE_CHECKING:
    from google.protobuf.message import Message

_FOOTER_SIZE = 48
_MAGIC = 0xDB4775248B80FB57
_TRAILER_SIZE = 5
_NO_COMPRESSION = 0
_SNAPPY = 1


def _varint(buffer: bytes, pos: int, where: str) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buffer) or shift > 63:
            raise ModelFormatError(f"truncated or malformed varint in {where}")
        byte = buffer[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


@dataclass(frozen=True)
class _BlockHandle:
    offset: int
    size: int


def _decode_handle(buffer: bytes, pos: int, where: str) -> tuple[_BlockHandle, int]:
    offset, pos = _varint(buffer, pos, where)
    size, pos = _varint(buffer, pos, where)
    return _BlockHandle(offset, size), pos


def _read_block(index: bytes, handle: _BlockHandle, path: Path, verify: bool) -> bytes:
    end = handle.offset + handle.size
    if end + _TRAILER_SIZE > len(index) - _FOOTER_SIZE:
        raise ModelFormatError(
            f"{path}: block at {handle.offset} runs past the end of the file (truncated?)"
        )
    block = index[handle.offset : end]
    kind = index[end]
    if kind == _SNAPPY:
        raise ModelFormatError(
            f"{path}: snappy-compressed index blocks are not supported (TensorFlow never writes "
            "them for checkpoints; re-save the model with TensorFlow)"
        )
    if kind != _NO_COMPRESSION:
        raise ModelFormatError(f"{path}: unknown block compression type {kind}")
    if verify:
        (stored,) = struct.unpack_from("<I", index, end + 1)
        actual = mask_crc(crc32c(index[handle.offset : end + 1]))
        if stored != actual:
            raise ModelFormatError(
                f"{path}: checksum mismatch in index block at {handle.offset}; the file is corrupt"
            )
    return block


def _block_entries(block: bytes, path: Path) -> Iterator[tuple[bytes, bytes]]:
    """Decode prefix-compressed entries (restart array ignored: we read blocks front to back)."""
    where = f"{path} (index block)"
    if len(block) < 4:
        raise ModelFormatError(f"{where}: block too short")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 * (restarts + 1)
    if restarts == 0 or limit < 0:
        raise ModelFormatError(f"{where}: bad restart count {restarts}")
    key = b""
    pos = 0
    while pos < limit:
        shared, pos = _varint(block, pos, where)
        unshared, pos = _varint(block, pos, where)
        value_length, pos = _varint(block, pos, where)
        if shared > len(key) or pos + unshared + value_length > limit:
            raise ModelFormatError(f"{where}: corrupt entry at byte {pos}")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_length]
        pos += value_length


def _read_table(path: Path, verify: bool, root: Path | None = None) -> dict[bytes, bytes]:
    """All key/value pairs of an SSTable file (the whole index is small: one entry per tensor)."""
    index = read_bytes(path, root=root, limit=PROTOBUF_LIMIT, what="checkpoint index")
    if len(index) < _FOOTER_SIZE:
        raise ModelFormatError(f"{path}: too short for a checkpoint index ({len(index)} bytes)")
    footer = index[-_FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER_SIZE - 8)
    if magic != _MAGIC:
        raise ModelFormatError(
            f"{path}: not a TensorFlow checkpoint index (bad magic number; truncated?)"
        )
    where = f"{path} (footer)"
    _metaindex, pos = _decode_handle(footer, 0, where)
    index_handle, _ = _decode_handle(footer, pos, where)
    table: dict[bytes, bytes] = {}
    previous: bytes | None = None
    for _last_key, handle_bytes in _block_entries(
        _read_block(index, index_handle, path, verify), path
    ):
        handle, _ = _decode_handle(handle_bytes, 0, f"{path} (index entry)")
        for key, value in _block_entries(_read_block(index, handle, path, verify), path):
            if previous is not None and key <= previous:
                raise ModelFormatError(f"{path}: keys out of order; the index is corrupt")
            table[key] = value
            previous = key
    return table


def _parse(cls: type[Message], data: bytes, path: Path, what: str):  # noqa: ANN202 (proto class varies)
    from google.protobuf.message import DecodeError

    try:
        return cls.FromString(data)
    except DecodeError as error:
        raise ModelFormatError(f"{path}: cannot parse {what}: {error}") from None
