"""The plain-Python attribute representation used by every IR node (proto-free).

Readers map ``AttrValue`` protos to these values and writers map them back; nothing else in the
IR or the optimizer ever sees a proto.  The mapping is one-to-one so a round trip is lossless:

=====================================  =========================================================
AttrValue field                        Python value
=====================================  =========================================================
``i``                                  ``int``
``f``                                  ``float``
``b``                                  ``bool``
``s``                                  ``str`` if the bytes are valid UTF-8, else ``bytes``
``type``                               :class:`DType` (a ``str`` subclass: ``DType("DT_FLOAT")``)
``shape``                              ``tuple`` of ``int | None`` (``None`` = unknown dim);
                                       a shape with ``unknown_rank`` is ``None``
``tensor``                             ``np.ndarray`` (read-only; strings as ``object`` arrays
                                       of ``bytes``)
``func``                               :class:`FuncRef` ``(name, attrs)``
``list``                               ``list`` of any of the above (one kind per list); an
                                       empty ``list {}`` is ``[]``
``placeholder``                        :class:`AttrPlaceholder` (function-body attr references)
=====================================  =========================================================

Why a ``str`` subclass for dtypes: kernels and passes compare ``attrs["T"] == "DT_FLOAT"``
naturally, while writers use ``isinstance(v, DType)`` to tell a ``type`` attr from an ``s`` attr.
Shapes are tuples and lists are lists for the same reason: the Python type alone decides the
AttrValue field.  ``None`` appears only as an unknown-rank shape.

``Const`` nodes keep their tensor in the node's ``value`` slot, not in ``attrs["value"]``;
their ``attrs`` still carry ``dtype``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

__all__ = [
    "AttrPlaceholder",
    "AttrValue",
    "DType",
    "FuncRef",
    "NUMPY_DTYPES",
    "dtype_of",
    "numpy_dtype",
]


class DType(str):
    """A TF dtype attr, spelled as the ``DataType`` enum name (``"DT_FLOAT"``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"DType({str.__repr__(self)})"


@dataclass(frozen=True)
class FuncRef:
    """A ``func`` attr: the name of a function in ``Graph.functions`` plus instantiation attrs."""

    name: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AttrPlaceholder:
    """A ``placeholder`` attr inside a function body (``$T``-style reference to a function attr)."""

    name: str


AttrValue = Union[
    int, float, bool, str, bytes, DType, tuple, None, np.ndarray, FuncRef, AttrPlaceholder, list
]

# TF DataType enum name -> numpy dtype, for the dtypes numpy can hold natively.  bfloat16,
# quantized and resource/variant types have no numpy equivalent and are absent on purpose.
NUMPY_DTYPES: dict[str, np.dtype] = {
    "DT_FLOAT": np.dtype(np.float32),
    "DT_DOUBLE": np.dtype(np.float64),
    "DT_HALF": np.dtype(np.float16),
    "DT_INT8": np.dtype(np.int8),
    "DT_INT16": np.dtype(np.int16),
    "DT_INT32": np.dtype(np.int32),
    "DT_INT64": np.dtype(np.int64),
    "DT_UINT8": np.dtype(np.uint8),
    "DT_UINT16": np.dtype(np.uint16),
    "DT_UINT32": np.dtype(np.uint32),
    "DT_UINT64": np.dtype(np.uint64),
    "DT_BOOL": np.dtype(np.bool_),
    "DT_COMPLEX64": np.dtype(np.complex64),
    "DT_COMPLEX128": np.dtype(np.complex128),
    "DT_STRING": np.dtype(object),
}
_BY_NUMPY = {v: k for k, v in NUMPY_DTYPES.items()}


def numpy_dtype(dtype: str) -> np.dtype:
    """Return the numpy dtype for a TF dtype name.

    Raises:
        KeyError: For dtypes numpy cannot represent (``DT_BFLOAT16``, ``DT_RESOURCE``, ...).
    """
    return NUMPY_DTYPES[str(dtype)]


def dtype_of(array: np.ndarray) -> DType:
    """Return the TF dtype name of a numpy array (``bytes``/``str`` arrays are ``DT_STRING``)."""
    dt = np.asarray(array).dtype
    if dt.kind in ("S", "U", "O"):
        return DType("DT_STRING")
    return DType(_BY_NUMPY[dt])
