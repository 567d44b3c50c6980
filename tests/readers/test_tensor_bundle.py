"""TensorBundle reader: real TF 2.19 checkpoints, TF-made odd-dtype fixtures, broken copies."""

from __future__ import annotations

import json
import shutil
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from tfjs_lite import dtypes
from tfjs_lite._proto.saved_model_pb2 import SavedModel
from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.readers.tensor_bundle import (
    OBJECT_GRAPH_KEY,
    TensorBundle,
    crc32c,
    crc32c_many,
    mask_crc,
    unmask_crc,
)
from tfjs_lite.readers.tensor_bundle.checksums import _raw_small

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "fixtures" / "reference"
MODELS = sorted(
    p.parents[1] for p in REFERENCE.glob("*/source/saved_model/variables/variables.index")
)
FIXTURES = REPO / "fixtures" / "checkpoints"


def requires_reference(test):  # the copies are committed: their absence is a broken checkout, not a skip
    assert MODELS, f"no reference SavedModels under {REFERENCE}"
    return test


def _slow_crc(data: bytes) -> int:
    return _raw_small(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


# --- crc32c --------------------------------------------------------------------------------------


def test_crc32c_known_vectors() -> None:
    # RFC 3720 (iSCSI) B.4 test vectors and the classic check value.
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(b"") == 0


@pytest.mark.parametrize("size", [1, 63, 64, 4095, 4096, 4097, 70_001, 262_144 + 17])
def test_crc32c_vector_path_matches_bytewise(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert crc32c(data) == _slow_crc(data)
    split = size // 3
    assert crc32c(data[split:], crc32c(data[:split])) == crc32c(data)


@pytest.mark.parametrize("size", [(1 << 20) - 1, 1 << 20, (1 << 20) + 4097, (17 << 20) + 3])
def test_crc32c_interleaved_rows_match_lanes(size: int) -> None:
    # >= 1 MiB runs through the interleaved-row path; pieces under 1 MiB only through the
    # contiguous lanes (and the byte loop), which the test above ties to the bytewise CRC.
    data = np.random.default_rng(size).integers(0, 256, size + 3, dtype=np.uint8)[3:]  # unaligned
    expected = 0
    for start in range(0, size, 1 << 19):
        expected = crc32c(data[start : start + (1 << 19)], expected)
    assert crc32c(data) == expected
    assert crc32c(data, 0x1234) == crc32c(data[1000:], crc32c(data[:1000], 0x1234))


def test_crc32c_many_matches_one_by_one() -> None:
    rng = np.random.default_rng(7)
    sizes = [0, 1, 3, 4, 63, 64, 65, 256, 1000, 1024, 2048, 4000, 4096, 5000, 256, 7]
    buffers = [rng.integers(0, 256, n, dtype=np.uint8) for n in sizes]
    assert crc32c_many(buffers) == [crc32c(b) for b in buffers]
    assert crc32c_many([]) == []


def test_precheck_reads_ahead_and_errors_stay_with_the_read(broken: Path) -> None:
    key = "f32/.ATTRIBUTES/VARIABLE_VALUE"
    good = TensorBundle(broken)
    expected = good.read(key, copy=True)
    bundle = TensorBundle(broken)
    bundle.precheck([key, "missing", OBJECT_GRAPH_KEY])
    np.testing.assert_array_equal(bundle.read(key, copy=True), expected)
    _flip(_data(broken), good.entry(key).offset + 5)
    bundle = TensorBundle(broken)
    bundle.precheck([key])  # finds the mismatch but raises nothing yet
    with pytest.raises(ModelFormatError, match="checksum mismatch"):
        bundle.read(key, copy=True)


def test_crc32c_throughput() -> None:
    data = np.random.default_rng(0).integers(0, 256, 32 << 20, dtype=np.uint8)
    start = time.perf_counter()
    crc32c(data)
    seconds = time.perf_counter() - start
    # ~300-450 MB/s on an idle 2-core box; the bound only catches a fallback to the byte loop.
    assert seconds < 4, f"crc32c ran at {32 / seconds:.0f} MB/s"


def test_mask_round_trip() -> None:
    for value in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert unmask_crc(mask_crc(value)) == value


# --- reference SavedModels (TF 2.19, tf_keras) ---------------------------------------------------


def _saved_variables(model_dir: Path) -> list:
    meta = SavedModel.FromString((model_dir / "saved_model.pb").read_bytes()).meta_graphs[0]
    return list(meta.object_graph_def.nodes)


@requires_reference
@pytest.mark.parametrize("model_dir", MODELS, ids=lambda p: p.parts[-3])
def test_reference_checkpoint_matches_object_graph(model_dir: Path) -> None:
    bundle = TensorBundle(model_dir / "variables" / "variables")
    assert bundle.header.num_shards == 1
    graph = bundle.object_graph()
    assert graph is not None
    saved_nodes = _saved_variables(model_dir)
    # Checkpoint object graph and SavedObjectGraph number their nodes identically.
    assert len(graph.nodes) == len(saved_nodes)
    checked = 0
    for node_id, node in enumerate(graph.nodes):
        for attribute in node.attributes:
            if attribute.name != "VARIABLE_VALUE":
                continue
            variable = saved_nodes[node_id].variable
            value = bundle.read(attribute.checkpoint_key)
            assert value.shape == tuple(d.size for d in variable.shape.dim)
            assert value.dtype == dtypes.get(variable.dtype).numpy
            assert np.all(np.isfinite(value))
            checked += 1
    keys = [k for k in bundle.keys() if k != OBJECT_GRAPH_KEY]
    assert checked == len(keys) > 0


@requires_reference
def test_reference_cnn_values() -> None:
    bundle = TensorBundle(REFERENCE / "cnn" / "source" / "saved_model" / "variables")
    variance = bundle.read("layer_with_weights-1/moving_variance/.ATTRIBUTES/VARIABLE_VALUE")
    assert variance.shape == (8,) and np.all(variance > 0)
    kernel = bundle.read("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE")
    assert kernel.shape == (3, 3, 1, 8) and kernel.dtype == np.float32
    assert not kernel.flags.writeable  # a view into the memory-mapped shard
    private = bundle.read("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE", copy=True)
    assert private.flags.writeable and np.array_equal(private, kernel)
    # The index file path and the variables/ folder are accepted as well.
    index = REFERENCE / "cnn" / "source" / "saved_model" / "variables" / "variables.index"
    assert TensorBundle(index).keys() == bundle.keys()


# --- TF-made fixtures (fixtures/generate_checkpoints.py) -----------------------------------------


def _expected(case: str) -> dict:
    return json.loads((FIXTURES / case / "expected.json").read_text())


def _assert_matches(value: np.ndarray, expected: dict) -> None:
    assert list(value.shape) == expected["shape"]
    if "strings" in expected:
        assert [bytes(v) for v in value.reshape(-1)] == [
            bytes.fromhex(h) for h in expected["strings"]
        ]
        return
    raw = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes()
    assert raw.hex() == expected["hex"]


def test_every_dtype_bit_exact() -> None:
    bundle = TensorBundle(FIXTURES / "dtypes" / "ckpt")
    expected = _expected("dtypes")
    assert sorted(k for k in bundle.keys() if k != OBJECT_GRAPH_KEY) == sorted(expected)
    for key, want in expected.items():
        assert dtypes.get(bundle.entry(key).dtype).name == want["dtype"], key
        _assert_matches(bundle.read(key), want)
    assert bundle.read("bf16/.ATTRIBUTES/VARIABLE_VALUE").dtype == np.float32
    assert bundle.read("word/.ATTRIBUTES/VARIABLE_VALUE")[()] == b"scalar string"
    names = {a.full_name for node in bundle.object_graph().nodes for a in node.attributes}
    assert {"f32", "words", "bf16"} <= names


def test_sharded_checkpoint() -> None:
    bundle = TensorBundle(FIXTURES / "sharded" / "ckpt")
    assert bundle.header.num_shards > 1
    expected = _expected("sharded")
    shards = set()
    for key in ("w0/.ATTRIBUTES/VARIABLE_VALUE", "label/.ATTRIBUTES/VARIABLE_VALUE"):
        _assert_matches(bundle.read(key), expected[key])
        shards.add(bundle.entry(key).shard_id)
    assert bundle.object_graph() is not None
    shards.add(bundle.entry(OBJECT_GRAPH_KEY).shard_id)
    assert len(shards) > 1
    # MaxShardSizePolicy splits large variables into slices: refused with a clear message.
    with pytest.raises(UnsupportedModelError, match="partitioned variable"):
        bundle.read("w1/.ATTRIBUTES/VARIABLE_VALUE")


def test_partitioned_tf1_checkpoint() -> None:
    bundle = TensorBundle(FIXTURES / "partitioned" / "model.ckpt")
    assert bundle.keys() == ["plain", "weights"]  # slice keys stay internal
    assert bundle.object_graph() is None  # name-based checkpoint
    _assert_matches(bundle.read("plain"), _expected("partitioned")["plain"])
    with pytest.raises(UnsupportedModelError, match="3 slices"):
        bundle.read("weights")


def test_v1_checkpoint_refused() -> None:
    with pytest.raises(ModelFormatError, match="V1 checkpoint"):
        TensorBundle(FIXTURES / "v1" / "model.ckpt")


def test_missing_checkpoint() -> None:
    with pytest.raises(ModelFormatError, match="not found"):
        TensorBundle(FIXTURES / "nowhere" / "ckpt")


# --- broken copies -------------------------------------------------------------------------------


@pytest.fixture()
def broken(tmp_path: Path) -> Path:
    """A writable copy of the dtypes fixture; returns its prefix."""
    shutil.copytree(FIXTURES / "dtypes", tmp_path / "ckpt")
    return tmp_path / "ckpt" / "ckpt"


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


def _data(prefix: Path) -> Path:
    return prefix.with_name(prefix.name + ".data-00000-of-00001")


def _index(prefix: Path) -> Path:
    return prefix.with_name(prefix.name + ".index")


def test_bit_flip_in_tensor(broken: Path) -> None:
    key = "f32/.ATTRIBUTES/VARIABLE_VALUE"
    entry = TensorBundle(broken).entry(key)
    _flip(_data(broken), entry.offset + 5)
    with pytest.raises(ModelFormatError, match="checksum mismatch"):
        TensorBundle(broken).read(key)
    # Other tensors are unaffected, and verify=False reads the damaged bytes as they are.
    TensorBundle(broken).read("i32/.ATTRIBUTES/VARIABLE_VALUE")
    assert TensorBundle(broken, verify=False).read(key).shape == (3, 4)


def test_bit_flip_in_string_tensor(broken: Path) -> None:
    key = "words/.ATTRIBUTES/VARIABLE_VALUE"
    entry = TensorBundle(broken).entry(key)
    _flip(_data(broken), entry.offset + entry.size - 10)  # inside the string bytes
    with pytest.raises(ModelFormatError, match="checksum mismatch"):
        TensorBundle(broken).read(key)


def test_bit_flip_in_string_lengths(broken: Path) -> None:
    key = "words/.ATTRIBUTES/VARIABLE_VALUE"
    entry = TensorBundle(broken).entry(key)
    _flip(_data(broken), entry.offset)  # first varint length: 5 -> 21
    with pytest.raises(ModelFormatError, match="string lengths"):
        TensorBundle(broken).read(key)


def test_bit_flip_in_index(broken: Path) -> None:
    _flip(_index(broken), 40)  # inside the first data block
    with pytest.raises(ModelFormatError, match="checksum mismatch in index block"):
        TensorBundle(broken)


def test_truncated_data_file(broken: Path) -> None:
    data = _data(broken)
    data.write_bytes(data.read_bytes()[:100])
    bundle = TensorBundle(broken)
    with pytest.raises(ModelFormatError, match="past the end"):
        bundle.read("words/.ATTRIBUTES/VARIABLE_VALUE")


@pytest.mark.parametrize("keep", [0, 30, -1])
def test_truncated_index(broken: Path, keep: int) -> None:
    index = _index(broken)
    data = index.read_bytes()
    index.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(ModelFormatError):
        TensorBundle(broken)


def test_not_an_index(broken: Path) -> None:
    _index(broken).write_bytes(b"\x08\x01" * 100)
    with pytest.raises(ModelFormatError, match="bad magic"):
        TensorBundle(broken)


def test_missing_data_file(broken: Path) -> None:
    _data(broken).unlink()
    with pytest.raises(ModelFormatError, match="data file not found"):
        TensorBundle(broken).read("f32/.ATTRIBUTES/VARIABLE_VALUE")


def _index_handle(index: bytes) -> tuple[int, int]:
    """Offset and size of the index block, from the footer (both varints fit in 1-2 bytes)."""
    footer = index[-48:]
    pos = 0
    values = []
    for _ in range(4):
        value, shift = 0, 0
        while True:
            byte = footer[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        values.append(value)
    return values[2], values[3]


def test_snappy_block_refused(broken: Path) -> None:
    index = _index(broken)
    data = bytearray(index.read_bytes())
    offset, size = _index_handle(bytes(data))
    data[offset + size] = 1  # block trailer's compression byte
    crc = mask_crc(crc32c(bytes(data[offset : offset + size + 1])))
    data[offset + size + 1 : offset + size + 5] = struct.pack("<I", crc)
    index.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="snappy"):
        TensorBundle(broken)


def test_entry_size_mismatch_and_offset_past_end(broken: Path) -> None:
    bundle = TensorBundle(broken)
    key = "f32/.ATTRIBUTES/VARIABLE_VALUE"
    entry = bundle.entry(key)
    entry.offset = 10**9
    with pytest.raises(ModelFormatError, match="past the end"):
        bundle.read(key)
    entry.offset, entry.size = 0, 7
    with pytest.raises(ModelFormatError, match="7 bytes stored"):
        bundle.read(key)
