"""tfjs_lite.dtypes: the dtype table and TensorProto <-> numpy with TF's MakeNdarray semantics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tfjs_lite import dtypes
from tfjs_lite._proto.tensor_pb2 import TensorProto
from tfjs_lite._proto.types_pb2 import DataType
from tfjs_lite.errors import ModelFormatError, UnsupportedModelError

CASES = json.loads(
    (
        Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints" / "tensor_protos.json"
    ).read_text()
)


def _proto(dtype: int, shape: list[int], **fields: object) -> TensorProto:
    proto = TensorProto(dtype=dtype, **fields)
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


def test_table_agrees_with_the_enum() -> None:
    for number, dtype in dtypes.DTYPES.items():
        assert DataType.Name(number) == dtype.name
        assert dtypes.get(dtype.name) is dtype
        assert dtypes.get(number + 100) is dtype  # *_REF twin
        assert dtypes.get(dtype.name + "_REF") is dtype
    assert set(dtypes.DTYPES) == set(range(1, 31))


@pytest.mark.parametrize(
    ("spec", "name", "tfjs"),
    [
        (np.float32, "DT_FLOAT", "float32"),
        ("float64", "DT_DOUBLE", "float32"),
        (np.dtype(">i4"), "DT_INT32", "int32"),
        (np.int64, "DT_INT64", "int32"),
        (np.bool_, "DT_BOOL", "bool"),
        (np.float16, "DT_HALF", "float32"),
        (np.uint8, "DT_UINT8", "int32"),
        (np.complex64, "DT_COMPLEX64", "complex64"),
        (np.dtype("U3"), "DT_STRING", "string"),
        (object, "DT_STRING", "string"),
        (np.uint32, "DT_UINT32", None),
    ],
)
def test_from_numpy(spec: object, name: str, tfjs: str | None) -> None:
    dtype = dtypes.get(spec)
    assert dtype.name == name
    assert dtype.tfjs == tfjs


def test_unknown_dtypes_raise_model_format_error() -> None:
    for bad in (0, 31, 99, 200, "DT_FLOAT9", np.dtype("datetime64[s]")):
        with pytest.raises(ModelFormatError):
            dtypes.get(bad)


def test_itemsizes() -> None:
    sizes = {"DT_FLOAT": 4, "DT_HALF": 2, "DT_BFLOAT16": 2, "DT_BOOL": 1, "DT_COMPLEX128": 16}
    for name, size in sizes.items():
        assert dtypes.get(name).itemsize == size
    assert dtypes.get("DT_STRING").itemsize == 0
    assert dtypes.get("DT_BFLOAT16").storage == np.dtype("<u2")


@pytest.mark.parametrize("name", sorted(CASES))
def test_decode_matches_tensorflow(name: str) -> None:
    case = CASES[name]
    proto = TensorProto.FromString(bytes.fromhex(case["proto"]))
    value = dtypes.tensor_proto_to_numpy(proto)
    assert dtypes.get(proto.dtype).name == case["dtype"]
    assert list(value.shape) == case["shape"]
    if "strings" in case:
        assert value.dtype == object
        assert [bytes(v) for v in value.reshape(-1)] == [bytes.fromhex(h) for h in case["strings"]]
    else:
        assert value.flags.writeable
        assert value.astype(value.dtype.newbyteorder("<")).tobytes().hex() == case["hex"]


def test_padding_repeats_last_value() -> None:
    value = dtypes.tensor_proto_to_numpy(_proto(1, [2, 3], float_val=[1.0, 2.0]))
    assert value.tolist() == [[1.0, 2.0, 2.0], [2.0, 2.0, 2.0]]


def test_errors() -> None:
    with pytest.raises(ModelFormatError, match="holds 3 values"):
        dtypes.tensor_proto_to_numpy(_proto(3, [2], int_val=[1, 2, 3]))
    with pytest.raises(ModelFormatError, match="needs 8 bytes"):
        dtypes.tensor_proto_to_numpy(_proto(1, [2], tensor_content=b"\0" * 7))
    with pytest.raises(ModelFormatError, match="unknown dimension"):
        dtypes.tensor_proto_to_numpy(_proto(1, [-1], float_val=[1.0]))
    with pytest.raises(ModelFormatError, match="the shape is corrupt"):
        dtypes.tensor_proto_to_numpy(_proto(1, [1 << 30, 1 << 30], float_val=[1.0]))
    with pytest.raises(ModelFormatError, match="unknown TensorFlow dtype"):
        dtypes.tensor_proto_to_numpy(_proto(77, [1]))
    with pytest.raises(UnsupportedModelError, match="DT_RESOURCE"):
        dtypes.tensor_proto_to_numpy(_proto(20, []))


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array([1.5, -2.0], np.float16),
        np.array([True, False]),
        np.array([-(2**62)], np.int64),
        np.array([1 + 1j], np.complex128),
        np.array(7, np.uint16),
        np.zeros((0, 2), np.int8),
        np.array([b"a", b"", "w\u00f6rld".encode()], dtype=object),
    ],
    ids=lambda a: str(a.dtype),
)
def test_numpy_round_trip(array: np.ndarray) -> None:
    proto = dtypes.numpy_to_tensor_proto(array)
    assert proto.dtype == dtypes.get(array.dtype).enum
    back = dtypes.tensor_proto_to_numpy(TensorProto.FromString(proto.SerializeToString()))
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)


def test_str_elements_are_utf8_encoded() -> None:
    proto = dtypes.numpy_to_tensor_proto(np.array(["w\u00f6rld"]))
    assert list(proto.string_val) == ["w\u00f6rld".encode()]


def test_bfloat16_rounding() -> None:
    values = np.array([1.0, 3.14159, -2.0, 1.00390625, np.inf, np.nan], np.float32)
    bits = dtypes.float32_to_bfloat16_bits(values)
    # 3.14159 -> 0x4049 (3.140625); 1.00390625 is a tie between 1.0 and 1.0078125 -> even (1.0).
    assert bits[:5].tolist() == [0x3F80, 0x4049, 0xC000, 0x3F80, 0x7F80]
    assert np.isnan(dtypes.bfloat16_bits_to_float32(bits[5:]))[0]
    proto = dtypes.numpy_to_tensor_proto(values[:3], "DT_BFLOAT16")
    assert proto.dtype == DataType.Value("DT_BFLOAT16")
    assert dtypes.tensor_proto_to_numpy(proto).tolist() == [1.0, 3.140625, -2.0]
