"""Tensor references and static tensor types (shared by the graph and its checks)."""

from __future__ import annotations

from typing import NamedTuple

from tfjs_lite.ir.attrs import DType

__all__ = ["TensorRef", "TensorType"]


class TensorRef(NamedTuple):
    """One output tensor: ``(node name, output port)``."""

    node: str
    port: int = 0

    def __str__(self) -> str:
        return f"{self.node}:{self.port}"


class TensorType(NamedTuple):
    """Static type of one output: dtype name and shape (``None`` = unknown rank)."""

    dtype: DType
    shape: tuple[int | None, ...] | None
