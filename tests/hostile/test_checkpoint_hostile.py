"""TF2 checkpoints (TensorBundle): corrupt index blocks, lying entries (offsets past the end,
sizes and shapes far beyond the file, unknown dtypes, bad checksums), fuzzed with hypothesis.

Entries are rewritten into a fresh, valid SSTable (:func:`write_index`), so the reader's checks
behind the block checksums are reached, not only the checksum itself.
"""

from __future__ import annotations

import shutil
import struct
import tracemalloc
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import FIXTURES, MB, record
from tfjs_lite.errors import ConversionError
from tfjs_lite.readers.tensor_bundle import TensorBundle, crc32c, mask_crc
from tfjs_lite.readers.tensor_bundle.sstable import _read_table

CKPT = FIXTURES / "checkpoints" / "dtypes"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = bytearray()
    for key, value in entries:
        body += _varint(0) + _varint(len(key)) + _varint(len(value)) + key + value
    body += struct.pack("<I", 0) + struct.pack("<I", 1)  # one restart point at 0
    return bytes(body)


def write_index(path: Path, table: dict[bytes, bytes]) -> None:
    """A LevelDB SSTable holding ``table``: one data block, an index block, the footer."""
    out = bytearray()

    def put(block: bytes) -> tuple[int, int]:
        offset = len(out)
        out.extend(block)
        out.append(0)
        out.extend(struct.pack("<I", mask_crc(crc32c(block + b"\0"))))
        return offset, len(block)

    keys = sorted(table)
    data = put(_block([(k, table[k]) for k in keys]))
    meta = put(_block([]))
    index = put(_block([(keys[-1] + b"\xff", _varint(data[0]) + _varint(data[1]))]))
    footer = _varint(meta[0]) + _varint(meta[1]) + _varint(index[0]) + _varint(index[1])
    out.extend(footer.ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57))
    path.write_bytes(bytes(out))


def _copy(tmp: Path) -> Path:
    dst = tmp / "ckpt"
    dst.mkdir(parents=True, exist_ok=True)
    for p in CKPT.iterdir():
        shutil.copyfile(p, dst / p.name)
    return dst / "ckpt"


def _read_all(prefix: Path, verify: bool = True) -> int:
    """Open and read every tensor; returns how many were read. Only ConversionErrors may escape."""
    bundle = TensorBundle(prefix, verify=verify)
    n = 0
    for key in bundle.keys():
        bundle.read(key)
        bundle.read_lazy(key, min_bytes=1)
        n += 1
    return n


def _outcome(prefix: Path, verify: bool = True) -> str:
    tracemalloc.start()
    try:
        _read_all(prefix, verify)
        outcome = "read (mutation left it valid)"
    except ConversionError:
        outcome = "refused (ModelFormatError/UnsupportedModelError)"
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    size = sum(p.stat().st_size for p in prefix.parent.iterdir())
    assert peak < 10 * size + 100 * MB, f"reading allocated {peak / MB:.0f} MB for a {size}-byte checkpoint"
    return outcome


def test_rebuilt_index_reads_like_the_original(tmp_path: Path) -> None:
    prefix = _copy(tmp_path)
    original = {k: TensorBundle(CKPT / "ckpt").read(k) for k in TensorBundle(CKPT / "ckpt").keys()}
    write_index(prefix.with_name("ckpt.index"), _read_table(CKPT / "ckpt.index", True, CKPT))
    rebuilt = TensorBundle(prefix)
    assert rebuilt.keys() == list(original)
    for key, value in original.items():
        assert np.array_equal(rebuilt.read(key), value)


def _entry_edit(tmp_path: Path, change: Callable, header: bool = False) -> Path:
    from tfjs_lite._proto.tensor_bundle_pb2 import BundleEntryProto, BundleHeaderProto

    prefix = _copy(tmp_path)
    table = _read_table(CKPT / "ckpt.index", True, CKPT)
    if header:
        proto = BundleHeaderProto.FromString(table[b""])
        change(proto)
        table[b""] = proto.SerializeToString()
    else:
        for key in list(table):
            if key and not key.startswith(b"_CHECKPOINTABLE"):
                proto = BundleEntryProto.FromString(table[key])
                change(proto)
                table[key] = proto.SerializeToString()
    write_index(prefix.with_name("ckpt.index"), table)
    return prefix


def _set(**fields) -> Callable:  # noqa: ANN003
    def change(proto) -> None:  # noqa: ANN001
        for name, value in fields.items():
            setattr(proto, name, value)

    return change


def _shape(*dims: int, unknown: bool = False) -> Callable:
    def change(proto) -> None:  # noqa: ANN001
        del proto.shape.dim[:]
        for d in dims:
            proto.shape.dim.add().size = d
        proto.shape.unknown_rank = unknown

    return change


