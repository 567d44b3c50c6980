"""TF2 checkpoint (TensorBundle) reader: ``<prefix>.index`` + ``<prefix>.data-KKKKK-of-NNNNN``.

The index is a LevelDB-style SSTable (no compression in practice, masked crc32c per block) that
maps tensor keys to ``BundleEntryProto``s; the empty key holds the ``BundleHeaderProto``. Each
entry points at ``[offset, offset + size)`` of one data shard and carries the masked crc32c of
those bytes. Layout facts: docs/formats.md §7.

Design choices:

* Shards are memory-mapped once; :meth:`TensorBundle.read` returns read-only views into the map,
  so a large checkpoint costs no extra copy (pass ``copy=True`` for a private writable array).
* Checksums are verified by default (index blocks always, payloads on each read) with a
  numpy-vectorized crc32c (see :func:`crc32c`): it computes many independent lanes at once and
  merges them with GF(2) shift operators: ~1 GB/s with numpy alone on large tensors (2-core
  EPYC); small tensors read through :meth:`TensorBundle.precheck` are checksummed in one batch.
* Every way the files can be wrong raises :class:`~tfjs_lite.errors.ModelFormatError` naming the
  file and what is wrong: a checkpoint is user input.

Modules: :mod:`.checksums` (crc32c), :mod:`.sstable` (the index file), :mod:`.shards` (bytes out
of the data shards), :mod:`.bundle` (:class:`TensorBundle`).
"""

from tfjs_lite.readers.tensor_bundle.bundle import OBJECT_GRAPH_KEY, TensorBundle
from tfjs_lite.readers.tensor_bundle.checksums import crc32c, crc32c_many, mask_crc, unmask_crc

__all__ = [
    "OBJECT_GRAPH_KEY",
    "TensorBundle",
    "crc32c",
    "crc32c_many",
    "mask_crc",
    "unmask_crc",
]
