"""Weight quantization, byte-identical to ``tensorflowjs`` 4.22 (``quantization.py``).

Three quantized encodings exist:

- ``float16``: ``codes = data.astype(float16)`` (IEEE round-to-nearest-even). Manifest
  ``{"dtype": "float16", "original_dtype": "float32"}``.
- ``uint8`` / ``uint16`` affine: with ``qmax = 255 | 65535`` and all arithmetic in float64,
  ``scale = (max - min) / qmax``; if ``min <= 0 <= max`` the range is nudged so that real zero is
  exactly representable (``zp = round((0 - min) / scale)``, ``min' = -zp * scale``,
  ``max' = qmax * scale + min'``); ``codes = round((clip(data, min', max') - min') / scale)``.
  ``round`` is round-half-even, as ``np.round``. A constant tensor gets codes 0, ``scale = 1.0``.
  Manifest ``{"dtype", "min", "scale", "original_dtype"}`` in exactly that order. ``min`` keeps
  the sign of zero: data ``[0, 0.5, 1]`` gives ``"min": -0.0`` as the official converter does.

Decoding follows TF.js (``tfjs-core/src/io/io_utils.ts::decodeWeight``), not the Python reader:
float32 weights are ``v * scale + min`` computed in float64 and stored as float32; int32 weights are
``Math.round`` of that (round half up).

Only float32 data (after the writer's float16/float64 → float32 conversion) is ever quantized; the
writer asks :func:`skip_reason` first so that the manifest never carries NaN or Inf.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence

import numpy as np

from tfjs_lite.errors import ModelFormatError, UsageError
from tfjs_lite.options import Quantization

__all__ = [
    "QUANTIZED_DTYPES",
    "AffineParams",
    "affine_codes",
    "affine_params",
    "dequantize",
    "float16_codes",
    "quantized_itemsize",
    "select_quantization",
    "skip_reason",
]

QUANTIZED_DTYPES = ("float16", "uint8", "uint16")

_QMAX = {"uint8": 255, "uint16": 65535}
_CODE_DTYPES: Dict[str, np.dtype] = {"float16": np.dtype("<f2"), "uint8": np.dtype("u1"), "uint16": np.dtype("<u2")}
# Every finite float32 at or beyond this magnitude rounds to ±inf in float16 (ties go to even = inf).
_FLOAT16_OVERFLOW = 65520.0
# Quantize in slices of this many elements so that float64 temporaries stay small.
_CHUNK_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class AffineParams:
    """The affine mapping of one weight: ``value ≈ code * scale + min``.

    Attributes:
        dtype: ``"uint8"`` or ``"uint16"``.
        min: The (nudged) minimum, a float64 that may be ``-0.0``.
        max: The (nudged) maximum used for clipping.
        scale: The step between codes.
        constant: True when every value is equal (all codes 0, ``scale == 1.0``).
    """

    dtype: str
    min: float
    max: float
    scale: float
    constant: bool

    def manifest(self) -> Dict[str, Any]:
        """The manifest ``quantization`` dict, keys in the official order."""
        return {"dtype": self.dtype, "min": float(self.min), "scale": float(self.scale), "original_dtype": "float32"}


def quantized_itemsize(dtype: str) -> int:
    """Bytes per element of a quantized encoding.

    Args:
        dtype: ``"float16"``, ``"uint8"`` or ``"uint16"``.

    Returns:
        2, 1 or 2.
    """
    return _code_dtype(dtype).itemsize


def affine_params(min_value: float, max_value: float, dtype: str) -> AffineParams:
    """The official affine range for data whose extremes are ``min_value`` and ``max_value``.

    Args:
        min_value: ``data.min()`` (a float32 value; it is widened to float64 exactly).
        max_value: ``data.max()``.
        dtype: ``"uint8"`` or ``"uint16"``.

    Returns:
        The nudged range and scale.

    Raises:
        ValueError: ``dtype`` is not an affine encoding or the extremes are not finite.
    """
    if dtype not in _QMAX:
        raise ValueError(f"affine quantization is uint8 or uint16, not {dtype!r}")
    lo = np.float64(min_value)
    hi = np.float64(max_value)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("affine quantization needs finite data")
    if lo == hi:
        return AffineParams(dtype, float(lo), float(hi), 1.0, True)
    # float64 scalar arithmetic, operation by operation as the official code, so every bit matches.
    scale = (hi - lo) / np.float64(_QMAX[dtype])
    if lo <= 0 <= hi:
        zero_point = np.round((np.float64(0.0) - lo) / scale)
        nudged_min = -zero_point * scale
        nudged_max = np.float64(_QMAX[dtype]) * scale + nudged_min
    else:
        nudged_min, nudged_max = lo, hi
    return AffineParams(dtype, float(nudged_min), float(nudged_max), float(scale), False)


def affine_codes(data: np.ndarray, params: AffineParams) -> np.ndarray:
    """Quantize float32 ``data`` with ``params`` (``data`` may be one slice of the weight).

    Args:
        data: float32 values.
        params: From :func:`affine_params` over the whole weight.

    Returns:
        uint8/uint16 codes, same shape as ``data``.
    """
    code_dtype = _CODE_DTYPES[params.dtype]
    if params.constant:
        return np.zeros(np.shape(data), dtype=code_dtype)
    values = np.asarray(data)
    out = np.empty(values.shape, dtype=code_dtype)
    flat_in = values.reshape(-1)
    flat_out = out.reshape(-1)
    lo, hi, scale = np.float64(params.min), np.float64(params.max), np.float64(params.scale)
    for start in range(0, flat_in.size, _CHUNK_ELEMENTS):
        chunk = flat_in[start : start + _CHUNK_ELEMENTS].astype(np.float64)
        np.clip(chunk, lo, hi, out=chunk)
        chunk -= lo
        chunk /= scale
        np.round(chunk, out=chunk)
        flat_out[start : start + _CHUNK_ELEMENTS] = chunk.astype(code_dtype)
    return out


def float16_codes(data: np.ndarray) -> np.ndarray:
    """``data.astype(float16)``, little-endian."""
    return np.asarray(data).astype(_CODE_DTYPES["float16"])


def skip_reason(array: Any, dtype: str) -> Optional[str]:
    """Why a float32 weight must not be quantized to ``dtype``, or None if it may be.

    uint8/uint16 refuse empty tensors (the official converter crashes on them) and data with NaN or
    ±Inf (``min``/``scale`` would be NaN/Inf in the manifest). float16 refuses finite values that
    would overflow to ±Inf (|x| ≥ 65520).

    Args:
        array: The float32 data (an ndarray or one of its slices is enough to be scanned in order).
        dtype: ``"float16"``, ``"uint8"`` or ``"uint16"``.

    Returns:
        A short reason, or None.
    """
    return _scan_skip_reason([np.asarray(array)], dtype)


def _scan_skip_reason(chunks: Iterable[np.ndarray], dtype: str) -> Optional[str]:
    empty = True
    for chunk in chunks:
        if chunk.size == 0:
            continue
        empty = False
        # min/max first (two passes, no temporaries): NaN and ±Inf propagate into them, so
        # ordinary data is cleared without building masks.
        low, high = chunk.min(), chunk.max()
        if dtype == "float16":
            if -_FLOAT16_OVERFLOW < low and high < _FLOAT16_OVERFLOW:
                continue
            magnitude = np.abs(chunk[np.isfinite(chunk)])
            if magnitude.size and magnitude.max() >= _FLOAT16_OVERFLOW:
                return "it has values beyond the float16 range (±65504) that would become Inf"
        elif not (np.isfinite(low) and np.isfinite(high)):
            return "it contains NaN or Inf values"
    if empty and dtype != "float16":
        return "it is empty"
    return None


def dequantize(codes: np.ndarray, quantization: Mapping[str, Any], original_dtype: Any) -> np.ndarray:
    """Decode quantized codes as TF.js 4.22 does (``io_utils.ts::decodeWeight``).

    Args:
        codes: float16, uint8 or uint16 codes.
        quantization: The manifest ``quantization`` dict (``dtype``, and ``min``/``scale`` for
            uint8/uint16).
        original_dtype: The weight's manifest ``dtype``: ``float32`` or ``int32``.

    Returns:
        float32 or int32 values, same shape as ``codes``.

    Raises:
        ModelFormatError: Missing ``min``/``scale``, an unknown encoding, or an original dtype TF.js
            cannot dequantize to.
    """
    qdtype = quantization.get("dtype")
    target = np.dtype(original_dtype).name if not isinstance(original_dtype, str) else original_dtype
    if target not in ("float32", "int32"):
        raise ModelFormatError(f"quantized weights must have dtype float32 or int32, not {target!r}")
    if qdtype == "float16":
        if target != "float32":
            raise ModelFormatError("float16 quantization is only allowed for float32 weights")
        return np.asarray(codes).astype(np.float32)
    if qdtype not in _QMAX:
        raise ModelFormatError(f"unknown quantization dtype {qdtype!r}; expected float16, uint8 or uint16")
    if "min" not in quantization or "scale" not in quantization:
        raise ModelFormatError(f"{qdtype} quantization needs 'min' and 'scale'")
    try:
        scale = float(quantization["scale"])
        minimum = float(quantization["min"])
    except (TypeError, ValueError) as e:
        raise ModelFormatError(f"quantization 'min' and 'scale' must be numbers: {e}") from e
    values = np.asarray(codes).astype(np.float64) * scale + minimum
    if target == "int32":
        # JavaScript Math.round: halves round up (towards +Inf).
        return np.floor(values + 0.5).astype(np.int32)
    return values.astype(np.float32)


def select_quantization(names: Sequence[str], quantization: Optional[Quantization]) -> Dict[str, str]:
    """Which quantized dtype each weight name gets (official ``map_layers_to_quantization_dtype``).

    Patterns are shell globs matched against the whole name, case-sensitively (``*`` also matches
    ``/``). A selector given as True is the fallthrough for every name no pattern matched.

    Args:
        names: The weight names of one group.
        quantization: The selectors, or None for no quantization.

    Returns:
        ``{name: dtype}`` for the selected names, in ``names`` order. Eligibility (float32 only) is
        the caller's business.

    Raises:
        UsageError: Two different dtypes select the same weight.
    """
    if quantization is None:
        return {}
    chosen: Dict[str, str] = {}
    fallthrough: Optional[str] = None
    for dtype, selector in quantization.selectors():
        if selector is True:
            fallthrough = dtype
            continue
        assert isinstance(selector, tuple)
        for pattern in selector:
            for name in names:
                if not fnmatch.fnmatchcase(name, pattern):
                    continue
                previous = chosen.get(name)
                if previous is not None and previous != dtype:
                    raise UsageError(
                        f"weight {name!r} is selected by both --quantize_{previous} and --quantize_{dtype} "
                        f"(pattern {pattern!r}); make the patterns disjoint"
                    )
                chosen[name] = dtype
    result: Dict[str, str] = {}
    for name in names:
        selected = chosen.get(name, fallthrough)
        if selected is not None:
            result[name] = selected
    return result


def _code_dtype(dtype: str) -> np.dtype:
    try:
        return _CODE_DTYPES[dtype]
    except KeyError:
        raise ValueError(f"unknown quantization dtype {dtype!r}; expected float16, uint8 or uint16") from None
