"""Helpers shared by the kernel modules: dtype attrs, axes, precise float evaluation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfjs_lite.ir.attrs import numpy_dtype

__all__ = ["attr_dtype", "axes", "flag", "precise", "to_str"]


def registrar(table: dict[str, Any]) -> Callable[..., Callable[[Any], Any]]:
    """``@register("OpA", "OpB")`` decorator factory filing a function under each op in ``table``
    (per-op tables of estimators and shape rules)."""

    def register_ops(*ops: str) -> Callable[[Any], Any]:
        def register(fn: Any) -> Any:
            for op in ops:
                table[op] = fn
            return fn

        return register

    return register_ops


def attr_dtype(attrs: dict[str, Any], key: str, default: str = "DT_FLOAT") -> np.dtype:
    """The numpy dtype named by a ``type`` attr."""
    return numpy_dtype(attrs.get(key, default))


def flag(attrs: dict[str, Any], key: str, default: bool = False) -> bool:
    """A ``bool`` attr with its TF default."""
    return bool(attrs.get(key, default))


def to_str(value: Any, default: str) -> str:
    """A ``s`` attr as ``str`` (readers keep undecodable bytes as ``bytes``)."""
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else str(value)


def axes(axis: np.ndarray, rank: int) -> tuple[int, ...]:
    """Normalise a reduction-indices tensor (scalar or 1-D, possibly negative)."""
    flat = np.asarray(axis).reshape(-1).tolist()
    return tuple(sorted({int(a) % rank for a in flat})) if rank else ()


def precise(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Evaluate ``fn`` in float64 for low-precision floats and round once to ``x.dtype``.

    Why: TF's float32 transcendentals are within a few ulp of the exact value; computing exactly
    and rounding once keeps our reference at least that close, so kernel tests can stay tight.
    """
    if x.dtype in (np.float16, np.float32):
        with np.errstate(all="ignore"):
            return np.asarray(fn(x.astype(np.float64))).astype(x.dtype)
    with np.errstate(all="ignore"):
        return np.asarray(fn(x))
