"""TF.js weight reader: decoding, dequantization, and refusing unsafe or inconsistent manifests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.options import Quantization
from tfjs_lite.readers.tfjs_weights import read_model_json, read_weights
from tfjs_lite.report import Report
from tfjs_lite.writers.weights import WeightEntry, write_weights

REFERENCE = Path(__file__).resolve().parent.parent / "fixtures" / "reference"


def _write(directory, groups, *, shard=4194304, quantization=None):
    return write_weights(groups, directory, shard_size_bytes=shard, quantization=quantization, report=Report())


def _spec(name, shape, dtype, **extra):
    return {"name": name, "shape": shape, "dtype": dtype, **extra}


def test_round_trip_all_dtypes_across_shards_and_groups(tmp_path):
    arrays = {
        "f": np.arange(6, dtype=np.float32).reshape(2, 3),
        "i": np.array([-5, 7], np.int32),
        "b": np.array([[True], [False]]),
        "c": np.array([1 - 1j], np.complex64),
        "u8": np.array([1, 255], np.uint8),
        "u16": np.array([65535], np.uint16),
        "s": np.array([[b"", "ü"], [b"xyz", b"\x00"]], dtype=object),
        "scalar": np.int32(9),
        "empty_s": np.zeros((0,), dtype=object),
    }
    names = list(arrays)
    manifest = _write(tmp_path, [[WeightEntry(n, arrays[n]) for n in names[:5]], [WeightEntry(n, arrays[n]) for n in names[5:]]], shard=5)
    decoded = read_weights(manifest, tmp_path)
    assert [spec["name"] for spec, _ in decoded] == names
    for (spec, array), name in zip(decoded, names):
        original = np.asarray(arrays[name])
        assert array.shape == original.shape, name
        assert not array.flags.writeable
        if original.dtype == object:
            assert array.dtype == object
            expected = [e.encode("utf-8") if isinstance(e, str) else e for e in original.reshape(-1)]
            assert array.reshape(-1).tolist() == expected
        else:
            assert array.dtype == original.dtype, name
            assert array.tobytes() == original.tobytes(), name


@pytest.mark.parametrize("dtype", ["float16", "uint8", "uint16"])
def test_quantized_weights_are_dequantized_like_tfjs(tmp_path, dtype):
    data = np.linspace(-1, 3, 50, dtype=np.float32)
    manifest = _write(tmp_path, [[WeightEntry("w", data)]], quantization=Quantization(**{dtype: True}))
    ((spec, array),) = read_weights(manifest, tmp_path)
    assert spec["quantization"]["dtype"] == dtype
    assert array.dtype == np.float32 and array.shape == data.shape
    step = spec["quantization"].get("scale", 0.002)
    assert np.max(np.abs(array - data)) <= step / 2 + 1e-6


def test_quantized_int32_weight_is_rounded(tmp_path):
    codes = np.array([0, 1, 2], np.uint8)
    (tmp_path / "g.bin").write_bytes(codes.tobytes())
    manifest = [{"paths": ["g.bin"], "weights": [_spec("q", [3], "int32", quantization={"dtype": "uint8", "min": -1.5, "scale": 1.0})]}]
    ((_, array),) = read_weights(manifest, tmp_path)
    assert array.dtype == np.int32 and array.tolist() == [-1, 0, 1]


def test_reads_the_official_outputs():
    for model_json in sorted(REFERENCE.glob("*/tensorflowjs_4.22/*/model.json")):
        model = read_model_json(model_json)
        decoded = read_weights(model["weightsManifest"], model_json.parent)
        assert len(decoded) == sum(len(g["weights"]) for g in model["weightsManifest"])
        for spec, array in decoded:
            assert list(array.shape) == spec["shape"]
            assert np.all(np.isfinite(array)) if array.dtype.kind == "f" else True


def test_uint8_reference_decodes_close_to_the_unquantized_weights():
    root = REFERENCE / "cnn" / "tensorflowjs_4.22"
    plain = read_weights(read_model_json(root / "sm_to_graph" / "model.json")["weightsManifest"], root / "sm_to_graph")
    quant = read_weights(read_model_json(root / "sm_to_graph_uint8" / "model.json")["weightsManifest"], root / "sm_to_graph_uint8")
    for (spec, a), (qspec, b) in zip(plain, quant):
        assert spec["name"] == qspec["name"]
        tolerance = qspec["quantization"]["scale"] / 2 * 1.0001 if "quantization" in qspec else 0
        assert np.max(np.abs(a.astype(np.float64) - b)) <= tolerance, spec["name"]


# --- distrust ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["../escape.bin", "sub/../../escape.bin", "/etc/passwd", "http://example.com/w.bin", "file:w.bin", "C:\\w.bin", "", "a//b.bin", 3],
)
def test_unsafe_paths_are_refused(tmp_path, path):
    (tmp_path / "model").mkdir()
    manifest = [{"paths": [path], "weights": []}]
    with pytest.raises(ModelFormatError):
        read_weights(manifest, tmp_path / "model")


def test_symlink_escaping_the_folder_is_refused(tmp_path):
    (tmp_path / "outside.bin").write_bytes(b"\x00" * 4)
    model = tmp_path / "model"
    model.mkdir()
    os.symlink(tmp_path / "outside.bin", model / "group1-shard1of1.bin")
    manifest = [{"paths": ["group1-shard1of1.bin"], "weights": [_spec("w", [1], "float32")]}]
    with pytest.raises(ModelFormatError, match="outside"):
        read_weights(manifest, model)


def test_subfolder_paths_inside_the_model_are_fine(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "a.bin").write_bytes(np.float32(2).tobytes())
    ((_, array),) = read_weights([{"paths": ["w/a.bin"], "weights": [_spec("x", [], "float32")]}], tmp_path)
    assert array.tolist() == 2.0


def test_missing_shard(tmp_path):
    with pytest.raises(ModelFormatError, match="missing"):
        read_weights([{"paths": ["nope.bin"], "weights": [_spec("w", [1], "float32")]}], tmp_path)


@pytest.mark.parametrize(("shape", "size"), [([3], 8), ([1], 8), ([2**40, 2**40], 8)])
def test_size_mismatch_is_reported_before_allocating(tmp_path, shape, size):
    (tmp_path / "g.bin").write_bytes(b"\x00" * size)
    with pytest.raises(ModelFormatError, match=r"needs \d+ bytes but the weight files g.bin hold 8"):
        read_weights([{"paths": ["g.bin"], "weights": [_spec("w", shape, "float32")]}], tmp_path)


def test_truncated_and_trailing_strings(tmp_path):
    (tmp_path / "g.bin").write_bytes(b"\x05\x00\x00\x00ab")
    with pytest.raises(ModelFormatError, match="truncated"):
        read_weights([{"paths": ["g.bin"], "weights": [_spec("s", [1], "string")]}], tmp_path)
    (tmp_path / "g.bin").write_bytes(b"\x01\x00\x00\x00abc")
    with pytest.raises(ModelFormatError, match="not described"):
        read_weights([{"paths": ["g.bin"], "weights": [_spec("s", [1], "string")]}], tmp_path)


@pytest.mark.parametrize(
    "spec",
    [
        _spec("w", [1], "float64"),
        _spec("w", [1], "int64"),
        _spec("w", [-1], "float32"),
        _spec("w", [1.5], "float32"),
        _spec("w", "1", "float32"),
        _spec("w", [True], "float32"),
        {"shape": [1], "dtype": "float32"},
        _spec("w", [1], "float32", quantization={"dtype": "int4"}),
        _spec("w", [1], "string", quantization={"dtype": "uint8", "min": 0, "scale": 1}),
    ],
)
def test_bad_specs(tmp_path, spec):
    (tmp_path / "g.bin").write_bytes(b"\x00" * 4)
    with pytest.raises(ModelFormatError):
        read_weights([{"paths": ["g.bin"], "weights": [spec]}], tmp_path)


@pytest.mark.parametrize("manifest", [{}, [{"paths": "g.bin", "weights": []}], [{"weights": []}], [3]])
def test_bad_manifest_shapes(tmp_path, manifest):
    with pytest.raises(ModelFormatError):
        read_weights(manifest, tmp_path)


def test_missing_min_scale(tmp_path):
    (tmp_path / "g.bin").write_bytes(b"\x00")
    with pytest.raises(ModelFormatError, match="min"):
        read_weights([{"paths": ["g.bin"], "weights": [_spec("w", [1], "float32", quantization={"dtype": "uint8"})]}], tmp_path)


# --- model.json -------------------------------------------------------------------------------


def test_read_model_json(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"modelTopology": {}, "weightsManifest": []}))
    assert read_model_json(path) == {"modelTopology": {}, "weightsManifest": []}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{nope", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b'{"weightsManifest": []}', "missing modelTopology"),
        (b'{"modelTopology": null}', "missing weightsManifest"),
        (b'{"modelTopology": null, "weightsManifest": {}}', "list"),
        (b"\xff\xfe", "UTF-8"),
    ],
)
def test_read_model_json_errors(tmp_path, content, message):
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match=message):
        read_model_json(path)


def test_read_model_json_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="cannot read"):
        read_model_json(tmp_path / "model.json")
