"""ONNX ``TensorProto`` -> numpy, including external data files beside the model.

One payload source per tensor: ``raw_data`` (little-endian, row-major), else the typed field of
its data type, else external data. Every size is checked against ``prod(dims)`` before anything is
allocated, and external files are opened only after the path checks in
:func:`external_file` (docs/onnx.md, "External data").
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.dtypes import MAX_DECODED_BYTES, bfloat16_bits_to_float32
from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.safe_io import open_binary

__all__ = ["ELEMENT_TYPES", "TF_DTYPES", "external_file", "tensor_to_numpy", "tf_dtype_of"]

# ONNX DataType number -> (name, numpy dtype of the raw little-endian storage, typed field).
ELEMENT_TYPES: dict[int, tuple[str, str | None, str]] = {
    1: ("FLOAT", "<f4", "float_data"),
    2: ("UINT8", "u1", "int32_data"),
    3: ("INT8", "i1", "int32_data"),
    4: ("UINT16", "<u2", "int32_data"),
    5: ("INT16", "<i2", "int32_data"),
    6: ("INT32", "<i4", "int32_data"),
    7: ("INT64", "<i8", "int64_data"),
    8: ("STRING", None, "string_data"),
    9: ("BOOL", "u1", "int32_data"),
    10: ("FLOAT16", "<f2", "int32_data"),
    11: ("DOUBLE", "<f8", "double_data"),
    12: ("UINT32", "<u4", "uint64_data"),
    13: ("UINT64", "<u8", "uint64_data"),
    16: ("BFLOAT16", "<u2", "int32_data"),
}

# ONNX DataType number -> the TF dtype TF.js computes in (float32, int32, bool, string).
TF_DTYPES: dict[int, str] = {1: "DT_FLOAT", 10: "DT_FLOAT", 11: "DT_FLOAT", 16: "DT_FLOAT",
                             2: "DT_INT32", 3: "DT_INT32", 4: "DT_INT32", 5: "DT_INT32",
                             6: "DT_INT32", 7: "DT_INT32", 12: "DT_INT32", 13: "DT_INT32",
                             9: "DT_BOOL", 8: "DT_STRING"}


def tf_dtype_of(elem_type: int, where: str) -> str:
    """The TF dtype for an ONNX element type; unsupported types fail naming ``where``."""
    dtype = TF_DTYPES.get(int(elem_type))
    if dtype is None:
        raise UnsupportedModelError(f"{where}: ONNX element type {elem_type} has no TF.js equivalent")
    return dtype


def _element_count(dims: Any, where: str) -> int:
    shape = [int(d) for d in dims]
    if any(d < 0 for d in shape):
        raise ModelFormatError(f"{where}: negative dimension in {shape}")
    count = 1
    for d in shape:  # Python ints: no overflow; stop early on absurd sizes
        count *= d
        if count > MAX_DECODED_BYTES:
            raise ModelFormatError(f"{where}: {shape} holds more than {MAX_DECODED_BYTES} elements")
    return count


def external_file(model_dir: Path, location: str, where: str) -> Path:
    """The file an external-data ``location`` names, refused unless it is a regular file inside
    ``model_dir`` reached without symlinks or ``..``."""
    if not location or "\x00" in location or location.startswith(("/", "\\")) or \
            (len(location) > 1 and location[1] == ":"):
        raise ModelFormatError(f"{where}: external data location {location!r} is not a relative path")
    parts = location.replace("\\", "/").split("/")
    if any(p == ".." for p in parts):
        raise ModelFormatError(f"{where}: external data location {location!r} leaves the model's folder")
    root = model_dir.resolve()
    path = root.joinpath(*[p for p in parts if p not in ("", ".")])
    current = root
    for part in [p for p in parts if p not in ("", ".")]:
        current = current / part
        if current.is_symlink():
            raise ModelFormatError(f"{where}: external data location {location!r} goes through a symlink")
    real = Path(os.path.realpath(path))
    if root not in real.parents:
        raise ModelFormatError(f"{where}: external data location {location!r} leaves the model's folder")
    if not real.is_file():
        raise ModelFormatError(f"{where}: external data file {location!r} is missing or not a regular file")
    return real


def _external_bytes(tensor: Any, model_dir: Path, nbytes: int, where: str) -> bytes:
    entries = {e.key: e.value for e in tensor.external_data}
    path = external_file(model_dir, entries.get("location", ""), where)
    try:
        offset = int(entries.get("offset", "0"))
        length = int(entries["length"]) if "length" in entries else None
    except ValueError:
        raise ModelFormatError(f"{where}: external data offset/length are not integers") from None
    size = path.stat().st_size
    if offset < 0 or offset > size:
        raise ModelFormatError(f"{where}: external data offset {offset} is outside {path.name} ({size} bytes)")
    if length is None:
        length = size - offset
    if length < 0 or offset + length > size:
        raise ModelFormatError(f"{where}: external data [{offset}, {offset}+{length}) runs past the end of "
                               f"{path.name} ({size} bytes)")
    if length != nbytes:
        raise ModelFormatError(f"{where}: external data holds {length} bytes, the shape needs {nbytes}")
    with open_binary(path, root=model_dir, what="ONNX external data file") as f:
        f.seek(offset)
        data = f.read(length)
    if len(data) != length:
        raise ModelFormatError(f"{where}: external data file {path.name} is shorter than declared")
    return data


def tensor_to_numpy(tensor: Any, model_dir: Path | None, where: str = "", *,
                    raw_data: Callable[[], np.ndarray] | None = None) -> np.ndarray:
    """The value of a ``TensorProto`` in its ONNX dtype widened to what numpy has (bfloat16 ->
    float32, bool -> bool, strings -> object array of bytes). ``raw_data`` reads the payload of a
    tensor whose ``raw_data`` field was left in the file (:mod:`.wire`)."""
    where = where or f"tensor {tensor.name!r}"
    if tensor.HasField("segment"):
        raise UnsupportedModelError(f"{where}: segmented tensors are not supported")
    info = ELEMENT_TYPES.get(tensor.data_type)
    if info is None:
        raise UnsupportedModelError(f"{where}: ONNX element type {tensor.data_type} is not supported")
    name, storage, field = info
    shape = tuple(int(d) for d in tensor.dims)
    count = _element_count(shape, where)
    if storage is None:  # STRING
        values = list(tensor.string_data)
        if len(values) != count:
            raise ModelFormatError(f"{where}: {len(values)} strings for shape {list(shape)}")
        return np.array(values, dtype=object).reshape(shape)
    itemsize = np.dtype(storage).itemsize
    if tensor.data_location == 1:
        if model_dir is None:
            raise ModelFormatError(f"{where}: external data is not allowed here")
        array = np.frombuffer(_external_bytes(tensor, model_dir, count * itemsize, where), dtype=storage)
    elif raw_data is not None or tensor.HasField("raw_data"):
        raw = raw_data() if raw_data is not None else tensor.raw_data
        if len(raw) != count * itemsize:
            raise ModelFormatError(f"{where}: raw_data holds {len(raw)} bytes, shape "
                                   f"{list(shape)} of {name} needs {count * itemsize}")
        array = np.frombuffer(raw, dtype=storage)
    else:
        typed = getattr(tensor, field)
        if len(typed) != count:
            raise ModelFormatError(f"{where}: {len(typed)} values in {field} for shape {list(shape)}")
        if name in ("FLOAT16", "BFLOAT16"):  # 16-bit patterns stored one per int32
            array = np.asarray(typed, dtype=np.int64).astype("<u2")
            if name == "FLOAT16":
                array = array.view("<f2")
        else:
            array = np.asarray(typed, dtype=storage if field != "int32_data" else "<i8").astype(storage)
    if name == "BFLOAT16":
        array = bfloat16_bits_to_float32(array)
    elif name == "BOOL":
        array = array != 0
    return array.astype(array.dtype.newbyteorder("="), copy=False).reshape(shape)


def element_count(shape: Any) -> int:
    """``prod(shape)`` as a Python int (0-d -> 1)."""
    return math.prod(int(d) for d in shape)
