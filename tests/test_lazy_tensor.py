"""File-backed (lazy) tensors: streamed to the shards, checksummed, never read by the optimizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.ir import Graph
from tfjs_lite.lazy_tensor import FileTensor, is_lazy
from tfjs_lite.options import Quantization
from tfjs_lite.readers.tensor_bundle import crc32c, mask_crc
from tfjs_lite.report import Report
from tfjs_lite.writers import weights as weights_module
from tfjs_lite.writers.weights import WeightEntry, write_weights


def _file_tensor(tmp_path: Path, array: np.ndarray, *, corrupt: bool = False) -> FileTensor:
    path = tmp_path / "data.bin"
    payload = b"HEAD" + array.astype("<f4").tobytes() + b"TAIL"
    path.write_bytes(payload)
    stored = mask_crc(crc32c(array.astype("<f4").tobytes())) ^ (1 if corrupt else 0)

    def finish(state: int, where: str) -> None:
        if mask_crc(state) != stored:
            raise ModelFormatError(f"{where}: checksum mismatch")

    return FileTensor(path, 4, "<f4", array.shape, check=(lambda s, c: crc32c(c, s), finish), where="t")


def test_metadata_needs_no_io(tmp_path: Path) -> None:
    t = FileTensor(tmp_path / "missing.bin", 0, "<f4", (3, 5))
    assert (t.shape, t.dtype, t.size, t.nbytes, t.ndim, len(t)) == ((3, 5), np.dtype("<f4"), 15, 60, 2, 3)
    assert is_lazy(t) and not is_lazy(np.zeros(2))


def test_streams_in_bounded_slices_and_materializes(tmp_path: Path) -> None:
    array = np.arange(1000, dtype=np.float32).reshape(10, 100)
    t = _file_tensor(tmp_path, array)
    chunks = list(t.iter_chunks(64))
    assert all(c.nbytes <= 64 for c in chunks) and len(chunks) == 63
    np.testing.assert_array_equal(np.concatenate(chunks), array.reshape(-1))
    np.testing.assert_array_equal(np.asarray(t), array)


def test_checksum_mismatch_is_reported_after_the_stream(tmp_path: Path) -> None:
    t = _file_tensor(tmp_path, np.ones((4, 4), np.float32), corrupt=True)
    with pytest.raises(ModelFormatError, match="checksum"):
        list(t.iter_chunks(16))


@pytest.mark.parametrize("quantization", [None, Quantization(uint8=True), Quantization(float16=True)])
def test_write_weights_matches_the_in_memory_array(tmp_path: Path, monkeypatch, quantization) -> None:
    monkeypatch.setattr(weights_module, "_CHUNK_BYTES", 256)
    array = np.random.default_rng(0).normal(size=(37, 29)).astype(np.float32)
    lazy = write_weights([[WeightEntry("w", _file_tensor(tmp_path, array))]], tmp_path / "lazy",
                         shard_size_bytes=1000, quantization=quantization, report=Report())
    eager = write_weights([[WeightEntry("w", array)]], tmp_path / "eager",
                          shard_size_bytes=1000, quantization=quantization, report=Report())
    assert lazy == eager
    for name in lazy[0]["paths"]:
        assert (tmp_path / "lazy" / name).read_bytes() == (tmp_path / "eager" / name).read_bytes()


def test_graph_keeps_lazy_constants_unread(tmp_path: Path) -> None:
    from tfjs_lite.ir import TensorRef
    from tfjs_lite.optimizer.passes.cse import CommonSubexpressionElimination
    from tfjs_lite.optimizer.passes.fold_constants import FoldConstants

    t = FileTensor(tmp_path / "never-read.bin", 0, "<f4", (2, 2))  # the file does not exist
    g = Graph()
    a = g.add_const(t, name="a")
    b = g.add_const(FileTensor(tmp_path / "never-read.bin", 0, "<f4", (2, 2)), name="b")
    g.add_op("AddV2", [a, b], {"T": "DT_FLOAT"}, name="sum")
    g.outputs["y"] = TensorRef(g.add_op("Identity", [TensorRef("sum", 0)], {"T": "DT_FLOAT"}, name="y"), 0)
    assert g.value("a") is t and g.attrs("a")["dtype"] == "DT_FLOAT"
    assert not CommonSubexpressionElimination().run(g)  # reading the missing file would raise
    assert not FoldConstants().run(g)
    assert "a" in g and "b" in g and g.op("sum") == "AddV2"
