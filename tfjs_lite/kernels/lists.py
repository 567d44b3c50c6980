"""TensorList kernels (the ops tf.keras RNN layers and ``tf.TensorArray`` lower to in TF2).

A TensorList travels between kernels as a 0-d ``object`` array holding a :class:`TensorList`
(an immutable tuple of element arrays, ``None`` for unset slots), so the executor can treat it as
any other value.  Every "mutating" op returns a new list: values stay immutable, as elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tfjs_lite.errors import InternalError
from tfjs_lite.kernels import NodeContext, kernel
from tfjs_lite.kernels._util import attr_dtype

Array = np.ndarray


@dataclass(frozen=True)
class TensorList:
    """Elements of a TensorList plus the element shape it was created with (-1 = unknown dim)."""

    items: tuple[Array | None, ...]
    element_shape: tuple[int, ...] | None
    dtype: np.dtype


def _wrap(tl: TensorList) -> Array:
    box = np.empty((), dtype=object)
    box[()] = tl
    return box


def _unwrap(value: Array, node: str) -> TensorList:
    item = value.item() if isinstance(value, np.ndarray) and value.dtype == object else None
    if not isinstance(item, TensorList):
        raise InternalError(f"node {node!r}: expected a TensorList input")
    return item


def _shape(value: Array) -> tuple[int, ...] | None:
    # element_shape tensors use -1 for unknown dims and a scalar -1 for unknown rank.
    flat = np.asarray(value).reshape(-1).tolist()
    return None if np.asarray(value).ndim == 0 else tuple(int(v) for v in flat)


def _element(tl: TensorList, index: int, shape: tuple[int, ...] | None) -> Array:
    item = tl.items[index]
    if item is not None:
        return item
    # An unset slot reads as zeros when its shape is fully known (TF does the same).
    full = shape if shape is not None and all(d >= 0 for d in shape) else tl.element_shape
    if full is None or any(d < 0 for d in full):
        raise InternalError(f"TensorList element {index} read before it was set")
    return np.zeros(full, tl.dtype)


@kernel("TensorListReserve")
def _reserve(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    shape, count = inputs
    dtype = attr_dtype(attrs, "element_dtype")
    return [_wrap(TensorList((None,) * int(count), _shape(shape), dtype))]


@kernel("EmptyTensorList")
def _empty(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [_wrap(TensorList((), _shape(inputs[0]), attr_dtype(attrs, "element_dtype")))]


@kernel("TensorListFromTensor")
def _from_tensor(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    tensor = inputs[0]
    return [_wrap(TensorList(tuple(tensor), tuple(tensor.shape[1:]), tensor.dtype))]


@kernel("TensorListGetItem")
def _get_item(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    tl = _unwrap(inputs[0], ctx.name)
    return [_element(tl, int(inputs[1]), _shape(inputs[2]) if len(inputs) > 2 else None)]


@kernel("TensorListSetItem")
def _set_item(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    tl, index, item = _unwrap(inputs[0], ctx.name), int(inputs[1]), inputs[2]
    items = list(tl.items)
    items[index] = item
    return [_wrap(TensorList(tuple(items), tl.element_shape, tl.dtype))]


@kernel("TensorListPushBack")
def _push_back(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    tl = _unwrap(inputs[0], ctx.name)
    return [_wrap(TensorList(tl.items + (inputs[1],), tl.element_shape, tl.dtype))]


@kernel("TensorListPopBack")
def _pop_back(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    tl = _unwrap(inputs[0], ctx.name)
    last = _element(tl, len(tl.items) - 1, _shape(inputs[1]))
    return [_wrap(TensorList(tl.items[:-1], tl.element_shape, tl.dtype)), last]


@kernel("TensorListStack")
def _stack(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    tl = _unwrap(inputs[0], ctx.name)
    shape = _shape(inputs[1]) if len(inputs) > 1 else None
    if not tl.items:
        known = shape if shape is not None else tl.element_shape
        return [np.zeros((0,) + tuple(max(d, 0) for d in (known or ())), tl.dtype)]
    return [np.stack([_element(tl, i, shape) for i in range(len(tl.items))])]


@kernel("TensorListLength")
def _length(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.array(len(_unwrap(inputs[0], ctx.name).items), np.int32)]


@kernel("TensorListElementShape")
def _element_shape(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    tl = _unwrap(inputs[0], ctx.name)
    dtype = attr_dtype(attrs, "shape_type", "DT_INT32")
    if tl.element_shape is None:
        return [np.array(-1, dtype)]
    return [np.array(tl.element_shape, dtype)]
