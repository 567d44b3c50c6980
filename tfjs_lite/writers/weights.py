"""Write weight groups as TF.js shard files, byte-identical to ``tensorflowjs`` 4.22 ``write_weights``.

Each group's entries are encoded in order into one conceptual byte stream that is cut into
``shard_size_bytes`` pieces ``group{g+1}-shard{i+1}of{N}.bin`` (weights straddle shard boundaries,
the last shard is shorter, a group of 0 bytes gets no file and ``"paths": []``).

The stream is never built in memory. A first pass works out every entry's dtype, quantization and
encoded length (reading data only where the decision needs it: strings, quantized weights and
narrowing integer conversions), so ``N`` is known and every error is raised before any file is
written. A second pass encodes entry by entry, slice by slice, straight into the shard files, so
memory stays around one slice, whatever the model size.

Byte encodings: numeric data little-endian C order; strings as a little-endian uint32 byte length then
the bytes (str elements UTF-8). Dtypes are converted as the official converter does (float16/float64
→ float32, int64 → int32, complex128 → complex64), except that integers are range-checked instead of
wrapped, and int8/int16/uint32/uint64 (which the official converter refuses) become int32 when their
values fit. Each conversion is reported as a warning.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from tfjs_lite.errors import InternalError, ModelFormatError, UnsupportedModelError, UsageError
from tfjs_lite.lazy_tensor import LazyTensor
from tfjs_lite.options import Quantization
from tfjs_lite.quantization import (
    AffineParams,
    affine_codes,
    affine_params,
    float16_codes,
    quantized_itemsize,
    select_quantization,
    skip_reason,
)
from tfjs_lite.report import Report

__all__ = ["WeightEntry", "encoded_string_length", "encode_strings", "write_weights"]

# Source data is read and encoded in slices of about this many bytes.
_CHUNK_BYTES = 16 * 1024 * 1024

_FLOAT32 = np.dtype("<f4")
_INT32 = np.dtype("<i4")
_COMPLEX64 = np.dtype("<c8")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

# Dtypes written as they are.
_KEEP = {
    "float32": _FLOAT32,
    "int32": _INT32,
    "complex64": _COMPLEX64,
    "bool": np.dtype("?"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
}
# Dtypes converted (with a warning); the flag says whether the values need a range check.
_CONVERT: Dict[str, Tuple[np.dtype, bool]] = {
    "float16": (_FLOAT32, False),
    "float64": (_FLOAT32, False),
    "bfloat16": (_FLOAT32, False),
    "complex128": (_COMPLEX64, False),
    "int8": (_INT32, False),
    "int16": (_INT32, False),
    "int64": (_INT32, True),
    "uint32": (_INT32, True),
    "uint64": (_INT32, True),
}
_OFFICIAL_REFUSES = ("int8", "int16", "uint32", "uint64", "bfloat16")


@dataclass(frozen=True)
class WeightEntry:
    """One named weight.

    ``data`` is an ``np.ndarray``; or anything array-like with ``shape``/``dtype`` that supports
    slicing along axis 0 and is read lazily (``h5py.Dataset``, ``np.memmap``); or a zero-argument
    callable returning an ndarray (it may be called more than once and must return the same data).
    Strings are numpy object, ``bytes_`` or ``str_`` arrays.
    """

    name: str
    data: Any


@dataclass
class _Plan:
    name: str
    data: Any  # the entry's data as given (re-opened for writing)
    shape: Tuple[int, ...]
    target: Union[np.dtype, str]  # a numeric dtype, or "string"
    nbytes: int
    quantization: Union[None, str, AffineParams] = None  # "float16" or affine parameters

    def manifest(self) -> Dict[str, Any]:
        dtype = self.target if isinstance(self.target, str) else self.target.name
        entry: Dict[str, Any] = {"name": self.name, "shape": [int(d) for d in self.shape], "dtype": dtype}
        if isinstance(self.quantization, AffineParams):
            entry["quantization"] = self.quantization.manifest()
        elif self.quantization == "float16":
            entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
        return entry


def write_weights(
    groups: Sequence[Sequence[WeightEntry]],
    directory: Path,
    *,
    shard_size_bytes: int,
    quantization: Optional[Quantization],
    report: Report,
) -> List[Dict[str, Any]]:
    """Write the shard files of every group and return the ``weightsManifest``.

    Args:
        groups: Weight groups in manifest order (graph models have one group).
        directory: Output folder (created if missing).
        shard_size_bytes: Maximum bytes per shard file.
        quantization: Which weights to quantize, or None.
        report: Receives dtype-conversion and quantization-skip warnings.

    Returns:
        ``[{"paths": [...], "weights": [{"name", "shape", "dtype"[, "quantization"]}, ...]}, ...]``.

    Raises:
        UsageError: Bad shard size, or two quantization selectors match one weight.
        ModelFormatError: Duplicate weight names, or data that cannot be read.
        UnsupportedModelError: A dtype TF.js cannot store, or integers beyond the int32 range.
    """
    if isinstance(shard_size_bytes, bool) or not isinstance(shard_size_bytes, int) or shard_size_bytes <= 0:
        raise UsageError(f"weight shard size must be a positive number of bytes, got {shard_size_bytes!r}")
    _check_unique_names(groups)
    plans = [_plan_group(group, quantization, report) for group in groups]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = []
    for index, group_plans in enumerate(plans):
        paths = _write_group(group_plans, directory, index, shard_size_bytes)
        manifest.append({"paths": paths, "weights": [p.manifest() for p in group_plans]})
    return manifest


def encode_strings(values: Any, name: str = "<string>") -> bytes:
    """The TF.js byte encoding of a string tensor: per element a uint32 LE length, then the bytes.

    Args:
        values: An array (or sequence) of ``bytes``/``str`` elements, any shape, C order.
        name: The weight name, for error messages.

    Returns:
        The encoded bytes.

    Raises:
        UnsupportedModelError: An element is neither bytes nor str.
    """
    parts = []
    for element in np.asarray(values, dtype=object).reshape(-1):
        raw = _string_bytes(element, name)
        parts.append(struct.pack("<I", len(raw)))
        parts.append(raw)
    return b"".join(parts)


def encoded_string_length(values: Any, name: str = "<string>") -> int:
    """Length of :func:`encode_strings` output without building it."""
    return sum(4 + len(_string_bytes(e, name)) for e in np.asarray(values, dtype=object).reshape(-1))


# --- planning ---------------------------------------------------------------------------------


def _check_unique_names(groups: Sequence[Sequence[WeightEntry]]) -> None:
    seen = set()
    for group in groups:
        for entry in group:
            if not isinstance(entry.name, str) or not entry.name:
                raise InternalError(f"weight names must be non-empty strings, got {entry.name!r}")
            if entry.name in seen:
                raise ModelFormatError(f"duplicate weight name {entry.name!r}; every weight needs a unique name")
            seen.add(entry.name)


def _plan_group(group: Sequence[WeightEntry], quantization: Optional[Quantization], report: Report) -> List[_Plan]:
    plans = [_plan_entry(entry, report) for entry in group]
    selected = select_quantization([p.name for p in plans], quantization)
    for plan in plans:
        dtype = selected.get(plan.name)
        # Only float32 weights (after conversion) are quantized; others stay as they are, silently.
        if dtype is not None and isinstance(plan.target, np.dtype) and plan.target == _FLOAT32:
            _plan_quantization(plan, dtype, report)
    return plans


def _plan_entry(entry: WeightEntry, report: Report) -> _Plan:
    array = _open(entry)
    shape = tuple(int(d) for d in array.shape)
    source = _dtype_name(array.dtype)
    if array.dtype.kind in "OSU":
        nbytes = sum(encoded_string_length(chunk, entry.name) for chunk in _chunks(array))
        return _Plan(entry.name, entry.data, shape, "string", nbytes)
    size = int(np.prod(shape, dtype=object)) if shape else 1
    if source in _KEEP:
        target = _KEEP[source]
    elif source in _CONVERT:
        target, check_range = _CONVERT[source]
        if check_range:
            _check_int32_range(entry.name, source, array)
        note = " (the official converter refuses this dtype)" if source in _OFFICIAL_REFUSES else ""
        report.warn(
            f"weight {entry.name} with shape {list(shape)} and dtype {source} was auto converted "
            f"to the type {target.name}{note}"
        )
    else:
        raise UnsupportedModelError(
            f"weight {entry.name!r} has dtype {source}, which TF.js cannot store; "
            "supported are float32, int32, bool, complex64, uint8, uint16 and strings "
            "(float16/float64/bfloat16 and small or int64 integers are converted)"
        )
    return _Plan(entry.name, entry.data, shape, target, size * target.itemsize)


def _plan_quantization(plan: _Plan, dtype: str, report: Report) -> None:
    affine = dtype != "float16"
    lo: Any = None
    hi: Any = None
    reason = None
    seen = 0
    for chunk in _chunks(_open(WeightEntry(plan.name, plan.data))):
        values = chunk.astype(_FLOAT32, copy=False)
        if values.size == 0:
            continue
        seen += values.size
        reason = skip_reason(values, dtype)
        if reason is not None:
            break
        if affine:
            chunk_lo, chunk_hi = values.min(), values.max()
            lo = chunk_lo if lo is None or chunk_lo < lo else lo
            hi = chunk_hi if hi is None or chunk_hi > hi else hi
    if reason is None and affine and seen == 0:
        reason = skip_reason(np.zeros(0, _FLOAT32), dtype)
    if reason is not None:
        report.warn(f"weight {plan.name} was not quantized to {dtype}: {reason}; it is stored as float32")
        return
    plan.quantization = affine_params(lo, hi, dtype) if affine else "float16"
    plan.nbytes = (plan.nbytes // _FLOAT32.itemsize) * quantized_itemsize(dtype)


def _check_int32_range(name: str, source: str, array: Any) -> None:
    lo = hi = None
    for chunk in _chunks(array):
        if chunk.size:
            chunk_lo, chunk_hi = int(chunk.min()), int(chunk.max())
            lo = chunk_lo if lo is None else min(lo, chunk_lo)
            hi = chunk_hi if hi is None else max(hi, chunk_hi)
    if lo is not None and (lo < _INT32_MIN or hi > _INT32_MAX):  # type: ignore[operator]
        raise UnsupportedModelError(
            f"weight {name!r} ({source}) has values in [{lo}, {hi}], outside the int32 range TF.js "
            "stores integers in; the official converter would silently wrap them"
        )


# --- data access ------------------------------------------------------------------------------


def _open(entry: WeightEntry) -> Any:
    data = entry.data
    if not (hasattr(data, "shape") and hasattr(data, "dtype")) and callable(data):
        try:
            data = data()
        except (OSError, ValueError, KeyError) as e:
            raise ModelFormatError(f"cannot read weight {entry.name!r}: {e}") from e
    if not (hasattr(data, "shape") and hasattr(data, "dtype")):
        data = np.asarray(data)
    if data.shape is None:  # an h5py dataset with a null dataspace
        raise ModelFormatError(f"weight {entry.name!r} has no shape (empty HDF5 dataspace)")
    return data


def _dtype_name(dtype: np.dtype) -> str:
    return "bfloat16" if str(dtype) == "bfloat16" else dtype.name


def _chunks(array: Any) -> Iterator[np.ndarray]:
    """Flat C-order slices of ``array`` of about ``_CHUNK_BYTES`` each (at least one, maybe empty)."""
    itemsize = max(1, np.dtype(array.dtype).itemsize)
    shape = tuple(array.shape)
    size = int(np.prod(shape, dtype=object)) if shape else 1
    if size == 0:
        yield np.zeros(0, dtype=array.dtype)
        return
    if isinstance(array, LazyTensor):  # a file-backed tensor (tfjs_lite.lazy_tensor): streamed
        yield from array.iter_chunks(_CHUNK_BYTES)
        return
    if isinstance(array, np.ndarray):
        flat = array.reshape(-1)
        step = max(1, _CHUNK_BYTES // itemsize)
        for start in range(0, size, step):
            yield flat[start : start + step]
        return
    if not shape:
        yield np.asarray(array[()]).reshape(-1)
        return
    row_bytes = max(1, (size // shape[0]) * itemsize)
    if row_bytes > _CHUNK_BYTES:  # one row alone is too big: slice deeper, never read more than a chunk
        yield from _deep_slices(array, shape, itemsize)
        return
    rows = max(1, _CHUNK_BYTES // row_bytes)
    for start in range(0, shape[0], rows):
        yield np.asarray(array[start : start + rows]).reshape(-1)


def _deep_slices(array: Any, shape: tuple[int, ...], itemsize: int) -> Iterator[np.ndarray]:
    """C-order slices of at most ``_CHUNK_BYTES`` of an array-like whose rows are larger than that.

    The split axis is the outermost one whose trailing block fits in a chunk; the axes before it
    are walked one index at a time, the split axis in runs of as many blocks as fit.
    """
    axis = len(shape) - 1
    block = itemsize  # bytes of one index of ``axis`` (the product of the axes after it)
    while axis > 0 and block * shape[axis] <= _CHUNK_BYTES:
        block *= shape[axis]
        axis -= 1
    step = max(1, _CHUNK_BYTES // block)
    for prefix in itertools.product(*(range(n) for n in shape[:axis])):
        for start in range(0, shape[axis], step):
            yield np.asarray(array[prefix + (slice(start, start + step),)]).reshape(-1)


def _encoded_chunks(plan: _Plan) -> Iterator[Union[bytes, memoryview]]:
    array = _open(WeightEntry(plan.name, plan.data))
    for chunk in _chunks(array):
        if chunk.size == 0:
            continue
        if isinstance(plan.target, str):
            yield encode_strings(chunk, plan.name)
            continue
        if plan.quantization is not None:
            values = chunk.astype(_FLOAT32, copy=False)
            if isinstance(plan.quantization, AffineParams):
                encoded = affine_codes(values, plan.quantization)
            else:
                encoded = float16_codes(values)
        else:
            encoded = chunk.astype(plan.target, copy=False)
        yield memoryview(np.ascontiguousarray(encoded).reshape(-1).view(np.uint8))  # type: ignore[arg-type]


def _string_bytes(element: Any, name: str) -> bytes:
    if isinstance(element, bytes):
        return bytes(element)
    if isinstance(element, str):
        return element.encode("utf-8")
    raise UnsupportedModelError(
        f"weight {name!r} is a string tensor with a {type(element).__name__} element; only bytes and str are stored"
    )


# --- sharding ---------------------------------------------------------------------------------


def _write_group(plans: Sequence[_Plan], directory: Path, index: int, shard_size: int) -> List[str]:
    total = sum(p.nbytes for p in plans)
    writer = _ShardWriter(directory, index, total, shard_size)
    try:
        for plan in plans:
            start = writer.written
            for piece in _encoded_chunks(plan):
                writer.write(piece)
            if writer.written - start != plan.nbytes:
                raise InternalError(
                    f"weight {plan.name!r}: planned {plan.nbytes} bytes but encoded {writer.written - start}"
                )
    finally:
        writer.close()
    writer.check_complete()
    return writer.paths


class _ShardWriter:
    """Spreads a byte stream of known length over ``group{g}-shard{i}of{n}.bin`` files."""

    def __init__(self, directory: Path, group_index: int, total: int, shard_size: int) -> None:
        count = -(-total // shard_size)
        self.paths = [f"group{group_index + 1}-shard{i + 1}of{count}.bin" for i in range(count)]
        self.written = 0
        self._directory = directory
        self._total = total
        self._shard_size = shard_size
        self._file: Any = None
        self._index = -1
        self._room = 0

    def write(self, data: Union[bytes, memoryview]) -> None:
        view = memoryview(data).cast("B")
        while len(view):
            if self._room == 0:
                self._next_file()
            take = min(self._room, len(view))
            self._file.write(view[:take])
            view = view[take:]
            self._room -= take
            self.written += take

    def _next_file(self) -> None:
        self.close()
        self._index += 1
        if self._index >= len(self.paths):
            raise InternalError(f"weights overflow the {self._total} planned bytes")
        self._file = open(self._directory / self.paths[self._index], "wb")  # noqa: SIM115 closed in close()
        self._room = min(self._shard_size, self._total - self._index * self._shard_size)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def check_complete(self) -> None:
        if self.written != self._total or self._index != len(self.paths) - 1:
            raise InternalError(f"wrote {self.written} of {self._total} planned weight bytes")

