"""TensorFlow element types: enum number <-> ``DT_*`` name <-> numpy dtype <-> tfjs dtype.

One table (:data:`DTYPES`) answers every dtype question the readers and writers ask, so that the
quirks live in one place:

* numpy has no bfloat16: BFLOAT16 values are decoded to float32 (an exact widening) and encoded
  back with round-to-nearest-even; their raw storage dtype is ``<u2``.
* DT_STRING tensors decode to numpy object arrays of ``bytes`` (TF strings are byte strings).
* ``*_REF`` types (enum + 100, TF1 reference variables) resolve to their base type.
* RESOURCE, VARIANT, the float8 and 4-bit types are known but have no numpy value here; decoding
  them raises :class:`~tfjs_lite.errors.UnsupportedModelError`. Numbers TF does not define raise
  :class:`~tfjs_lite.errors.ModelFormatError`.

:func:`tensor_proto_to_numpy` follows TF's ``MakeNdarray``; :func:`numpy_to_tensor_proto` is the
inverse and always writes ``tensor_content`` (or ``string_val``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.limits import MAX_DECODED_BYTES, MAX_SPLAT_BYTES

if TYPE_CHECKING:
    from tfjs_lite._proto.tensor_pb2 import TensorProto

__all__ = [
    "DTYPES",
    "MAX_DECODED_BYTES",
    "NUMPY_DTYPES",
    "DType",
    "DTypeLike",
    "bfloat16_bits_to_float32",
    "decode_raw",
    "float32_to_bfloat16_bits",
    "get",
    "numpy_dtype",
    "numpy_to_tensor_proto",
    "splat_budget",
    "tensor_proto_to_numpy",
]

REF_OFFSET = 100



@dataclass(frozen=True)
class DType:
    """Facts about one TF DataType.

    Attributes:
        enum: the ``tensorflow.DataType`` number.
        name: the enum name, e.g. ``"DT_FLOAT"``.
        numpy: dtype of decoded values (little-endian), ``object`` for strings, None if numpy
            cannot hold the type.
        storage: dtype of the raw little-endian bytes in ``tensor_content`` and checkpoints
            (differs from ``numpy`` only for bfloat16); None when not fixed-size.
        itemsize: bytes per element in raw storage; 0 for strings and handle types.
        tfjs: dtype TF.js executes the type as (tfjs-converter's ``parseDtypeParam``), or None
            when TF.js has no equivalent.
        field: the typed ``TensorProto`` field holding the values when ``tensor_content`` is empty.
    """

    enum: int
    name: str
    numpy: np.dtype | None
    storage: np.dtype | None
    itemsize: int
    tfjs: str | None
    field: str | None

    @property
    def is_string(self) -> bool:
        return self.enum == 7

    def __str__(self) -> str:
        return self.name


def _le(code: str) -> np.dtype:
    return np.dtype(code).newbyteorder("<") if np.dtype(code).itemsize > 1 else np.dtype(code)


def _make(
    enum: int, name: str, code: str | None, tfjs: str | None, field: str | None, itemsize: int = 0
) -> DType:
    if code is None:
        return DType(enum, name, None, None, itemsize, tfjs, field)
    if code == "O":
        return DType(enum, name, np.dtype(object), None, 0, tfjs, field)
    dtype = _le(code)
    return DType(enum, name, dtype, dtype, dtype.itemsize, tfjs, field)


_TABLE: tuple[DType, ...] = (
    _make(1, "DT_FLOAT", "f4", "float32", "float_val"),
    _make(2, "DT_DOUBLE", "f8", "float32", "double_val"),
    _make(3, "DT_INT32", "i4", "int32", "int_val"),
    _make(4, "DT_UINT8", "u1", "int32", "int_val"),
    _make(5, "DT_INT16", "i2", None, "int_val"),
    _make(6, "DT_INT8", "i1", "int32", "int_val"),
    _make(7, "DT_STRING", "O", "string", "string_val"),
    _make(8, "DT_COMPLEX64", "c8", "complex64", "scomplex_val"),
    _make(9, "DT_INT64", "i8", "int32", "int64_val"),
    _make(10, "DT_BOOL", "?", "bool", "bool_val"),
    _make(11, "DT_QINT8", "i1", None, "int_val"),
    _make(12, "DT_QUINT8", "u1", None, "int_val"),
    _make(13, "DT_QINT32", "i4", None, "int_val"),
    DType(14, "DT_BFLOAT16", _le("f4"), _le("u2"), 2, None, "half_val"),
    _make(15, "DT_QINT16", "i2", None, "int_val"),
    _make(16, "DT_QUINT16", "u2", None, "int_val"),
    _make(17, "DT_UINT16", "u2", None, "int_val"),
    _make(18, "DT_COMPLEX128", "c16", "complex64", "dcomplex_val"),
    _make(19, "DT_HALF", "f2", "float32", "half_val"),
    _make(20, "DT_RESOURCE", None, None, "resource_handle_val"),
    _make(21, "DT_VARIANT", None, None, "variant_val"),
    _make(22, "DT_UINT32", "u4", None, "uint32_val"),
    _make(23, "DT_UINT64", "u8", None, "uint64_val"),
    _make(24, "DT_FLOAT8_E5M2", None, None, "float8_val", 1),
    _make(25, "DT_FLOAT8_E4M3FN", None, None, "float8_val", 1),
    _make(26, "DT_FLOAT8_E4M3FNUZ", None, None, "float8_val", 1),
    _make(27, "DT_FLOAT8_E4M3B11FNUZ", None, None, "float8_val", 1),
    _make(28, "DT_FLOAT8_E5M2FNUZ", None, None, "float8_val", 1),
    _make(29, "DT_INT4", None, None, "int_val"),
    _make(30, "DT_UINT4", None, None, "int_val"),
)

DTYPES: dict[int, DType] = {d.enum: d for d in _TABLE}
_BY_NAME: dict[str, DType] = {d.name: d for d in _TABLE}
# The types numpy holds natively: bfloat16 (decoded to float32) and the quantized aliases of the
# integer types are left out, so each numpy dtype maps back to exactly one DT_*.
_NATIVE: tuple[DType, ...] = tuple(
    d for d in _TABLE if d.numpy is not None and d.enum not in (11, 12, 13, 14, 15, 16)
)
_BY_NUMPY: dict[np.dtype, DType] = {d.numpy: d for d in _NATIVE if d.numpy is not None}
# ``"DT_*"`` name -> numpy dtype, for the types numpy holds natively (see ``_NATIVE``).
NUMPY_DTYPES: dict[str, np.dtype] = {d.name: d.numpy for d in _NATIVE if d.numpy is not None}

DTypeLike = Union[DType, int, str, np.dtype, type]


def get(dtype: DTypeLike) -> DType:
    """Resolve a DType from an enum number, ``"DT_*"`` name, numpy dtype or DType.

    ``*_REF`` numbers and names resolve to the base type. Unknown values raise ModelFormatError.
    """
    if isinstance(dtype, DType):
        return dtype
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        number = int(dtype)
        found = DTYPES.get(number - REF_OFFSET if number > REF_OFFSET else number)
        if found is None:
            raise ModelFormatError(
                f"unknown TensorFlow dtype number {number} (DT_INVALID or newer than TF 2.19); "
                "the model is corrupt or needs a newer tfjs-lite"
            )
        return found
    if isinstance(dtype, str) and dtype.startswith("DT_"):
        found = _BY_NAME.get(dtype[:-4] if dtype.endswith("_REF") else dtype)
        if found is None:
            raise ModelFormatError(f"unknown TensorFlow dtype {dtype!r}")
        return found
    try:
        as_numpy = np.dtype(dtype)  # type: ignore[arg-type]  # numpy stubs reject a runtime-checked union
    except TypeError:
        raise ModelFormatError(f"not a dtype: {dtype!r}") from None
    if as_numpy.kind in "SUO":
        return _BY_NAME["DT_STRING"]
    found = _BY_NUMPY.get(as_numpy.newbyteorder("<") if as_numpy.itemsize > 1 else as_numpy)
    if found is None:
        raise ModelFormatError(f"numpy dtype {as_numpy} has no TensorFlow equivalent")
    return found


def numpy_dtype(name: str) -> np.dtype:
    """The numpy dtype of a ``"DT_*"`` name.

    Raises:
        KeyError: For types numpy cannot hold natively (``DT_BFLOAT16``, ``DT_RESOURCE``, ...).
    """
    return NUMPY_DTYPES[str(name)]


def _numeric(dtype: DType) -> DType:
    """Return ``dtype`` if numpy can hold its values, else raise UnsupportedModelError."""
    if dtype.numpy is None:
        raise UnsupportedModelError(
            f"tensors of type {dtype.name} cannot be converted (no numpy/TF.js equivalent)"
        )
    return dtype


# --- bfloat16 ------------------------------------------------------------------------------------


def bfloat16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """Widen bfloat16 bit patterns (uint16) to float32 exactly: bfloat16 is float32's top half."""
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def float32_to_bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 (nearest, ties to even; NaN stays NaN) and return the bits."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    nan = np.isnan(bits.view(np.float32))
    return np.where(nan, (bits >> np.uint32(16)) | np.uint32(0x40), rounded).astype(np.uint16)


# --- decoding ------------------------------------------------------------------------------------


def _shape_and_count(dims: list[int], what: str) -> tuple[tuple[int, ...], int]:
    for size in dims:
        if size < 0:
            raise ModelFormatError(f"{what} has an unknown dimension in shape {dims}")
    return tuple(dims), math.prod(dims)


def decode_raw(buffer: Any, dtype: DTypeLike, shape: tuple[int, ...]) -> np.ndarray:
    """Little-endian row-major bytes -> array of ``shape`` (a read-only view when possible).

    Used for ``tensor_content`` and checkpoint payloads. The byte count must match exactly.
    """
    dt = _numeric(get(dtype))
    if dt.storage is None:
        raise ModelFormatError(f"{dt.name} values are not stored as fixed-size raw bytes")
    count = math.prod(shape)
    expected = count * dt.itemsize
    if len(buffer) != expected:
        raise ModelFormatError(
            f"{dt.name} tensor of shape {list(shape)} needs {expected} bytes, found {len(buffer)}"
        )
    array = np.frombuffer(buffer, dtype=dt.storage, count=count).reshape(shape)
    if dt.enum == 14:
        return bfloat16_bits_to_float32(array)
    if dt.enum == 10:  # any non-zero byte is true; keep numpy bools canonical (0/1)
        return array.view(np.uint8) != 0
    return array


def _typed_values(proto: TensorProto, dt: DType) -> np.ndarray:
    """The typed repeated field of ``proto`` as a flat array of ``dt.numpy`` (maybe short)."""
    field = dt.field or ""
    if dt.enum in (19, 14):  # HALF / BFLOAT16: 16-bit patterns widened to int32
        bits = np.asarray(proto.half_val, dtype=np.int64).astype(np.uint16)
        return bits.view(np.float16) if dt.enum == 19 else bfloat16_bits_to_float32(bits)
    if dt.enum == 7:
        values = np.empty(len(proto.string_val), dtype=object)
        values[:] = list(proto.string_val)
        return values
    if dt.enum in (8, 18):
        pairs = np.asarray(getattr(proto, field), dtype=np.float32 if dt.enum == 8 else np.float64)
        if pairs.size % 2:
            raise ModelFormatError(f"{dt.name} tensor has an odd number of real/imaginary parts")
        complex_values: np.ndarray = np.add(pairs[0::2], np.multiply(pairs[1::2], 1j))
        return complex_values
    raw = getattr(proto, field)
    try:
        return np.asarray(raw, dtype=dt.numpy)
    except OverflowError:
        raise ModelFormatError(f"{dt.name} tensor holds values out of range") from None


# Bytes splat constants may still expand to in the current conversion (see splat_budget).
_SPLAT_BUDGET: ContextVar[Optional[list[int]]] = ContextVar("tfjs_lite_splat_budget", default=None)


@contextmanager
def splat_budget(limit: int = MAX_SPLAT_BYTES) -> Iterator[None]:
    """Cap the bytes all splat constants decoded inside the block expand to, together.

    One splat is capped at MAX_SPLAT_BYTES anyway; a conversion wraps its whole run in this so a
    file of many small splats cannot add up to gigabytes either. Per context (thread-safe)."""
    token = _SPLAT_BUDGET.set([limit])
    try:
        yield
    finally:
        _SPLAT_BUDGET.reset(token)


def _spend_splat_budget(size: int, what: str, stored: int) -> None:
    # A few stored values repeated to a huge shape: bytes that cost nothing in the file.
    if size > MAX_SPLAT_BYTES:
        raise ModelFormatError(f"{what} repeats {stored} stored value(s) to {size} bytes; splat constants "
                               f"over {MAX_SPLAT_BYTES} bytes are refused")
    budget = _SPLAT_BUDGET.get()
    if budget is not None:
        if size > budget[0]:
            raise ModelFormatError(f"{what} repeats {stored} stored value(s) to {size} bytes; the model's splat "
                                   f"constants together would exceed {MAX_SPLAT_BYTES} bytes")
        budget[0] -= size


def tensor_proto_to_numpy(proto: TensorProto, *, max_bytes: int = MAX_DECODED_BYTES) -> np.ndarray:
    """Decode a TensorProto with TF's ``MakeNdarray`` semantics.

    ``tensor_content`` (raw little-endian bytes) wins when present; otherwise the typed field is
    read, an empty field means zeros (empty strings), and a field shorter than the shape is padded
    by repeating its last value (how TF stores splat constants). Returns a writable array (strings:
    object array of ``bytes``; bfloat16: float32).

    Args:
        proto: the TensorProto.
        max_bytes: refuse (ModelFormatError) tensors that would decode to more bytes than this,
            before allocating. Defaults to 2 GiB.
    """
    dt = _numeric(get(proto.dtype))
    if proto.tensor_shape.unknown_rank:
        raise ModelFormatError(f"{dt.name} constant has an unknown rank")
    shape, count = _shape_and_count([d.size for d in proto.tensor_shape.dim], f"{dt.name} constant")
    decoded_itemsize = dt.numpy.itemsize if dt.numpy is not None and not dt.is_string else 8
    if count * decoded_itemsize > max_bytes:
        raise ModelFormatError(
            f"{dt.name} constant of shape {list(shape)} would need "
            f"{count * decoded_itemsize} bytes (limit {max_bytes}); the shape is corrupt"
        )
    if proto.tensor_content:
        if dt.is_string:
            raise ModelFormatError("DT_STRING constant uses tensor_content, which TF never writes")
        return np.array(decode_raw(proto.tensor_content, dt, shape))

    stored = len(getattr(proto, dt.field)) if dt.field else 0
    if stored < count:
        # A repeated string costs its length again in every copy the weight writer writes.
        repeated = len(proto.string_val[-1]) if dt.is_string and stored else 0
        _spend_splat_budget(count * (decoded_itemsize + repeated), f"{dt.name} constant of shape {list(shape)}",
                            stored)
    values = _typed_values(proto, dt)
    if values.size == count:
        return values.reshape(shape)
    if values.size > count:
        raise ModelFormatError(
            f"{dt.name} constant of shape {list(shape)} holds {values.size} values "
            f"for {count} elements"
        )
    if values.size == 0:
        if dt.is_string:
            out = np.empty(shape, dtype=object)
            out.fill(b"")
            return out
        return np.zeros(shape, dtype=dt.numpy)
    out = np.empty(count, dtype=values.dtype)
    out[: values.size] = values
    out[values.size :] = values[-1]
    return out.reshape(shape)


# --- encoding ------------------------------------------------------------------------------------


def numpy_to_tensor_proto(array: Any, dtype: DTypeLike | None = None) -> TensorProto:
    """Encode an array as a TensorProto: numeric types in ``tensor_content``, strings in
    ``string_val`` (``str`` elements are UTF-8 encoded).

    Args:
        array: anything ``np.asarray`` accepts.
        dtype: target TF type; defaults to the array's. Pass ``"DT_BFLOAT16"`` to round a float
            array to bfloat16 (numpy cannot carry that type itself).
    """
    from tfjs_lite._proto.tensor_pb2 import TensorProto

    values = np.asarray(array)
    dt = get(values.dtype if dtype is None else dtype)
    proto = TensorProto(dtype=dt.enum)  # type: ignore[arg-type]  # an enum number is a valid DataType
    for size in values.shape:
        proto.tensor_shape.dim.add(size=size)
    if dt.is_string:
        proto.string_val.extend(
            item.encode("utf-8") if isinstance(item, str) else bytes(item)
            for item in values.reshape(-1).tolist()
        )
        return proto
    _numeric(dt)
    if dt.enum == 14:
        raw = float32_to_bfloat16_bits(values.astype(np.float32)).astype("<u2")
    else:
        raw = values.astype(dt.storage, copy=False)
    proto.tensor_content = np.ascontiguousarray(raw).tobytes()
    return proto
