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

import functools
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from tfjs_lite import dtypes
from tfjs_lite.dtypes import NUMPY_DTYPES, numpy_dtype
from tfjs_lite.errors import ModelFormatError

__all__ = [
    "AttrPlaceholder",
    "AttrValue",
    "DType",
    "FuncRef",
    "NUMPY_DTYPES",
    "dtype_of",
    "attr_from_proto",
    "attr_to_proto",
    "func_from_proto",
    "func_to_proto",
    "numpy_dtype",
    "shape_from_proto",
    "shape_to_proto",
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

# ``NUMPY_DTYPES`` and ``numpy_dtype`` come from :mod:`tfjs_lite.dtypes`, the one dtype table.


def dtype_of(array: np.ndarray) -> DType:
    """Return the TF dtype name of a numpy array (``bytes``/``str`` arrays are ``DT_STRING``).

    Raises:
        ModelFormatError: For numpy dtypes with no TF equivalent.
    """
    from tfjs_lite.lazy_tensor import LazyTensor

    dt = array.dtype if isinstance(array, (np.ndarray, LazyTensor)) else np.asarray(array).dtype
    return DType(dtypes.get(dt).name)


# --------------------------------------------------------------------------- proto conversion
# Readers and writers are the only callers; ``_proto`` is imported lazily so the IR itself stays
# importable without touching protobuf.


def attr_from_proto(proto: Any) -> AttrValue:
    """Map one ``AttrValue`` proto to its plain-Python value (see the table above).

    Args:
        proto: A ``tensorflow.AttrValue`` message.

    Returns:
        The plain value; an AttrValue with no field set maps to ``None``.

    Raises:
        ModelFormatError: For a ``type`` (or list of types) that is not a ``DataType`` value.
    """
    kind = proto.WhichOneof("value")
    if kind is None:
        return None
    if kind == "list":
        return _list_from_proto(proto.list)
    if kind == "s":
        return _bytes_or_str(proto.s)
    if kind == "i":
        return int(proto.i)
    if kind == "f":
        return float(proto.f)
    if kind == "b":
        return bool(proto.b)
    if kind == "type":
        return _dtype_name(proto.type)
    if kind == "shape":
        return shape_from_proto(proto.shape)
    if kind == "tensor":
        return _tensor_from_proto(proto.tensor)
    if kind == "placeholder":
        return AttrPlaceholder(proto.placeholder)
    if kind == "func":
        return func_from_proto(proto.func)
    raise ValueError(f"unknown AttrValue field {kind!r}")


def attr_to_proto(value: AttrValue, proto: Any = None) -> Any:
    """Map a plain-Python attr value back to an ``AttrValue`` proto (inverse of attr_from_proto).

    Args:
        value: The plain value.
        proto: An ``AttrValue`` to fill in place (e.g. a map entry); a new one when omitted.

    Returns:
        The filled ``AttrValue``.

    Raises:
        TypeError: For values with no AttrValue representation.
    """
    if proto is None:
        from tfjs_lite._proto.attr_value_pb2 import AttrValue as AttrValueProto

        proto = AttrValueProto()
    if isinstance(value, list):
        proto.list.SetInParent()
        _list_to_proto(value, proto.list)
    elif isinstance(value, DType):
        proto.type = _dtype_enum(value)
    elif isinstance(value, bool):
        proto.b = value
    elif isinstance(value, (int, np.integer)):
        proto.i = int(value)
    elif isinstance(value, (float, np.floating)):
        proto.f = float(value)
    elif isinstance(value, str):
        proto.s = value.encode("utf-8")
    elif isinstance(value, bytes):
        proto.s = value
    elif value is None or isinstance(value, tuple):
        shape_to_proto(value, proto.shape)
    elif isinstance(value, np.ndarray):
        proto.tensor.CopyFrom(_tensor_to_proto(value))
    elif isinstance(value, FuncRef):
        func_to_proto(value, proto.func)
    elif isinstance(value, AttrPlaceholder):
        proto.placeholder = value.name
    else:
        raise TypeError(f"no AttrValue representation for {type(value).__name__}: {value!r}")
    return proto


def shape_from_proto(proto: Any) -> tuple[int | None, ...] | None:
    """``TensorShapeProto`` -> tuple of dims (``None`` for -1), or ``None`` for unknown rank."""
    if proto.unknown_rank:
        return None
    return tuple(None if d.size < 0 else int(d.size) for d in proto.dim)


def shape_to_proto(shape: tuple[int | None, ...] | None, proto: Any = None) -> Any:
    """Inverse of :func:`shape_from_proto`; fills ``proto`` (a new one when omitted)."""
    if proto is None:
        from tfjs_lite._proto.tensor_shape_pb2 import TensorShapeProto

        proto = TensorShapeProto()
    proto.SetInParent()
    if shape is None:
        proto.unknown_rank = True
        return proto
    for size in shape:
        proto.dim.add(size=-1 if size is None else int(size))
    return proto


def func_from_proto(proto: Any) -> FuncRef:
    """``NameAttrList`` -> :class:`FuncRef`."""
    return FuncRef(proto.name, {k: attr_from_proto(v) for k, v in sorted(proto.attr.items())})


def func_to_proto(func: FuncRef, proto: Any) -> Any:
    """Fill a ``NameAttrList`` from a :class:`FuncRef`."""
    proto.SetInParent()
    proto.name = func.name
    for key in sorted(func.attrs):
        attr_to_proto(func.attrs[key], proto.attr[key])
    return proto


def _list_from_proto(proto: Any) -> list[Any]:
    # A ListValue holds exactly one kind in practice; the first non-empty field decides.
    if proto.s:
        return [_bytes_or_str(s) for s in proto.s]
    if proto.i:
        return [int(i) for i in proto.i]
    if proto.f:
        return [float(f) for f in proto.f]
    if proto.b:
        return [bool(b) for b in proto.b]
    if proto.type:
        return [_dtype_name(t) for t in proto.type]
    if proto.shape:
        return [shape_from_proto(s) for s in proto.shape]
    if proto.tensor:
        return [_tensor_from_proto(t) for t in proto.tensor]
    if proto.func:
        return [func_from_proto(f) for f in proto.func]
    return []


def _list_to_proto(values: list[Any], proto: Any) -> None:
    if not values:
        return
    first = values[0]
    if isinstance(first, DType):
        proto.type.extend(_dtype_enum(v) for v in values)
    elif isinstance(first, bool):
        proto.b.extend(bool(v) for v in values)
    elif isinstance(first, (int, np.integer)):
        proto.i.extend(int(v) for v in values)
    elif isinstance(first, (float, np.floating)):
        proto.f.extend(float(v) for v in values)
    elif isinstance(first, (str, bytes)):
        proto.s.extend(v.encode("utf-8") if isinstance(v, str) else v for v in values)
    elif first is None or isinstance(first, tuple):
        for shape in values:
            shape_to_proto(shape, proto.shape.add())
    elif isinstance(first, np.ndarray):
        for array in values:
            proto.tensor.add().CopyFrom(_tensor_to_proto(array))
    elif isinstance(first, FuncRef):
        for func in values:
            func_to_proto(func, proto.func.add())
    else:
        raise TypeError(f"no AttrValue list representation for {type(first).__name__}")


def _bytes_or_str(raw: bytes) -> str | bytes:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(raw)


@functools.lru_cache(maxsize=None)
def _dtype_name(number: int) -> DType:
    from tfjs_lite._proto.types_pb2 import DataType

    try:
        return DType(DataType.Name(number))
    except ValueError:
        # protobuf keeps unknown enum numbers; a dtype nothing can name would only fail later.
        raise ModelFormatError(f"unknown TensorFlow dtype (DataType enum value {number})") from None


def _dtype_enum(dtype: DType) -> int:
    from tfjs_lite._proto.types_pb2 import DataType

    return int(DataType.Value(str(dtype)))


def _tensor_from_proto(proto: Any) -> np.ndarray:
    from tfjs_lite.dtypes import tensor_proto_to_numpy

    array = tensor_proto_to_numpy(proto)
    array.setflags(write=False)
    return array


def _tensor_to_proto(array: np.ndarray) -> Any:
    from tfjs_lite.dtypes import numpy_to_tensor_proto

    return numpy_to_tensor_proto(array)
