"""Reading tensor bytes out of a checkpoint's data shards (``<prefix>.data-KKKKK-of-NNNNN``):
bounds checks, memory maps, private reads, checksums, DT_STRING payloads."""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.readers.tensor_bundle.checksums import _U32, crc32c, mask_crc
from tfjs_lite.readers.tensor_bundle.sstable import _varint
from tfjs_lite.safe_io import open_binary, regular_file

if TYPE_CHECKING:
    from tfjs_lite._proto.tensor_bundle_pb2 import BundleEntryProto, BundleHeaderProto


class _ShardReader:
    """The data-shard half of :class:`~tfjs_lite.readers.tensor_bundle.TensorBundle`, which sets
    these attributes."""

    prefix: Path
    root: Path
    verify: bool
    index_path: Path
    header: BundleHeaderProto
    _shards: dict[int, np.ndarray]

    def shard_path(self, shard_id: int) -> Path:
        """``<prefix>.data-%05d-of-%05d``."""
        return self.prefix.with_name(
            f"{self.prefix.name}.data-{shard_id:05d}-of-{self.header.num_shards:05d}"
        )

    # --- internals ------------------------------------------------------------------------------

    def _shard(self, shard_id: int) -> np.ndarray:
        mapped = self._shards.get(shard_id)
        if mapped is None:
            if not 0 <= shard_id < self.header.num_shards:
                raise ModelFormatError(f"{self.index_path}: shard id {shard_id} out of range")
            path = self._checked_shard(shard_id)
            size = path.stat().st_size
            mapped = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
            self._shards[shard_id] = mapped
        return mapped

    def _shard_size(self, shard_id: int) -> int:
        if not 0 <= shard_id < self.header.num_shards:
            raise ModelFormatError(f"{self.index_path}: shard id {shard_id} out of range")
        return self._checked_shard(shard_id).stat().st_size

    def _checked_shard(self, shard_id: int) -> Path:
        """The real path of a data shard: a regular file inside the model's folder."""
        path = self.shard_path(shard_id)
        if not os.path.lexists(path):
            raise ModelFormatError(f"{path}: checkpoint data file not found")
        return regular_file(path, root=self.root, what="checkpoint data file")

    def _read_private(self, entry: BundleEntryProto, where: str) -> np.ndarray:
        """The payload bytes in a fresh buffer (plain reads, no memory map)."""
        size = self._shard_size(entry.shard_id)
        if entry.offset < 0 or entry.size < 0 or entry.offset + entry.size > size:
            raise ModelFormatError(
                f"{where}: bytes [{entry.offset}, {entry.offset + entry.size}) lie past the end of "
                f"{self.shard_path(entry.shard_id).name} ({size} bytes; truncated?)"
            )
        buffer = np.empty(entry.size, dtype=np.uint8)
        with open_binary(self.shard_path(entry.shard_id), root=self.root, what="checkpoint data file") as handle:
            handle.seek(entry.offset)
            if entry.size and handle.readinto(buffer.data) != entry.size:
                raise ModelFormatError(f"{where}: the data file ends early (truncated?)")
        return buffer

    def _payload(self, entry: BundleEntryProto, where: str, private: bool = False) -> np.ndarray:
        if private:
            return self._read_private(entry, where)
        shard = self._shard(entry.shard_id)
        if entry.offset < 0 or entry.size < 0 or entry.offset + entry.size > len(shard):
            raise ModelFormatError(
                f"{where}: bytes [{entry.offset}, {entry.offset + entry.size}) lie past the end of "
                f"{self.shard_path(entry.shard_id).name} ({len(shard)} bytes; truncated?)"
            )
        return shard[entry.offset : entry.offset + entry.size]

    def _check_crc(self, crc: int, entry: BundleEntryProto, where: str) -> None:
        if mask_crc(crc) != entry.crc32c:
            raise ModelFormatError(f"{where}: checksum mismatch; the data file is corrupt")

    def _strings(
        self, payload: np.ndarray, entry: BundleEntryProto, shape: tuple[int, ...], where: str
    ) -> np.ndarray:
        """``varint64 len[n]``, masked crc32c of the lengths (as uint32/uint64 LE), the bytes."""
        count = math.prod(shape)
        data = payload.tobytes() if count <= entry.size else b""
        if count > entry.size:  # every element needs at least one length byte
            raise ModelFormatError(f"{where}: {count} strings cannot fit in {entry.size} bytes")
        lengths = []
        pos = 0
        for _ in range(count):
            length, pos = _varint(data, pos, where)
            lengths.append(length)
        if pos + 4 + sum(lengths) != len(data):
            raise ModelFormatError(
                f"{where}: string lengths do not add up to the stored {len(data)} bytes"
            )
        encoded_lengths = b"".join(
            struct.pack("<I", n) if n <= _U32 else struct.pack("<Q", n) for n in lengths
        )
        if self.verify:
            (stored,) = struct.unpack_from("<I", data, pos)
            length_crc = crc32c(encoded_lengths)
            if mask_crc(length_crc) != stored:
                raise ModelFormatError(
                    f"{where}: checksum mismatch in string lengths; the data file is corrupt"
                )
            self._check_crc(crc32c(data[pos:], length_crc), entry, where)
        pos += 4
        out = np.empty(count, dtype=object)
        for i, length in enumerate(lengths):
            out[i] = data[pos : pos + length]
            pos += length
        return out.reshape(shape)
