"""The :class:`TensorBundle` reader: index entries, tensor reads (eager, lazy, batched checksums)
and the checkpoint's object graph."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfjs_lite import dtypes
from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.lazy_tensor import FileTensor
from tfjs_lite.readers.tensor_bundle.checksums import crc32c, crc32c_many, mask_crc
from tfjs_lite.readers.tensor_bundle.shards import _ShardReader
from tfjs_lite.readers.tensor_bundle.sstable import _parse, _read_table

if TYPE_CHECKING:
    from tfjs_lite._proto.tensor_bundle_pb2 import BundleEntryProto, BundleHeaderProto
    from tfjs_lite._proto.trackable_object_graph_pb2 import TrackableObjectGraph

logger = logging.getLogger(__name__)


OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


_PRECHECK_BYTES = 4096  # TensorBundle.precheck batches tensors smaller than this


def _resolve_prefix(prefix_path: str | os.PathLike[str]) -> Path:
    """Accept ``.../variables/variables``, ``.../variables.index`` or the ``variables/`` folder."""
    path = Path(prefix_path)
    if path.name.endswith(".index"):
        return path.with_name(path.name[: -len(".index")])
    if path.is_dir() and (path / "variables.index").exists():
        return path / "variables"
    return path


class TensorBundle(_ShardReader):
    """Random access to the tensors of a TF2 checkpoint.

    Args:
        prefix_path: the checkpoint prefix (``saved_model/variables/variables``); the ``.index``
            file path or a SavedModel's ``variables/`` folder work too.
        verify: check crc32c of index blocks now and of each tensor's bytes when it is read.
            Costs a few ms per MB; turn off only for files already verified.

    Raises:
        ModelFormatError: missing, truncated or corrupt files, V1 checkpoints, big-endian bundles.
    """

    def __init__(
        self, prefix_path: str | os.PathLike[str], *, verify: bool = True, root: str | os.PathLike[str] | None = None
    ) -> None:
        from tfjs_lite._proto.tensor_bundle_pb2 import BundleEntryProto, BundleHeaderProto

        self.prefix = _resolve_prefix(prefix_path)
        self.verify = verify
        # Files of the checkpoint must lie inside this folder (a SavedModel passes its own folder).
        self.root = Path(root) if root is not None else self.prefix.parent
        index_path = self.prefix.with_name(self.prefix.name + ".index")
        if not os.path.lexists(index_path):
            if self.prefix.is_file():
                raise ModelFormatError(
                    f"{self.prefix}: this is a TF1 V1 checkpoint (single file, no .index), which "
                    "is not supported; re-save it with tf.train.Saver(write_version=V2)"
                )
            raise ModelFormatError(f"{index_path}: checkpoint index not found")
        self.index_path = index_path
        table = _read_table(index_path, verify, self.root)

        header_bytes = table.pop(b"", None)
        if header_bytes is None:
            raise ModelFormatError(
                f"{index_path}: no bundle header; not a TF2 (V2) checkpoint index"
            )
        self.header: BundleHeaderProto = _parse(
            BundleHeaderProto, header_bytes, index_path, "header"
        )
        if self.header.endianness != BundleHeaderProto.LITTLE:
            raise ModelFormatError(f"{index_path}: big-endian checkpoints are not supported")
        if self.header.num_shards < 1:
            raise ModelFormatError(
                f"{index_path}: header declares {self.header.num_shards} data shards"
            )

        self._entry_class = BundleEntryProto
        self._raw_entries = {
            key.decode("utf-8", "surrogateescape"): value for key, value in table.items()
        }
        self._entries: dict[str, BundleEntryProto] = {}
        self._shards: dict[int, np.ndarray] = {}
        # key -> (entry, private payload, crc32c) read ahead by precheck()
        self._prechecked: dict[str, tuple[BundleEntryProto, np.ndarray, int]] = {}
        logger.debug(
            "%s: %d entries in %d shard(s)", self.prefix, len(table), self.header.num_shards
        )

    # --- metadata -------------------------------------------------------------------------------

    def keys(self) -> list[str]:
        """Tensor keys in the checkpoint's (bytewise sorted) order.

        Excludes the header and the per-slice keys of partitioned variables (those start with a
        NUL byte; the variable's own key is listed and :meth:`read` explains it is partitioned).
        """
        return [key for key in self._raw_entries if not key.startswith("\x00")]

    def __contains__(self, key: object) -> bool:
        return key in self._raw_entries

    def __len__(self) -> int:
        return len(self._raw_entries)

    def entry(self, key: str) -> BundleEntryProto:
        """The BundleEntryProto of ``key`` (dtype, shape, shard, offset, size, crc32c)."""
        found = self._entries.get(key)
        if found is None:
            raw = self._raw_entries.get(key)
            if raw is None:
                raise KeyError(key)
            found = _parse(self._entry_class, raw, self.index_path, f"entry {key!r}")
            self._entries[key] = found
        return found

    # --- values ---------------------------------------------------------------------------------

    def precheck(self, keys: Iterable[str]) -> None:
        """Read the small tensors among ``keys`` now and checksum them together (:func:`crc32c_many`).

        Their later ``read(key, copy=True)`` (or :meth:`read_lazy`) uses the bytes and checksum
        found here, so nothing is read twice; every check and error still happens in that read, in
        the caller's order. Keys that are not small plain entries, or whose bytes cannot be read,
        are left to the read itself.
        """
        if not self.verify:
            return
        batch: list[tuple[str, BundleEntryProto, np.ndarray]] = []
        for key in keys:
            if key not in self._raw_entries or key in self._prechecked:
                continue
            try:
                entry = self.entry(key)
                if entry.slices or not 0 < entry.size < _PRECHECK_BYTES:
                    continue
                payload = self._read_private(entry, key)
            except (ModelFormatError, OSError):
                continue
            batch.append((key, entry, payload))
        crcs = crc32c_many([payload for _, _, payload in batch])
        for (key, entry, payload), crc in zip(batch, crcs):
            self._prechecked[key] = (entry, payload, crc)

    def read(self, key: str, *, copy: bool = False) -> np.ndarray:
        """The tensor stored under ``key``.

        Numeric tensors are read-only views into the memory-mapped shard unless ``copy`` (bfloat16
        widens to float32 and bool normalizes, which always copies). DT_STRING tensors are object
        arrays of ``bytes``.
        """
        entry = self.entry(key)
        dtype = dtypes.get(entry.dtype)
        where = f"{self.prefix}: tensor {key!r}"
        if entry.slices:
            raise UnsupportedModelError(
                f"{where} is a partitioned variable ({len(entry.slices)} slices); "
                "re-save the model without variable partitioning"
            )
        if entry.shape.unknown_rank or any(d.size < 0 for d in entry.shape.dim):
            raise ModelFormatError(f"{where} has an incomplete shape")
        shape = tuple(d.size for d in entry.shape.dim)
        # A private copy is read straight from the file: no second copy, no mapped pages.
        private = copy and not dtype.is_string
        ahead = self._prechecked.pop(key, None) if private else None
        if ahead is not None and ahead[0] is entry:
            _, payload, known_crc = ahead
        else:
            payload, known_crc = self._payload(entry, where, private), None
        if dtype.is_string:
            return self._strings(payload, entry, shape, where)
        if dtype.storage is None:
            raise UnsupportedModelError(f"{where} has dtype {dtype.name}, which cannot be read")
        expected = math.prod(shape) * dtype.itemsize
        if entry.size != expected:
            raise ModelFormatError(
                f"{where}: {entry.size} bytes stored for {dtype.name}{list(shape)} "
                f"({expected} expected)"
            )
        if self.verify:
            self._check_crc(crc32c(payload) if known_crc is None else known_crc, entry, where)
        array = dtypes.decode_raw(payload, dtype, shape)
        if private and array.base is not None and np.little_endian:
            # A view of our own fresh buffer is already private; make it writable like a copy.
            out = array if array.flags.writeable else np.array(array)
            return out
        if copy or (array.dtype.byteorder not in ("=", "|") and not np.little_endian):
            return np.array(array, dtype=array.dtype.newbyteorder("="))
        return array

    def read_lazy(self, key: str, *, min_bytes: int = 0) -> np.ndarray | FileTensor:
        """Like ``read(key, copy=True)``, but tensors of ``min_bytes`` or more come back unread.

        A large plain numeric tensor (not string, bfloat16 or bool, which need decoding) is a
        :class:`~tfjs_lite.lazy_tensor.FileTensor`: shape and dtype are known now, the bytes are
        streamed (and their crc32c checked) when someone reads them. Smaller tensors are read
        into a private read-only array with one ``readinto`` (no memory map, so the pages read
        never count in this process's RSS).
        """
        entry = self.entry(key)
        dtype = dtypes.get(entry.dtype)
        where = f"{self.prefix}: tensor {key!r}"
        plain = (not dtype.is_string and dtype.storage is not None and dtype.enum not in (10, 14)
                 and not entry.slices and not entry.shape.unknown_rank
                 and all(d.size >= 0 for d in entry.shape.dim))
        if not plain or entry.size < max(1, min_bytes):
            array = self.read(key, copy=True)
            array.setflags(write=False)
            return array
        shape = tuple(d.size for d in entry.shape.dim)
        expected = math.prod(shape) * dtype.itemsize
        if entry.size != expected:
            raise ModelFormatError(
                f"{where}: {entry.size} bytes stored for {dtype.name}{list(shape)} "
                f"({expected} expected)"
            )
        shard = self._shard_size(entry.shard_id)
        if entry.offset < 0 or entry.offset + entry.size > shard:
            raise ModelFormatError(
                f"{where}: bytes [{entry.offset}, {entry.offset + entry.size}) lie past the end of "
                f"{self.shard_path(entry.shard_id).name} ({shard} bytes; truncated?)"
            )
        check = None
        if self.verify:
            stored = entry.crc32c

            def finish(state: int, what: str) -> None:
                if mask_crc(state) != stored:
                    raise ModelFormatError(f"{what}: checksum mismatch; the data file is corrupt")

            check = (lambda state, chunk: crc32c(chunk, state), finish)
        return FileTensor(self._checked_shard(entry.shard_id), entry.offset,
                          np.dtype(dtype.storage).newbyteorder("<"), shape, check=check, where=where)

    def object_graph(self) -> TrackableObjectGraph | None:
        """The TrackableObjectGraph of a TF2 object-based checkpoint; None for name-based ones."""
        from tfjs_lite._proto.trackable_object_graph_pb2 import TrackableObjectGraph

        if OBJECT_GRAPH_KEY not in self._raw_entries:
            return None
        value = self.read(OBJECT_GRAPH_KEY)
        data = value[()] if value.shape == () else None
        if not isinstance(data, bytes):  # a numeric scalar too
            raise ModelFormatError(f"{self.prefix}: {OBJECT_GRAPH_KEY} is not a scalar string")
        graph = _parse(TrackableObjectGraph, data, self.index_path, OBJECT_GRAPH_KEY)
        count = len(graph.nodes)
        for index, node in enumerate(graph.nodes):
            ids = [c.node_id for c in node.children] + [
                i for slot in node.slot_variables for i in (slot.original_variable_node_id, slot.slot_variable_node_id)
            ]
            bad = [i for i in ids if not 0 <= i < count]
            if bad:
                raise ModelFormatError(
                    f"{self.index_path}: checkpoint object graph node {index} refers to node {bad[0]}, "
                    f"but there are only {count} nodes"
                )
        return graph
