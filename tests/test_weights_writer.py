"""Weight shard writer and model.json serializer: encodings, sharding, conversions, official bytes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tfjs_lite.errors import InternalError, ModelFormatError, UnsupportedModelError, UsageError
from tfjs_lite.options import Quantization
from tfjs_lite.readers.tfjs_weights import read_model_json, read_weights
from tfjs_lite.report import Report
from tfjs_lite.writers.model_json import dump_model_json, write_model_json
from tfjs_lite.writers.weights import WeightEntry, encode_strings, write_weights

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "fixtures" / "reference"


def _write(tmp_path, groups, *, shard=4194304, quantization=None):
    report = Report()
    manifest = write_weights(groups, tmp_path, shard_size_bytes=shard, quantization=quantization, report=report)
    return manifest, report


def _group_bytes(directory, group):
    return b"".join((directory / p).read_bytes() for p in group["paths"])


# --- byte encodings (docs/formats.md §3.2) -----------------------------------------------------


def test_documented_string_example():
    assert encode_strings(np.array([b"ab", b"", "é"], dtype=object)).hex() == "02000000616200000000" + "02000000c3a9"


def test_numeric_encodings_and_manifest(tmp_path):
    entries = [
        WeightEntry("f", np.array([[1.5, -2.0]], np.float32)),
        WeightEntry("i", np.array([1, -1], np.int32)),
        WeightEntry("b", np.array([True, False, True])),
        WeightEntry("c", np.array([1 + 2j], np.complex64)),
        WeightEntry("u8", np.array([7], np.uint8)),
        WeightEntry("u16", np.array([258], np.uint16)),
        WeightEntry("s", np.array([["x", "yz"]], dtype=np.str_)),
        WeightEntry("scalar", np.float32(3.0)),
        WeightEntry("empty", np.zeros((0, 3), np.float32)),
        WeightEntry("big_endian", np.array([1.0], ">f4")),
    ]
    manifest, report = _write(tmp_path, [entries])
    assert report.warnings == []
    assert manifest[0]["paths"] == ["group1-shard1of1.bin"]
    assert manifest[0]["weights"] == [
        {"name": "f", "shape": [1, 2], "dtype": "float32"},
        {"name": "i", "shape": [2], "dtype": "int32"},
        {"name": "b", "shape": [3], "dtype": "bool"},
        {"name": "c", "shape": [1], "dtype": "complex64"},
        {"name": "u8", "shape": [1], "dtype": "uint8"},
        {"name": "u16", "shape": [1], "dtype": "uint16"},
        {"name": "s", "shape": [1, 2], "dtype": "string"},
        {"name": "scalar", "shape": [], "dtype": "float32"},
        {"name": "empty", "shape": [0, 3], "dtype": "float32"},
        {"name": "big_endian", "shape": [1], "dtype": "float32"},
    ]
    expected = (
        np.array([1.5, -2.0], "<f4").tobytes()
        + np.array([1, -1], "<i4").tobytes()
        + b"\x01\x00\x01"
        + np.array([1.0, 2.0], "<f4").tobytes()
        + b"\x07"
        + b"\x02\x01"
        + b"\x01\x00\x00\x00x\x02\x00\x00\x00yz"
        + np.array([3.0], "<f4").tobytes()
        + np.array([1.0], "<f4").tobytes()
    )
    assert _group_bytes(tmp_path, manifest[0]) == expected
    assert [k for k in manifest[0]["weights"][0]] == ["name", "shape", "dtype"]


def test_empty_group_has_no_files(tmp_path):
    manifest, _ = _write(tmp_path, [[WeightEntry("e", np.zeros(0, np.float32))], []])
    assert manifest == [
        {"paths": [], "weights": [{"name": "e", "shape": [0], "dtype": "float32"}]},
        {"paths": [], "weights": []},
    ]
    assert list(tmp_path.iterdir()) == []


# --- sharding (§4.2) --------------------------------------------------------------------------


def test_shards_straddle_weights_last_is_shorter(tmp_path):
    a = np.arange(3, dtype=np.float32)  # 12 bytes
    b = np.arange(2, dtype=np.int32)  # 8 bytes
    manifest, _ = _write(tmp_path, [[WeightEntry("a", a), WeightEntry("b", b)], [WeightEntry("c", b)]], shard=7)
    assert manifest[0]["paths"] == [f"group1-shard{i}of3.bin" for i in (1, 2, 3)]
    assert manifest[1]["paths"] == ["group2-shard1of2.bin", "group2-shard2of2.bin"]
    sizes = [(tmp_path / p).stat().st_size for p in manifest[0]["paths"]]
    assert sizes == [7, 7, 6]
    assert _group_bytes(tmp_path, manifest[0]) == a.tobytes() + b.tobytes()
    assert _group_bytes(tmp_path, manifest[1]) == b.tobytes()


def test_exact_multiple_of_shard_size(tmp_path):
    manifest, _ = _write(tmp_path, [[WeightEntry("a", np.arange(4, dtype=np.float32))]], shard=8)
    assert [(tmp_path / p).stat().st_size for p in manifest[0]["paths"]] == [8, 8]


weights_strategy = st.lists(
    st.one_of(
        hnp.arrays(st.sampled_from([np.float32, np.int32, np.bool_, np.uint8]), hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5)),
        st.lists(st.text(max_size=4), max_size=4).map(lambda xs: np.array(xs, dtype=object)),
    ),
    max_size=6,
)


def _reference_encoding(array):
    if array.dtype == object:
        return encode_strings(array)
    return np.ascontiguousarray(array).tobytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weights_strategy, st.integers(1, 64))
def test_shard_properties(tmp_path_factory, arrays, shard):
    directory = tmp_path_factory.mktemp("w")
    entries = [WeightEntry(f"w{i}", a) for i, a in enumerate(arrays)]
    manifest, _ = _write(directory, [entries], shard=shard)
    raw = b"".join(_reference_encoding(a) for a in arrays)
    paths = manifest[0]["paths"]
    assert len(paths) == math.ceil(len(raw) / shard)
    sizes = [(directory / p).stat().st_size for p in paths]
    assert all(s == shard for s in sizes[:-1]) and all(0 < s <= shard for s in sizes)
    assert _group_bytes(directory, manifest[0]) == raw
    # Deterministic: a second write gives identical files and manifest.
    again = tmp_path_factory.mktemp("w")
    manifest2, _ = _write(again, [entries], shard=shard)
    assert manifest2 == manifest
    assert all((again / p).read_bytes() == (directory / p).read_bytes() for p in paths)
    # And the reader gets the data back.
    for (spec, array), original in zip(read_weights(manifest, directory), arrays):
        assert spec["shape"] == list(original.shape)
        if original.dtype == object:
            assert array.tolist() == np.vectorize(lambda s: s.encode("utf-8"), otypes=[object])(original).tolist() if original.size else True
        else:
            assert array.tobytes() == original.tobytes()


# --- lazy sources -----------------------------------------------------------------------------


def test_lazy_sources_give_the_same_bytes(tmp_path):
    data = np.random.default_rng(0).standard_normal((50, 7)).astype(np.float64)
    mm = np.memmap(tmp_path / "mm.bin", dtype=np.float64, mode="w+", shape=data.shape)
    mm[:] = data
    mm.flush()
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f["d"] = data
        f["s"] = np.array([b"a", b"bcd"], dtype=h5py.string_dtype())
    with h5py.File(tmp_path / "w.h5", "r") as f:
        groups = [
            [WeightEntry("array", data)],
            [WeightEntry("memmap", np.memmap(tmp_path / "mm.bin", dtype=np.float64, mode="r", shape=data.shape))],
            [WeightEntry("h5", f["d"]), WeightEntry("h5s", f["s"])],
            [WeightEntry("callable", lambda: data)],
        ]
        out = tmp_path / "out"
        manifest, report = _write(out, groups, shard=100)
    expected = data.astype(np.float32).tobytes()
    for group in manifest:
        assert _group_bytes(out, group)[: len(expected)] == expected
    assert _group_bytes(out, manifest[2])[len(expected) :] == b"\x01\x00\x00\x00a\x03\x00\x00\x00bcd"
    assert len(report.warnings) == 4 and all("float64" in w for w in report.warnings)


def test_h5_dataset_is_read_in_slices(tmp_path, monkeypatch):
    monkeypatch.setattr("tfjs_lite.writers.weights._CHUNK_BYTES", 64)
    data = np.arange(60 * 5, dtype=np.float32).reshape(60, 5)
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f["d"] = data
    with h5py.File(tmp_path / "w.h5", "r") as f:
        manifest, _ = _write(tmp_path / "out", [[WeightEntry("d", f["d"])]], shard=33, quantization=Quantization(uint8=True))
    (spec, decoded), = read_weights(manifest, tmp_path / "out")
    reference = write_weights([[WeightEntry("d", data)]], tmp_path / "ref", shard_size_bytes=33, quantization=Quantization(uint8=True), report=Report())
    assert manifest == reference
    assert _group_bytes(tmp_path / "out", manifest[0]) == _group_bytes(tmp_path / "ref", reference[0])


# --- dtype conversions (§4.1) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (np.float16, np.float32),
        (np.float64, np.float32),
        (np.int64, np.int32),
        (np.int8, np.int32),
        (np.int16, np.int32),
        (np.uint32, np.int32),
        (np.uint64, np.int32),
        (np.complex128, np.complex64),
    ],
)
def test_auto_conversions_warn(tmp_path, source, target):
    data = np.array([1, 2, 3], dtype=source)
    manifest, report = _write(tmp_path, [[WeightEntry("w", data)]])
    assert manifest[0]["weights"][0]["dtype"] == np.dtype(target).name
    assert _group_bytes(tmp_path, manifest[0]) == data.astype(target).tobytes()
    assert len(report.warnings) == 1
    assert f"weight w with shape [3] and dtype {np.dtype(source).name} was auto converted to the type {np.dtype(target).name}" in report.warnings[0]


@pytest.mark.parametrize(("dtype", "value"), [(np.int64, 2**31), (np.int64, -(2**31) - 1), (np.uint32, 2**31), (np.uint64, 2**40)])
def test_out_of_range_integers_are_refused(tmp_path, dtype, value):
    with pytest.raises(UnsupportedModelError, match="'big'.*int32 range"):
        _write(tmp_path, [[WeightEntry("ok", np.ones(2, np.float32)), WeightEntry("big", np.array([0, value], dtype))]])
    assert list(tmp_path.iterdir()) == []  # checked before anything is written


def test_int64_extremes_that_fit(tmp_path):
    data = np.array([-(2**31), 2**31 - 1], np.int64)
    manifest, _ = _write(tmp_path, [[WeightEntry("w", data)]])
    assert _group_bytes(tmp_path, manifest[0]) == data.astype(np.int32).tobytes()


@pytest.mark.parametrize("dtype", ["datetime64[s]", "float128" if hasattr(np, "float128") else "timedelta64[s]"])
def test_unsupported_dtype_names_the_weight(tmp_path, dtype):
    with pytest.raises(UnsupportedModelError, match="'odd'"):
        _write(tmp_path, [[WeightEntry("odd", np.zeros(2, dtype=dtype))]])


def test_non_string_object_array_is_refused(tmp_path):
    with pytest.raises(UnsupportedModelError, match="'obj'"):
        _write(tmp_path, [[WeightEntry("obj", np.array([b"a", 3], dtype=object))]])


def test_duplicate_names_across_groups(tmp_path):
    with pytest.raises(ModelFormatError, match="'x'"):
        _write(tmp_path, [[WeightEntry("x", np.ones(1, np.float32))], [WeightEntry("x", np.ones(1, np.float32))]])


@pytest.mark.parametrize("shard", [0, -1, True, 1.5])
def test_bad_shard_size(tmp_path, shard):
    with pytest.raises(UsageError):
        _write(tmp_path, [[]], shard=shard)


# --- quantization in the writer ---------------------------------------------------------------


def test_quantization_only_touches_float32(tmp_path):
    entries = [
        WeightEntry("f64", np.array([0.0, 0.5, 1.0], np.float64)),
        WeightEntry("i", np.array([1, 2], np.int32)),
        WeightEntry("s", np.array([b"a"], dtype=object)),
        WeightEntry("f", np.array([-1.0, 0.3, 2.0], np.float32)),
    ]
    manifest, report = _write(tmp_path, [entries], quantization=Quantization(uint8=True))
    specs = manifest[0]["weights"]
    assert json.dumps(specs[0]) == (
        '{"name": "f64", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "min": -0.0, '
        '"scale": 0.00392156862745098, "original_dtype": "float32"}}'
    )
    assert "quantization" not in specs[1] and "quantization" not in specs[2]
    assert specs[3]["quantization"]["min"] == -1.0
    assert _group_bytes(tmp_path, manifest[0]) == bytes.fromhex("0080ff") + np.array([1, 2], "<i4").tobytes() + b"\x01\x00\x00\x00a" + bytes.fromhex("006fff")
    assert len(report.warnings) == 1  # the float64 conversion


@pytest.mark.parametrize(
    ("data", "dtype", "why"),
    [
        (np.array([1.0, np.nan], np.float32), "uint8", "NaN or Inf"),
        (np.array([1.0, -np.inf], np.float32), "uint16", "NaN or Inf"),
        (np.zeros((2, 0), np.float32), "uint8", "empty"),
        (np.array([1e5], np.float32), "float16", "float16 range"),
    ],
)
def test_unquantizable_weights_are_kept_as_float32_with_a_warning(tmp_path, data, dtype, why):
    manifest, report = _write(tmp_path, [[WeightEntry("bad", data)]], quantization=Quantization(**{dtype: True}))
    assert manifest[0]["weights"] == [{"name": "bad", "shape": list(data.shape), "dtype": "float32"}]
    assert _group_bytes(tmp_path, manifest[0]) == data.tobytes()
    assert len(report.warnings) == 1 and "bad" in report.warnings[0] and why in report.warnings[0]
    json.loads(dump_model_json({"weightsManifest": manifest}))  # never NaN/Inf in the manifest


def test_float16_of_an_empty_tensor(tmp_path):
    manifest, report = _write(tmp_path, [[WeightEntry("e", np.zeros(0, np.float32))]], quantization=Quantization(float16=True))
    assert manifest[0]["weights"][0]["quantization"] == {"dtype": "float16", "original_dtype": "float32"}
    assert report.warnings == []


def test_two_selectors_on_one_weight(tmp_path):
    with pytest.raises(UsageError, match="dense/kernel"):
        _write(tmp_path, [[WeightEntry("dense/kernel", np.ones(2, np.float32))]], quantization=Quantization(float16=("dense/*",), uint8=("*kernel",)))


# --- the official converter's outputs ---------------------------------------------------------

OFFICIAL_CASES = sorted(
    (p.parent, p.name) for p in REFERENCE.glob("*/tensorflowjs_4.22/*") if (p / "model.json").is_file()
)
QUANTIZATION = {"sm_to_graph_float16": Quantization(float16=True), "sm_to_graph_uint8": Quantization(uint8=True)}


@pytest.mark.parametrize(("root", "case"), OFFICIAL_CASES, ids=[f"{r.parent.name}-{c}" for r, c in OFFICIAL_CASES])
def test_rewriting_official_weights_is_byte_identical(tmp_path, root, case):
    """Decode each official output, write it back (re-quantizing from the unquantized weights)."""
    official = read_model_json(root / case / "model.json")["weightsManifest"]
    source_case = "sm_to_graph" if case in QUANTIZATION else case
    source = read_model_json(root / source_case / "model.json")["weightsManifest"]
    decoded = read_weights(source, root / source_case)
    groups, index = [], 0
    for group in source:
        groups.append([WeightEntry(spec["name"], array) for spec, array in decoded[index : index + len(group["weights"])]])
        index += len(group["weights"])
    manifest, report = _write(tmp_path, groups, quantization=QUANTIZATION.get(case))
    assert report.warnings == []
    assert manifest == official
    assert json.dumps(manifest) == json.dumps(official)
    for group in official:
        for path in group["paths"]:
            assert (tmp_path / path).read_bytes() == (root / case / path).read_bytes(), path


@pytest.mark.parametrize(("root", "case"), OFFICIAL_CASES, ids=[f"{r.parent.name}-{c}" for r, c in OFFICIAL_CASES])
def test_model_json_serialization_is_byte_identical(tmp_path, root, case):
    raw = (root / case / "model.json").read_bytes()
    model = json.loads(raw)
    assert dump_model_json(model) == raw
    assert write_model_json(tmp_path / "out", model).read_bytes() == raw


# --- model.json -------------------------------------------------------------------------------


def test_model_json_formatting():
    assert dump_model_json({"a": [1, 2.5, -0.0], "b": {"c": "é"}, "d": None}) == b'{"a": [1, 2.5, -0.0], "b": {"c": "\\u00e9"}, "d": null}'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), np.float64("nan")])
def test_model_json_refuses_nan_and_inf(tmp_path, bad):
    with pytest.raises(InternalError):
        dump_model_json({"x": {"y": [1, bad]}})
    with pytest.raises(InternalError):
        write_model_json(tmp_path, {"x": bad})
    assert not (tmp_path / "model.json").exists()


def test_model_json_refuses_non_json_values():
    with pytest.raises(InternalError):
        dump_model_json({"x": np.int64(3)})


# --- memory (slow-ish: ~200 MB of disk I/O) ---------------------------------------------------

MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    import numpy as np
    from tfjs_lite.report import Report
    from tfjs_lite.writers.weights import WeightEntry, write_weights

    source, out, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    data = np.memmap(source, dtype=np.float32, mode="r", shape=(count,))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    manifest = write_weights([[WeightEntry("big", data)]], out, shard_size_bytes=4194304, quantization=None, report=Report())
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(before * 1024, after * 1024, len(manifest[0]["paths"]))
    """
)


def test_memory_writing_a_200mb_memmap_stays_bounded(tmp_path):
    """MEMORY TEST: streaming keeps peak RSS growth under 1.5x the weight's size (Linux ru_maxrss in KiB)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("ru_maxrss units and page accounting are Linux-specific")
    count = 50 * 1024 * 1024  # 200 MiB of float32
    source = tmp_path / "big.bin"
    with open(source, "wb") as f:
        block = np.arange(1024 * 1024, dtype=np.float32)
        for _ in range(count // block.size):
            f.write(block.tobytes())
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(source), str(tmp_path / "out"), str(count)],
        capture_output=True, text=True, check=True, cwd=REPO, timeout=60,
    ).stdout.split()
    before, after, shards = int(out[0]), int(out[1]), int(out[2])
    size = count * 4
    assert shards == 50
    assert after - before <= 1.5 * size, f"peak RSS grew by {(after - before) / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB weight"
    with open(tmp_path / "out" / "group1-shard50of50.bin", "rb") as f:
        assert f.read()[-8:] == np.array([1048574, 1048575], np.float32).tobytes()
