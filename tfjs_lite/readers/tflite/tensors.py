"""Constant tensors of a TFLite model as numpy arrays, and the float32 meaning of quantized ones.

Rules (docs/tflite.md): data is little-endian and row-major; a dense buffer must hold exactly
``prod(shape) * itemsize`` bytes (INT4: two values a byte, low nibble first, sign-extended);
``real = scale * (q - zero_point)``, per tensor or per slice along ``quantized_dimension``.
"""

from __future__ import annotations

import math

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.readers.tflite import schema as S
from tfjs_lite.readers.tflite.model import Quantization, Tensor, TfliteModel

__all__ = ["constant", "dequantize", "float_value", "is_quantized", "readonly", "representable_range"]

_INT_TYPES = {"INT8", "UINT8", "INT16", "INT32", "INT64", "INT4", "UINT16", "UINT32"}


def is_quantized(tensor: Tensor) -> bool:
    """True for an integer tensor with scale/zero point: it stands for float32 values."""
    return tensor.quantization is not None and tensor.type_name in _INT_TYPES


# The integers a quantized activation can hold (int8 kernels saturate their results to them).
_INT_RANGES = {"INT8": (-128, 127), "UINT8": (0, 255), "INT16": (-32768, 32767)}


def representable_range(tensor: Tensor) -> tuple[float, float] | None:
    """The float32 values a per-tensor quantized int8/uint8/int16 tensor can stand for,
    ``scale * (q - zero_point)`` at the type's smallest and largest integer; None otherwise."""
    quant = tensor.quantization
    if quant is None or tensor.type_name not in _INT_RANGES or len(quant.scale) != 1:
        return None
    scale, zero = float(quant.scale[0]), float(quant.zero_point[0])
    qmin, qmax = _INT_RANGES[tensor.type_name]
    return float(np.float32(scale * (qmin - zero))), float(np.float32(scale * (qmax - zero)))


def constant(model: TfliteModel, tensor: Tensor) -> np.ndarray | None:
    """The tensor's stored value (its own dtype; INT4 as int8), or None if it has no data."""
    raw = model.raw(tensor)
    if raw is None:
        return None
    where = f"tensor {tensor.index} ({tensor.name!r})"
    if tensor.sparse:
        raise UnsupportedModelError(f"{where} is stored sparse, which is not supported")
    count = math.prod(tensor.shape)
    name, dtype = S.TENSOR_TYPES.get(tensor.type, (None, None))
    if name == "INT4":
        if len(raw) != (count + 1) // 2:
            raise ModelFormatError(f"not a valid TFLite file: {where} holds {len(raw)} bytes for {count} int4 values")
        packed = np.frombuffer(raw, np.uint8)
        nibbles = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(-1)[:count].astype(np.int8)
        return np.where(nibbles > 7, nibbles - 16, nibbles).astype(np.int8).reshape(tensor.shape)
    if name == "STRING":
        return _strings(bytes(raw), count, where).reshape(tensor.shape)
    if dtype is None:
        raise UnsupportedModelError(f"{where} has type {tensor.type_name}, which TF.js cannot hold")
    itemsize = np.dtype(dtype).itemsize
    if len(raw) != count * itemsize:
        raise ModelFormatError(f"not a valid TFLite file: {where} holds {len(raw)} bytes, its shape "
                               f"{list(tensor.shape)} needs {count * itemsize}")
    return np.frombuffer(raw, dtype).reshape(tensor.shape)


def _strings(raw: bytes, count: int, where: str) -> np.ndarray:
    # int32 N, N+1 int32 offsets (from the buffer start), then the bytes.
    bad = ModelFormatError(f"not a valid TFLite file: {where} is a damaged string buffer")
    if len(raw) < 4:
        raise bad
    n = int.from_bytes(raw[:4], "little", signed=True)
    if n != count or 4 * (n + 2) > len(raw):
        raise bad
    offsets = np.frombuffer(raw, "<i4", n + 1, 4)
    if np.any(np.diff(offsets) < 0) or (n + 1 and (offsets[0] < 4 * (n + 2) or offsets[-1] > len(raw))):
        raise bad
    return np.array([raw[offsets[i]:offsets[i + 1]] for i in range(n)], dtype=object)


def dequantize(values: np.ndarray, quant: Quantization, where: str) -> np.ndarray:
    """``scale * (q - zero_point)`` as float32, per tensor or along ``quant.axis``."""
    scale = quant.scale.astype(np.float32)
    zero = quant.zero_point.astype(np.float32)
    if len(scale) > 1:
        axis = quant.axis
        if not 0 <= axis < values.ndim or values.shape[axis] != len(scale):
            raise ModelFormatError(f"not a valid TFLite file: {where} has {len(scale)} scales along "
                                   f"dimension {axis} of shape {list(values.shape)}")
        shape = [1] * values.ndim
        shape[axis] = len(scale)
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return readonly(((values.astype(np.float32) - zero) * scale).astype(np.float32, copy=False))


def readonly(array: np.ndarray) -> np.ndarray:
    """Mark a freshly computed array read-only, so the IR keeps it without another copy."""
    array.setflags(write=False)
    return array


def float_value(model: TfliteModel, tensor: Tensor) -> np.ndarray | None:
    """The value a constant stands for in the float32 graph: quantized integers dequantized,
    float16/float64 as float32, other integers as they are (int32 for the graph). None = no data."""
    value = constant(model, tensor)
    if value is None:
        return None
    if is_quantized(tensor):
        assert tensor.quantization is not None
        return dequantize(value, tensor.quantization, f"tensor {tensor.index} ({tensor.name!r})")
    if value.dtype.kind == "f":
        return value.astype(np.float32, copy=False)  # float32 data stays a view of the file
    if value.dtype.kind in "iu" and value.dtype != np.int32:
        if value.size and (int(value.min()) < -(2**31) or int(value.max()) > 2**31 - 1):
            raise UnsupportedModelError(f"tensor {tensor.index} ({tensor.name!r}) holds integers outside the "
                                        "int32 range TF.js uses")
        return value.astype(np.int32)
    return value