ENTRY_EDITS = {
    "offset past the end": _set(offset=1 << 40),
    "offset near 2**63": _set(offset=(1 << 63) - 8),
    "offset negative": _set(offset=-16),
    "size far beyond the file": _set(size=1 << 40),
    "bad checksum": _set(crc32c=0x12345678),
    "shard id 99": _set(shard_id=99),
    "shard id negative": _set(shard_id=-1),
    "dtype 9999": _set(dtype=9999),
    "dtype invalid (0)": _set(dtype=0),
    "dtype resource (20)": _set(dtype=20),
    "shape 2**40 x 2**40": _shape(1 << 40, 1 << 40),
    "shape 2**62 elements, size 0": lambda p: (_shape(1 << 31, 1 << 31)(p), setattr(p, "size", 0)),
    "shape with -1": _shape(-1, 4),
    "unknown rank": _shape(unknown=True),
    "string dtype with 2**40 elements": lambda p: (_set(dtype=7)(p), _shape(1 << 40)(p)),
    "partitioned slices": lambda p: p.slices.add(),
}
HEADER_EDITS = {
    "header num_shards 0": _set(num_shards=0),
    "header num_shards 2**31-1": _set(num_shards=(1 << 31) - 1),
    "header big-endian": _set(endianness=1),
}


@pytest.mark.parametrize("what", list(ENTRY_EDITS) + list(HEADER_EDITS))
def test_lying_entries_are_refused(tmp_path: Path, what: str) -> None:
    header = what in HEADER_EDITS
    prefix = _entry_edit(tmp_path, (HEADER_EDITS if header else ENTRY_EDITS)[what], header)
    outcome = _outcome(prefix)
    record("checkpoint: index entries that lie (offsets, sizes, shapes, dtypes, checksums)", outcome)
    assert outcome.startswith("refused"), what


def test_index_corrupt_bytes_fuzzed(tmp_path: Path) -> None:
    prefix = _copy(tmp_path)
    index_path = prefix.with_name("ckpt.index")
    original = (CKPT / "ckpt.index").read_bytes()

    @SETTINGS
    @given(st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)), min_size=1, max_size=8),
           st.integers(0, len(original)), st.booleans())
    def check(edits: list, cut: int, verify: bool) -> None:
        data = bytearray(original)
        for pos, value in edits:
            data[pos] = value
        index_path.write_bytes(bytes(data[: max(cut, len(data) - 64)] if cut % 3 == 0 else data))
        record("checkpoint: index bytes fuzzed (hypothesis; checksums on and off)", _outcome(prefix, verify))

    check()


def test_index_entries_fuzzed(tmp_path: Path) -> None:
    """Valid SSTables whose BundleEntryProtos hold arbitrary field values."""
    from tfjs_lite._proto.tensor_bundle_pb2 import BundleEntryProto

    prefix = _copy(tmp_path)
    table = _read_table(CKPT / "ckpt.index", True, CKPT)
    keys = [k for k in table if k and not k.startswith(b"_CHECKPOINTABLE")]
    int64 = st.one_of(st.integers(-(1 << 63), (1 << 63) - 1), st.integers(-2, 1 << 20))

    @SETTINGS
    @given(st.sampled_from(keys), st.integers(0, 30), st.integers(-1, 3), int64, int64,
           st.lists(st.integers(-2, 1 << 40), max_size=4), st.integers(0, (1 << 32) - 1))
    def check(key: bytes, dtype: int, shard: int, offset: int, size: int, dims: list, crc: int) -> None:
        proto = BundleEntryProto.FromString(table[key])
        proto.dtype, proto.shard_id, proto.offset, proto.size, proto.crc32c = dtype, shard, offset, size, crc
        del proto.shape.dim[:]
        for d in dims:
            proto.shape.dim.add().size = d
        write_index(prefix.with_name("ckpt.index"), {**table, key: proto.SerializeToString()})
        record("checkpoint: entry fields fuzzed (hypothesis)", _outcome(prefix))

    check()


def test_data_shard_truncated_or_flipped(tmp_path: Path) -> None:
    prefix = _copy(tmp_path)
    shard = prefix.with_name("ckpt.data-00000-of-00001")
    data = (CKPT / shard.name).read_bytes()

    @SETTINGS
    @given(st.integers(0, len(data)), st.integers(0, len(data) - 1))
    def check(cut: int, flip: int) -> None:
        mutated = bytearray(data)
        mutated[flip] ^= 0x10
        shard.write_bytes(bytes(mutated[:cut]) if cut < len(data) else bytes(mutated))
        outcome = _outcome(prefix)
        record("checkpoint: data shard truncated or bit-flipped (hypothesis)", outcome)
        assert outcome.startswith("refused"), "a corrupt shard was read without a checksum error"

    check()


@pytest.mark.parametrize("stand_in", ["scalar", "f32", "word"])
def test_object_graph_that_is_not_a_serialized_proto_is_refused(tmp_path: Path, stand_in: str) -> None:
    """A _CHECKPOINTABLE_OBJECT_GRAPH entry pointing at another tensor's bytes: a numeric scalar
    (which once reached the protobuf parser as a numpy float: TypeError), a numeric matrix, or a
    string scalar that is not a TrackableObjectGraph. Each is one ModelFormatError line."""
    from tfjs_lite.errors import ModelFormatError
    from tfjs_lite.readers.tensor_bundle import OBJECT_GRAPH_KEY

    prefix = _copy(tmp_path)
    table = _read_table(CKPT / "ckpt.index", True, CKPT)
    table[OBJECT_GRAPH_KEY.encode()] = table[f"{stand_in}/.ATTRIBUTES/VARIABLE_VALUE".encode()]
    write_index(prefix.with_name("ckpt.index"), table)
    with pytest.raises(ModelFormatError) as caught:
        TensorBundle(prefix).object_graph()
    message = str(caught.value)
    assert "\n" not in message and OBJECT_GRAPH_KEY in message, message
    assert ("not a scalar string" if stand_in != "word" else "cannot parse") in message, message
